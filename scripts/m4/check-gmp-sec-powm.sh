#!/usr/bin/env bash
# Cross-checks the M4 build of GMP's mpn_sec_powm against Python's pow() on QEMU
# (called by build-gmp-m4.sh --check; also usable alone). The cases and the comparison
# are in scripts/m4/sec_powm_cases.py; the M4 side is scripts/m4/sec_powm_check.c. Runs
# under -icount shift=0 and prints the instructions of the ffdhe3072 cases (instructions,
# not cycles: docs/m4.md).
#
# Usage: scripts/m4/check-gmp-sec-powm.sh GMP-PREFIX
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../lib/m4.sh
source "$root/scripts/lib/m4.sh"
prefix="$1"
work="$m4_dir/sec-powm"
mkdir -p "$work"

objs=()
mapfile -t objs < <(m4_build_board)
arm-none-eabi-gcc "${m4_cflags[@]}" -Werror -I"$prefix/include" -c "$root/scripts/m4/sec_powm_check.c" \
    -o "$work/sec_powm_check.o"
m4_link "$work/sec_powm_check.elf" "$work/sec_powm_check.o" "${objs[@]}" "$prefix/lib/libgmp.a"

cd "$work"
python3 "$root/scripts/m4/sec_powm_cases.py" make cases.bin expected.json
rm -f results.bin
"$root/scripts/qemu-run.sh" --timeout 900 sec_powm_check.elf cases=cases.bin results=results.bin
python3 "$root/scripts/m4/sec_powm_cases.py" check results.bin expected.json
