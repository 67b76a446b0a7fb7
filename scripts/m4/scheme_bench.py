#!/usr/bin/env python3
"""Host side of the Paillier and DMCFE bench images (scripts/m4-scheme-bench.sh).

  scheme_bench.py paillier-input RADIO-IN KEYS.json   N of 3072 and 2048 bits as radio frames
  scheme_bench.py paillier-check RADIO-OUT KEYS.json  decrypts the M4's reading frames with p, q
  scheme_bench.py summary SCHEME SIZES.json REPORT    one JSON line per configuration

The primes are deterministic (a fixed seed, gmpy2.next_prime), so every run sees the same N.
Radio files hold frames as [uint32 LE length][bytes] (docs/m4.md, the radio).
"""
import json
import random
import struct
import sys

HEADER, TAG = 24, 16  # Frame.headerBytes, Frame.tagBytes


def primes(bits: int, rng: random.Random):
    import gmpy2

    while True:
        out = []
        for _ in range(2):
            x = rng.getrandbits(bits // 2) | (3 << (bits // 2 - 2)) | 1
            out.append(int(gmpy2.next_prime(x)))
        p, q = out
        if p != q and (p * q).bit_length() == bits:
            return p, q


def frames(path: str):
    data = open(path, "rb").read()
    i = 0
    while i + 4 <= len(data):
        (n,) = struct.unpack_from("<I", data, i)
        if i + 4 + n > len(data):
            break
        yield data[i + 4 : i + 4 + n]
        i += 4 + n


def paillier_input(radio_in: str, keys_path: str) -> int:
    rng = random.Random(0x4D34)
    keys = []
    with open(radio_in, "wb") as out:
        for bits in (3072, 2048):
            p, q = primes(bits, rng)
            n = p * q
            keys.append({"bits": bits, "p": str(p), "q": str(q)})
            body = n.to_bytes(bits // 8, "big")
            out.write(struct.pack("<I", len(body)) + body)
    json.dump(keys, open(keys_path, "w"))
    return 0


def paillier_check(radio_out: str, keys_path: str) -> int:
    keys = {k["bits"]: (int(k["p"]), int(k["q"])) for k in json.load(open(keys_path))}
    expected = {3072: 1000, 2048: 1001}  # the bench's readings: 1000 + label
    seen = {}
    for frame in frames(radio_out):
        for bits, (p, q) in keys.items():
            if len(frame) == HEADER + bits // 4 + TAG:
                n = p * q
                c = int.from_bytes(frame[HEADER : HEADER + bits // 4], "big")
                lam = (p - 1) * (q - 1)
                m = ((pow(c, lam, n * n) - 1) // n) * pow(lam, -1, n) % n
                seen.setdefault(bits, set()).add(m)
    ok = True
    for bits, m in expected.items():
        got = seen.get(bits)
        status = "ok" if got == {m} else "FAIL"
        ok &= got == {m}
        print(f"paillier-check: {bits}-bit frame from the M4 decrypts to {sorted(got or [])}, expected {m}: {status}")
    return 0 if ok else 1


def summary(scheme: str, sizes_path: str, report_path: str) -> int:
    values = {}
    for line in open(report_path, encoding="utf-8"):
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            values[parts[0]] = int(parts[1])
    sizes = json.load(open(sizes_path))
    stack = values["stack-high-water-bytes"]
    common = {
        "target": "cortex-m4",
        "flash_bytes": sizes["flash_bytes"],
        "ram_bytes": sizes["data"] + sizes["bss"] + stack,
        "stack_bytes": stack,
        "boot_instructions": values.get("boot-instructions"),
    }
    if scheme == "paillier":
        for bits in (3072, 2048):
            e = values[f"paillier-{bits}-exponentiation-instructions"]
            b = values[f"paillier-{bits}-boundary-instructions"]
            o = values[f"paillier-{bits}-online-instructions"]
            print(json.dumps({"scheme": "paillier", "parameters": f"{bits}", "variant": "-", **common,
                              "instructions_per_reading": e + b,
                              "phases": {"exponentiation": e, "online_step": o, "boundary_step": b}}))
    elif scheme == "dmcfe":
        pad = values["dmcfe-pad-instructions"]
        b = values["dmcfe-boundary-instructions"]
        print(json.dumps({"scheme": "dmcfe", "parameters": "3072", "variant": "-", **common,
                          "instructions_per_reading": pad + b,
                          "phases": {"hash_to_group": values["dmcfe-hash-to-group-instructions"],
                                     "hash_to_group_count": 2,
                                     "exponentiations": values["dmcfe-exponentiations-instructions"],
                                     "pad": pad, "encrypt": values["dmcfe-encrypt-instructions"],
                                     "boundary_step": b},
                          "pad_matches_split": values.get("dmcfe-pad-matches-split") == 1}))
    else:
        print(f"scheme_bench: unknown scheme {scheme}", file=sys.stderr)
        return 2
    return 0


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "paillier-input":
        return paillier_input(*args)
    if cmd == "paillier-check":
        return paillier_check(*args)
    if cmd == "summary":
        return summary(*args)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
