#!/usr/bin/env python3
"""The host end of the mps2 board's radio for the smoke test (scripts/m4-smoke.sh).

Frames are [uint32 little-endian length][bytes] in two files: the board appends what it
sends to OUT and reads what it receives from IN as this peer appends to it. For each
frame the board sends, the peer first appends one frame of MTU + 1 bytes (the board must
drop it and report MH_ERR_TOO_LONG once), then the frame with its bytes reversed.
Stops after FRAMES frames or TIMEOUT seconds.

Usage: radio-peer.py OUT IN [--frames N] [--mtu BYTES] [--timeout SECONDS]
"""
import argparse
import os
import struct
import time


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("inbox")
    ap.add_argument("--frames", type=int, default=1)
    ap.add_argument("--mtu", type=int, default=2048)
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    deadline = time.monotonic() + a.timeout
    pos = answered = 0
    while answered < a.frames and time.monotonic() < deadline:
        data = open(a.out, "rb").read() if os.path.exists(a.out) else b""
        if len(data) >= pos + 4:
            (n,) = struct.unpack_from("<I", data, pos)
            if len(data) >= pos + 4 + n:
                frame = data[pos + 4 : pos + 4 + n]
                pos += 4 + n
                with open(a.inbox, "ab") as f:
                    f.write(struct.pack("<I", a.mtu + 1) + bytes(a.mtu + 1))
                    f.write(struct.pack("<I", n) + frame[::-1])
                answered += 1
                continue
        time.sleep(0.01)
    return 0 if answered == a.frames else 1


if __name__ == "__main__":
    raise SystemExit(main())
