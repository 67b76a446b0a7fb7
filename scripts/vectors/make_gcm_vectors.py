#!/usr/bin/env python3
"""Regenerates Tests/MeterCryptoTests/Vectors/aes128_gcm_nist.json from NIST's published
AES-GCM test vectors: CAVP "GCM Test Vectors" (gcmtestvectors.zip, CAVS 14.0, generated
2012-08-31), files gcmEncryptExtIV128.rsp and gcmDecrypt128.rsp, as redistributed unchanged
in the PyPI package `cryptography-vectors` (cryptography_vectors/ciphers/AES/GCM/).

Only the sections the firmware's AES-128-GCM takes are kept: 96-bit IVs and 128-bit tags
(every plaintext and AAD length of the file: 5 x 5 sections of 15 vectors each). Decrypt
cases marked FAIL (tag does not verify) are kept as such.

Usage:
  pip download --no-deps cryptography-vectors && unzip cryptography_vectors-*.whl 'cryptography_vectors/ciphers/AES/GCM/*'
  python3 scripts/vectors/make_gcm_vectors.py cryptography_vectors/ciphers/AES/GCM
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "MeterCryptoTests" / "Vectors" / "aes128_gcm_nist.json"


def parse(path):
    section = {}
    cases = []
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            key, _, value = line[1:-1].partition(" = ")
            section[key] = int(value)
            continue
        if line == "FAIL":
            current["fail"] = True
            continue
        key, _, value = line.partition(" = ")
        if key == "Count":
            current = {"section": dict(section), "count": int(value)}
            cases.append(current)
        else:
            current[key.lower()] = value.strip()
    return cases


def keep(case):
    s = case["section"]
    return s.get("Keylen") == 128 and s.get("IVlen") == 96 and s.get("Taglen") == 128


def main():
    folder = pathlib.Path(sys.argv[1])
    out = {
        "source": "NIST CAVP GCM Test Vectors (gcmtestvectors.zip, CAVS 14.0): gcmEncryptExtIV128.rsp and "
        "gcmDecrypt128.rsp, sections Keylen 128, IVlen 96, Taglen 128; as shipped in the PyPI package "
        "cryptography-vectors (cryptography_vectors/ciphers/AES/GCM). Converted by "
        "scripts/vectors/make_gcm_vectors.py.",
        "encrypt": [],
        "decrypt": [],
    }
    for name, kind in (("gcmEncryptExtIV128.rsp", "encrypt"), ("gcmDecrypt128.rsp", "decrypt")):
        for case in parse(folder / name):
            if not keep(case):
                continue
            s = case["section"]
            entry = {
                "name": f"{name} PTlen={s['PTlen']} AADlen={s['AADlen']} Count={case['count']}",
                "key": case["key"],
                "iv": case["iv"],
                "aad": case.get("aad", ""),
                "ct": case.get("ct", ""),
                "tag": case["tag"],
            }
            if kind == "decrypt" and case.get("fail"):
                entry["fail"] = True
            else:
                entry["pt"] = case.get("pt", "")
            out[kind].append(entry)
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"{OUT}: {len(out['encrypt'])} encrypt, {len(out['decrypt'])} decrypt "
          f"({sum(1 for c in out['decrypt'] if c.get('fail'))} FAIL)")


if __name__ == "__main__":
    main()
