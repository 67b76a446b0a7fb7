#!/usr/bin/env python3
"""Counts the SHAKE256 calls and Keccak-f[1600] permutations an SLH-DSA verification makes,
for every signature in Tests/MeterCryptoTests/Vectors/slhdsa_shake.json, by running the
independent `slh-dsa` package's verify_pure with a counting SHAKE256 (the Swift verifier
makes the same calls: FIPS 205 fixes them). A call absorbing L bytes costs floor(L / 136) + 1
permutations (rate 136, output <= 136 bytes). Figures for docs/spec/signatures.md.

Usage: python3 scripts/slhdsa_hash_counts.py   (needs: pip install slh-dsa)
"""
import hashlib
import json
import pathlib

import slhdsa.lowlevel.parameters as lowlevel
from slhdsa import PublicKey, shake_128f, shake_128s

ROOT = pathlib.Path(__file__).resolve().parents[1]
VECTORS = ROOT / "Tests" / "MeterCryptoTests" / "Vectors" / "slhdsa_shake.json"
counts = {"calls": 0, "permutations": 0}


class CountingShake256:
    def __init__(self):
        self.inner = hashlib.shake_256()
        self.absorbed = 0
        counts["calls"] += 1

    def update(self, data):
        self.inner.update(data)
        self.absorbed += len(data)

    def digest(self, length):
        assert length <= 136
        counts["permutations"] += self.absorbed // 136 + 1
        return self.inner.digest(length)


def main():
    lowlevel.shake_256 = CountingShake256
    vectors = json.loads(VECTORS.read_text())
    sets = {"shake128f": shake_128f, "shake128s": shake_128s}
    for case in vectors["cases"]:
        counts.update(calls=0, permutations=0)
        key = PublicKey.from_digest(bytes.fromhex(case["publicKey"]), sets[case["parameters"]])
        message = bytes.fromhex(case["message"])
        ok = key.verify_pure(message, bytes.fromhex(case["signature"]), vectors["context"].encode())
        assert ok and counts["calls"] > 0, "the counting SHAKE256 was not used"
        print(f"{case['parameters']}  message {len(message):5d} B  SHAKE256 calls {counts['calls']:5d}"
              f"  Keccak-f {counts['permutations']:5d}")


if __name__ == "__main__":
    main()
