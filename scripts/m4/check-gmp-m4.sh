#!/usr/bin/env bash
# Runs GMP's own test suite for the M4 build on QEMU (called by build-gmp-m4.sh --check).
#
# Usage: scripts/m4/check-gmp-m4.sh GMP-BUILD-DIR "DIR..."
# Each test directory's programs are linked with the mps2-an386 board (hal/mps2: startup,
# linker script, semihosting) and full newlib with semihosting (rdimon), then run through
# Automake's harness with scripts/m4/qemu-test.sh as LOG_COMPILER. Prints each directory's
# totals and a last line "gmp tests: N passed, N failed, N skipped"; exits 1 on a failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../lib/m4.sh
source "$root/scripts/lib/m4.sh"
build="$1"
dirs="$2"
jobs="${JOBS:-$(nproc)}"

# The board in a folder of its own, so other M4 builds meanwhile do not relink the tests
# against another board; the heap from just above the board's 256 KiB of flash to the end
# of PSRAM (14.75 MiB: the tests use no ADC samples).
objs=()
mapfile -t objs < <(M4_BOARD_OUT="$m4_dir/board-gmp-check" m4_build_board)
ldflags="-nostartfiles -Wl,-T,$m4_board_src/mps2.ld -Wl,--gc-sections -Wl,--no-enum-size-warning"
ldflags+=" -Wl,--defsym=__heap_start=0x21140000 ${objs[*]}"
log="$m4_dir/gmp-check.log"
: >"$log"
started=$SECONDS
echo "==> GMP's test suite on QEMU mps2-an386 ($dirs), -j$jobs; log: $log"
make -C "$build/tests" -j"$jobs" libtests.la >>"$log" 2>&1
pass=0 fail=0 skip=0 bad=0
for dir in $dirs; do
    t0=$SECONDS
    status=0
    # Relink every test against this board and run it again.
    make -C "$build/$dir" clean-checkPROGRAMS >>"$log" 2>&1 || true
    rm -f "$build/$dir"/*.log "$build/$dir"/*.trs
    nice -n 10 make -C "$build/$dir" -j"$jobs" -k check-am LDFLAGS="$ldflags" \
        LOG_COMPILER="$root/scripts/m4/qemu-test.sh" >>"$log" 2>&1 || status=$?
    summary="$build/$dir/test-suite.log"
    if [[ ! -f "$summary" ]]; then
        echo "FAIL $dir: no test-suite.log (build failed? see $log)"
        bad=$((bad + 1))
        continue
    fi
    read -r t p s f x e < <(awk -F': ' '/^# TOTAL/{t=$2} /^# PASS/{p=$2} /^# SKIP/{s=$2} /^# FAIL/{f=$2} /^# XFAIL/{x=$2} /^# ERROR/{e=$2} END{print t+0, p+0, s+0, f+0, x+0, e+0}' "$summary")
    printf '%-12s %3d tests: %3d pass, %d skip, %d fail, %d error  (%ds)\n' "$dir" "$t" "$p" "$s" "$f" "$e" $((SECONDS - t0))
    grep -E '^(FAIL|ERROR):' "$summary" | sed 's/^/    /' || true
    pass=$((pass + p)); skip=$((skip + s)); fail=$((fail + f + e))
    ((status == 0)) || ((f + e > 0)) || bad=$((bad + 1))
done
echo "gmp tests: $pass passed, $fail failed, $skip skipped  ($((SECONDS - started)) s)"
((fail == 0 && bad == 0))
