#!/usr/bin/env bash
# The firmware's big-number code with 32-bit limbs on the emulated Cortex-M4: builds
# bench/m4/LimbCheck.swift with firmware/MeterCrypto's Core, BigNumbers, KeyAgreement, DMCFE
# and Paillier sources and GMP for the M4 (scripts/build-m4.sh --gmp), runs it on QEMU with
# -icount shift=0 (scripts/qemu-run.sh), and checks FFDH, DMCFE and Paillier results against
# Python on the same inputs (scripts/m4/limb_check.py). Prints the instructions each step
# took (instructions, not cycles: docs/m4.md). The x86_64 build's arithmetic is checked by
# swift test; this is the same code at the other limb width.
#
# Usage: scripts/m4-limb-check.sh [-Onone]
# Exit status: 0 every check passed, 1 a check failed, 2 the build or the run failed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/m4.sh
source "$root/scripts/lib/m4.sh"
opt=()
for a in "$@"; do
    case "$a" in
    -Onone | -Osize) opt=("$a") ;;
    *) echo "m4-limb-check: unknown option '$a'" >&2; exit 2 ;;
    esac
done

sources=("$root/bench/m4/LimbCheck.swift")
for dir in Core BigNumbers KeyAgreement DMCFE Paillier; do
    sources+=("$root"/firmware/MeterCrypto/"$dir"/*.swift)
done
"$root/scripts/build-m4.sh" --name limb-check --gmp "${opt[@]+"${opt[@]}"}" "${sources[@]}" || exit 2

work="$m4_dir/images/limb-check"
rm -f "$work/out.bin"
(cd "$work" && "$root/scripts/qemu-run.sh" --shift 0 limb-check.elf out=out.bin) >"$work/report.txt" || {
    cat "$work/report.txt" >&2
    echo "m4-limb-check: the image failed on QEMU" >&2
    exit 2
}
grep -v '^limb-bits \|^buffers-match-width ' "$work/report.txt" | sed 's/^/  /'
python3 "$root/scripts/m4/limb_check.py" "$work/out.bin" "$work/report.txt"
