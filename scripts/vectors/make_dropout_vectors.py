#!/usr/bin/env python3
"""Regenerates Tests/MeterCryptoTests/Vectors/dropout.json: known answers for LWR-PSA over the
neighbour graph (dropout recovery).

An implementation of docs/spec/dropout.md ("Exact definition") written from that text, with
hashlib (SHAKE128, SHAKE256) and pycryptodome (TurboSHAKE128, KMAC128). It shares no code with
the firmware; the LWR-PSA pieces it builds on (words, a_l, the PRF) come from
make_lwr_vectors.py, the Python implementation of docs/spec/lwr-psa.md. The Swift tests
(Tests/MeterCryptoTests/DropoutVectorTests.swift) load the file and check the firmware's
MeterCrypto code and the host's roster and statement builders against it.

The inputs are drawn from SHAKE256 over a fixed name, so the file is reproducible.

Usage: python3 scripts/vectors/make_dropout_vectors.py [--check]
  --check  do not write; exit 1 if the checked-in file differs from what would be written
"""
import hashlib
import pathlib
import sys

from Crypto.Hash import KMAC128

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_lwr_vectors import (LAMBDA, MASK64, P_BITS, PARAMETER_SETS, Draw, digest, hexwords,  # noqa: E402
                              label_vector, u32be, u64be, u8, words, write_or_check)

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "MeterCryptoTests" / "Vectors" / "dropout.json"
CHUNK = 128
P = 1 << P_BITS


# ---- the ring and the graph (docs/spec/dropout.md, "Ring and graph") --------------------

def ring_key(seed, group, meter):
    return int.from_bytes(hashlib.shake_256(b"PM-RING-v1" + seed + u32be(group) + u32be(meter)).digest(8), "big")


def neighbours(n, k, p):
    """Ring positions of the neighbours of position p in window order."""
    h = k // 2
    if 2 * h >= n - 1:
        return [q for q in range(n) if q != p]
    return [(p - d) % n for d in range(h, 0, -1)] + [(p + d) % n for d in range(1, h + 1)]


# ---- pairwise vectors, keys, recovery (docs/spec/dropout.md, "Keys" and "Recovery") -----

def edge_vector(ps, seed):
    """G(s): chunk c is words("PM-EDGE-v1" || u8(id) || s || u8(c), 128)."""
    out = []
    for c in range(LAMBDA // CHUNK):
        out += words(ps["xof"], b"PM-EDGE-v1" + u8(ps["id"]) + seed + u8(c), CHUNK)
    return out


def sigma(own, peer):
    return 1 if own < peer else -1


def key_of(ps, own, peers, seeds):
    """k = sum over neighbours of sigma(own, peer) * G(s(own, peer)) mod 2^64."""
    key = [0] * LAMBDA
    for peer in peers:
        g = edge_vector(ps, seeds[frozenset((own, peer))])
        s = sigma(own, peer)
        key = [(a + s * b) & MASK64 for a, b in zip(key, g)]
    return key


def rounded(ps, vec, group, label):
    a = label_vector(ps, group, label)
    return (sum(x * y for x, y in zip(a, vec)) & MASK64) >> (64 - P_BITS)


def recovery_answer(ps, own, silent, seeds, group, label):
    """r = F_v(l) with v = -sum over silent neighbours of sigma(own, j) * G(s(own, j))."""
    v = [0] * LAMBDA
    for j in silent:
        g = edge_vector(ps, seeds[frozenset((own, j))])
        s = -sigma(own, j)
        v = [(a + s * b) & MASK64 for a, b in zip(v, g)]
    return rounded(ps, v, group, label)


def delta(n):
    return 2 * n


def capacity_ok(n, x_max):
    return delta(n) * (n * x_max + 1) < P


def notice_tag(seed, group, sender, about, label):
    return KMAC128.new(key=seed, mac_len=16, custom=b"PM-SILENT-v1").update(
        u32be(group) + u32be(sender) + u32be(about) + u64be(label)).digest()


def confirmation_tag(seed, group, sender, to, label):
    return KMAC128.new(key=seed, mac_len=16, custom=b"PM-SILENT-OK-v1").update(
        u32be(group) + u32be(sender) + u32be(to) + u64be(label)).digest()


# ---- roster and statement (docs/spec/dropout.md, "Signed group parameters") -------------

def shake256_32(data):
    return hashlib.shake_256(data).digest(32)


def graph_leaf(meter, rkey, y):
    return shake256_32(b"PM-ROSTER-LEAF-v2" + u32be(meter) + u64be(rkey) + shake256_32(b"PM-DHPK-v1" + y))


def merkle_root(leaves):
    depth = 1
    while (1 << depth) < len(leaves):
        depth += 1
    level = leaves + [shake256_32(b"PM-ROSTER-EMPTY-v1")] * ((1 << depth) - len(leaves))
    for _ in range(depth):
        level = [shake256_32(b"PM-ROSTER-NODE-v1" + level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return depth, level[0]


def group_parameters_body(group, epoch, parameter_id, key_mode, depth, n, x_max, root, graph_seed, k, t, budget,
                          window, activation, previous):
    body = u8(1) + u8(1) + b"\0\0" + u32be(epoch) + u32be(0) + u32be(group)
    body += u8(parameter_id) + u8(key_mode) + u8(depth) + u8(1) + u32be(n) + u64be(x_max) + root
    body += graph_seed + u8(k) + u8(t) + u8(budget) + u8(window) + u64be(activation) + u32be(previous)
    body += bytes(16)
    assert len(body) == 128
    return body


# ---- the file ---------------------------------------------------------------------------

def scenario(ps, d, n, k, silent_positions, x_max=5000):
    group, label = d.int(32), d.int(64)
    ids = sorted({d.int(20) + 1 for _ in range(n)})
    while len(ids) < n:
        ids = sorted(set(ids) | {d.int(20) + 1})
    graph_seed = d.bytes(32)
    ring = sorted(ids, key=lambda m: (ring_key(graph_seed, group, m), m))  # ring position -> id
    seeds = {}
    for p, m in enumerate(ring):
        for q in neighbours(n, k, p):
            edge = frozenset((m, ring[q]))
            if edge not in seeds:
                seeds[edge] = d.bytes(32)
    keys = {m: key_of(ps, m, [ring[q] for q in neighbours(n, k, p)], seeds) for p, m in enumerate(ring)}
    total = [0] * LAMBDA
    for key in keys.values():
        total = [(a + b) & MASK64 for a, b in zip(total, key)]
    assert total == [0] * LAMBDA  # the keys cancel over the group
    assert capacity_ok(n, x_max)
    silent = {ring[p] for p in silent_positions}
    members, csum, truth, answers = [], 0, 0, []
    for p, m in enumerate(ring):
        reading = d.int(64) % (x_max + 1)
        c = (rounded(ps, keys[m], group, label) + delta(n) * reading) % P
        members.append({"meter": m, "ring_key": ring_key(graph_seed, group, m), "neighbours":
                        [ring[q] for q in neighbours(n, k, p)], "key_first": hexwords(keys[m]),
                        "key_shake256": digest(keys[m]), "reading": reading, "ciphertext": c})
        if m in silent:
            continue
        csum += c
        truth += reading
        s = sorted(ring[q] for q in neighbours(n, k, p) if ring[q] in silent)
        if s:
            r = recovery_answer(ps, m, s, seeds, group, label)
            answers.append({"meter": m, "silent": s, "answer": r})
            csum += r
    result = ((csum + delta(n) - 1) % P) // delta(n)
    assert result == truth, (result, truth)
    return {"group": group, "label": label, "meters": n, "degree": k, "max_reading": x_max,
            "graph_seed": graph_seed.hex(), "ring": ring,
            "pairwise_seeds": [{"meter_a": min(e), "meter_b": max(e), "seed": s.hex()}
                               for e, s in sorted(seeds.items(), key=lambda kv: sorted(kv[0]))],
            "members": members, "silent": sorted(silent), "answers": answers, "sum": result}


def make():
    out = {
        "generator": "scripts/vectors/make_dropout_vectors.py",
        "spec": ["docs/spec/dropout.md", "docs/spec/lwr-psa.md"],
        "notes": "words are 64-bit, shown as 16 hex digits; *_first are the leading words; *_shake256 is "
                 "SHAKE256 (32 bytes) of a whole %d-word vector as little-endian bytes" % LAMBDA,
        "ring_key": [], "graph": [], "capacity": [], "tags": [], "parameter_sets": [],
    }
    d = Draw("dropout")
    for _ in range(3):
        seed, group, meter = d.bytes(32), d.int(32), d.int(32)
        out["ring_key"].append({"seed": seed.hex(), "group": group, "meter": meter,
                                "ring_key": ring_key(seed, group, meter)})
    out["ring_key"].append({"seed": bytes(32).hex(), "group": 0xFFFFFFFF, "meter": 0,
                            "ring_key": ring_key(bytes(32), 0xFFFFFFFF, 0)})
    for n, k in [(9, 4), (10, 2), (100, 20), (5, 4), (6, 4), (7, 6), (65536, 64)]:
        positions = sorted({0, 1, n // 2, n - 2, n - 1})
        out["graph"].append({"meters": n, "degree": k, "neighbours": {str(p): neighbours(n, k, p) for p in positions}})
    for n in [2, 100, 1000, 10000, 65536]:
        x = (P // delta(n) - 1) // n
        while not capacity_ok(n, x):
            x -= 1
        assert not capacity_ok(n, x + 1)
        out["capacity"].append({"meters": n, "delta": delta(n), "largest_max_reading": x})
    for _ in range(2):
        seed, group, a, b, label = d.bytes(32), d.int(32), d.int(32), d.int(32), d.int(64)
        out["tags"].append({"pairwise_seed": seed.hex(), "group": group, "meter_a": a, "meter_b": b, "label": label,
                            "notice": notice_tag(seed, group, a, b, label).hex(),
                            "confirmation": confirmation_tag(seed, group, a, b, label).hex()})

    # A roster of 5 members on the ring and its statement body.
    group, epoch = d.int(32), d.int(16) + 1
    graph_seed = d.bytes(32)
    members = sorted({d.int(24) + 1 for _ in range(5)})
    ys = {m: d.bytes(384) for m in members}
    ring = sorted(members, key=lambda m: (ring_key(graph_seed, group, m), m))
    depth, root = merkle_root([graph_leaf(m, ring_key(graph_seed, group, m), ys[m]) for m in ring])
    body = group_parameters_body(group, epoch, 1, 1, depth, len(ring), 5000, root, graph_seed, 4, 2, 4, 4,
                                 d.int(32), 0)
    out["roster"] = {"group": group, "epoch": epoch, "graph_seed": graph_seed.hex(),
                     "members": [{"meter": m, "public_key": ys[m].hex()} for m in members],
                     "ring": ring, "depth": depth, "root": root.hex(),
                     "statement": {"parameter_id": 1, "key_mode": 1, "max_reading": 5000, "degree": 4, "max_silent": 2,
                                   "budget": 4, "window": 4, "activation_label": int.from_bytes(body[100:108], "big"),
                                   "previous_epoch": 0, "body": body.hex()}}

    for ps in PARAMETER_SETS:
        d = Draw("dropout-" + ps["name"])
        entry = {"id": ps["id"], "name": ps["name"], "edge": [], "groups": []}
        for _ in range(2):
            seed = d.bytes(32)
            g = edge_vector(ps, seed)
            entry["edge"].append({"pairwise_seed": seed.hex(), "first": hexwords(g),
                                  "chunk1_first": hexwords(g[CHUNK:]), "shake256": digest(g)})
        # 0, 1, two adjacent, many silent; a complete graph with one silent.
        entry["groups"].append(scenario(ps, d, 9, 4, []))
        entry["groups"].append(scenario(ps, d, 9, 4, [4]))
        entry["groups"].append(scenario(ps, d, 9, 4, [0, 8]))
        entry["groups"].append(scenario(ps, d, 9, 4, [1, 2, 5, 7]))
        entry["groups"].append(scenario(ps, d, 5, 4, [3]))
        out["parameter_sets"].append(entry)
    return out


def main():
    write_or_check(make, OUT, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
