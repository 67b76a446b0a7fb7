#!/usr/bin/env bash
# The LWR-PSA bench on the emulated Cortex-M4 and the cross-ISA test (issue 11, items 4-5):
#   1. builds bench/m4/LWRBench.swift with the LWR-PSA image's sources (Sources/FirmwareLWRPSA:
#      the real Meter<LWRScheme> core, GMP linked) for the mps2-an386 board (scripts/build-m4.sh);
#   2. runs Tests/MeterFirmwareTests/M4LWRBenchTests.swift (swift test --filter), which
#      manufactures a group of three with the provisioning authority (two host-simulated
#      meters, one on QEMU), runs the M4 meter twice on QEMU with -icount shift=0 (factory
#      keys and enrolment; then the signed group parameters and roster, key setup, 5
#      labels), and decrypts every full label's sum with the x86 LWRKeySetup/LWRAggregator,
#      exactly;
#   3. prints the M4's instructions per phase and per label, the stack high-water mark and
#      the image's flash and RAM. Instructions, not cycles (docs/m4.md).
# Usage: scripts/m4-lwr-bench.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/m4.sh
source "$root/scripts/lib/m4.sh"
cd "$root"

mapfile -t sources < <(find -L Sources/FirmwareLWRPSA -name '*.swift' ! -path '*/Image/*' | LC_ALL=C sort)
work="$m4_dir/images/lwr-bench"
build_log="$(nice -n 10 scripts/build-m4.sh --name lwr-bench --gmp --json bench/m4/LWRBench.swift "${sources[@]}")"
sed '$d' <<<"$build_log"
mkdir -p "$work/run"
tail -n 1 <<<"$build_log" >"$work/sizes.json"
rm -f "$work/run/report.txt"

M4_LWR_BENCH_ELF="$work/lwr-bench.elf" M4_LWR_BENCH_DIR="$work/run" M4_LWR_BENCH_REQUIRED=1 \
    nice -n 10 swift test --filter M4LWRBenchTests 2>&1 | grep -v '^\[' | tail -n 15
[[ -f "$work/run/report.txt" ]] || { echo "m4-lwr-bench: FAIL: the cross-ISA test did not finish" >&2; exit 1; }
echo "M4 report (instructions from -icount shift=0; not cycles):"
sed 's/^/  /' "$work/run/report.txt"
