#!/usr/bin/env bash
# The Paillier or DMCFE bench on the emulated Cortex-M4 (issue 11, item 4): builds
# bench/m4/PaillierBench.swift or bench/m4/DMCFEBench.swift with that scheme's image sources
# (Sources/FirmwarePaillier or Sources/FirmwareDMCFE, its entry point meter_main kept, so
# flash is the whole image plus the bench driver; GMP linked), runs it on QEMU with -icount
# shift=0 and prints the instructions per phase, the stack high-water mark (painting) and
# flash/RAM (arm-none-eabi-size). Paillier: the M4's reading frames are decrypted with p and
# q on the host (scripts/m4/scheme_bench.py). Instructions, not cycles (docs/m4.md).
# Usage: scripts/m4-scheme-bench.sh paillier|dmcfe
# Writes .build/m4/images/SCHEME-bench/run/{report.txt,summary.json} (summary: one JSON line
# per configuration: target, instructions_per_reading, phases, flash_bytes, ram_bytes, stack_bytes).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/m4.sh
source "$root/scripts/lib/m4.sh"
cd "$root"
scheme="${1:-}"
case "$scheme" in
paillier) bench=bench/m4/PaillierBench.swift; folder=Sources/FirmwarePaillier ;;
dmcfe) bench=bench/m4/DMCFEBench.swift; folder=Sources/FirmwareDMCFE ;;
*) echo "usage: scripts/m4-scheme-bench.sh paillier|dmcfe" >&2; exit 2 ;;
esac

mapfile -t sources < <(find -L "$folder" -name '*.swift' | LC_ALL=C sort)
name="$scheme-bench"
work="$m4_dir/images/$name"
build_log="$(nice -n 10 scripts/build-m4.sh --name "$name" --gmp --keep meter_main --json \
    "$bench" bench/m4/BenchSupport.swift "${sources[@]}")"
sed '$d' <<<"$build_log"
mkdir -p "$work/run"
tail -n 1 <<<"$build_log" >"$work/sizes.json"
rm -f "$work/run/"{report.txt,summary.json,out.bin,in.bin,flash.bin}
options=(flash=flash.bin rng-seed=5 radio-out=out.bin)
if [[ "$scheme" == paillier ]]; then
    python3 "$root/scripts/m4/scheme_bench.py" paillier-input "$work/run/in.bin" "$work/run/keys.json"
    options+=(radio-in=in.bin)
fi
status=0
(cd "$work/run" && nice -n 10 "$root/scripts/qemu-run.sh" --shift 0 "$work/$name.elf" "${options[@]}") \
    >"$work/run/report.txt" || status=$?
if ((status != 0)); then
    cat "$work/run/report.txt" >&2
    echo "m4-scheme-bench: the $scheme image failed on QEMU (exit status $status)" >&2
    exit 1
fi
echo "M4 report, $scheme (instructions from -icount shift=0; not cycles):"
sed 's/^/  /' "$work/run/report.txt"
if [[ "$scheme" == paillier ]]; then
    python3 "$root/scripts/m4/scheme_bench.py" paillier-check "$work/run/out.bin" "$work/run/keys.json"
else
    grep -q '^dmcfe-pad-matches-split 1$' "$work/run/report.txt" ||
        { echo "m4-scheme-bench: FAIL: the meter's pad differs from its phases' product" >&2; exit 1; }
fi
python3 "$root/scripts/m4/scheme_bench.py" summary "$scheme" "$work/sizes.json" "$work/run/report.txt" \
    >"$work/run/summary.json"
sed 's/^/  summary: /' "$work/run/summary.json"
