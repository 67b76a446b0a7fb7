#!/usr/bin/env python3
"""Regenerates Tests/MeterCryptoTests/Vectors/paillier_phe.json: Paillier known-answer
vectors made by python-paillier (`phe`, PyPI), an independent implementation with g = n + 1.

For a 2048-bit and a 3072-bit key that phe generates, each case gives m, r and
c = phe's raw_encrypt(m, r_value=r) = (1 + m·n)·r^n mod n^2, checked with phe's CRT
decryption, all as fixed-length big-endian hex (n and r: bits/8 bytes, c: bits/4 bytes).
The meter's firmware must produce exactly c from m and r's bytes.

Usage: python3 scripts/vectors/make_paillier_vectors.py   (needs: pip install phe gmpy2)
"""
import json
import pathlib
import secrets

from phe import paillier

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "MeterCryptoTests" / "Vectors" / "paillier_phe.json"


def hexlen(value, nbytes):
    return value.to_bytes(nbytes, "big").hex()


def key_vectors(bits):
    pub, priv = paillier.generate_paillier_keypair(n_length=bits)
    n = pub.n
    assert n.bit_length() == bits and pub.g == n + 1
    readings = [0, 1, 250, 4999, 65535, 2**32 + 7, 2**64 - 1] + [secrets.randbelow(5001) for _ in range(5)]
    cases = []
    for m in readings:
        while True:
            r = secrets.randbelow(n - 1) + 1
            if r % priv.p and r % priv.q:
                break
        c = pub.raw_encrypt(m, r_value=r)
        assert priv.raw_decrypt(c) == m
        cases.append({"m": str(m), "r": hexlen(r, bits // 8), "c": hexlen(c, bits // 4)})
    return {
        "bits": bits,
        "n": hexlen(n, bits // 8),
        "p": format(priv.p, "x"),
        "q": format(priv.q, "x"),
        "cases": cases,
    }


def main():
    document = {
        "source": "python-paillier (phe) raw_encrypt with r_value, g = n + 1; checked with phe raw_decrypt",
        "keys": [key_vectors(2048), key_vectors(3072)],
    }
    OUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
