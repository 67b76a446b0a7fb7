#!/usr/bin/env python3
"""Checks the output of bench/m4/LimbCheck.swift (the firmware's big-number code with
32-bit limbs on the emulated Cortex-M4) against Python's own arithmetic on the same inputs.

Usage: limb_check.py OUT.bin REPORT.txt
The inputs are drawn from SHAKE128("PM-M4-limb-check-v1") in the order the bench draws
them; the groups come from the RFC 7919 formula (ffdhe3072) and
Tests/MeterCryptoTests/Vectors/dmcfe_group.json. Prints one line per check and a summary;
exit status 1 if any check fails.
"""
import hashlib
import json
import math
import os
import sys

import mpmath

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Stream:
    def __init__(self, seed: bytes):
        self.seed, self.offset = seed, 0

    def take(self, n: int) -> bytes:
        out = hashlib.shake_128(self.seed).digest(self.offset + n)[self.offset:]
        self.offset += n
        return out


def ffdhe3072() -> int:
    mpmath.mp.prec = 3400
    return 2**3072 - 2**3008 + (int(mpmath.floor(mpmath.ldexp(mpmath.e, 2942))) + 2625351) * 2**64 - 1


def main() -> int:
    out_path, report_path = sys.argv[1], sys.argv[2]
    out = open(out_path, "rb").read()
    report = dict(line.split() for line in open(report_path) if len(line.split()) == 2)
    group = json.load(open(os.path.join(ROOT, "Tests/MeterCryptoTests/Vectors/dmcfe_group.json")))
    p_dh = ffdhe3072()
    p, q, g = (int(group[k], 16) for k in ("p", "q", "g"))
    s = Stream(b"PM-M4-limb-check-v1")
    checks = []
    pos = 0

    def field(n: int) -> bytes:
        nonlocal pos
        pos += n
        return out[pos - n:pos]

    def check(name: str, got: bytes, want: bytes) -> None:
        checks.append((name, got == want))

    checks.append(("32-bit limbs on the M4", report.get("limb-bits") == "32"))
    checks.append(("Limb.buffersMatchWidth", report.get("buffers-match-width") == "1"))

    # FFDH: x from 35 bytes (0 -> 1), g^x, g^y, (g^y)^x; validate(g^y) passes, validate(p - 2) is
    # refused as outside the subgroup (FFDHError.publicKeyNotInSubgroup = 1).
    x = int.from_bytes(s.take(35), "big") or 1
    y = int.from_bytes(s.take(35), "big") or 1
    gx, gy = pow(2, x, p_dh), pow(2, y, p_dh)
    check("FFDH g^x", field(384), gx.to_bytes(384, "big"))
    check("FFDH g^y", field(384), gy.to_bytes(384, "big"))
    check("FFDH shared secret (g^y)^x", field(384), pow(gy, x, p_dh).to_bytes(384, "big"))
    check("FFDH validate(g^y) accepts", field(1), b"\xff")
    check("FFDH validate(p - 2) refuses: not in the subgroup", field(1), b"\x01")

    # DMCFE: the secret from a seed, H(l)_1, the pad, a ciphertext, a key share.
    seed = s.take(32)
    xof = hashlib.shake_256(b"PM-DMCFE-S-v1" + seed)
    secrets, k = [], 0
    while len(secrets) < 2:
        v = int.from_bytes(xof.digest(32 * (k + 1))[32 * k:], "big")
        k += 1
        if v < q:
            secrets.append(v)
    s1, s2 = secrets

    def hash_to_group(grp: int, label: int, index: int) -> int:
        ctr = 0
        while True:
            d = b"PM-DMCFE-H-v1" + grp.to_bytes(4, "big") + label.to_bytes(8, "big") + bytes([index, ctr])
            v = int.from_bytes(hashlib.shake_256(d).digest(400), "big") % p
            h = pow(v, (p - 1) // q, p) if v else 1
            if h != 1:
                return h
            ctr += 1

    grp, label, reading = 7, 0x1_0000_0005, 0x1_2345_6789
    h1, h2 = hash_to_group(grp, label, 1), hash_to_group(grp, label, 2)
    pad = pow(h1, s1, p) * pow(h2, s2, p) % p
    check("DMCFE H(l)_1", field(384), h1.to_bytes(384, "big"))
    check("DMCFE pad", field(384), pad.to_bytes(384, "big"))
    check("DMCFE ciphertext of a reading above 2^32", field(384), (pad * pow(g, reading, p) % p).to_bytes(384, "big"))
    pair_seed, digest = s.take(32), s.take(32)
    mask = hashlib.shake_256(b"PM-DMCFE-T-v1" + pair_seed + digest).digest(96)
    t1 = int.from_bytes(mask[:48], "little") % q  # six squeezed 64-bit words per element
    t2 = int.from_bytes(mask[48:], "little") % q  # own 1 < peer 2: added, not negated
    z1, z2 = (-3 * s1 + t1) % q, (-3 * s2 + t2) % q
    check("DMCFE key share (weight -3, one pairwise mask)", field(64), z1.to_bytes(32, "big") + z2.to_bytes(32, "big"))

    # Paillier: c = (1 + m N) r^N mod N^2, r drawn until it is a unit mod N.
    m = 0x1_0000_0001_2345
    for size in (384, 256):
        n_bytes = bytearray(s.take(size))
        n_bytes[0] |= 0x80
        n_bytes[-1] |= 1
        n = int.from_bytes(n_bytes, "big")
        draws = 0
        while draws < 16:
            r_bytes = bytearray(s.take(size))
            r_bytes[0] &= 0x7F
            r = int.from_bytes(r_bytes, "big")
            draws += 1
            if 1 <= r < n and math.gcd(r, n) == 1:
                break
        check(f"Paillier {size * 8}: draws until r is a unit", field(1), bytes([draws]))
        c = (1 + m * n) * pow(r, n, n * n) % (n * n)
        check(f"Paillier {size * 8}: ciphertext of a reading above 2^32", field(2 * size), c.to_bytes(2 * size, "big"))

    checks.append(("every byte of the output read", pos == len(out)))
    failed = [name for name, ok in checks if not ok]
    for name, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    print(f"limb-check: {len(checks) - len(failed)} of {len(checks)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
