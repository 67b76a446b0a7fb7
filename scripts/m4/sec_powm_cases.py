#!/usr/bin/env python3
"""Cases and their check for mpn_sec_powm on the M4 (scripts/m4/check-gmp-sec-powm.sh).

  sec_powm_cases.py make CASES.bin EXPECTED.json   writes the cases (format in
                                                   scripts/m4/sec_powm_check.c)
  sec_powm_cases.py check RESULTS.bin EXPECTED.json compares with Python's pow()

Cases: random odd moduli of 32 to 3072 bits with random bases and exponents of 1 to 3072
bits, edge cases (base 0, 1 and m - 1; exponent 1; all-ones exponents; moduli 2^k - 1),
and the RFC 7919 ffdhe3072 prime (from its formula, with mpmath) with 256- and 3072-bit
exponents, whose instruction counts are printed.
"""
import json
import random
import struct
import sys


def ffdhe3072() -> int:
    import mpmath

    # RFC 7919 A.2: p = 2^3072 - 2^3008 + {[2^2942 * e] + 2625351} * 2^64 - 1
    mpmath.mp.prec = 3400
    return 2**3072 - 2**3008 + (int(mpmath.floor(mpmath.ldexp(mpmath.e, 2942))) + 2625351) * 2**64 - 1


def make(cases_path: str, expected_path: str) -> None:
    rng = random.Random(20261201)
    cases = []
    for bits in (32, 33, 64, 100, 256, 512, 1024, 2048, 3072):
        for ebits in (1, 17, 64, 256, bits):
            m = rng.getrandbits(bits) | 1 | (1 << (bits - 1))
            e = rng.getrandbits(ebits) | (1 << (ebits - 1))
            cases.append((rng.randrange(m), e, ebits, m))
    for bits in (64, 1024):
        m = (1 << bits) - 1
        cases += [
            (0, 5, 3, m),
            (1, (1 << 64) - 1, 64, m),
            (m - 1, 1, 1, m),
            (rng.randrange(m), (1 << bits) - 1, bits, m),
        ]
    first_ffdhe = len(cases)
    p = ffdhe3072()
    cases.append((2, rng.getrandbits(256) | (1 << 255), 256, p))
    cases.append((rng.randrange(p), rng.getrandbits(3072) | (1 << 3071), 3072, p))
    out = [struct.pack("<I", len(cases))]
    expected = []
    for b, e, ebits, m in cases:
        n = (m.bit_length() + 31) // 32
        en = (ebits + 31) // 32
        out.append(struct.pack("<II", n, ebits))
        out += [b.to_bytes(4 * n, "little"), m.to_bytes(4 * n, "little"), e.to_bytes(4 * en, "little")]
        expected.append({"n": n, "bits": m.bit_length(), "ebits": ebits, "result": pow(b, e, m)})
    with open(cases_path, "wb") as f:
        f.write(b"".join(out))
    with open(expected_path, "w") as f:
        json.dump({"cases": expected, "first_ffdhe": first_ffdhe}, f)


def check(results_path: str, expected_path: str) -> int:
    data = open(results_path, "rb").read()
    spec = json.load(open(expected_path))
    pos = bad = 0
    for i, c in enumerate(spec["cases"]):
        got = int.from_bytes(data[pos : pos + 4 * c["n"]], "little")
        (insns,) = struct.unpack_from("<Q", data, pos + 4 * c["n"])
        pos += 4 * c["n"] + 8
        if got != c["result"]:
            bad += 1
            print(f"FAIL case {i}: {c['bits']}-bit modulus, {c['ebits']}-bit exponent")
        if i >= spec["first_ffdhe"]:
            print(f"ffdhe3072 modulus, {c['ebits']}-bit exponent: {insns} instructions (-icount shift=0)")
    if pos != len(data):
        print(f"FAIL results file: {len(data)} bytes, expected {pos}")
        bad += 1
    n = len(spec["cases"])
    print(f"mpn_sec_powm vs Python pow(): {n - bad} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
