// Finite-field Diffie–Hellman in the RFC 7919 ffdhe3072 group, for meter key setup.
//
// Exponentiations go through MPN.swift (mpn_sec_powm on caller-owned, fixed-size
// buffers; no mpz_*, which allocates inside C).

/// Why a Diffie–Hellman operation was refused.
public enum FFDHError: UInt8, Error, Equatable, Sendable {
    /// The peer's public key y is outside [2, p − 2]: 0, 1, p − 1, or not reduced (y ≥ p).
    case publicKeyOutOfRange
    /// The peer's public key is in range but not in the order-q subgroup (a quadratic
    /// non-residue mod p, of order 2q): it would leak x mod 2.
    case publicKeyNotInSubgroup
}

/// A Diffie–Hellman private exponent x for `FFDHGroup`, 1 ≤ x < 2^280.
///
/// Built from 35 bytes (280 bits) that the board's RNG supplies, read as a big-endian
/// integer. RFC 7919 §5.2 recommends a short exponent of at least 275 bits for ffdhe3072
/// (the project's floor is 256). Since 2^280 is far below the subgroup order
/// q = (p − 1)/2 ≈ 2^3071, x needs no reduction.
///
/// The one all-zero input becomes x = 1 (a branch-free fix-up, so the exponent is never
/// zero: x = 0 would give the public key 1, which every peer rejects, and a shared
/// secret of 1); every other input maps to itself. The mapping is deterministic: the
/// key store may persist the 35 bytes and rebuild the same key from them.
public struct FFDHPrivateKey: Sendable {
    /// Number of random bytes `init(randomBytes:)` takes.
    public static let randomByteCount = 35
    /// Exponent length in bits, passed to `mpn_sec_powm` as `enb`.
    public static let exponentBitCount = 280

    /// x as little-endian limbs (5 of 64 bits, 9 of 32); the bits above 280 are always
    /// zero (x < 2^280), as `mpn_sec_powm` requires of the bits above `enb`.
    var exponent: LimbArray280

    /// The private key for `randomBytes` (exactly 35 bytes from the board RNG).
    public init(randomBytes: Span<UInt8>) {
        precondition(
            randomBytes.count == FFDHPrivateKey.randomByteCount,
            "FFDHPrivateKey needs exactly 35 random bytes")
        var limbs = LimbArray280(repeating: 0)
        var span = limbs.mutableSpan
        // Big-endian: byte 0 is the most significant (bits 279...272).
        Limb.read(bigEndian: randomBytes, into: &span, limbs: LimbArray280.count)
        // Branch-free "if x == 0 { x = 1 }": any = 0 exactly when all limbs are zero.
        var any: UInt = 0
        for i in 0..<LimbArray280.count { any |= limbs[i] }
        let nonzero = (any | (0 &- any)) >> UInt(UInt.bitWidth - 1)  // 1 if any != 0, else 0
        limbs[0] |= nonzero ^ 1
        exponent = limbs
    }
}

/// The RFC 7919 ffdhe3072 group (Appendix A.2): the safe prime
/// p = 2^3072 − 2^3008 + (⌊2^2942 · e⌋ + 2625351) · 2^64 − 1, generator g = 2, and
/// q = (p − 1)/2 prime. Since p ≡ 7 (mod 8), 2 is a quadratic residue, so g generates
/// the subgroup of order q. Estimated strength: 125 bits.
///
/// Exponentiations use GMP's `mpn_sec_powm`, whose time and memory access pattern do not
/// depend on the exponent, with a fixed-size scratch buffer on the caller's stack.
public enum FFDHGroup {
    /// The group's name in RFC 7919.
    public static let name: StaticString = "ffdhe3072"
    /// Bits in p.
    public static let bitCount = 3072
    /// Bytes in the big-endian encoding of p and of every public key and shared secret.
    public static let byteCount = 384
    /// The generator g.
    public static let generator: UInt = 2

    /// p, as 48 little-endian 64-bit words (word 0 is the least significant): the table
    /// `prime` splits into limbs on every target.
    public static let primeWords: InlineArray<48, UInt64> = [
        0xFFFF_FFFF_FFFF_FFFF, 0x25E4_1D2B_66C6_2E37, 0x3C1B_20EE_3FD5_9D7C,
        0x0ABC_D06B_FA53_DDEF, 0x1DBF_9A42_D5C4_484E, 0xABC5_2197_9B0D_EADA,
        0xE86D_2BC5_2236_3A0D, 0x5CAE_82AB_9C9D_F69E, 0x64F2_E21E_71F5_4BFF,
        0xF4FD_4452_E2D7_4DD3, 0xB413_0C93_BC43_7944, 0xAEFE_1309_8513_9270,
        0x598C_B0FA_C186_D91C, 0x7AD9_1D26_91F7_F7EE, 0x61B4_6FC9_D6E6_C907,
        0xBC34_F4DE_F99C_0238, 0xDE35_5B3B_6519_035B, 0x886B_4238_611F_CFDC,
        0xC6F3_4A26_C1B2_EFFA, 0xC58E_F183_7D16_83B2, 0x3BB5_FCBC_2EC2_2005,
        0xC3FE_3B1B_4C6F_AD73, 0x8E4F_1232_EEF2_8183, 0x9172_FE9C_E985_83FF,
        0xC034_04CD_2834_2F61, 0x9E02_FCE1_CDF7_E2EC, 0x0B07_A7C8_EE0A_6D70,
        0xAE56_EDE7_6372_BB19, 0x1D4F_42A3_DE39_4DF4, 0xB96A_DAB7_60D7_F468,
        0xD108_A94B_B2C8_E3FB, 0xBC0A_B182_B324_FB61, 0x30AC_CA4F_483A_797A,
        0x1DF1_58A1_36AD_E735, 0xE2A6_89DA_F3EF_E872, 0x984F_0C70_E0E6_8B77,
        0xB557_135E_7F57_C935, 0x8563_6555_3DED_1AF3, 0x2433_F51F_5F06_6ED0,
        0xD3DF_1ED5_D5FD_6561, 0xF681_B202_AEC4_617A, 0x7D2F_E363_630C_75D8,
        0xCC93_9DCE_249B_3EF9, 0xA9E1_3641_1464_33FB, 0xD8B9_C583_CE2D_3695,
        0xAFDC_5620_273D_3CF1, 0xADF8_5458_A2BB_4A9A, 0xFFFF_FFFF_FFFF_FFFF,
    ]

    /// p as limbs (from `primeWords`, in flash; the limbs are a copy on the caller's stack).
    public static var prime: Limbs3072 { Limbs3072(words: primeWords) }

    /// The meter's public key g^x mod p.
    public static func publicKey(for privateKey: FFDHPrivateKey) -> Limbs3072 {
        power(base: Limbs3072(generator), exponent: privateKey)
    }

    /// The shared secret y^x mod p with a peer whose public key is y.
    ///
    /// Feed the result to a key-derivation hash; never use it directly as key material.
    /// Throws `FFDHError.publicKeyOutOfRange` unless 2 ≤ y ≤ p − 2 (see `validate`).
    public static func sharedSecret(
        privateKey: FFDHPrivateKey, peerPublicKey: Limbs3072
    ) throws(FFDHError) -> Limbs3072 {
        try validate(peerPublicKey: peerPublicKey)
        // After validation y < p, so the base is already reduced mod p and bn = n.
        return power(base: peerPublicKey, exponent: privateKey)
    }

    /// Accepts a peer public key y only if 2 ≤ y ≤ p − 2 and y lies in the subgroup of
    /// order q.
    ///
    /// p = 2q + 1 is a safe prime, so the multiplicative group mod p is cyclic of order
    /// 2q and its only subgroups are {1}, {1, p − 1}, the subgroup of order q (the
    /// quadratic residues) and the whole group. The range check removes everything outside
    /// the group and both elements of order ≤ 2 (the small-subgroup confinement attack);
    /// the Legendre symbol (y / p) = 1 then decides membership of the order-q subgroup
    /// (Euler's criterion: y^q = (y / p)). Without it a non-residue y (order 2q, e.g.
    /// p − 2 or −g^b) would be accepted and the shared secret's residue symbol, (−1)^x,
    /// would tell a peer who can test guesses of it x mod 2.
    ///
    /// The symbol is computed with a binary Jacobi algorithm on fixed-size limbs (no heap,
    /// no division): far cheaper than y^q, a 3071-bit exponentiation. y is public, so
    /// neither check is constant-time.
    public static func validate(peerPublicKey y: Limbs3072) throws(FFDHError) {
        var pMinusOne = prime
        pMinusOne.limbs[0] -= 1  // p is odd: no borrow
        if compare(y, Limbs3072(1)) <= 0 || compare(y, pMinusOne) >= 0 {
            throw .publicKeyOutOfRange
        }
        guard jacobiSymbol(y, modulo: prime) == 1 else { throw .publicKeyNotInSubgroup }
    }

    /// The Jacobi symbol (a / n) for odd n > 0 and a < n: 1, −1, or 0 when gcd(a, n) > 1.
    /// For a prime n it is the Legendre symbol. Binary algorithm (shifts, subtractions and
    /// the reciprocity law; Shallit and Sorenson's variant of Stein's gcd), variable-time:
    /// public inputs only. Heap-free: two copies of the operands on the stack.
    public static func jacobiSymbol(_ a: Limbs3072, modulo n: Limbs3072) -> Int {
        precondition(n.limbs[0] & 1 == 1, "the Jacobi symbol needs an odd modulus")
        let limbBits = Limb.bits
        var x = a.limbs
        var m = n.limbs
        var xLength = significantLimbs(x)
        var mLength = significantLimbs(m)
        var t = 1
        while xLength > 0 {
            // Remove the factors 2 of x: (2 / m) = −1 exactly when m ≡ 3, 5 (mod 8).
            var zeros = 0
            while x[zeros / limbBits] == 0 { zeros += limbBits }
            zeros += x[zeros / limbBits].trailingZeroBitCount
            if zeros > 0 {
                if zeros & 1 == 1 && (m[0] & 7 == 3 || m[0] & 7 == 5) { t = -t }
                shiftRight(&x, by: zeros, length: &xLength)
            }
            // Both odd: make x ≥ m (reciprocity: a sign change when both are ≡ 3 mod 4).
            if compareLimbs(x, xLength, m, mLength) < 0 {
                swap(&x, &m)
                swap(&xLength, &mLength)
                if x[0] & 3 == 3 && m[0] & 3 == 3 { t = -t }
            }
            subtract(&x, m, length: &xLength)
        }
        return mLength == 1 && m[0] == 1 ? t : 0
    }

    /// Limbs up to the most significant nonzero one.
    private static func significantLimbs(_ v: LimbArray3072) -> Int {
        var n = LimbArray3072.count
        while n > 0 && v[n - 1] == 0 { n -= 1 }
        return n
    }

    /// v >>= bits (bits ≥ 1), over the first `length` limbs.
    private static func shiftRight(_ v: inout LimbArray3072, by bits: Int, length: inout Int) {
        let words = bits / Limb.bits
        let shift = bits % Limb.bits
        for i in 0..<length {
            let lo = i + words < length ? v[i + words] : 0
            let hi = i + words + 1 < length ? v[i + words + 1] : 0
            v[i] = shift == 0 ? lo : (lo >> UInt(shift)) | (hi << UInt(Limb.bits - shift))
        }
        while length > 0 && v[length - 1] == 0 { length -= 1 }
    }

    /// Sign of a − b over their significant limbs.
    private static func compareLimbs(
        _ a: LimbArray3072, _ aLength: Int, _ b: LimbArray3072, _ bLength: Int
    ) -> Int {
        if aLength != bLength { return aLength < bLength ? -1 : 1 }
        var i = aLength
        while i > 0 {
            i -= 1
            if a[i] != b[i] { return a[i] < b[i] ? -1 : 1 }
        }
        return 0
    }

    /// a −= b for a ≥ b.
    private static func subtract(_ a: inout LimbArray3072, _ b: LimbArray3072, length: inout Int) {
        var borrow: UInt = 0
        for i in 0..<length {
            let (d1, o1) = a[i].subtractingReportingOverflow(b[i])
            let (d2, o2) = d1.subtractingReportingOverflow(borrow)
            a[i] = d2
            borrow = (o1 ? 1 : 0) + (o2 ? 1 : 0)
        }
        while length > 0 && a[length - 1] == 0 { length -= 1 }
    }

    /// base^x mod p with `mpn_sec_powm`. Requires 0 < base < p (both callers ensure it).
    private static func power(base: Limbs3072, exponent key: FFDHPrivateKey) -> Limbs3072 {
        MPN.power(
            base, exponent: key.exponent.span, bits: FFDHPrivateKey.exponentBitCount, modulus: prime,
            scratch: PowerScratch280.self)
    }

    /// Sign of a − b (GMP `mpn_cmp`). Variable-time: public values only.
    private static func compare(_ a: Limbs3072, _ b: Limbs3072) -> Int32 {
        MPN.compare(a.limbs.span, b.limbs.span)
    }
}
