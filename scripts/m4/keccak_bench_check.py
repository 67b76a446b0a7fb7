#!/usr/bin/env python3
"""Checks and prints the Keccak bench's results (scripts/m4-keccak-bench.sh).

Usage: keccak_bench_check.py WORKDIR JSON(0|1)
WORKDIR holds report.txt (the image's "key value" lines), shake128-16k.bin (its output)
and sizes.json (scripts/build-m4.sh --json). The output must equal hashlib's SHAKE128 of
the bench's message; exit status 1 otherwise.
"""
import hashlib
import json
import os
import sys

MESSAGE = b"PrivateMetering M4 Keccak bench"  # bench/m4/KeccakBench.swift absorbs this


def main() -> int:
    work, as_json = sys.argv[1], sys.argv[2] == "1"
    report = {}
    for line in open(os.path.join(work, "report.txt")):
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            report[parts[0]] = int(parts[1])
    sizes = json.load(open(os.path.join(work, "sizes.json")))
    out = open(os.path.join(work, "shake128-16k.bin"), "rb").read()
    expected = hashlib.shake_128(MESSAGE).digest(16384)
    ok = out == expected and report.get("words-match", 0) == 1
    figures = {
        "target": "cortex-m4 (QEMU mps2-an386, -icount shift=0)",
        "keccak_f1600_instructions": report["keccak-f1600-instructions"],
        "shake128_16k_instructions": report["shake128-16k-instructions"],
        "shake128_16k_permutations": report["shake128-16k-permutations"],
        "shake128_16k_words_instructions": report["shake128-16k-words-instructions"],
        "stack_high_water_bytes": report["stack-high-water-bytes"],
        "flash_bytes": sizes["flash_bytes"],
        # data + bss + the stack's high-water mark; with the linker script's whole reserve:
        "ram_bytes": sizes["data"] + sizes["bss"] + report["stack-high-water-bytes"],
        "ram_reserved_bytes": sizes["ram_bytes"],
        "swift_text_bytes": sizes["swift_text"],
        "optimization": sizes["optimization"],
        "output_matches_hashlib": ok,
    }
    if as_json:
        print(json.dumps(figures))
    else:
        per_block = figures["shake128_16k_instructions"] / figures["shake128_16k_permutations"]
        print(f"{'ok' if ok else 'FAIL'} SHAKE128 16 KiB output equals hashlib.shake_128 (bytes and words)")
        print(f"Keccak-f[1600]: {figures['keccak_f1600_instructions']} instructions (mean of 64 calls)")
        print(
            f"SHAKE128, 16 KiB squeeze: {figures['shake128_16k_instructions']} instructions "
            f"({figures['shake128_16k_permutations']} permutations, {per_block:.0f} per 168-byte block)"
        )
        print(
            f"SHAKE128, the same 16 KiB as 2048 squeezeWord() calls: {figures['shake128_16k_words_instructions']} instructions"
        )
        print(f"stack high-water mark: {figures['stack_high_water_bytes']} bytes (the bench's 16 KiB buffer included)")
        print(
            f"image ({figures['optimization']}): flash {figures['flash_bytes']} bytes (text + data), "
            f"RAM {figures['ram_bytes']} bytes (data + bss + stack high-water; "
            f"{figures['ram_reserved_bytes']} with the whole stack reserve); Swift code {figures['swift_text_bytes']} bytes"
        )
        print("instructions, not Cortex-M4 cycles (docs/m4.md)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
