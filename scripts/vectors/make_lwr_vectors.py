#!/usr/bin/env python3
"""Regenerates Tests/MeterCryptoTests/Vectors/lwr_psa.json: known answers for LWR-PSA.

An implementation of docs/spec/lwr-psa.md ("Exact definition"), docs/spec/key-setup.md
("Exact definition") and docs/spec/frames.md ("The tag") written from those texts, with
hashlib (SHAKE128, SHAKE256) and pycryptodome (TurboSHAKE128, KMAC128). It shares no code
with the firmware; the Swift tests (Tests/MeterCryptoTests/LWRVectorTests.swift) load the
file and check the firmware against it.

The inputs are drawn from SHAKE256 over a fixed name, so the file is reproducible:
running the script again writes the same bytes.

Usage: python3 scripts/vectors/make_lwr_vectors.py [--check]
  --check  do not write; exit 1 if the checked-in file differs from what would be written
"""
import argparse
import hashlib
import json
import pathlib
import sys

from Crypto.Hash import KMAC128, TurboSHAKE128

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "MeterCryptoTests" / "Vectors" / "lwr_psa.json"

LAMBDA = 2048
P_BITS = 48
MASK64 = (1 << 64) - 1
PREFIX_WORDS = 4  # how many leading words of a_l, k, Z, a share the file shows

# docs/spec/lwr-psa.md, "Parameter sets"
PARAMETER_SETS = [
    {"id": 1, "name": "lwr-2048-p48-shake128", "xof": "shake128"},
    {"id": 2, "name": "lwr-2048-p48-turboshake128", "xof": "turboshake128"},
]


def xof(kind, message, n):
    if kind == "shake128":
        return hashlib.shake_128(message).digest(n)
    if kind == "turboshake128":
        return TurboSHAKE128.new(data=message, domain=0x1F).read(n)
    raise ValueError(kind)


def words(kind, message, count):
    """Word j = output bytes 8j..8j+7, little-endian."""
    out = xof(kind, message, 8 * count)
    return [int.from_bytes(out[8 * j:8 * j + 8], "little") for j in range(count)]


def u8(v):
    return bytes([v])


def u32be(v):
    return v.to_bytes(4, "big")


def u64be(v):
    return v.to_bytes(8, "big")


def label_vector(ps, group, label):
    return words(ps["xof"], b"PM-LWR-A-v1" + u8(ps["id"]) + u32be(group) + u64be(label), LAMBDA)


def slot_vector(ps, group, label, slot):
    """docs/spec/statistics.md: a_{l,s} for a statistics slot s = 1 ... 255."""
    assert 1 <= slot <= 255
    return words(ps["xof"], b"PM-LWR-S-v1" + u8(ps["id"]) + u32be(group) + u64be(label) + u8(slot), LAMBDA)


def slot_prf(ps, key, group, label, slot):
    a = slot_vector(ps, group, label, slot)
    return (sum(x * y for x, y in zip(a, key)) & MASK64) >> (64 - P_BITS)


def statistics_layout(n, x_max, squares, bins):
    """docs/spec/statistics.md, "Slots": the tags and the histogram packing."""
    if squares:
        assert bounds_ok(n, x_max * x_max), "no variance for this group"
    w = n.bit_length()
    k = 0
    while k < bins and bounds_ok(n, 1 << (w * k)):
        k += 1
    hist_slots = -(-bins // k) if bins else 0
    tags = ([1] if squares else []) + [2 + j for j in range(hist_slots)]
    assert len(tags) <= 4
    return {"counter_bits": w, "bins_per_slot": k, "tags": tags}


def statistics_values(layout, squares, edges, x):
    """What a meter with reading x puts into each slot, in slot order."""
    b = sum(1 for e in edges if e <= x)
    k, w = layout["bins_per_slot"], layout["counter_bits"]
    values = [x * x] if squares else []
    for j in range(len(layout["tags"]) - len(values)):
        values.append(1 << (w * (b % k)) if b // k == j else 0)
    return values


def key_from_seed(ps, seed):
    assert len(seed) == 32
    return words(ps["xof"], b"PM-LWR-K-v1" + u8(ps["id"]) + seed, LAMBDA)


def prf(ps, key, group, label):
    a = label_vector(ps, group, label)
    return (sum(x * y for x, y in zip(a, key)) & MASK64) >> (64 - P_BITS)


def bounds_ok(n, max_reading):
    return n > 0 and n * (n * max_reading + 1) < (1 << P_BITS)


def encrypt(pad, n, max_reading, reading):
    assert bounds_ok(n, max_reading) and reading <= max_reading
    return (pad + n * reading) % (1 << P_BITS)


def decrypt_sum(ciphertext_sum, aggregate_pad, n):
    return ((ciphertext_sum - aggregate_pad + n - 1) % (1 << P_BITS)) // n


def pairwise_seed(secret, group, a, b):
    return hashlib.shake_256(b"PM-PAIR-v1" + u32be(group) + u32be(min(a, b)) + u32be(max(a, b)) + secret).digest(32)


SHARE_CHUNK_WORDS = 128


def zero_share(ps, seed):
    """Z_ab: the lambda words, expanded per 128-word chunk c from tag | id | seed | c (u32 BE)."""
    assert len(seed) == 32
    out = []
    for c in range(LAMBDA // SHARE_CHUNK_WORDS):
        out += words(ps["xof"], b"PM-ZERO-v2" + u8(ps["id"]) + seed + u32be(c), SHARE_CHUNK_WORDS)
    return out


def apply_zero_share(share, z, own, peer):
    assert own != peer
    sign = 1 if own < peer else -1
    return [(s + sign * w) & MASK64 for s, w in zip(share, z)]


def words_le_bytes(ws):
    return b"".join(w.to_bytes(8, "little") for w in ws)


def digest(ws):
    """SHAKE256 of the words as little-endian bytes, 32 bytes: names a whole λ-word vector."""
    return hashlib.shake_256(words_le_bytes(ws)).hexdigest(32)


def frame(key, ftype, scheme, group, meter, label, payload):
    """docs/spec/frames.md: the 24-byte header, the payload, KMAC128 over both."""
    header = (u8(1) + u8(ftype) + u8(scheme) + u8(0) + u32be(group) + u32be(meter) + u64be(label)
              + len(payload).to_bytes(2, "big") + (0).to_bytes(2, "big"))
    signed = header + payload
    tag = KMAC128.new(key=key, mac_len=16, custom=b"PM-FRAME-v1").update(signed).digest()
    return signed + tag


class Draw:
    """Reproducible inputs: SHAKE256 over a name and a counter."""

    def __init__(self, name):
        self.name = name.encode()
        self.count = 0

    def bytes(self, n):
        self.count += 1
        return hashlib.shake_256(b"PM-VECTORS-v1|" + self.name + b"|" + str(self.count).encode()).digest(n)

    def int(self, bits):
        return int.from_bytes(self.bytes(8), "big") >> (64 - bits)


def hexwords(ws):
    return ["%016x" % w for w in ws[:PREFIX_WORDS]]


def make():
    out = {
        "generator": "scripts/vectors/make_lwr_vectors.py",
        "spec": ["docs/spec/lwr-psa.md", "docs/spec/key-setup.md", "docs/spec/frames.md", "docs/spec/statistics.md"],
        "notes": "words are 64-bit, shown as 16 hex digits; *_first are the leading %d words; "
                 "*_shake256 is SHAKE256 (32 bytes) of a whole %d-word vector as little-endian bytes" % (
                     PREFIX_WORDS, LAMBDA),
        "parameter_sets": [],
        "frame": [],
    }
    for ps in PARAMETER_SETS:
        d = Draw(ps["name"])
        entry = {"id": ps["id"], "name": ps["name"], "xof": ps["xof"], "lambda": LAMBDA, "plaintext_bits": P_BITS,
                 "prf": [], "encrypt": [], "groups": [], "pairwise_seed": [], "zero_share": [], "apply_zero_share": []}

        # PRF: extreme and drawn (group, label).
        points = [(0, 0), (0xFFFFFFFF, MASK64), (1, 1)] + [(d.int(32), d.int(64)) for _ in range(3)]
        for group, label in points:
            seed = d.bytes(32)
            key = key_from_seed(ps, seed)
            a = label_vector(ps, group, label)
            entry["prf"].append({
                "seed": seed.hex(), "group": group, "label": label,
                "label_vector_first": hexwords(a), "key_first": hexwords(key), "key_shake256": digest(key),
                "prf": prf(ps, key, group, label),
            })

        # Encryption: pad, bounds and reading, including the capacity edge and wrap mod p.
        enc_cases = [(0, 1, 0, 0), ((1 << P_BITS) - 1, 2, 1000, 1000), (d.int(P_BITS), 100, 5000, 4321)]
        n_edge = 100
        x_edge = ((1 << P_BITS) // n_edge - 1) // n_edge  # the largest x_max with n(n·x_max + 1) < p
        while not bounds_ok(n_edge, x_edge):
            x_edge -= 1
        assert not bounds_ok(n_edge, x_edge + 1)
        enc_cases.append((d.int(P_BITS), n_edge, x_edge, x_edge))
        for pad, n, x_max, x in enc_cases:
            entry["encrypt"].append({"pad": pad, "meters": n, "max_reading": x_max, "reading": x,
                                     "ciphertext": encrypt(pad, n, x_max, x)})
        entry["capacity"] = {"meters": n_edge, "largest_max_reading": x_edge}

        # Whole groups: every member's seed and reading, ciphertexts, K, F_K(l), the sum.
        for n, x_max in [(3, 5000), (5, 1 << 20)]:
            group, label = d.int(32), d.int(64)
            members, keysum, csum, truth = [], [0] * LAMBDA, 0, 0
            for i in range(n):
                seed = d.bytes(32)
                key = key_from_seed(ps, seed)
                reading = d.int(64) % (x_max + 1)
                c = encrypt(prf(ps, key, group, label), n, x_max, reading)
                keysum = [(s + k) & MASK64 for s, k in zip(keysum, key)]
                csum = (csum + c) & MASK64
                truth += reading
                members.append({"seed": seed.hex(), "reading": reading, "ciphertext": c})
            aggregate_pad = prf(ps, keysum, group, label)
            total = decrypt_sum(csum, aggregate_pad, n)
            assert total == truth
            entry["groups"].append({"group": group, "label": label, "max_reading": x_max, "members": members,
                                    "aggregate_key_first": hexwords(keysum), "aggregate_key_shake256": digest(keysum),
                                    "aggregate_pad": aggregate_pad, "sum": total})

        # Key setup: pairwise seeds, zero-share streams, shares after one peer, a group of three.
        for _ in range(2):
            group, a, b = d.int(32), d.int(32), d.int(32)
            secret = d.bytes(384)
            s = pairwise_seed(secret, group, a, b)
            assert s == pairwise_seed(secret, group, b, a)
            entry["pairwise_seed"].append({"shared_secret": secret.hex(), "group": group, "meter_a": a, "meter_b": b,
                                           "seed": s.hex()})
        for _ in range(2):
            seed = d.bytes(32)
            z = zero_share(ps, seed)
            entry["zero_share"].append({"pairwise_seed": seed.hex(), "first": hexwords(z), "shake256": digest(z)})
        for own, peer in [(3, 9), (9, 3)]:
            key_seed, pair_seed = d.bytes(32), d.bytes(32)
            share = apply_zero_share(key_from_seed(ps, key_seed), zero_share(ps, pair_seed), own, peer)
            entry["apply_zero_share"].append({"key_seed": key_seed.hex(), "pairwise_seed": pair_seed.hex(),
                                              "own": own, "peer": peer, "share_first": hexwords(share),
                                              "share_shake256": digest(share)})
        ids = [2, 5, 11]
        seeds = {i: d.bytes(32) for i in ids}
        pair = {(i, j): d.bytes(32) for i in ids for j in ids if i < j}
        shares, keysum, sharesum = [], [0] * LAMBDA, [0] * LAMBDA
        for i in ids:
            key = key_from_seed(ps, seeds[i])
            keysum = [(s + k) & MASK64 for s, k in zip(keysum, key)]
            share = key
            for j in ids:
                if j != i:
                    share = apply_zero_share(share, zero_share(ps, pair[(min(i, j), max(i, j))]), i, j)
            sharesum = [(t + w) & MASK64 for t, w in zip(sharesum, share)]
            shares.append({"meter": i, "key_seed": seeds[i].hex(), "share_shake256": digest(share),
                           "first_chunk_le": words_le_bytes(share[:128]).hex()})
        assert sharesum == keysum  # the masks cancel
        entry["key_setup_group"] = {
            "meters": shares,
            "pairwise_seeds": [{"meter_a": i, "meter_b": j, "seed": s.hex()} for (i, j), s in pair.items()],
            "aggregate_key_shake256": digest(keysum),
        }

        # Statistics (docs/spec/statistics.md): slot PRFs and a group's packed histogram.
        d = Draw(ps["name"] + "|statistics")
        entry["slot_prf"] = []
        for group, label, slot in [(0, 0, 1), (0xFFFFFFFF, MASK64, 255), (d.int(32), d.int(64), 2)]:
            seed = d.bytes(32)
            key = key_from_seed(ps, seed)
            entry["slot_prf"].append({
                "seed": seed.hex(), "group": group, "label": label, "slot": slot,
                "slot_vector_first": hexwords(slot_vector(ps, group, label, slot)),
                "prf": slot_prf(ps, key, group, label, slot), "reading_prf": prf(ps, key, group, label),
            })
        n, x_max, edges = 12, 1000, [50, 100, 150, 200, 300, 400, 500, 600, 700, 800, 900]
        layout = statistics_layout(n, x_max, True, len(edges) + 1)
        group, label = d.int(32), d.int(64)
        members, keysum, sums, readings = [], [0] * LAMBDA, [0] * len(layout["tags"]), []
        for i in range(n):
            seed = d.bytes(32)
            key = key_from_seed(ps, seed)
            x = d.int(64) % (x_max + 1)
            values = statistics_values(layout, True, edges, x)
            cs = [encrypt(slot_prf(ps, key, group, label, t), n, x_max * x_max if t == 1 else
                          1 << (layout["counter_bits"] * (layout["bins_per_slot"] - 1)), v)
                  for t, v in zip(layout["tags"], values)]
            keysum = [(a + b) & MASK64 for a, b in zip(keysum, key)]
            sums = [(a + c) & MASK64 for a, c in zip(sums, cs)]
            readings.append(x)
            members.append({"seed": seed.hex(), "reading": x, "slot_values": values, "ciphertexts": cs})
        plain = [decrypt_sum(c, slot_prf(ps, keysum, group, label, t), n) for c, t in zip(sums, layout["tags"])]
        assert plain[0] == sum(x * x for x in readings)
        w, k = layout["counter_bits"], layout["bins_per_slot"]
        histogram = [(plain[1 + b // k] >> (w * (b % k))) & ((1 << w) - 1) for b in range(len(edges) + 1)]
        assert histogram == [sum(1 for x in readings if sum(1 for e in edges if e <= x) == b)
                             for b in range(len(edges) + 1)]
        entry["statistics_group"] = {
            "group": group, "label": label, "meters": n, "max_reading": x_max, "squares": True, "edges": edges,
            "counter_bits": w, "bins_per_slot": k, "tags": layout["tags"], "members": members,
            "aggregate_key_shake256": digest(keysum), "slot_sums": plain, "sum_of_squares": plain[0],
            "histogram": histogram,
        }
        out["parameter_sets"].append(entry)

    # Frames: every scheme's reading payload size, status, key share, ack, empty.
    d = Draw("frames")
    for ftype, scheme, length in [(0x01, 1, 8), (0x01, 2, 512), (0x01, 2, 768), (0x01, 3, 384), (0x04, 1, 10),
                                  (0x03, 1, 1024), (0x13, 1, 0), (0x11, 1, 16), (0x02, 3, 400)]:
        key = d.bytes(32)
        group, meter, label = d.int(32), d.int(32), d.int(64)
        payload = d.bytes(length) if length else b""
        f = frame(key, ftype, scheme, group, meter, label, payload)
        out["frame"].append({"key": key.hex(), "type": ftype, "scheme": scheme, "group": group, "meter": meter,
                             "label": label, "payload": payload.hex(), "frame": f.hex(), "tag": f[-16:].hex()})
    return out


def write_or_check(make_file, out, description):
    """The command line of a vector script: write `out`, or with --check compare it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = json.dumps(make_file(), indent=1) + "\n"
    if args.check:
        same = out.exists() and out.read_text() == text
        print(("up to date: " if same else "differs: ") + str(out.relative_to(ROOT)))
        sys.exit(0 if same else 1)
    out.write_text(text)
    print("wrote " + str(out.relative_to(ROOT)))


def main():
    write_or_check(make, OUT, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
