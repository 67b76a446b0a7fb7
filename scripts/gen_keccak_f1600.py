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
  32-bit rotations. chi is written as b ^ (~b1 & b2): one BIC on ARMv7-M. Rotations are lazy:
  ARMv7-M's EOR and BIC rotate their second operand for free, so rho costs nothing and only
  some words are rotated back at the end of each two-round loop body (see `lazy_round`).

Usage: python3 scripts/gen_keccak_f1600.py          (rewrites the Swift file, through `swift format`)
       python3 scripts/gen_keccak_f1600.py --check  (fails if the file is not up to date)
"""
import itertools
import pathlib
import subprocess
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


def theta_rho_pi(a):
    """B of FIPS 202's round: theta, then rho and pi, indexed b[X + 5Y]."""
    c = [a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] for x in range(5)]
    d = [c[(x - 1) % 5] ^ rotl64(c[(x + 1) % 5], 1) for x in range(5)]
    b = [0] * 25
    for x in range(5):
        for y in range(5):
            b[y + 5 * ((2 * x + 3 * y) % 5)] = rotl64(a[x + 5 * y] ^ d[x], R[x][y])
    return b


def reference_round(a, rc):
    b = theta_rho_pi(a)
    e = [b[X + 5 * Y] ^ (~b[(X + 1) % 5 + 5 * Y] & b[(X + 2) % 5 + 5 * Y] & MASK64) for Y in range(5) for X in range(5)]
    e[0] ^= rc
    return e


def complemented_round(a, rc, plan):
    """One round on the complemented representation, with the plan's expressions (theta, rho
    and pi are the same: complemented lanes only flip which chi expression applies)."""
    b = theta_rho_pi(a)
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


# ---- the interleaved rounds with lazy rotations ------------------------------------------
# ARMv7-M's EOR, BIC and ORR take their second operand rotated for free (`eor r0, r1, r2, ror
# #n`), and LLVM folds `x ^ rotl32(y, n)` into that form. So no word is rotated where rho
# rotates it: each value is held as a word w and a rotation k known at generation time (the
# value is rotl32(w, k)), and every XOR or and-not applies the difference of its operands'
# rotations to the one it may shift. Only the second round of each loop iteration brings its
# outputs back to rotation 0 (the loop's state), where neither chi operand already is.
M32 = (1 << 32) - 1
# The search's seed and length: seeds 50-55 at 3 000 steps left 13-18 rotations and gave
# 9 877-10 105 instructions per permutation on the M4 (LLVM's register allocation moves with
# them); seed 52 at 8 000 steps leaves 13 and gives 9 829 (scripts/m4-keccak-bench.sh).
SEARCH_SEED = 52
SEARCH_STEPS = 8000


def rotl32_value(v, n):
    n %= 32
    return ((v << n) | (v >> (32 - n))) & M32 if n else v


class Lazy:
    """A value rotl32(word, rho): `word` names a Swift variable."""

    def __init__(self, word, rho=0):
        self.word, self.rho = word, rho % 32

    def rot(self, r):
        return Lazy(self.word, self.rho + r)


class Ops:
    """Straight-line code as (dst, op, a, b, n): xor is a ^ rotl32(b, n), andn is a & ~rotl32(b, n),
    rot is rotl32(a, n); run() evaluates it, swift() writes it."""

    def __init__(self):
        self.ops, self.count = [], {}

    def fresh(self, role):
        self.count[role] = self.count.get(role, 0) + 1
        return f"{role}{self.count[role]}"

    def xor(self, a, b, role, keep_first=True, dst=None):
        if not keep_first:
            a, b = b, a
        d = dst or self.fresh(role)
        self.ops.append((d, "xor", a.word, b.word, (b.rho - a.rho) % 32))
        return Lazy(d, a.rho)

    def andn(self, b1, b2):
        """~b1 & b2: the and-not's unshifted operand is b2, so the result keeps b2's rotation."""
        d = self.fresh("t")
        self.ops.append((d, "andn", b2.word, b1.word, (b1.rho - b2.rho) % 32))
        return Lazy(d, b2.rho)

    def constant(self, a, name, dst=None):
        """a ^ the round constant word `name` (a plain value: rotated to a's rotation)."""
        d = dst or self.fresh("e")
        self.ops.append((d, "xor", a.word, name, (-a.rho) % 32))
        return Lazy(d, a.rho)

    def rotate(self, a, dst):
        self.ops.append((dst, "rot", a.word, None, a.rho))
        return Lazy(dst)

    def run(self, env):
        env = dict(env)
        for d, op, a, b, n in self.ops:
            if op == "xor":
                env[d] = env[a] ^ rotl32_value(env[b], n)
            elif op == "andn":
                env[d] = env[a] & ~rotl32_value(env[b], n) & M32
            else:
                env[d] = rotl32_value(env[a], n)
        return env

    def swift(self, assigned, indent):
        """Lines; names in `assigned` are the loop's variables (assigned, not declared)."""
        s = " " * indent
        lines = []
        for d, op, a, b, n in self.ops:
            lead = f"{s}{d} = " if d in assigned else f"{s}let {d} = "
            if op == "rot":
                lines.append(lead + (f"rotl32({a}, {n})" if n else a))
            elif op == "xor":
                lines.append(lead + f"{a} ^ " + (f"rotl32({b}, {n})" if n else b))
            else:
                lines.append(lead + f"{a} & ~" + (f"rotl32({b}, {n})" if n else b))
        return lines


def lazy_round(ops, a, rc, choice, store=None, final=None):
    """One round on lazy words a[(lane, half)]; rc = {"e": name, "o": name}. The outputs go to
    the words named by `final` (lane, half) -> name at rotation 0, or else to those named by
    `store` at whatever rotation they have; returned as lazy words. choice(key, n) in 0..<n
    says which operand's rotation a result keeps (`interleaved_rounds` searches them)."""
    c = {}
    for x in range(5):
        for h in "eo":
            # The parity keeps the rotation of the lane it starts from.
            first = choice(("c", x, h), 5)
            acc = a[(x + 5 * first, h)]
            for y in range(5):
                if y != first:
                    acc = ops.xor(acc, a[(x + 5 * y, h)], "c")
            c[(x, h)] = acc
    # D[x] = C[x-1] ^ rotl64(C[x+1], 1); rotl64 by 1 is (rotl32(odd, 1), even).
    d = {}
    for x in range(5):
        for h, c0, c1 in (("e", c[((x - 1) % 5, "e")], c[((x + 1) % 5, "o")].rot(1)),
                          ("o", c[((x - 1) % 5, "o")], c[((x + 1) % 5, "e")])):
            d[(x, h)] = ops.xor(c0, c1, "d", keep_first=choice(("d", x, h), 2) == 0)
    out = {}
    for Y in range(5):
        # b[X, Y] = rot(A[x, y] ^ D[x], r[x, y]); by 2k both words by k, by 2k + 1 the words
        # swap (odd by k + 1, even by k).
        src = {}
        for X in range(5):
            x, y = pi_source(X, Y)
            r, i = R[x][y], x + 5 * y
            if r % 2 == 0:
                src[(X, "e")], src[(X, "o")] = ((i, "e"), (x, "e"), r // 2), ((i, "o"), (x, "o"), r // 2)
            else:
                src[(X, "e")], src[(X, "o")] = ((i, "o"), (x, "o"), r // 2 + 1), ((i, "e"), (x, "e"), r // 2)
        # Which operand's rotation each b keeps: in the last round, the choice that leaves the
        # fewest outputs with no chi operand at rotation 0 (searched, 32 choices per half-plane).
        keep = {}
        for h in "eo":
            best = None
            for combo in itertools.product((True, False), repeat=5):
                rho = []
                for X in range(5):
                    li, di, r = src[(X, h)]
                    rho.append(((a[li].rho if combo[X] else d[di].rho) + r) % 32)
                cost = sum(1 for X in range(5) if rho[X] and rho[(X + 2) % 5]) + (1 if Y == 0 and rho[0] else 0)
                if best is None or cost < best[0]:
                    best = (cost, combo)
            for X in range(5):
                keep[(X, h)] = best[1][X] if final is not None else choice(("x", X, Y, h), 2) == 0
        # One half-plane at a time (five b words live, not ten: fewer spills on the M4).
        for h in "eo":
            b = {}
            for X in range(5):
                li, di, r = src[(X, h)]
                b[(X, h)] = ops.xor(a[li], d[di], "x", keep_first=keep[(X, h)]).rot(r)
            # chi: E[X, Y] = B[X] ^ (~B[X + 1] & B[X + 2]); iota on lane 0.
            for X in range(5):
                b0, b1, b2 = b[(X, h)], b[((X + 1) % 5, h)], b[((X + 2) % 5, h)]
                t = ops.andn(b1, b2)
                i = X + 5 * Y
                if final is None:
                    # Stored as it is: the next round reads it at its rotation.
                    dst = store[(i, h)]
                    keep_b0 = choice(("e", i, h), 2) == 0
                    if i == 0:
                        out[(i, h)] = ops.constant(ops.xor(b0, t, "e", keep_first=keep_b0), rc[h], dst=dst)
                    else:
                        out[(i, h)] = ops.xor(b0, t, "e", keep_first=keep_b0, dst=dst)
                    continue
                dst = final[(i, h)]
                if i == 0:
                    e = ops.xor(b0, t, "e")
                    if e.rho:
                        e = ops.rotate(e, ops.fresh("e"))
                    out[(i, h)] = ops.constant(e, rc[h], dst=dst)
                elif b0.rho == 0 or t.rho == 0:
                    out[(i, h)] = ops.xor(b0, t, "e", keep_first=b0.rho == 0, dst=dst)
                else:
                    out[(i, h)] = ops.rotate(ops.xor(b0, t, "e"), dst)
    return out


def interleaved_rounds():
    """Two rounds from the loop's variables a{i}e, a{i}o back into them, checked against
    FIPS 202's round on random states before anything is written."""
    import random

    a = {(i, h): Lazy(f"a{i}{h}") for i in range(25) for h in "eo"}
    store = {(i, h): f"e{i}{h}" for i in range(25) for h in "eo"}
    final = {(i, h): f"a{i}{h}" for i in range(25) for h in "eo"}

    def build(choices):
        ops = Ops()
        pick = lambda key, n: choices.get((0,) + key, 0) % n
        e = lazy_round(ops, a, {"e": "rc0e", "o": "rc0o"}, pick, store=store)
        pick2 = lambda key, n: choices.get((1,) + key, 0) % n
        lazy_round(ops, e, {"e": "rc1e", "o": "rc1o"}, pick2, final=final)
        return ops

    def cost(ops):
        return sum(1 for op in ops.ops if op[1] == "rot")

    # Hill climbing over the choices (seeded: the output is the same every run): fewer
    # rotations left to do at the end of the loop body.
    keys = [(r, "c", x, h) for r in (0, 1) for x in range(5) for h in "eo"]
    keys += [(r, "d", x, h) for r in (0, 1) for x in range(5) for h in "eo"]
    keys += [(0, "x", X, Y, h) for X in range(5) for Y in range(5) for h in "eo"]
    keys += [(0, "e", i, h) for i in range(25) for h in "eo"]
    search = random.Random(SEARCH_SEED)
    choices = {}
    best = cost(build(choices))
    for _ in range(SEARCH_STEPS):
        trial = dict(choices)
        for _ in range(search.randint(1, 3)):
            trial[search.choice(keys)] = search.randrange(5)
        c = cost(build(trial))
        if c <= best:
            choices, best = trial, c
    ops = build(choices)
    rng = random.Random(1600)
    for trial in range(48):
        lanes = [rng.getrandbits(64) for _ in range(25)]
        first = trial % 12 * 2
        env = {}
        for i, v in enumerate(lanes):
            env[f"a{i}e"], env[f"a{i}o"] = interleave(v)
        for k in range(2):
            env[f"rc{k}e"], env[f"rc{k}o"] = interleave(RC[first + k])
        got = ops.run(env)
        ref = reference_round(reference_round(lanes, RC[first]), RC[first + 1])
        assert all((got[f"a{i}e"], got[f"a{i}o"]) == interleave(v) for i, v in enumerate(ref)), "lazy rounds are wrong"
    return ops, set(final.values())


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
    w("/// rotating the odd one by k + 1 and the even one by k. No word is rotated where rho says:")
    w("/// each intermediate is a word and a rotation fixed at generation time, and every XOR or")
    w("/// and-not rotates the operand that ARMv7-M's EOR/BIC can rotate for free (`eor r, a, b, ror #n`);")
    w("/// at the end of the loop body the words not already at rotation 0 are rotated back.")
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
    ops, assigned = interleaved_rounds()
    out.extend(ops.swift(assigned, 8))
    w("        round &+= 2")
    w("    }")
    for i in range(25):
        w(f"    state[{2 * i}] = a{i}e")
        w(f"    state[{2 * i + 1}] = a{i}o")
    w("}")
    w("#endif")
    return "\n".join(out) + "\n"


def swift_formatted(text):
    """The text as `swift format` (the project's .swift-format) leaves it, so the file stays
    lint-clean and --check compares like with like."""
    result = subprocess.run(
        ["swift", "format", "--assume-filename", str(OUT)], input=text, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(f"swift format failed on the generated code:\n{result.stderr}")
    return result.stdout


def main():
    text = swift_formatted(generate())
    if "--check" in sys.argv[1:]:
        if not OUT.exists() or OUT.read_text() != text:
            sys.exit(f"{OUT.relative_to(ROOT)} is not what scripts/gen_keccak_f1600.py generates: run it")
        return
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
