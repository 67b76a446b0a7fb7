// Lattice-based Private Stream Aggregation from Learning With Rounding.
//
// The key-homomorphic PRF is F_k(l) = floor(p/q · <a_l, k>) with q = 2^64 (native
// wrapping arithmetic) and p = 2^P, where a_l is expanded from an XOF over a domain
// tag, the parameter set, the group and the label. Meter i sends
// c_i = F_{k_i}(l) + Δ·x_i mod p with Δ = n (the group size). The aggregator holds
// K = Σ k_i mod q and recovers Σ x_i from Σ c_i − F_K(l): the rounding makes
// Σ F_{k_i}(l) = F_K(l) − e with 0 ≤ e ≤ n − 1, and Δ = n absorbs that error exactly
// as long as n·(Σ x + 1) ≤ p, which `LWRGroupBounds` enforces.
//
// Nothing here allocates: keys and label vectors are streamed word by word.

/// A parameter set of LWR-PSA. Only the sets below exist; there is no toy set.
///
/// Security estimate (the same for both sets, which differ only in the XOF):
/// F_k(l) for many labels is a Learning-With-Rounding instance in dimension
/// λ = 2048 with modulus q = 2^64 and rounding to p = 2^48. Read as LWE, the
/// rounding is a deterministic error uniform over a width of q/p = 2^16, i.e. a
/// standard deviation σ = 2^16/√12 ≈ 2^14.2 (the usual LWR→LWE reduction heuristic
/// for attack estimates). What lattice attacks (primal uSVP, dual) depend on is the
/// dimension and the ratio q/σ ≈ 2^49.8. The Homomorphic Encryption Standard
/// (Albrecht et al., 2018, Table 1) gives, for n = 2048 and σ ≈ 3.2, a largest
/// log2 q of 54 at 128-bit classical security (ratio 2^52.3), for ternary secrets;
/// our secret is uniform mod q, which is at least as hard. A ratio of 2^49.8 < 2^52.3
/// at the same dimension means more noise relative to the modulus, so the instance is
/// at least at the 128-bit classical level (the same table puts 192 bits at log2 q 37,
/// which we do not claim). The aggregator additionally knows K = Σ k_i; a coalition
/// of the aggregator and n − 2 meters learns one sum of two keys, never a single key.
/// The key and label vectors are public-coin expansions of an XOF modelled as a
/// random oracle.
public struct LWRParameters: Sendable, Equatable {
    /// Wire identifier of the set (frames, key setup).
    public let id: UInt8
    /// Name shown in reports.
    public let name: StaticString
    /// Dimension λ: words in a key and in a label vector.
    public let lambda: Int
    /// log2 of p. q is always 2^64.
    public let plaintextBits: Int
    /// XOF that expands keys, label vectors and zero shares.
    public let xof: XOFAlgorithm
    /// Estimated classical security in bits (see the type's documentation).
    public let classicalSecurityBits: Int

    public static func == (a: LWRParameters, b: LWRParameters) -> Bool { a.id == b.id }

    /// The default: λ = 2048, p = 2^48, vectors from SHAKE128 (FIPS 202).
    public static let standard = LWRParameters(
        id: 1, name: "lwr-2048-p48-shake128", lambda: 2048, plaintextBits: 48,
        xof: .shake128, classicalSecurityBits: 128)
    /// The same lattice with vectors from TurboSHAKE128 (RFC 9861, 12 rounds): half
    /// the permutation work per reading, same security argument.
    public static let turbo = LWRParameters(
        id: 2, name: "lwr-2048-p48-turboshake128", lambda: 2048, plaintextBits: 48,
        xof: .turboShake128, classicalSecurityBits: 128)

    /// The λ of every set: the size of the firmware's fixed key buffers (a multiple of 64,
    /// the words of one flash page read).
    public static let maxLambda = 2048

    /// The set with this wire identifier, or nil.
    public static func withID(_ id: UInt8) -> LWRParameters? {
        switch id {
        case standard.id: return standard
        case turbo.id: return turbo
        default: return nil
        }
    }

    /// p − 1, the mask that reduces mod p.
    @inlinable public var plaintextMask: UInt64 { (1 << UInt64(plaintextBits)) - 1 }
    /// Ciphertext size on the wire in bytes (c mod p in 8 bytes).
    public var ciphertextBytes: Int { 8 }

    /// A fresh XOF of the set's algorithm.
    @inlinable public func makeXOF() -> XOF { XOF(xof) }
}

/// Why LWR-PSA refused an input.
public enum LWRError: Error, Equatable, Sendable {
    /// Δ·(n·x_max + 1) does not stay below p (Δ = n, or 2n with dropout recovery): sums
    /// could wrap and decrypt wrongly.
    case capacityExceeded(meters: UInt32, maxReading: UInt64)
    /// A group needs at least one meter.
    case emptyGroup
    /// The reading is larger than the group's agreed maximum.
    case readingAboveMaximum(reading: UInt64, maximum: UInt64)
    /// A key or vector buffer does not have λ words.
    case wrongKeyLength(expected: Int, actual: Int)
}

/// The agreed size of a group and the largest reading per meter and label; they fix
/// Δ and guarantee exact decryption.
///
/// Δ is the most rounded PRF values one label's sum can add up: n when every member's
/// ciphertext and nothing else is summed (the n-of-n key setup), 2n with the neighbour
/// graph's dropout recovery (each reporting meter adds at most one recovery value,
/// docs/spec/dropout.md). Their rounding errors stay below Δ, so Δ·(Σx + 1) ≤ p decrypts
/// exactly; the bounds refuse any n and x_max with Δ·(n·x_max + 1) ≥ p.
public struct LWRGroupBounds: Sendable, Equatable {
    public let meters: UInt32
    public let maxReading: UInt64
    /// Δ, the scale of a reading inside a ciphertext.
    public let delta: UInt64

    /// Bounds for the n-of-n key setup: Δ = n.
    public init(meters: UInt32, maxReading: UInt64, parameters: LWRParameters) throws(LWRError) {
        try self.init(meters: meters, maxReading: maxReading, parameters: parameters, roundedTerms: UInt64(meters))
    }

    /// Bounds with Δ = `roundedTerms`, the most rounded PRF values a label's sum adds up
    /// (at least n). Refuses bounds under which a sum could wrap mod p.
    public init(meters: UInt32, maxReading: UInt64, parameters: LWRParameters, roundedTerms: UInt64)
        throws(LWRError)
    {
        guard meters > 0 else { throw .emptyGroup }
        // Δ·(n·x_max + 1) < p, computed without overflow.
        let n = UInt64(meters)
        let p = UInt64(1) << UInt64(parameters.plaintextBits)
        let (sumMax, o1) = n.multipliedReportingOverflow(by: maxReading)
        let (sumPlusOne, o2) = sumMax.addingReportingOverflow(1)
        let (total, o3) = roundedTerms.multipliedReportingOverflow(by: sumPlusOne)
        guard roundedTerms >= n, !o1, !o2, !o3, total < p else {
            throw .capacityExceeded(meters: meters, maxReading: maxReading)
        }
        self.meters = meters
        self.maxReading = maxReading
        delta = roundedTerms
    }
}

/// Streaming inner product <a_l, k> mod 2^64 for one label, fed with key words in
/// chunks (from a seed XOF, from flash, or from memory), so no λ-word buffer is needed.
public struct LWRLabelStream: Sendable {
    @usableFromInline var labelVector: XOF
    @usableFromInline var accumulator: UInt64 = 0
    @usableFromInline var remaining: Int
    @usableFromInline let parameters: LWRParameters
    /// The next words of a_l, squeezed a block at a time (`XOF.squeezeWords`): words
    /// `next..<filled` are still to be used.
    @usableFromInline var words = InlineArray<21, UInt64>(repeating: 0)
    @usableFromInline var next = 0
    @usableFromInline var filled = 0

    /// Words of a_l squeezed at once: one SHAKE128 or TurboSHAKE128 block (168 bytes; the
    /// size of `words`).
    public static var chunkWords: Int { 21 }

    /// Starts the expansion of a_l for (group, label), or of a_{l,s} for a statistics slot
    /// s ≥ 1 (`LWRPSA.slotExpansion`); slot 0 is the reading's own vector.
    public init(parameters: LWRParameters, group: UInt32, label: UInt64, slot: UInt8 = 0) {
        labelVector =
            slot == 0
            ? LWRPSA.labelExpansion(parameters: parameters, group: group, label: label)
            : LWRPSA.slotExpansion(parameters: parameters, group: group, label: label, slot: slot)
        remaining = parameters.lambda
        self.parameters = parameters
    }

    /// Squeezes the next words of a_l into `words` (at most the λ still expected).
    @usableFromInline
    mutating func refill() {
        let count = Swift.min(Self.chunkWords, remaining)
        var span = words.mutableSpan
        // a_l is public (SHAKE128 of the group and label): its words may index a table.
        span.withUnsafeMutableBufferPointer {
            labelVector.squeezeWords(into: $0.baseAddress.unsafelyUnwrapped, count: count, public: true)
        }
        next = 0
        filled = count
    }

    /// Adds Σ a_l[j]·k[j] for the next `keyWords.count` positions.
    @inlinable public mutating func absorb(keyWords: Span<UInt64>) {
        precondition(keyWords.count <= remaining, "more key words than the dimension")
        var j = 0
        while j < keyWords.count {
            if next == filled { refill() }
            let n = Swift.min(filled &- next, keyWords.count &- j)
            var acc = accumulator
            let a = words.span
            // In bounds: next + n ≤ filled ≤ 21 and j + n ≤ keyWords.count.
            for t in 0..<n { acc &+= a[unchecked: next &+ t] &* keyWords[unchecked: j &+ t] }
            accumulator = acc
            next &+= n
            j &+= n
            remaining &-= n
        }
    }

    /// Adds the next key word.
    @inlinable public mutating func absorb(keyWord: UInt64) {
        precondition(remaining > 0, "more key words than the dimension")
        if next == filled { refill() }
        accumulator &+= words[next] &* keyWord
        next &+= 1
        remaining &-= 1
    }

    /// Adds the next `bytes.count / 8` key words, stored little-endian in `bytes` (an expanded
    /// key's page read from flash), and adds each word v to the Fletcher sums
    /// (s1 += v, s2 += s1) that check the key.
    @inlinable public mutating func absorb(keyBytes bytes: RawSpan, sums: inout (UInt64, UInt64)) {
        let count = bytes.byteCount / 8
        precondition(count <= remaining, "more key words than the dimension")
        var s1 = sums.0
        var s2 = sums.1
        var j = 0
        while j < count {
            if next == filled { refill() }
            let n = Swift.min(filled &- next, count &- j)
            var acc = accumulator
            let a = words.span
            for t in 0..<n {
                let v = UInt64(
                    littleEndian: bytes.unsafeLoadUnaligned(fromByteOffset: 8 &* (j &+ t), as: UInt64.self))
                acc &+= a[unchecked: next &+ t] &* v
                s1 &+= v
                s2 &+= s1
            }
            accumulator = acc
            next &+= n
            j &+= n
            remaining &-= n
        }
        sums = (s1, s2)
    }

    /// Key words still expected.
    public var remainingWords: Int { remaining }

    /// F_k(l) = floor(<a_l, k> / 2^(64−P)), once all λ key words were absorbed.
    public func prf() -> UInt64 {
        precondition(remaining == 0, "inner product finished before λ key words")
        return accumulator >> UInt64(64 - parameters.plaintextBits)
    }
}

/// The LWR-PSA operations shared by the meter and the aggregator.
public enum LWRPSA {
    /// The XOF that expands the label vector a_l of (group, label), before any squeeze:
    /// its domain "PM-LWR-A-v1", the parameter set's id, the group, the label
    /// (docs/spec/lwr-psa.md). The one place the label vector's domain is written.
    public static func labelExpansion(parameters: LWRParameters, group: UInt32, label: UInt64) -> XOF {
        var x = parameters.makeXOF()
        x.absorb("PM-LWR-A-v1")
        x.absorb(parameters.id)
        x.absorb(bigEndian: group)
        x.absorb(bigEndian: label)
        return x
    }

    /// The XOF that expands the vector a_{l,s} of statistics slot `slot` (1 ... 255) of
    /// (group, label): domain "PM-LWR-S-v1", the parameter set's id, the group, the label,
    /// the slot (docs/spec/statistics.md). Another domain than a_l's, so no slot vector is
    /// ever a reading's vector.
    public static func slotExpansion(parameters: LWRParameters, group: UInt32, label: UInt64, slot: UInt8) -> XOF {
        precondition(slot != 0, "slot 0 is the reading's vector a_l")
        var x = parameters.makeXOF()
        x.absorb("PM-LWR-S-v1")
        x.absorb(parameters.id)
        x.absorb(bigEndian: group)
        x.absorb(bigEndian: label)
        x.absorb(slot)
        return x
    }

    /// The XOF stream of a meter key expanded from its 32-byte seed.
    public static func keyStream(parameters: LWRParameters, seed: Span<UInt8>) -> XOF {
        precondition(seed.count == 32, "a key seed has 32 bytes")
        var x = parameters.makeXOF()
        x.absorb("PM-LWR-K-v1")
        x.absorb(parameters.id)
        x.absorb(seed)
        return x
    }

    /// F_k(l) (or F_k(l, s) for a statistics slot s ≥ 1) with the key expanded from its
    /// seed on the fly (no key buffer).
    public static func prf(
        parameters: LWRParameters, seed: Span<UInt8>, group: UInt32, label: UInt64, slot: UInt8 = 0
    ) -> UInt64 {
        var key = keyStream(parameters: parameters, seed: seed)
        var stream = LWRLabelStream(parameters: parameters, group: group, label: label, slot: slot)
        // k a block at a time, beside a_l's blocks (both streams have the same rate).
        var words = InlineArray<21, UInt64>(repeating: 0)
        var left = parameters.lambda
        while left > 0 {
            let count = Swift.min(LWRLabelStream.chunkWords, left)
            var span = words.mutableSpan
            span.withUnsafeMutableBufferPointer {
                key.squeezeWords(into: $0.baseAddress.unsafelyUnwrapped, count: count)
            }
            stream.absorb(keyWords: words.span.extracting(0..<count))
            left &-= count
        }
        return stream.prf()
    }

    /// F_k(l) (or F_k(l, s) for a statistics slot s ≥ 1) with a key held as λ words (the
    /// aggregator's K, or an expanded meter key).
    public static func prf(
        parameters: LWRParameters, key: Span<UInt64>, group: UInt32, label: UInt64, slot: UInt8 = 0
    ) throws(LWRError) -> UInt64 {
        guard key.count == parameters.lambda else {
            throw .wrongKeyLength(expected: parameters.lambda, actual: key.count)
        }
        var stream = LWRLabelStream(parameters: parameters, group: group, label: label, slot: slot)
        stream.absorb(keyWords: key)
        return stream.prf()
    }

    /// c = pad + Δ·x mod p, where pad = F_k(l). Refuses readings above the bound.
    @inlinable
    public static func encrypt(
        reading: UInt64, pad: UInt64, bounds: LWRGroupBounds, parameters: LWRParameters
    ) throws(LWRError) -> UInt64 {
        guard reading <= bounds.maxReading else {
            throw .readingAboveMaximum(reading: reading, maximum: bounds.maxReading)
        }
        return (pad &+ bounds.delta &* reading) & parameters.plaintextMask
    }

    /// Σx from Σc mod p (the caller adds the n ciphertexts with wrapping arithmetic)
    /// and the aggregate pad F_K(l).
    @inlinable
    public static func decryptSum(
        ciphertextSum: UInt64, aggregatePad: UInt64, bounds: LWRGroupBounds, parameters: LWRParameters
    ) -> UInt64 {
        // v = Δ·S − e + (Δ − 1) with 0 ≤ e ≤ Δ − 1 (e sums the rounding of at most Δ
        // PRF values), so v/Δ = S exactly.
        let v = (ciphertextSum &- aggregatePad &+ (bounds.delta &- 1)) & parameters.plaintextMask
        return v / bounds.delta
    }
}

// The n-out-of-n sharing of zero behind LWR-PSA's key setup (docs/spec/key-setup.md).
// Meter i with key k_i and peers j ≠ i sends k_i + Σ_j σ_ij·Z_ij to the aggregator, where
// Z_ij is a λ-word vector expanded from the pairwise seed shared by i and j and σ_ij = +1
// if i < j, −1 otherwise. Every Z_ij appears once with each sign, so the aggregator's sum
// is K = Σ k_i, while each single message is masked by the vectors of all honest peers.
// Z_ij is expanded per 128-word chunk (one keyShare frame), so that a meter computes its
// share one chunk at a time from the seeds it keeps in flash, with no λ-word buffer.
extension KeySetup {
    /// Words of one key-share chunk (one keyShare frame).
    public static let shareChunkWords = 128

    /// The words 128·c ..< 128·(c + 1) of the zero-share vector Z_ab, as a stream.
    public static func zeroShareChunk(parameters: LWRParameters, pairwiseSeed: Span<UInt8>, chunk: Int) -> XOF {
        precondition(pairwiseSeed.count == seedBytes, "a pairwise seed has 32 bytes")
        precondition(chunk >= 0 && chunk < parameters.lambda / shareChunkWords, "no such chunk")
        var x = parameters.makeXOF()
        x.absorb("PM-ZERO-v2")
        x.absorb(parameters.id)
        x.absorb(pairwiseSeed)
        x.absorb(bigEndian: UInt32(chunk))
        return x
    }

    /// Adds σ·Z_chunk (σ = +1 when `own` < `peer`, −1 otherwise) into the chunk's 128 `words`.
    public static func applyZeroShare(
        parameters: LWRParameters, pairwiseSeed: Span<UInt8>, own: UInt32, peer: UInt32, chunk: Int,
        to words: inout MutableSpan<UInt64>
    ) {
        precondition(own != peer, "a meter shares no seed with itself")
        precondition(words.count == shareChunkWords, "a chunk has 128 words")
        var z = zeroShareChunk(parameters: parameters, pairwiseSeed: pairwiseSeed, chunk: chunk)
        if own < peer {
            for j in 0..<words.count { words[j] &+= z.squeezeWord() }
        } else {
            for j in 0..<words.count { words[j] &-= z.squeezeWord() }
        }
    }
}
