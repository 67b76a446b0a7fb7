#!/usr/bin/env python3
"""Writes firmware/MeterCrypto/Core/KeccakF1600.swift: the two Keccak-f[1600] round functions of
the firmware, generated from the FIPS 202 definitions (nothing copied from other code).

* keccakP1600Lanes: 64-bit lanes for 64-bit targets. The 25 lanes live in local variables,
  two rounds per loop iteration (a -> e -> a, so no lane is copied between rounds), and the
  lane complementing transform (Keccak implementation overview, section 2.2): six lanes of
  the state are kept complemented between rounds, which turns 20 of chi's 25 NOT-AND terms
  into plain AND or OR (x86-64 without BMI has no and-not instruction). The expressions per
  plane are found below by search, not written by hand, and checked on all inputs.
* keccakP1600Interleaved: 32-bit bit-interleaved lanes for 32-bit targets (section 2.1): a
  lane is two 32-bit words, its even bits and its odd bits, so a 64-bit rotation is two
  32-bit rotations. chi is written as b ^ (~b1 & b2): one BIC on ARMv7-M.

Usage: python3 scripts/gen_keccak_f1600.py          (rewrites the Swift file)
       python3 scripts/gen_keccak_f1600.py --check  (fails if the file is not up to date)
"""
import itertools
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "firmware" / "MeterCrypto" / "Core" / "KeccakF1600.swift"


# ---- FIPS 202 constants ----------------------------------------------------------------
def rotation_offsets():
    """r[x][y] of rho: (t + 1)(t + 2) / 2 mod 64 along (x, y) -> (y, 2x + 3y), from (1, 0)."""
    r = [[0] * 5 for _ in range(5)]
    x, y = 1, 0
    for t in range(24):
        r[x][y] = ((t + 1) * (t + 2) // 2) % 64
        x, y = y, (2 * x + 3 * y) % 5
    return r


def round_constants():
    """RC[i] of iota from the LFSR x^8 + x^6 + x^5 + x^4 + 1 (FIPS 202, algorithms 5 and 6)."""
    def rc_bit(t):
        if t % 255 == 0:
            return 1
        r = [1, 0, 0, 0, 0, 0, 0, 0]
        for _ in range(t % 255):
            r = [0] + r
            r[0] ^= r[8]
            r[4] ^= r[8]
            r[5] ^= r[8]
            r[6] ^= r[8]
            r = r[:8]
        return r[0]

    out = []
    for i in range(24):
        rc = 0
        for j in range(7):
            if rc_bit(j + 7 * i):
                rc |= 1 << ((1 << j) - 1)
        out.append(rc)
    return out


R = rotation_offsets()
RC = round_constants()
MASK64 = (1 << 64) - 1


def pi_source(X, Y):
    """(x, y) of the lane that pi moves to (X, Y): X = y, Y = 2x + 3y mod 5."""
    y = X
    x = ((Y - 3 * y) * 3) % 5  # 3 = 2^-1 mod 5
    return x, y


def interleave(v):
    even = odd = 0
    for i in range(32):
        even |= ((v >> (2 * i)) & 1) << i
        odd |= ((v >> (2 * i + 1)) & 1) << i
    return even, odd


# ---- lane complementing: chi with one NOT per plane ------------------------------------
# Lanes kept complemented between rounds: (x, y) = (1,0) (2,0) (3,1) (2,2) (2,3) (0,4).
COMPLEMENTED = {1, 2, 8, 12, 17, 20}


def chi_plan():
    """For each plane Y and position X: (op, not0, not1, not2), meaning
    e[X] = (b[X] ^ not0) ^ op(b[X+1] ^ not1, b[X+2] ^ not2) on the stored (complemented)
    values, such that the result is chi's output complemented exactly where COMPLEMENTED
    says. Searched for the fewest distinct complemented operands per plane."""
    pa = [1 if i in COMPLEMENTED else 0 for i in range(25)]
    pc = [pa[x] ^ pa[x + 5] ^ pa[x + 10] ^ pa[x + 15] ^ pa[x + 20] for x in range(5)]
    pd = [pc[(x - 1) % 5] ^ pc[(x + 1) % 5] for x in range(5)]
    pb = [0] * 25
    for X in range(5):
        for Y in range(5):
            x, y = pi_source(X, Y)
            pb[X + 5 * Y] = pa[x + 5 * y] ^ pd[x]

    forms = [(op, n0, n1, n2) for op in "&|" for n0 in (0, 1) for n1 in (0, 1) for n2 in (0, 1)]

    def output_polarity(p, form):
        op, n0, n1, n2 = form
        q = None
        for b0, b1, b2 in itertools.product((0, 1), repeat=3):
            u0, u1, u2 = b0 ^ p[0] ^ n0, b1 ^ p[1] ^ n1, b2 ^ p[2] ^ n2
            t = (u1 & u2) if op == "&" else (u1 | u2)
            qq = (u0 ^ t) ^ (b0 ^ ((1 - b1) & b2))
            if q is None:
                q = qq
            elif q != qq:
                return None
        return q

    plan = []
    for Y in range(5):
        p = [pb[X + 5 * Y] for X in range(5)]
        best = None
        for combo in itertools.product(forms, repeat=5):
            nots = set()
            for X, form in enumerate(combo):
                q = output_polarity((p[X], p[(X + 1) % 5], p[(X + 2) % 5]), form)
                if q is None or q != pa[X + 5 * Y]:
                    break
                for k, n in enumerate(form[1:]):
                    if n:
                        nots.add((X + k) % 5)
            else:
                if best is None or len(nots) < len(best[1]):
                    best = (combo, nots)
        assert best is not None
        plan.append(best)
    return plan


# ---- reference model, to check the generated expressions before writing them -----------
def rotl64(v, n):
    return ((v << n) | (v >> (64 - n))) & MASK64 if n else v


def reference_round(a, rc):
    c = [a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] for x in range(5)]
    d = [c[(x - 1) % 5] ^ rotl64(c[(x + 1) % 5], 1) for x in range(5)]
    b = [0] * 25
    for x in range(5):
        for y in range(5):
            b[y + 5 * ((2 * x + 3 * y) % 5)] = rotl64(a[x + 5 * y] ^ d[x], R[x][y])
    e = [b[X + 5 * Y] ^ (~b[(X + 1) % 5 + 5 * Y] & b[(X + 2) % 5 + 5 * Y] & MASK64) for Y in range(5) for X in range(5)]
    e[0] ^= rc
    return e


def complemented_round(a, rc, plan):
    """One round on the complemented representation, with the plan's expressions."""
    c = [a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] for x in range(5)]
    d = [c[(x - 1) % 5] ^ rotl64(c[(x + 1) % 5], 1) for x in range(5)]
    b = [0] * 25
    for x in range(5):
        for y in range(5):
            b[y + 5 * ((2 * x + 3 * y) % 5)] = rotl64(a[x + 5 * y] ^ d[x], R[x][y])
    e = [0] * 25
    for Y in range(5):
        for X in range(5):
            op, n0, n1, n2 = plan[Y][0][X]
            u = [b[(X + k) % 5 + 5 * Y] ^ (MASK64 if n else 0) for k, n in enumerate((n0, n1, n2))]
            t = (u[1] & u[2]) if op == "&" else (u[1] | u[2])
            e[X + 5 * Y] = u[0] ^ t
    e[0] ^= rc
    return e


def check_plan(plan):
    import random

    rng = random.Random(1600)
    flip = [MASK64 if i in COMPLEMENTED else 0 for i in range(25)]
    for trial in range(64):
        a = [rng.getrandbits(64) for _ in range(25)]
        ref = reference_round(a, RC[trial % 24])
        got = complemented_round([v ^ f for v, f in zip(a, flip)], RC[trial % 24], plan)
        assert [v ^ f for v, f in zip(got, flip)] == ref, "lane complementing plan is wrong"


# ---- Swift emitters ---------------------------------------------------------------------
def emit_round64(src, dst, rc_expr, plan, indent, c_in, c_out):
    """One round from lanes {src}0... to {dst}0...; the column parities of the input are
    {c_in}0...{c_in}4, those of the output are written to {c_out}0... (a `let` prefix in
    c_out declares them)."""
    s = " " * indent
    lines = []
    for x in range(5):
        lines.append(f"{s}let d{x} = {c_in}{(x - 1) % 5} ^ rotl({c_in}{(x + 1) % 5}, 1)")
    for Y in range(5):
        for X in range(5):
            x, y = pi_source(X, Y)
            r = R[x][y]
            term = f"{src}{x + 5 * y} ^ d{x}"
            lines.append(f"{s}let b{X + 5 * Y} = " + (f"rotl({term}, {r})" if r else term))
        combo, nots = plan[Y]
        for X in sorted(nots):
            lines.append(f"{s}let n{X + 5 * Y} = ~b{X + 5 * Y}")

        def operand(X, n):
            return f"{'n' if n else 'b'}{X % 5 + 5 * Y}"

        for X in range(5):
            op, n0, n1, n2 = combo[X]
            expr = f"{operand(X, n0)} ^ ({operand(X + 1, n1)} {op} {operand(X + 2, n2)})"
            if X == 0 and Y == 0:
                expr += f" ^ {rc_expr}"
            lines.append(f"{s}{dst}{X + 5 * Y} = {expr}")
    out = dst.removeprefix("let ")
    for x in range(5):
        lines.append(f"{s}{c_out}{x} = " + " ^ ".join(f"{out}{x + 5 * y}" for y in range(5)))
    return lines


def rot32(v, n):
    return f"rotl32({v[1:-1]}, {n})" if n % 32 else v


def emit_round32(src, dst, rc_even, rc_odd, indent):
    """Lane i is words {src}{i}e (even bits) and {src}{i}o (odd bits). The column parities
    are computed from the input here: carried across rounds like the 64-bit version's they
    cost the M4 build about 900 instructions per permutation (more spills)."""
    s = " " * indent
    lines = []
    c_in = "c"
    for x in range(5):
        for h in "eo":
            lines.append(f"{s}let c{x}{h} = " + " ^ ".join(f"{src}{x + 5 * y}{h}" for y in range(5)))
    # D[x] = C[x-1] ^ rotl64(C[x+1], 1); rotl64 by 1 is (rotl32(odd, 1), even).
    for x in range(5):
        lines.append(f"{s}let d{x}e = {c_in}{(x - 1) % 5}e ^ rotl32({c_in}{(x + 1) % 5}o, 1)")
        lines.append(f"{s}let d{x}o = {c_in}{(x - 1) % 5}o ^ {c_in}{(x + 1) % 5}e")
    for Y in range(5):
        for X in range(5):
            x, y = pi_source(X, Y)
            r = R[x][y]
            i = x + 5 * y
            te, to = f"({src}{i}e ^ d{x}e)", f"({src}{i}o ^ d{x}o)"
            if r % 2 == 0:
                e, o = rot32(te, r // 2), rot32(to, r // 2)
            else:
                e, o = rot32(to, r // 2 + 1), rot32(te, r // 2)
            for h, v in (("e", e), ("o", o)):
                if v.startswith("(") and v.endswith(")"):
                    v = v[1:-1]
                lines.append(f"{s}let b{X + 5 * Y}{h} = {v}")
        for X in range(5):
            for h in "eo":
                expr = f"b{X + 5 * Y}{h} ^ (~b{(X + 1) % 5 + 5 * Y}{h} & b{(X + 2) % 5 + 5 * Y}{h})"
                if X == 0 and Y == 0:
                    expr += f" ^ {rc_even if h == 'e' else rc_odd}"
                lines.append(f"{s}{dst}{X + 5 * Y}{h} = {expr}")
    return lines


def hex64(v):
    h = f"{v:016X}"
    return "0x" + "_".join(h[i:i + 4] for i in range(0, 16, 4))


def hex32(v):
    h = f"{v:08X}"
    return "0x" + h[:4] + "_" + h[4:]


def generate():
    plan = chi_plan()
    check_plan(plan)
    out = []
    w = out.append
    w("// Generated by scripts/gen_keccak_f1600.py from the FIPS 202 definitions: do not edit by hand.")
    w("//")
    w("// Keccak-p[1600, 24 - firstRound] in two representations; Keccak.swift picks one per target")
    w("// (see KeccakLaneState and KeccakInterleavedState). Firmware code: no allocation, no array")
    w("// indexing inside the rounds (every lane is a local variable).")
    w("")
    w("/// Round constants of Keccak-f[1600], iota step, rounds 0..<24 (FIPS 202, algorithm 6).")
    w("/// TurboSHAKE uses only the last 12: indices 12..<24.")
    w("let keccakRoundConstants: InlineArray<24, UInt64> = [")
    for i in range(0, 24, 4):
        w("    " + ", ".join(hex64(v) for v in RC[i:i + 4]) + ",")
    w("]")
    w("")
    w("// The Embedded build of a target holds only the representation it uses (the host build has both,")
    w("// for the tests); see KeccakTargetState.")
    w("#if _pointerBitWidth(_32) || !hasFeature(Embedded)")
    w("/// The round constants bit-interleaved: element 2i holds the even bits of RC[i], 2i + 1 the odd bits.")
    w("let keccakRoundConstantsInterleaved: InlineArray<48, UInt32> = [")
    pairs = [interleave(v) for v in RC]
    for i in range(0, 24, 4):
        w("    " + ", ".join(f"{hex32(e)}, {hex32(o)}" for e, o in pairs[i:i + 4]) + ",")
    w("]")
    w("#endif")
    w("")
    w("@inline(__always)")
    w("func rotl(_ x: UInt64, _ n: UInt64) -> UInt64 {")
    w("    (x &<< n) | (x &>> (64 &- n))")
    w("}")
    w("")
    w("@inline(__always)")
    w("func rotl32(_ x: UInt32, _ n: UInt32) -> UInt32 {")
    w("    (x &<< n) | (x &>> (32 &- n))")
    w("}")
    w("")
    # 64-bit
    comp = sorted(COMPLEMENTED)
    w("#if _pointerBitWidth(_64) || !hasFeature(Embedded)")
    w("/// Keccak-p[1600, 24 - firstRound] on 64-bit lanes: rounds firstRound..<24 of Keccak-f[1600].")
    w("/// firstRound must be even (0: Keccak-f[1600]; 12: TurboSHAKE's Keccak-p[1600, 12]).")
    w("///")
    w("/// Lane i is bytes 8i..<8i+8 of the state, little-endian. Inside, lanes "
      + ", ".join(str(i) for i in comp) + " are held")
    w("/// complemented (lane complementing), so chi needs one NOT per plane instead of five.")
    w("@usableFromInline @_optimize(speed)")
    w("func keccakP1600Lanes(_ state: inout InlineArray<25, UInt64>, firstRound: Int) {")
    w('    precondition(firstRound >= 0 && firstRound <= 24 && firstRound & 1 == 0, "Keccak: first round not even in 0...24")')
    for i in range(25):
        w(f"    var a{i} = " + ("~" if i in COMPLEMENTED else "") + f"state[{i}]")
    w("    // Column parities of the lanes, carried from round to round (computed where the lanes are).")
    for x in range(5):
        w(f"    var c{x} = " + " ^ ".join(f"a{x + 5 * y}" for y in range(5)))
    w("    var round = firstRound")
    w("    while round < 24 {")
    w("        // Lane a{x + 5y} is A[x, y]. theta: column parities c and their mix d.")
    w("        // rho and pi: b{X + 5Y} = rot(A[x, y] ^ d[x], r[x, y]) with (X, Y) = (y, 2x + 3y mod 5).")
    w("        // chi: A[X, Y] = B[X, Y] ^ (~B[X + 1, Y] & B[X + 2, Y]), on complemented lanes where marked.")
    w("        let rc0 = keccakRoundConstants[unchecked: round]")
    w("        let rc1 = keccakRoundConstants[unchecked: round &+ 1]")
    out.extend(emit_round64("a", "let e", "rc0", plan, 8, "c", "let p"))
    w("        do {")
    out.extend(emit_round64("e", "a", "rc1", plan, 12, "p", "c"))
    w("        }")
    w("        round &+= 2")
    w("    }")
    for i in range(25):
        w(f"    state[{i}] = " + ("~" if i in COMPLEMENTED else "") + f"a{i}")
    w("}")
    w("#endif")
    w("")
    # 32-bit
    w("#if _pointerBitWidth(_32) || !hasFeature(Embedded)")
    w("/// Keccak-p[1600, 24 - firstRound] on bit-interleaved lanes: word 2i holds the even bits of")
    w("/// lane i, word 2i + 1 its odd bits. firstRound must be even (0 or 12, as above).")
    w("///")
    w("/// A 64-bit rotation by 2k is a rotation of both words by k; by 2k + 1 it swaps the words,")
    w("/// rotating the odd one by k + 1 and the even one by k.")
    w("@usableFromInline @_optimize(speed)")
    w("func keccakP1600Interleaved(_ state: inout InlineArray<50, UInt32>, firstRound: Int) {")
    w('    precondition(firstRound >= 0 && firstRound <= 24 && firstRound & 1 == 0, "Keccak: first round not even in 0...24")')
    for i in range(25):
        w(f"    var a{i}e = state[{2 * i}]")
        w(f"    var a{i}o = state[{2 * i + 1}]")
    w("    var round = firstRound")
    w("    while round < 24 {")
    w("        let rc0e = keccakRoundConstantsInterleaved[unchecked: 2 &* round]")
    w("        let rc0o = keccakRoundConstantsInterleaved[unchecked: 2 &* round &+ 1]")
    w("        let rc1e = keccakRoundConstantsInterleaved[unchecked: 2 &* round &+ 2]")
    w("        let rc1o = keccakRoundConstantsInterleaved[unchecked: 2 &* round &+ 3]")
    out.extend(emit_round32("a", "let e", "rc0e", "rc0o", 8))
    w("        do {")
    out.extend(emit_round32("e", "a", "rc1e", "rc1o", 12))
    w("        }")
    w("        round &+= 2")
    w("    }")
    for i in range(25):
        w(f"    state[{2 * i}] = a{i}e")
        w(f"    state[{2 * i + 1}] = a{i}o")
    w("}")
    w("#endif")
    return "\n".join(out) + "\n"


def main():
    text = generate()
    if "--check" in sys.argv[1:]:
        if not OUT.exists() or OUT.read_text() != text:
            sys.exit(f"{OUT.relative_to(ROOT)} is not what scripts/gen_keccak_f1600.py generates: run it")
        return
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
