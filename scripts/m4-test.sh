#!/usr/bin/env bash
# The Cortex-M4 part of the test command (scripts/test.sh runs it; docs/m4.md):
#   1. scripts/m4-smoke.sh       the mps2-an386 board on QEMU (flash, persistence, power
#                                cut, timer, ADC, radio round trip, RNG, stack painting)
#   2. the relocation check refuses an image that allocates (scripts/m4/fixtures)
#   3. scripts/m4-keccak-bench.sh the firmware's Keccak on the M4, output against hashlib
#   4. scripts/build-gmp-m4.sh   GMP for the M4 (cached under .build/m4), and mpn_sec_powm
#                                against Python on QEMU (scripts/m4/check-gmp-sec-powm.sh)
#   5. scripts/m4-limb-check.sh  the firmware's FFDH, DMCFE and Paillier code with 32-bit
#                                limbs on QEMU, against Python
#   6. scripts/check-firmware.sh --target cortex-m4: every scheme's image compiles for the
#                                M4 and reaches no allocator (relocations); sizes
#   7. scripts/m4-lwr-bench.sh   the LWR-PSA firmware (Meter<LWRScheme>) on the M4 in a group
#                                with two host meters, seed and expanded key mode; the x86
#                                aggregator decrypts its frames exactly, and a power cut in the
#                                middle of the outbox write (QEMU reset, flash file kept) leaves
#                                one frame per label, resent byte-identical
#                                (Tests/MeterFirmwareTests/M4LWRBenchTests.swift)
#   (not here, minutes each: scripts/m4-scheme-bench.sh paillier|dmcfe, the Paillier and DMCFE
#    bench images; `metering cost --target cortex-m4` runs all three)
#   8. with M4_GMP_TESTS="DIR..." (e.g. tests/mpn, about 4 minutes on 2 cores): GMP's own
#      tests in those directories on QEMU
# Needs arm-none-eabi-gcc, newlib and qemu-system-arm (scripts/lib/setup.sh installs them).
# Without them it says so and exits 0, except under CI=true, where it fails: CI must run it.
# Ends with "m4: N passed, N failed".
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/m4.sh
source "$root/scripts/lib/m4.sh"

if ! m4_tools_present; then
    if [[ "${CI:-}" == true ]]; then
        echo "m4-test: FAIL: arm-none-eabi-gcc, newlib or qemu-system-arm missing under CI=true" >&2
        echo "m4: 0 passed, 1 failed"
        exit 1
    fi
    echo "m4-test: SKIPPED: arm-none-eabi-gcc, libnewlib-arm-none-eabi or qemu-system-arm not installed"
    echo "m4-test: (apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)"
    exit 0
fi

passed=0
failed=0
started=$SECONDS
# check NAME COMMAND...: runs it, counts it, shows its output indented.
check() {
    local name="$1" status=0
    shift
    printf '\n--> %s  [%ds]\n' "$name" $((SECONDS - started))
    "$@" 2>&1 | sed 's/^/  /' || status=${PIPESTATUS[0]}
    if ((status == 0)); then
        echo "ok $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name (exit status $status)"
        failed=$((failed + 1))
    fi
}
refuses_allocation() {
    local status=0 output
    output="$("$root/scripts/build-m4.sh" --name allocates "$root/scripts/m4/fixtures/Allocates.swift" 2>&1)" ||
        status=$?
    printf '%s\n' "$output"
    ((status == 1)) && grep -q 'FAIL reachable: .*swift_allocObject' <<<"$output"
}
gmp_checks() {
    if [[ -n "${M4_GMP_TESTS:-}" ]]; then
        "$root/scripts/build-gmp-m4.sh" --check --check-dirs "$M4_GMP_TESTS"
    else
        "$root/scripts/build-gmp-m4.sh"
        "$root/scripts/m4/check-gmp-sec-powm.sh" "$("$root/scripts/build-gmp-m4.sh" --print-prefix)"
    fi
}

check "board smoke test on QEMU" "$root/scripts/m4-smoke.sh"
check "relocation check refuses an allocating image" refuses_allocation
check "Keccak bench on the M4 (SHAKE128 vs hashlib)" "$root/scripts/m4-keccak-bench.sh"
check "GMP for the M4${M4_GMP_TESTS:+, GMP tests in $M4_GMP_TESTS}, mpn_sec_powm vs Python" gmp_checks
check "the firmware's big numbers with 32-bit limbs on the M4 (FFDH, DMCFE, Paillier vs Python)" \
    "$root/scripts/m4-limb-check.sh"
check "every scheme's image for the M4 (armv7em, -Osize): no allocator reachable, sizes" \
    "$root/scripts/check-firmware.sh" --target cortex-m4
check "LWR-PSA image on the M4: bench (seed, expanded), frames decrypted exactly by the x86 aggregator, power cut" \
    "$root/scripts/m4-lwr-bench.sh"

echo "m4: $passed passed, $failed failed"
((failed == 0))
