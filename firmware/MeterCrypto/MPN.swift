// The firmware's only door to GMP: the mpn_sec_* functions on limb buffers the caller
// owns (fixed-size, on the stack), never mpz_*, which allocates inside C.
import CGMP

/// Modular arithmetic on little-endian 64-bit limbs with GMP's side-channel-silent
/// `mpn_sec_*` functions. Used by FFDH (key setup) and DMCFE.
enum MPN {
    /// Scratch limbs for one exponentiation with a 48-limb modulus and an exponent of up
    /// to 2816 bits (`mpn_sec_powm_itch(48, 2816, 48)` = 1728 with GMP 6.2.1; checked on
    /// every call). 13.5 KiB of stack.
    static let powerScratchCapacity = 1728
    /// The largest exponent `power` takes.
    static let maxExponentBits = 2816
    /// The widest product or dividend `reduce` and `multiply` take, in limbs.
    static let maxWideLimbs = 96

    /// base^e mod m in time independent of e's value. Requires base < m, m odd with a
    /// nonzero top limb, and e < 2^bits.
    static func power(_ base: Limbs3072, exponent: Span<UInt>, bits: Int, modulus: Limbs3072) -> Limbs3072 {
        precondition(bits > 0 && bits <= maxExponentBits && exponent.count * 64 >= bits, "exponent size")
        let need = Int(pm_mpn_sec_powm_itch(48, mp_bitcnt_t(bits), 48))
        precondition(need <= powerScratchCapacity, "mpn_sec_powm needs more scratch than MPN.powerScratchCapacity")
        var result = Limbs3072.zero
        var scratch = InlineArray<1728, UInt>(repeating: 0)
        var resultSpan = result.limbs.mutableSpan
        var scratchSpan = scratch.mutableSpan
        resultSpan.withUnsafeMutableBufferPointer { rp in
            scratchSpan.withUnsafeMutableBufferPointer { tp in
                base.limbs.span.withUnsafeBufferPointer { bp in
                    exponent.withUnsafeBufferPointer { ep in
                        modulus.limbs.span.withUnsafeBufferPointer { mp in
                            pm_mpn_sec_powm(
                                rp.baseAddress!, bp.baseAddress!, 48, ep.baseAddress!, mp_bitcnt_t(bits),
                                mp.baseAddress!, 48, tp.baseAddress!)
                        }
                    }
                }
                // The scratch held exponent-dependent intermediates: wipe it.
                pm_mpn_zero(tp.baseAddress!, tp.count)
            }
        }
        return result
    }

    /// wide mod m (wide has at most 96 limbs and at least as many as m; m's top limb is
    /// nonzero). The result has m.count limbs.
    static func reduce(_ wide: Span<UInt>, modulus: Span<UInt>, into out: inout MutableSpan<UInt>) {
        precondition(wide.count <= maxWideLimbs && wide.count >= modulus.count && out.count == modulus.count)
        var numerator = InlineArray<96, UInt>(repeating: 0)
        for i in 0..<wide.count { numerator[i] = wide[i] }
        var scratch = InlineArray<200, UInt>(repeating: 0)
        precondition(Int(pm_mpn_sec_div_r_itch(wide.count, modulus.count)) <= 200, "mpn_sec_div_r scratch")
        var nSpan = numerator.mutableSpan
        var tSpan = scratch.mutableSpan
        nSpan.withUnsafeMutableBufferPointer { np in
            tSpan.withUnsafeMutableBufferPointer { tp in
                modulus.withUnsafeBufferPointer { dp in
                    pm_mpn_sec_div_r(np.baseAddress!, wide.count, dp.baseAddress!, modulus.count, tp.baseAddress!)
                }
                pm_mpn_zero(tp.baseAddress!, tp.count)
            }
        }
        for i in 0..<out.count { out[i] = numerator[i] }
        numerator = InlineArray(repeating: 0)
    }

    /// (a · b) mod m; a and b have at most m.count limbs, a.count + b.count ≤ 96.
    static func multiply(_ a: Span<UInt>, _ b: Span<UInt>, modulus: Span<UInt>, into out: inout MutableSpan<UInt>) {
        precondition(a.count >= b.count && a.count + b.count <= maxWideLimbs, "operand sizes")
        precondition(Int(pm_mpn_sec_mul_itch(a.count, b.count)) <= 8, "mpn_sec_mul scratch")
        var product = InlineArray<96, UInt>(repeating: 0)
        var scratch = InlineArray<8, UInt>(repeating: 0)
        var pSpan = product.mutableSpan
        var tSpan = scratch.mutableSpan
        pSpan.withUnsafeMutableBufferPointer { rp in
            tSpan.withUnsafeMutableBufferPointer { tp in
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        pm_mpn_sec_mul(
                            rp.baseAddress!, ap.baseAddress!, a.count, bp.baseAddress!, b.count, tp.baseAddress!)
                    }
                }
            }
        }
        reduce(product.span.extracting(0..<(a.count + b.count)), modulus: modulus, into: &out)
        product = InlineArray(repeating: 0)
    }

    /// (a · b) mod m for 3072-bit operands.
    static func multiply(_ a: Limbs3072, _ b: Limbs3072, modulus: Limbs3072) -> Limbs3072 {
        var result = Limbs3072.zero
        var out = result.limbs.mutableSpan
        multiply(a.limbs.span, b.limbs.span, modulus: modulus.limbs.span, into: &out)
        return result
    }

    /// Sign of a − b over equal lengths (variable time: public values only).
    static func compare(_ a: Span<UInt>, _ b: Span<UInt>) -> Int32 {
        precondition(a.count == b.count, "compare needs equal lengths")
        return a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in pm_mpn_cmp(ap.baseAddress!, bp.baseAddress!, a.count) }
        }
    }
}
