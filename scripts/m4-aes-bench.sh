#!/usr/bin/env bash
# The customer-detail cipher (AES-128-GCM, firmware/MeterCrypto/Core/AESGCM.swift) on the
# emulated Cortex-M4: builds bench/m4/AESBench.swift with AESGCM.swift as one module for
# QEMU's mps2-an386 (scripts/build-m4.sh) and runs it with -icount shift=0: keying, one
# 42-byte seal, encrypt4 and six GHASH blocks, in instructions (not cycles: docs/m4.md).
# Usage: scripts/m4-aes-bench.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/m4.sh
source "$root/scripts/lib/m4.sh"

work="$m4_dir/images/aes-bench"
"$root/scripts/build-m4.sh" --name aes-bench "$root/bench/m4/AESBench.swift" \
    "$root/firmware/MeterCrypto/Core/AESGCM.swift" | sed -n '/Swift object/p'
(cd "$work" && "$root/scripts/qemu-run.sh" --shift 0 aes-bench.elf) | tee "$work/report.txt"
