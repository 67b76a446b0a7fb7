#!/usr/bin/env python3
"""Generates the DMCFE prime-order group reproducibly, FIPS 186-4 style.

p: 3072-bit prime, q: 256-bit prime dividing p - 1 (Appendix A.1.1.2, SHA-256,
seedlen = 256), g: canonical generator of the order-q subgroup (Appendix A.2.3,
index 1). The first domain_parameter_seed is SHA-256(TAG); a seed whose q is not
prime, or whose 4L counters give no p, is replaced by SHA-256(seed). Every value,
the seed and the counter are printed as JSON so anyone can re-derive and check them:

    python3 scripts/params/make_dmcfe_group.py > firmware/params/dmcfe_group.json

Primality: sympy.isprime (BPSW) and 64 Miller-Rabin rounds with bases drawn from
SHA-256 of the candidate (FIPS 186-4 C.3 asks for fewer for these sizes).
"""
import hashlib
import json
import sys

import sympy

TAG = b"PrivateMetering DMCFE group v1"
L, N, SEEDLEN, OUTLEN = 3072, 256, 256, 256


def H(data: bytes) -> int:
    return int.from_bytes(hashlib.sha256(data).digest(), "big")


def miller_rabin(n: int, rounds: int = 64) -> bool:
    if n < 4:
        return n in (2, 3)
    if n % 2 == 0:
        return False
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for i in range(rounds):
        a = 2 + H(n.to_bytes((n.bit_length() + 7) // 8, "big") + i.to_bytes(4, "big")) % (n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def is_prime(n: int) -> bool:
    return sympy.isprime(n) and miller_rabin(n)


def generate():
    n = -(-L // OUTLEN) - 1  # ceil(L/outlen) - 1
    b = L - 1 - n * OUTLEN
    seed = H(TAG)
    attempts = 0
    while True:
        attempts += 1
        seed_bytes = seed.to_bytes(SEEDLEN // 8, "big")
        U = H(seed_bytes) % 2 ** (N - 1)
        q = 2 ** (N - 1) + U + 1 - (U % 2)
        if is_prime(q):
            offset = 1
            for counter in range(4 * L):
                V = [H(((seed + offset + j) % 2**SEEDLEN).to_bytes(SEEDLEN // 8, "big")) for j in range(n + 1)]
                W = sum(V[j] * 2 ** (j * OUTLEN) for j in range(n)) + (V[n] % 2**b) * 2 ** (n * OUTLEN)
                X = W + 2 ** (L - 1)
                c = X % (2 * q)
                p = X - (c - 1)
                if p >= 2 ** (L - 1) and is_prime(p):
                    return seed_bytes, counter, p, q, attempts
                offset += n + 1
        seed = H(seed_bytes)


def generator(seed_bytes: bytes, p: int, q: int, index: int = 1):
    e = (p - 1) // q
    for count in range(1, 2**16):
        U = seed_bytes + b"ggen" + index.to_bytes(1, "big") + count.to_bytes(2, "big")
        g = pow(H(U), e, p)
        if g >= 2:
            return g, count
    raise RuntimeError("no generator")


def main():
    seed_bytes, counter, p, q, attempts = generate()
    g, count = generator(seed_bytes, p, q)
    assert (p - 1) % q == 0 and pow(g, q, p) == 1 and g != 1
    json.dump(
        {
            "standard": "FIPS 186-4 A.1.1.2 (SHA-256, L=3072, N=256, seedlen=256), generator A.2.3 (index 1)",
            "tag": TAG.decode(),
            "domain_parameter_seed": seed_bytes.hex(),
            "seed_attempts": attempts,
            "counter": counter,
            "generator_index": 1,
            "generator_count": count,
            "p": hex(p),
            "q": hex(q),
            "g": hex(g),
        },
        sys.stdout,
        indent=2,
    )
    print()


if __name__ == "__main__":
    main()
