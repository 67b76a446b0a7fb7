#!/usr/bin/env python3
"""The neighbour-graph degree k of LWR-PSA with dropout recovery (docs/spec/dropout.md, "Choosing k").

Model. The n members sit on a ring in the order of their ring keys, which a random oracle
derives from a graph seed the authority draws after the roster is fixed; so the positions are
a uniformly random permutation of the members, independent of which members are corrupted
(chosen before the seed) and which are silent at a label (failures that do not depend on the
seed). Member p neighbours p +- 1 ... p +- h (h = k/2): the Harary graph H(n, k).

Removed members are the corrupted ones (colluding with the aggregator: at most gamma*n) and the
silent ones of one label (at most delta*n): m = floor(gamma*n) + floor(delta*n). Given m, the
removed positions are a uniform m-subset of the ring. The aggregator learns one sum per
connected component of the remaining (honest, reporting) members, so privacy asks that they
stay connected.

Exact condition. With n > k + 1 the remaining members are disconnected exactly when at least
two maximal runs of >= h consecutive positions are removed (two remaining members at ring
distance <= h are adjacent; a run of h removed positions cuts every edge across it, one such run
leaves a path, two leave two arcs).

Bound (a union bound over the two runs' starts). If two such runs exist, take the first position
a of one and b of the other: positions a .. a+h-1 and b .. b+h-1 are removed, a-1 and b-1 remain,
and these 2h + 2 positions are distinct. There are n(n - 2h - 1)/2 unordered pairs {a, b} whose
windows [a-1, a+h-1] and [b-1, b+h-1] are disjoint, each with probability
C(n - 2h - 2, m - 2h) / C(n, m) under the hypergeometric law, so

    P(disconnected) <= n (n - 2h - 1) / 2 * C(n - 2h - 2, m - 2h) / C(n, m).

More removed members can only lengthen runs, so the bound at m covers every smaller number.
k is the smallest even k whose bound is <= 2^-sigma; when even k = n - 2 does not reach it, the
graph is complete (k >= n - 1: every pair, connected whatever is removed).

This script computes the bound with exact integers (math.comb); the Swift function
`NeighbourGraphAnalysis` (Sources/Aggregation) computes it in floating point, and the tests
check that both choose the same k. `--verify` checks the exact condition and the bound against
brute force over every removed set for small rings, and against sampling for a larger one.

Usage:
  python3 scripts/dropout_degree.py [--gamma 0.2] [--delta 0.05] [--sigma 40] N ...
  python3 scripts/dropout_degree.py --verify
"""
import argparse
import itertools
import json
import math
import random
import sys


def log2_bound(n, m, h):
    """log2 of the union bound for H(n, 2h) with m removed; -inf when it is 0."""
    if n <= 2 * h + 1 or m < 2 * h or n - m < 2:
        return float("-inf")
    pairs = n * (n - 2 * h - 1) // 2
    num = pairs * math.comb(n - 2 * h - 2, m - 2 * h)
    den = math.comb(n, m)
    if num == 0:
        return float("-inf")
    return math.log2(num) - math.log2(den)


def removed(n, gamma, delta):
    return math.floor(gamma * n) + math.floor(delta * n)


def degree(n, gamma, delta, sigma):
    """(k, log2 of the bound); -inf when the probability is 0 (fewer than 2h removed, or
    k >= n - 1: the complete graph)."""
    m = removed(n, gamma, delta)
    h = 1
    while 2 * h <= n - 2:
        b = log2_bound(n, m, h)
        if b <= -sigma:
            return 2 * h, b
        h += 1
    k = n - 1 if (n - 1) % 2 == 0 else n
    return k, float("-inf")


# ---- verification -----------------------------------------------------------------------

def disconnected_by_runs(n, h, gone):
    """The exact condition: at least two maximal cyclic runs of >= h removed positions."""
    if len(gone) >= n - 1:
        return False
    start = next(p for p in range(n) if p not in gone)  # a remaining position
    runs, length = 0, 0
    for i in range(1, n + 1):
        p = (start + i) % n
        if p in gone:
            length += 1
        else:
            if length >= h:
                runs += 1
            length = 0
    return runs >= 2


def disconnected_by_search(n, h, gone):
    """Connectivity of the remaining members of H(n, 2h) by graph search."""
    rest = [p for p in range(n) if p not in gone]
    if len(rest) <= 1:
        return False
    seen, todo = {rest[0]}, [rest[0]]
    while todo:
        p = todo.pop()
        for d in range(1, h + 1):
            for q in ((p + d) % n, (p - d) % n):
                if q not in gone and q not in seen:
                    seen.add(q)
                    todo.append(q)
    return len(seen) != len(rest)


def verify():
    # Brute force: every removed set of every size on small rings.
    for n in range(5, 15):
        for h in range(1, (n - 2) // 2 + 1):
            for m in range(0, n + 1):
                bad = 0
                for gone in itertools.combinations(range(n), m):
                    g = set(gone)
                    runs = disconnected_by_runs(n, h, g)
                    assert runs == disconnected_by_search(n, h, g), (n, h, gone)
                    bad += runs
                exact = bad / math.comb(n, m)
                b = log2_bound(n, m, h)
                assert exact <= (2 ** b if b > float("-inf") else 0) + 1e-12, (n, h, m, exact, b)
    # Sampling on a larger ring, where the bound is not tiny: the bound stays above the
    # observed rate (its looseness is printed).
    rng = random.Random(1)
    n, h, m, trials = 300, 5, 80, 20000
    hits = sum(disconnected_by_runs(n, h, set(rng.sample(range(n), m))) for _ in range(trials))
    b = 2 ** log2_bound(n, m, h)
    assert hits / trials <= b, (hits, trials, b)
    print("verified: exact condition and bound on n = 5 ... 14 (every removed set); n = %d, h = %d, m = %d: "
          "sampled %.4f, bound %.4f" % (n, h, m, hits / trials, b))


def oracle():
    """JSON cases on stdin ([{"n", "gamma", "delta", "sigma"}]) -> [{"k", "log2_bound"}] (for the Swift tests)."""
    cases = json.load(sys.stdin)
    out = []
    for c in cases:
        k, b = degree(c["n"], c["gamma"], c["delta"], c["sigma"])
        out.append({"k": k, "log2_bound": None if b == float("-inf") else b})
    json.dump(out, sys.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("meters", nargs="*", type=int)
    parser.add_argument("--gamma", type=float, default=0.2, help="corrupted fraction (default 0.2)")
    parser.add_argument("--delta", type=float, default=0.05, help="silent fraction per label (default 0.05)")
    parser.add_argument("--sigma", type=int, default=40, help="failure probability 2^-sigma per label (default 40)")
    parser.add_argument("--verify", action="store_true")
    parser.add_argument("--oracle", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.oracle:
        return oracle()
    if args.verify:
        return verify()
    print("gamma = %g, delta = %g, sigma = %d" % (args.gamma, args.delta, args.sigma))
    print("%8s %8s %4s %14s" % ("n", "removed", "k", "log2 bound"))
    for n in args.meters or [100, 1000, 10000, 65536]:
        k, b = degree(n, args.gamma, args.delta, args.sigma)
        print("%8d %8d %4d %14s" % (n, removed(n, args.gamma, args.delta), k,
                                    "complete" if k >= n - 1 else "-inf (0)" if b == float("-inf") else "%.2f" % b))


if __name__ == "__main__":
    main()
