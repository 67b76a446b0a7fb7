// The firmware's only door to GMP: the mpn_* functions on limb buffers the caller
// owns (fixed-size, on the stack), never mpz_*, which allocates inside C.
internal import CGMP

/// Modular arithmetic on little-endian limbs (`Limb`) with GMP's side-channel-silent
/// `mpn_sec_*` functions, plus the few fixed-length `mpn_*` loops (add, subtract, wipe)
/// whose time does not depend on the values. Used by FFDH (key setup), DMCFE and Paillier.
///
/// The span-based functions take operands of any size up to the limits below (Paillier
/// works modulo N² of 6144 bits); scratch for an exponentiation is the caller's, since its
/// size depends so much on the operands (13.5 KiB for ffdhe3072 on x86_64, 51 KiB modulo
/// a 3072-bit N²). Results go to the first limbs of the output span (as many as the
/// modulus, or the product, has), so a fixed buffer sized for the largest key serves
/// smaller ones.
enum MPN {
    /// Scratch limbs for one exponentiation with a 3072-bit modulus and an exponent of up
    /// to 2816 bits (`PowerScratch2816`: 1728 limbs, 13.5 KiB of stack, on x86_64; 6528
    /// limbs, 25.5 KiB, on the M4; checked on every call).
    static var powerScratchCapacity: Int { PowerScratch2816.count }
    /// The largest exponent `power` takes for 3072-bit operands.
    static let maxExponentBits = 2816
    /// The widest product or dividend `reduce` and `multiply` take, in limbs: a 6144-bit
    /// value (modulo N² at 3072 bits) times a 3136-bit one (145 limbs on x86_64, 290 on the M4).
    static var maxWideLimbs: Int { LimbArray9280.count }
    /// Scratch limbs `reduce` owns (`ReduceScratch`; `mpn_sec_div_r_itch(145, 96)` = 339
    /// with GMP 6.2.1 on x86_64; checked on every call).
    static var reduceScratchCapacity: Int { ReduceScratch.count }

    /// Scratch limbs `power(_:exponent:bits:modulus:into:scratch:)` needs (GMP's figure).
    static func powerScratchLimbs(baseLimbs: Int, exponentBits: Int, modulusLimbs: Int) -> Int {
        Int(pm_mpn_sec_powm_itch(baseLimbs, mp_bitcnt_t(exponentBits), modulusLimbs))
    }

    /// out = base^e mod m in time independent of e's value, with the caller's scratch
    /// (at least `powerScratchLimbs`; wiped afterwards). Requires base < m (base may have
    /// fewer limbs), m odd with a nonzero top limb, e < 2^bits, out.count ≥ m.count; out
    /// overlaps no input.
    static func power(
        _ base: Span<UInt>, exponent: Span<UInt>, bits: Int, modulus: Span<UInt>, into out: inout MutableSpan<UInt>,
        scratch: inout MutableSpan<UInt>
    ) {
        precondition(bits > 0 && exponent.count * Limb.bits >= bits, "exponent size")
        precondition(base.count <= modulus.count && out.count >= modulus.count, "operand sizes")
        let need = powerScratchLimbs(baseLimbs: base.count, exponentBits: bits, modulusLimbs: modulus.count)
        precondition(need <= scratch.count, "mpn_sec_powm needs more scratch than the caller gave")
        out.withUnsafeMutableBufferPointer { rp in
            scratch.withUnsafeMutableBufferPointer { tp in
                base.withUnsafeBufferPointer { bp in
                    exponent.withUnsafeBufferPointer { ep in
                        modulus.withUnsafeBufferPointer { mp in
                            pm_mpn_sec_powm(
                                rp.baseAddress!, bp.baseAddress!, base.count, ep.baseAddress!, mp_bitcnt_t(bits),
                                mp.baseAddress!, modulus.count, tp.baseAddress!)
                        }
                    }
                }
                // The scratch held exponent-dependent intermediates: wipe it.
                pm_mpn_zero(tp.baseAddress!, tp.count)
            }
        }
    }

    /// base^e mod m for 3072-bit operands, in time independent of e's value. Requires
    /// base < m, m odd with a nonzero top limb, and e < 2^bits ≤ 2^2816.
    static func power(_ base: Limbs3072, exponent: Span<UInt>, bits: Int, modulus: Limbs3072) -> Limbs3072 {
        precondition(bits <= maxExponentBits, "exponent size")
        return power(base, exponent: exponent, bits: bits, modulus: modulus, scratch: PowerScratch2816.self)
    }

    /// `power(_:exponent:bits:modulus:)` with a scratch buffer of the given type on the
    /// stack (at least GMP's figure for these sizes: a precondition checks it), for
    /// callers whose exponents are short enough for a smaller one.
    static func power<let scratchLimbs: Int>(
        _ base: Limbs3072, exponent: Span<UInt>, bits: Int, modulus: Limbs3072,
        scratch _: InlineArray<scratchLimbs, UInt>.Type
    ) -> Limbs3072 {
        var result = Limbs3072.zero
        var scratch = InlineArray<scratchLimbs, UInt>(repeating: 0)
        var resultSpan = result.limbs.mutableSpan
        var scratchSpan = scratch.mutableSpan
        power(
            base.limbs.span, exponent: exponent, bits: bits, modulus: modulus.limbs.span, into: &resultSpan,
            scratch: &scratchSpan)
        return result
    }

    /// wide mod m (wide has at most `maxWideLimbs` limbs and at least as many as m; m's top limb is
    /// nonzero), in time independent of the values. The result fills m.count limbs of out.
    static func reduce(_ wide: Span<UInt>, modulus: Span<UInt>, into out: inout MutableSpan<UInt>) {
        precondition(wide.count <= maxWideLimbs && wide.count >= modulus.count && out.count >= modulus.count)
        var numerator = LimbArray9280(repeating: 0)
        for i in 0..<wide.count { numerator[i] = wide[i] }
        var nSpan = numerator.mutableSpan
        reduceInPlace(&nSpan, count: wide.count, modulus: modulus, into: &out)
    }

    /// The first `count` limbs of `wide` mod m into out (m.count limbs), with
    /// `mpn_sec_div_r`, which destroys them: `wide` is wiped afterwards.
    static func reduceInPlace(
        _ wide: inout MutableSpan<UInt>, count: Int, modulus: Span<UInt>, into out: inout MutableSpan<UInt>
    ) {
        precondition(count <= wide.count && count >= modulus.count && out.count >= modulus.count)
        var scratch = ReduceScratch(repeating: 0)
        precondition(
            Int(pm_mpn_sec_div_r_itch(count, modulus.count)) <= reduceScratchCapacity, "mpn_sec_div_r scratch")
        var tSpan = scratch.mutableSpan
        wide.withUnsafeMutableBufferPointer { np in
            tSpan.withUnsafeMutableBufferPointer { tp in
                modulus.withUnsafeBufferPointer { dp in
                    pm_mpn_sec_div_r(np.baseAddress!, count, dp.baseAddress!, modulus.count, tp.baseAddress!)
                }
                pm_mpn_zero(tp.baseAddress!, tp.count)
            }
        }
        for i in 0..<modulus.count { out[i] = wide[i] }
        wipe(&wide)
    }

    /// The first a.count + b.count limbs of out = a · b, in time independent of the
    /// values. a.count ≥ b.count ≥ 1; out overlaps neither.
    static func product(_ a: Span<UInt>, _ b: Span<UInt>, into out: inout MutableSpan<UInt>) {
        precondition(a.count >= b.count && b.count >= 1 && out.count >= a.count + b.count, "operand sizes")
        precondition(Int(pm_mpn_sec_mul_itch(a.count, b.count)) <= 8, "mpn_sec_mul scratch")
        var scratch = InlineArray<8, UInt>(repeating: 0)
        var tSpan = scratch.mutableSpan
        out.withUnsafeMutableBufferPointer { rp in
            tSpan.withUnsafeMutableBufferPointer { tp in
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        pm_mpn_sec_mul(
                            rp.baseAddress!, ap.baseAddress!, a.count, bp.baseAddress!, b.count, tp.baseAddress!)
                    }
                }
            }
        }
    }

    /// The first 2·a.count limbs of out = a², in time independent of the value; out does
    /// not overlap a.
    static func square(_ a: Span<UInt>, into out: inout MutableSpan<UInt>) {
        precondition(out.count >= 2 * a.count, "operand sizes")
        precondition(Int(pm_mpn_sec_sqr_itch(a.count)) <= 8, "mpn_sec_sqr scratch")
        var scratch = InlineArray<8, UInt>(repeating: 0)
        var tSpan = scratch.mutableSpan
        out.withUnsafeMutableBufferPointer { rp in
            tSpan.withUnsafeMutableBufferPointer { tp in
                a.withUnsafeBufferPointer { ap in
                    pm_mpn_sec_sqr(rp.baseAddress!, ap.baseAddress!, a.count, tp.baseAddress!)
                }
            }
        }
    }

    /// (a · b) mod m; a and b have at most m.count limbs, a.count + b.count ≤ `maxWideLimbs`.
    static func multiply(_ a: Span<UInt>, _ b: Span<UInt>, modulus: Span<UInt>, into out: inout MutableSpan<UInt>) {
        precondition(a.count >= b.count && a.count + b.count <= maxWideLimbs, "operand sizes")
        var product = LimbArray9280(repeating: 0)
        var pSpan = product.mutableSpan
        self.product(a, b, into: &pSpan)
        reduceInPlace(&pSpan, count: a.count + b.count, modulus: modulus, into: &out)  // wipes the product
    }

    /// (a · b) mod m for 3072-bit operands.
    static func multiply(_ a: Limbs3072, _ b: Limbs3072, modulus: Limbs3072) -> Limbs3072 {
        var result = Limbs3072.zero
        var out = result.limbs.mutableSpan
        multiply(a.limbs.span, b.limbs.span, modulus: modulus.limbs.span, into: &out)
        return result
    }

    /// The first b.count limbs of a += b; returns the carry (0 or 1). Time independent of
    /// the values.
    static func add(_ a: inout MutableSpan<UInt>, _ b: Span<UInt>) -> UInt {
        precondition(a.count >= b.count && b.count >= 1, "add needs as many limbs in a as in b")
        return a.withUnsafeMutableBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                pm_mpn_add_n(ap.baseAddress!, ap.baseAddress!, bp.baseAddress!, b.count)
            }
        }
    }

    /// The first a.count limbs of out = a − b over equal lengths; returns the borrow (1
    /// exactly when a < b). Time independent of the values.
    static func subtract(_ a: Span<UInt>, _ b: Span<UInt>, into out: inout MutableSpan<UInt>) -> UInt {
        precondition(a.count == b.count && out.count >= a.count && a.count >= 1, "subtract needs equal lengths")
        return out.withUnsafeMutableBufferPointer { rp in
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    pm_mpn_sub_n(rp.baseAddress!, ap.baseAddress!, bp.baseAddress!, a.count)
                }
            }
        }
    }

    /// Scratch limbs `isInvertible` needs for an n-limb modulus (GMP's figure).
    static func invertScratchLimbs(modulusLimbs n: Int) -> Int { Int(pm_mpn_sec_invert_itch(n)) }

    /// Whether a (its first m.count limbs) has an inverse modulo m (gcd(a, m) = 1; 0 has
    /// none), in time independent of a (`mpn_sec_invert`). m is odd; a < m is not required
    /// but `bits` must be at least bits(a) + bits(m). Destroys a; wipes the scratch (at
    /// least `invertScratchLimbs`) and the inverse (at least m.count limbs).
    static func isInvertible(
        _ a: inout MutableSpan<UInt>, modulus: Span<UInt>, bits: Int, inverse: inout MutableSpan<UInt>,
        scratch: inout MutableSpan<UInt>
    ) -> Bool {
        precondition(a.count >= modulus.count && inverse.count >= modulus.count, "operand sizes")
        precondition(invertScratchLimbs(modulusLimbs: modulus.count) <= scratch.count, "mpn_sec_invert scratch")
        var invertible: Int32 = 0
        a.withUnsafeMutableBufferPointer { ap in
            modulus.withUnsafeBufferPointer { mp in
                inverse.withUnsafeMutableBufferPointer { ip in
                    scratch.withUnsafeMutableBufferPointer { sp in
                        invertible = pm_mpn_sec_invert(
                            ip.baseAddress!, ap.baseAddress!, mp.baseAddress!, modulus.count, mp_bitcnt_t(bits),
                            sp.baseAddress!)
                        pm_mpn_zero(sp.baseAddress!, sp.count)
                        pm_mpn_zero(ip.baseAddress!, ip.count)
                    }
                }
            }
        }
        return invertible == 1
    }

    /// Sets every limb to zero through libgmp, so the compiler cannot drop the stores
    /// (for buffers that held secrets).
    static func wipe(_ limbs: inout MutableSpan<UInt>) {
        guard limbs.count > 0 else { return }
        limbs.withUnsafeMutableBufferPointer { p in pm_mpn_zero(p.baseAddress!, p.count) }
    }

    /// Sign of a − b over equal lengths (variable time: public values only).
    static func compare(_ a: Span<UInt>, _ b: Span<UInt>) -> Int32 {
        precondition(a.count == b.count, "compare needs equal lengths")
        return a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in pm_mpn_cmp(ap.baseAddress!, bp.baseAddress!, a.count) }
        }
    }
}
