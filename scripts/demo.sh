#!/usr/bin/env bash
# The main job: installs what the build needs (libgmp-dev) when missing, builds in release
# mode and runs `metering demo` with the arguments given (see `--help`):
#   scripts/demo.sh                       100 meters, 96 labels (one day), LWR-PSA
#   scripts/demo.sh --meters 1000 --labels 8 --json
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

started=$SECONDS
step() { printf '==> %s  [%ds]\n' "$*" $((SECONDS - started)) >&2; }
die() {
    printf 'demo.sh: %s\n' "$*" >&2
    exit 1
}

# shellcheck source=lib/setup.sh
source "$root/scripts/lib/setup.sh"
setup_swift
setup_build_packages

step "swift build -c release --product metering"
swift build -c release --product metering >&2
exec "$(swift build -c release --show-bin-path)/metering" demo "$@"
