#!/usr/bin/env bash
# The Keccak bench on the emulated Cortex-M4: builds bench/m4/KeccakBench.swift with
# firmware/MeterCrypto/Core/Keccak.swift, KeccakF1600.swift and KMAC.swift (scripts/build-m4.sh), runs it on QEMU
# with -icount shift=0 (scripts/qemu-run.sh), checks its 16 KiB of SHAKE128 against
# Python's hashlib, and prints instructions per Keccak-f[1600] and per 16 KiB squeeze,
# the stack high-water mark and the image's flash and RAM. Instructions, not cycles.
#
# Usage: scripts/m4-keccak-bench.sh [-Onone] [--json]
#   --json   print one JSON object with every figure instead of the table
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/m4.sh
source "$root/scripts/lib/m4.sh"
opt=()
json=0
for a in "$@"; do
    case "$a" in
    -Onone | -Osize) opt=("$a") ;;
    --json) json=1 ;;
    *) echo "m4-keccak-bench: unknown option '$a'" >&2; exit 2 ;;
    esac
done

work="$m4_dir/images/keccak-bench"
build_log="$("$root/scripts/build-m4.sh" --name keccak-bench --json "${opt[@]+"${opt[@]}"}" \
    "$root/bench/m4/KeccakBench.swift" "$root/firmware/MeterCrypto/Core/Keccak.swift" \
    "$root/firmware/MeterCrypto/Core/KeccakF1600.swift" "$root/firmware/MeterCrypto/Core/KMAC.swift")"
((json)) || sed '$d' <<<"$build_log"
tail -n 1 <<<"$build_log" >"$work/sizes.json"

rm -f "$work/shake128-16k.bin"
(cd "$work" && "$root/scripts/qemu-run.sh" --shift 0 keccak-bench.elf out=shake128-16k.bin) >"$work/report.txt"
python3 "$root/scripts/m4/keccak_bench_check.py" "$work" "$json"
