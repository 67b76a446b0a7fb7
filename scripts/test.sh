#!/usr/bin/env bash
# The test command: installs what the tests need, then
#   1. swift build            (includes one Embedded image per scheme: Sources/Firmware*, -no-allocations)
#   2. swift test [ARGS...]   (extra arguments go to `swift test`, e.g. --filter XOF)
#   3. scripts/check-firmware.sh (no allocator, __gmpz_* or arc4random_buf in any image; sizes)
#   4. scripts/m4-test.sh: the Cortex-M4 board, Keccak and GMP on QEMU (docs/m4.md);
#      M4=0 skips it (not under CI=true, where it always runs)
#   5. scripts/fuzz.sh, a short pass: the regression inputs, then each libFuzzer harness
#      for up to 20 000 inputs or 20 s (docs/fuzzing.md); FUZZ=0 skips it
#   6. scripts/browser-test.sh: headless Chromium through the supplier's and the household's
#      pages of `metering serve` (docs/web.md); BROWSER=0 skips it (not under CI=true)
#
# Needs: Debian's libgmp-dev (GMP), libsqlite3-dev and openssl, postgresql (a throw-away
# server is started for the store and service tests: METERING_TEST_POSTGRES_URL),
# gcc-arm-none-eabi, libnewlib-arm-none-eabi, qemu-system-arm, m4 and dpkg-dev (the M4 step),
# python3 with pycryptodome, mpmath, sympy, phe and
# gmpy2, slh-dsa (independent implementations for the cross-check tests). All are installed when
# missing (apt-get as root, or through sudo; pip for the Python packages).
#
# Environment:
#   SWIFT_SCRATCH   build directory passed as --scratch-path (default: SwiftPM's .build)
#   SWIFT_BUILD_FLAGS  extra flags for both swift build and swift test (e.g. "-c release")
#   SKIP_INSTALL=1  do not install anything, only check
#   METERING_TEST_POSTGRES_URL  use this PostgreSQL server instead of starting one
#   M4=0            skip the Cortex-M4 step (ignored when CI=true)
#   FUZZ=0          skip the fuzzing pass
#   BROWSER=0       skip the browser test (ignored when CI=true)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

started=$SECONDS
step() { printf '\n==> %s  [%ds]\n' "$*" $((SECONDS - started)); }
die() {
    printf 'test.sh: %s\n' "$*" >&2
    exit 1
}

# shellcheck source=lib/setup.sh
source "$root/scripts/lib/setup.sh"
setup_swift
setup_build_packages
setup_python_oracles
setup_postgres
run_m4=1
if [[ "${M4:-1}" == 0 && "${CI:-}" != true ]]; then run_m4=0; fi
if ((run_m4)); then setup_m4_packages; fi
run_browser=1
if [[ "${BROWSER:-1}" == 0 && "${CI:-}" != true ]]; then run_browser=0; fi
if ((run_browser)); then setup_browser; fi

# ---- build, test, firmware check -----------------------------------------------------
swift_flags=()
if [[ -n "${SWIFT_SCRATCH:-}" ]]; then swift_flags+=(--scratch-path "$SWIFT_SCRATCH"); fi
if [[ -n "${SWIFT_BUILD_FLAGS:-}" ]]; then
    read -r -a extra <<<"$SWIFT_BUILD_FLAGS"
    swift_flags+=("${extra[@]}")
fi

step "swift build ${swift_flags[*]-}"
swift build "${swift_flags[@]+"${swift_flags[@]}"}"

step "swift test ${swift_flags[*]-} $*"
swift test "${swift_flags[@]+"${swift_flags[@]}"}" "$@"

step "scripts/check-firmware.sh"
firmware_flags=()
if [[ -n "${SWIFT_SCRATCH:-}" ]]; then
    firmware_flags+=(--output-dir "$SWIFT_SCRATCH/firmware")
fi
"$root/scripts/check-firmware.sh" "${firmware_flags[@]+"${firmware_flags[@]}"}"

if ((run_m4)); then
    step "scripts/m4-test.sh"
    "$root/scripts/m4-test.sh"
else
    step "scripts/m4-test.sh: SKIPPED (M4=0)"
fi

if [[ "${FUZZ:-1}" != 0 ]]; then
    step "scripts/fuzz.sh --inputs 20000 --max-time 20"
    FUZZ_SEED="${FUZZ_SEED:-1}" "$root/scripts/fuzz.sh" --inputs 20000 --max-time 20
fi

if ((run_browser)); then
    step "scripts/browser-test.sh"
    "$root/scripts/browser-test.sh"
else
    step "scripts/browser-test.sh: SKIPPED (BROWSER=0)"
fi

step "all passed"
