// Key setup for LWR-PSA and DMCFE: the pairwise seed that two meters derive from their
// Diffie–Hellman keys, checked against the authority's signed roster (Statement.swift).
// What each scheme makes of the seeds is in its own file (LWR-PSA's zero shares in
// LWRPSA.swift, DMCFE's masks in DMCFE.swift).

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
}
