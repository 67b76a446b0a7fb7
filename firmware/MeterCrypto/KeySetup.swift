// Key setup for LWR-PSA (and DMCFE): the derivations that turn Diffie–Hellman public
// keys checked against the authority's signed roster (Statement.swift) into an n-out-of-n sharing of zero.
//
// Meter i with key k_i and peers j ≠ i sends k_i + Σ_j σ_ij·Z_ij to the aggregator,
// where Z_ij is a λ-word stream expanded from the pairwise seed shared by i and j and
// σ_ij = +1 if i < j, −1 otherwise. Every Z_ij appears once with each sign, so the
// aggregator's sum is K = Σ k_i, while each single message is masked by the streams
// of all honest peers.

/// Derivations of the key setup. Domain tags keep every use of the XOF apart.
public enum KeySetup {
    /// Bytes of a pairwise seed.
    public static let seedBytes = 32
    /// Bytes of a public-key authentication tag.
    public static let tagBytes = 16

    /// The pairwise seed of meters `a` and `b` in `group` from their DH shared secret
    /// (big-endian bytes): SHAKE256 over a tag, the group, both ids in increasing order
    /// and the secret. Symmetric in a and b.
    public static func pairwiseSeed(
        sharedSecret: Span<UInt8>, group: UInt32, meterA a: UInt32, meterB b: UInt32,
        into out: inout MutableSpan<UInt8>
    ) {
        precondition(out.count == seedBytes, "a pairwise seed has 32 bytes")
        var x = XOF(.shake256)
        x.absorb("PM-PAIR-v1")
        x.absorb(bigEndian: group)
        x.absorb(bigEndian: min(a, b))
        x.absorb(bigEndian: max(a, b))
        x.absorb(sharedSecret)
        x.squeeze(into: &out)
    }

    /// The zero-share stream Z_ab: λ words for the given parameter set.
    public static func zeroShareStream(parameters: LWRParameters, pairwiseSeed: Span<UInt8>) -> XOF {
        precondition(pairwiseSeed.count == seedBytes, "a pairwise seed has 32 bytes")
        var x = parameters.makeXOF()
        x.absorb("PM-ZERO-v1")
        x.absorb(parameters.id)
        x.absorb(pairwiseSeed)
        return x
    }

    /// Adds σ·Z (σ = +1 when `own` < `peer`, −1 otherwise) into `share`, word by word.
    public static func applyZeroShare(
        parameters: LWRParameters, pairwiseSeed: Span<UInt8>, own: UInt32, peer: UInt32,
        to share: inout MutableSpan<UInt64>
    ) {
        precondition(own != peer, "a meter shares no seed with itself")
        precondition(share.count == parameters.lambda, "a share has λ words")
        var z = zeroShareStream(parameters: parameters, pairwiseSeed: pairwiseSeed)
        if own < peer {
            for j in 0..<share.count { share[j] &+= z.squeezeWord() }
        } else {
            for j in 0..<share.count { share[j] &-= z.squeezeWord() }
        }
    }
}
