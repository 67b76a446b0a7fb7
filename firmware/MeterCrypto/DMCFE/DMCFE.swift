// DMCFE on the meter: decentralised multi-client functional encryption for inner
// products (DDH-based MCFE with labels, Chotard et al. 2018; decentralised with
// pairwise masks as in Abdalla et al. 2019), in the group of DMCFEGroup.swift.
//
// Meter i holds s_i = (s_i1, s_i2) ∈ Z_q^2 and sends
//     ct_i = H(l)_1^{s_i1} · H(l)_2^{s_i2} · g^{x_i}  mod p.
// For a weight vector y it sends the functional-key share y_i·s_i + t_i (mod q), where
// t_i = Σ_j ±T(seed_ij, digest(y)) sums to zero over the group. The aggregator adds the
// shares into d_y = Σ y_i·s_i, computes Π ct_i^{y_i} / (H(l)_1^{d_1} · H(l)_2^{d_2}) =
// g^{<x, y>} and finds <x, y> by a bounded discrete logarithm.
//
// Nothing here allocates.

/// A meter's secret s_i = (s_1, s_2) ∈ Z_q^2, as little-endian limbs.
public struct DMCFESecret: Sendable {
    public var s1: DMCFE.Exponent
    public var s2: DMCFE.Exponent

    /// Bytes of randomness one attempt takes.
    public static let randomByteCount = 64

    /// Reads two 32-byte big-endian numbers; nil unless both are below q (draw again:
    /// q > 2^255, so an attempt succeeds with probability above 1/4). Rejection keeps
    /// s uniform in Z_q.
    public init?(randomBytes: Span<UInt8>) {
        precondition(randomBytes.count == Self.randomByteCount, "a DMCFE secret takes 64 random bytes")
        let a = DMCFE.limbs256(bigEndian: randomBytes, at: 0)
        let b = DMCFE.limbs256(bigEndian: randomBytes, at: 32)
        guard DMCFE.belowOrder(a), DMCFE.belowOrder(b) else { return nil }
        s1 = a
        s2 = b
    }

    /// The secret from stored limbs (the key store); nil unless both are below q.
    public init?(s1: DMCFE.Exponent, s2: DMCFE.Exponent) {
        guard DMCFE.belowOrder(s1), DMCFE.belowOrder(s2) else { return nil }
        self.s1 = s1
        self.s2 = s2
    }
}

/// Operations of the meter side of DMCFE.
public enum DMCFE {
    /// An element of Z_q (an exponent), as little-endian limbs: 4 on x86_64, 8 on the M4.
    public typealias Exponent = LimbArray256

    /// Bytes of a ciphertext (an element of Z_p, big-endian).
    public static let ciphertextBytes = 384
    /// Bytes of a functional-key share (two elements of Z_q, big-endian).
    public static let keyShareBytes = 64
    /// Bytes of a weight-vector digest.
    public static let digestBytes = 32

    /// H(l)_k ∈ G for k ∈ {1, 2}: SHAKE256 over a tag, the group, the label, k and a
    /// counter gives 400 bytes, read big-endian and reduced mod p (bias below 2^-128),
    /// then raised to (p − 1)/q; a result of 1 is rejected and the counter advances.
    public static func hashToGroup(group: UInt32, label: UInt64, index: UInt8) -> Limbs3072 {
        let one = Limbs3072(1)
        var counter: UInt8 = 0
        while true {
            var x = XOF(.shake256)
            x.absorb("PM-DMCFE-H-v1")
            x.absorb(bigEndian: group)
            x.absorb(bigEndian: label)
            x.absorb(index)
            x.absorb(counter)
            var bytes = InlineArray<400, UInt8>(repeating: 0)
            var span = bytes.mutableSpan
            x.squeeze(into: &span)
            var wide = LimbArray3200(repeating: 0)
            var wideSpan = wide.mutableSpan
            Limb.read(bigEndian: bytes.span, into: &wideSpan, limbs: LimbArray3200.count)
            var reduced = Limbs3072.zero
            var out = reduced.limbs.mutableSpan
            MPN.reduce(wide.span, modulus: DMCFEGroup.primeLimbs.span, into: &out)
            if reduced != Limbs3072.zero {
                let h = MPN.power(
                    reduced, exponent: DMCFEGroup.cofactorLimbs.span, bits: DMCFEGroup.cofactorBits,
                    modulus: DMCFEGroup.prime)
                if h != one { return h }
            }
            counter &+= 1
        }
    }

    /// The label's pad H(l)_1^{s_1} · H(l)_2^{s_2} mod p: the expensive part of an
    /// encryption, computed while the meter is idle during the interval.
    public static func pad(secret: DMCFESecret, group: UInt32, label: UInt64) -> Limbs3072 {
        let h1 = hashToGroup(group: group, label: label, index: 1)
        let h2 = hashToGroup(group: group, label: label, index: 2)
        let a = MPN.power(h1, exponent: secret.s1.span, bits: DMCFEGroup.orderBits, modulus: DMCFEGroup.prime)
        let b = MPN.power(h2, exponent: secret.s2.span, bits: DMCFEGroup.orderBits, modulus: DMCFEGroup.prime)
        return MPN.multiply(a, b, modulus: DMCFEGroup.prime)
    }

    /// ct = pad · g^x mod p: the work at the interval boundary.
    public static func encrypt(reading: UInt64, pad: Limbs3072) -> Limbs3072 {
        let x = Limb.limbs(reading)
        let gx = MPN.power(DMCFEGroup.generator, exponent: x.span, bits: 64, modulus: DMCFEGroup.prime)
        return MPN.multiply(pad, gx, modulus: DMCFEGroup.prime)
    }

    /// The digest that binds key shares to one weight vector: SHAKE256 over a tag, the
    /// number of entries and every (meter id, weight) in increasing id order. Feed it
    /// entry by entry as the vector streams in.
    public static func weightDigest(entries: UInt32) -> XOF {
        var x = XOF(.shake256)
        x.absorb("PM-DMCFE-Y-v1")
        x.absorb(bigEndian: entries)
        return x
    }

    /// Adds σ·T(seed, digest) (σ = +1 when own < peer, −1 otherwise) to the mask
    /// (t_1, t_2), mod q. Over a group every pair's term appears once with each sign,
    /// so the masks sum to zero; a different digest gives unrelated masks.
    public static func addMask(
        pairwiseSeed: Span<UInt8>, digest: Span<UInt8>, own: UInt32, peer: UInt32,
        t1: inout Exponent, t2: inout Exponent
    ) {
        precondition(own != peer, "a meter has no mask with itself")
        var x = XOF(.shake256)
        x.absorb("PM-DMCFE-T-v1")
        x.absorb(pairwiseSeed)
        x.absorb(digest)
        for k in 0..<2 {
            // 384 bits reduced mod q: bias below 2^-128.
            var wide = LimbArray384(repeating: 0)
            var wideSpan = wide.mutableSpan
            for i in 0..<6 { Limb.store(x.squeezeWord(), into: &wideSpan, at: i * (64 / Limb.bits)) }
            var m = Exponent(repeating: 0)
            var mSpan = m.mutableSpan
            MPN.reduce(wide.span, modulus: DMCFEGroup.orderLimbs.span, into: &mSpan)
            if own > peer { m = negate(m) }
            if k == 0 { t1 = add(t1, m) } else { t2 = add(t2, m) }
        }
    }

    /// The functional-key share y_i·s_i + t_i mod q, written as two 32-byte big-endian
    /// numbers into `out` (64 bytes).
    public static func keyShare(
        secret: DMCFESecret, weight: Int64, t1: Exponent, t2: Exponent,
        into out: inout MutableSpan<UInt8>
    ) {
        precondition(out.count == keyShareBytes, "a key share has 64 bytes")
        let y = exponent(weight)
        let z1 = add(multiply(y, secret.s1), t1)
        let z2 = add(multiply(y, secret.s2), t2)
        Limb.write(z1.span, limbs: Exponent.count, bigEndianInto: &out, at: 0)
        Limb.write(z2.span, limbs: Exponent.count, bigEndianInto: &out, at: 32)
    }

    // MARK: - arithmetic mod q (256-bit limbs)

    static func limbs256(bigEndian bytes: Span<UInt8>, at offset: Int) -> Exponent {
        var v = Exponent(repeating: 0)
        var span = v.mutableSpan
        Limb.read(bigEndian: bytes.extracting(offset..<(offset + 32)), into: &span, limbs: Exponent.count)
        return v
    }

    static func belowOrder(_ v: Exponent) -> Bool {
        MPN.compare(v.span, DMCFEGroup.orderLimbs.span) < 0
    }

    /// (a + b) mod q for a, b < q.
    static func add(_ a: Exponent, _ b: Exponent) -> Exponent {
        var wide = LimbArray256Carry(repeating: 0)
        var carry: UInt = 0
        for i in 0..<Exponent.count {
            let (s1, o1) = a[i].addingReportingOverflow(b[i])
            let (s2, o2) = s1.addingReportingOverflow(carry)
            wide[i] = s2
            carry = (o1 ? 1 : 0) + (o2 ? 1 : 0)
        }
        wide[Exponent.count] = carry
        var r = Exponent(repeating: 0)
        var rSpan = r.mutableSpan
        MPN.reduce(wide.span, modulus: DMCFEGroup.orderLimbs.span, into: &rSpan)
        return r
    }

    /// (q − a) mod q for a < q.
    static func negate(_ a: Exponent) -> Exponent {
        var r = Exponent(repeating: 0)
        var borrow: UInt = 0
        var any: UInt = 0
        let q = DMCFEGroup.orderLimbs
        for i in 0..<Exponent.count {
            let (d1, o1) = q[i].subtractingReportingOverflow(a[i])
            let (d2, o2) = d1.subtractingReportingOverflow(borrow)
            r[i] = d2
            borrow = (o1 ? 1 : 0) + (o2 ? 1 : 0)
            any |= a[i]
        }
        // −0 = 0, not q.
        return any == 0 ? a : r
    }

    /// (a · b) mod q.
    static func multiply(_ a: Exponent, _ b: Exponent) -> Exponent {
        var r = Exponent(repeating: 0)
        var rSpan = r.mutableSpan
        MPN.multiply(a.span, b.span, modulus: DMCFEGroup.orderLimbs.span, into: &rSpan)
        return r
    }
}

// MARK: - group arithmetic for the aggregator (host side, the same code)

extension DMCFE {
    /// (a · b) mod p.
    public static func multiply(_ a: Limbs3072, _ b: Limbs3072) -> Limbs3072 {
        MPN.multiply(a, b, modulus: DMCFEGroup.prime)
    }

    /// a^e mod p for an exponent e < 2^256 (e.g. an element of Z_q).
    public static func power(_ a: Limbs3072, _ e: Exponent) -> Limbs3072 {
        MPN.power(a, exponent: e.span, bits: 256, modulus: DMCFEGroup.prime)
    }

    /// g^e mod p for a 64-bit exponent.
    public static func generatorPower(_ e: UInt64) -> Limbs3072 {
        let x = Limb.limbs(e)
        return MPN.power(DMCFEGroup.generator, exponent: x.span, bits: 64, modulus: DMCFEGroup.prime)
    }

    /// (q − e) mod q: the exponent of the inverse, since every element used has order q.
    public static func negateExponent(_ e: Exponent) -> Exponent { negate(e) }

    /// (a + b) mod q.
    public static func addExponents(_ a: Exponent, _ b: Exponent) -> Exponent {
        add(a, b)
    }

    /// A weight y as an element of Z_q.
    public static func exponent(_ weight: Int64) -> Exponent {
        var y = Exponent(repeating: 0)
        let magnitude = Limb.limbs(weight.magnitude)
        for i in 0..<magnitude.count { y[i] = magnitude[i] }
        return weight < 0 ? negate(y) : y
    }

    /// Reads a 32-byte big-endian element of Z_q; nil if it is not below q.
    public static func exponent(bigEndian bytes: Span<UInt8>) -> Exponent? {
        guard bytes.count == 32 else { return nil }
        let v = limbs256(bigEndian: bytes, at: 0)
        return belowOrder(v) ? v : nil
    }
}

// MARK: - the meter's DMCFE key

extension DMCFE {
    /// The group-parameters statement's parameter byte that selects DMCFE (LWR-PSA sets use 1 and 2).
    public static let parameterID: UInt8 = 0x10
}

extension DMCFESecret {
    /// The secret derived from the meter's 32-byte key seed: SHAKE256 output read as
    /// 32-byte big-endian candidates, the first two below q taken (rejection sampling keeps
    /// them uniform). Deterministic, so the key store keeps only the seed.
    public init(seed: Span<UInt8>) {
        precondition(seed.count == 32, "a key seed has 32 bytes")
        var x = XOF(.shake256)
        x.absorb("PM-DMCFE-S-v1")
        x.absorb(seed)
        var found = InlineArray<2, DMCFE.Exponent>(repeating: DMCFE.Exponent(repeating: 0))
        var count = 0
        var candidate = InlineArray<32, UInt8>(repeating: 0)
        while count < 2 {
            var span = candidate.mutableSpan
            x.squeeze(into: &span)
            let v = DMCFE.limbs256(bigEndian: candidate.span, at: 0)
            if DMCFE.belowOrder(v) {
                found[count] = v
                count += 1
            }
        }
        s1 = found[0]
        s2 = found[1]
    }
}
