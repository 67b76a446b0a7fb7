#!/usr/bin/env python3
"""Regenerates Tests/MeterCryptoTests/Vectors/slhdsa_shake.json: pure SLH-DSA (FIPS 205)
signatures made by the `slh-dsa` package (PyPI, import name `slhdsa`), an independent
implementation, for the meter's verifier and the provisioning authority's signer.

One seeded key per parameter set (SLH-DSA-SHAKE-128f and -128s): the 3n-byte seed
SK.seed || SK.prf || PK.seed is SHAKE256("PrivateMetering SLH-DSA test key <set>"), PK.root
is FIPS 205 keygen's top XMSS root (computed by slhdsa). Messages: empty, a short statement,
a random 33 bytes and 1 500 bytes (more than one 1 KB radio chunk) under 128f, one message
under 128s; all with ctx "PM-STATEMENT-v1". Deterministic signatures (opt_rand = PK.seed),
which the Swift signer must reproduce byte for byte, plus one randomized 128f signature
that only the verifier checks. Every signature is checked with slhdsa's verify_pure.

Usage: python3 scripts/vectors/make_slhdsa_vectors.py   (needs: pip install slh-dsa; ~10 s)
"""
import hashlib
import json
import pathlib
import random

from slhdsa import KeyPair, shake_128f, shake_128s
from slhdsa.lowlevel.addresses import Address
from slhdsa.lowlevel.xmss import XMSS

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "MeterCryptoTests" / "Vectors" / "slhdsa_shake.json"
CONTEXT = b"PM-STATEMENT-v1"
SETS = {"shake128f": shake_128f, "shake128s": shake_128s}


def key_pair(name):
    par = SETS[name]
    seed = hashlib.shake_256(f"PrivateMetering SLH-DSA test key {name}".encode()).digest(3 * par.n)
    sk_seed, sk_prf, pk_seed = seed[: par.n], seed[par.n : 2 * par.n], seed[2 * par.n :]
    # FIPS 205 algorithm 18: PK.root is the root of the top layer's only XMSS tree.
    pk_root = XMSS(par).node(sk_seed, 0, par.h_m, pk_seed, Address(par.d - 1, 0))
    kp = KeyPair.from_digest(pk_seed + pk_root + sk_seed + sk_prf + pk_seed + pk_root, par)
    return seed, kp


def case(name, seed, kp, message, randomize=False):
    signature = kp.sign_pure(message, randomize=randomize, ctx=CONTEXT)
    assert kp.verify_pure(message, signature, CONTEXT)
    assert not kp.verify_pure(message + b"x", signature, CONTEXT)
    return {
        "parameters": name,
        "seed": seed.hex(),
        "publicKey": kp.pub.digest().hex(),
        "message": message.hex(),
        "deterministic": not randomize,
        "signature": signature.hex(),
    }


def main():
    rng = random.Random(20261201)
    cases = []
    seed, kp = key_pair("shake128f")
    for message in [
        b"",
        b"group 7 epoch 3: LWR-PSA, 128 meters",
        bytes(rng.randrange(256) for _ in range(33)),
        bytes(rng.randrange(256) for _ in range(1500)),
    ]:
        cases.append(case("shake128f", seed, kp, message))
    cases.append(case("shake128f", seed, kp, b"randomized statement", randomize=True))
    seed, kp = key_pair("shake128s")
    cases.append(case("shake128s", seed, kp, b"tariff 2027-01"))
    document = {
        "source": "slh-dsa (PyPI, import slhdsa) sign_pure / verify_pure, FIPS 205 pure SLH-DSA, SHAKE",
        "context": CONTEXT.decode(),
        "cases": cases,
    }
    OUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(cases)} signatures")


if __name__ == "__main__":
    main()
