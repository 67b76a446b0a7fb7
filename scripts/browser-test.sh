#!/usr/bin/env bash
# The browser interface in a real browser (docs/web.md): starts `metering serve` on a
# fresh SQLite file, runs a small fleet against it over HTTP, then drives Debian's headless
# Chromium through the supplier's and the household's views (scripts/browser/browser_test.py)
# and checks what they show against the API and the meters' own readings, that the
# household's plaintext never reaches the service (its database and log are searched), and
# the grant → read → revoke path with the page's Revoke button. Screenshots go to OUT.
#
#   scripts/browser-test.sh [--out DIR] [--meters N] [--labels L]
#   (default: .build/browser-test, 12 meters, 96 labels)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="$root/.build/browser-test"
meters=12
labels=96
while (($#)); do
    case "$1" in
    --out) out="$2"; shift 2 ;;
    --meters) meters="$2"; shift 2 ;;
    --labels) labels="$2"; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) printf 'browser-test.sh: unknown option %s\n' "$1" >&2; exit 2 ;;
    esac
done

# shellcheck source=lib/setup.sh
source "$root/scripts/lib/setup.sh"
setup_swift
setup_build_packages
setup_python_oracles
setup_browser

scratch=()
if [[ -n "${SWIFT_SCRATCH:-}" ]]; then scratch=(--scratch-path "$SWIFT_SCRATCH"); fi
step "swift build --product metering"
swift build "${scratch[@]+"${scratch[@]}"}" --product metering >&2
bin="$(swift build "${scratch[@]+"${scratch[@]}"}" --show-bin-path)/metering"

mkdir -p "$out"
work="$(mktemp -d /tmp/metering-browser.XXXXXX)"
at_exit "rm -rf '$work'"
start_service "$bin" "$work/serve.log" --database "$work/service.sqlite" --log-level trace \
    --operator-token browser-operator --supplier-token browser-supplier --party advisor=browser-advisor
step "service at $service_url; fleet of $meters meters × $labels labels"
"$bin" fleet --server "$service_url" --operator-token browser-operator --supplier-token browser-supplier \
    --meters "$meters" --labels "$labels" --statistics-bins 6 --households "$work/households.json" --json >"$work/fleet.json"
python3 -c 'import json, sys; f = json.load(open(sys.argv[1])); print("exact labels", f["exact_labels"], "of", f["labels"]); sys.exit(f["exact_labels"] != f["labels"])' "$work/fleet.json"

step "headless Chromium through both views"
python3 "$root/scripts/browser/browser_test.py" --url "$service_url" --metering "$bin" \
    --supplier-token browser-supplier --party advisor --party-token browser-advisor --labels "$labels" \
    --households "$work/households.json" --require-statistics --out "$out" \
    --search "$work/service.sqlite" "$work/service.sqlite-wal" "$work/service.sqlite-shm" "$work/serve.log"
cp "$work/serve.log" "$out/serve.log"
step "screenshots in $out"
