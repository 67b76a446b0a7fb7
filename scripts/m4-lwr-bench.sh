#!/usr/bin/env bash
# The LWR-PSA bench on the emulated Cortex-M4 and the cross-ISA test (issue 11, items 4-5):
#   1. builds bench/m4/LWRBench.swift with the LWR-PSA image's sources (Sources/FirmwareLWRPSA:
#      the real Meter<LWRScheme> core and its entry point, GMP linked) for the mps2-an386 board (scripts/build-m4.sh);
#   2. runs Tests/MeterFirmwareTests/M4LWRBenchTests.swift (swift test --filter), which
#      manufactures a group of three with the provisioning authority (two host-simulated
#      meters, one on QEMU), runs the M4 meter twice on QEMU with -icount shift=0 (factory
#      keys and enrolment; then the signed group parameters and roster, key setup, 5
#      labels), and decrypts every full label's sum with the x86 LWRKeySetup/LWRAggregator,
#      exactly;
#   3. prints the M4's instructions per phase and per label, the stack high-water mark and
#      the image's flash and RAM. Instructions, not cycles (docs/m4.md).
# Usage: scripts/m4-lwr-bench.sh
# Environment: M4_LWR_BENCH_MODES=seed,expanded,seed-billed (the default; the cases to run:
#   the two key modes, and seed mode with a signed tariff, every reading billed).
# Writes .build/m4/images/lwr-bench/run/report-MODE.txt (the image's report lines) and
# summary-MODE.json (per reading, per phase, flash, RAM, stack: scripts/m4/lwr_bench_summary.py).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/m4.sh
source "$root/scripts/lib/m4.sh"
cd "$root"

# The image's sources with its entry point (meter_main kept in the link: flash is the whole
# image plus the bench driver).
mapfile -t sources < <(find -L Sources/FirmwareLWRPSA -name '*.swift' | LC_ALL=C sort)
work="$m4_dir/images/lwr-bench"
build_log="$(nice -n 10 scripts/build-m4.sh --name lwr-bench --gmp --keep meter_main --json \
    bench/m4/LWRBench.swift bench/m4/BenchSupport.swift "${sources[@]}")"
sed '$d' <<<"$build_log"
mkdir -p "$work/run"
tail -n 1 <<<"$build_log" >"$work/sizes.json"
modes="${M4_LWR_BENCH_MODES:-seed,expanded,seed-billed}"
IFS=, read -r -a mode_list <<<"$modes"
for mode in "${mode_list[@]}"; do rm -f "$work/run/report-$mode.txt"; done

M4_LWR_BENCH_ELF="$work/lwr-bench.elf" M4_LWR_BENCH_DIR="$work/run" M4_LWR_BENCH_REQUIRED=1 \
    M4_LWR_BENCH_MODES="$modes" nice -n 10 swift test --filter M4LWRBenchTests 2>&1 | grep -v '^\[' | tail -n 15
for mode in "${mode_list[@]}"; do
    [[ -f "$work/run/report-$mode.txt" ]] ||
        { echo "m4-lwr-bench: FAIL: the cross-ISA test did not finish in $mode key mode" >&2; exit 1; }
done
for mode in "${mode_list[@]}"; do
    echo "M4 report, $mode key mode (instructions from -icount shift=0; not cycles):"
    sed 's/^/  /' "$work/run/report-$mode.txt"
    python3 "$root/scripts/m4/lwr_bench_summary.py" --mode "$mode" --sizes "$work/sizes.json" \
        "$work/run/report-$mode.txt" >"$work/run/summary-$mode.json"
    sed 's/^/  summary: /' "$work/run/summary-$mode.json"
done
