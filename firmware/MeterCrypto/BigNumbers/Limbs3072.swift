// A fixed-size 3072-bit unsigned integer for the ffdhe3072 group: no heap, no C.

/// A 3072-bit unsigned integer stored as limbs (48 of 64 bits on x86_64, 96 of 32 bits
/// on the Cortex-M4; see `Limb`), least significant limb first (GMP's `mpn` layout), so
/// a pointer to `limbs` is a valid `mp_limb_t` operand.
///
/// The wire format is 384 bytes, big-endian, fixed length (leading zero bytes kept),
/// as RFC 7919 and TLS encode finite-field Diffie–Hellman values.
public struct Limbs3072: Equatable, Sendable {
    /// Number of limbs: 3072 / `Limb.bits`.
    public static var limbCount: Int { LimbArray3072.count }
    /// Number of bytes in the big-endian encoding.
    public static let byteCount = 384

    /// The value's limbs, least significant first.
    public var limbs: LimbArray3072

    /// The value whose limbs are `limbs` (least significant first).
    public init(limbs: LimbArray3072) {
        self.limbs = limbs
    }

    /// The value of a constant table of 48 64-bit words, least significant first.
    public init(words: InlineArray<48, UInt64>) {
        limbs = Limb.limbs(words: words)
    }

    /// A value below 2^`Limb.bits`.
    public init(_ small: UInt) {
        limbs = LimbArray3072(repeating: 0)
        limbs[0] = small
    }

    /// Zero.
    public static var zero: Limbs3072 { Limbs3072(0) }

    /// Reads a 384-byte big-endian encoding; `nil` when `bytes` is not exactly 384 bytes.
    ///
    /// Every 384-byte string is accepted: range checks against a modulus belong to the
    /// caller (see `FFDHGroup.validate(peerPublicKey:)`).
    public init?(bigEndianBytes bytes: Span<UInt8>) {
        guard bytes.count == Limbs3072.byteCount else { return nil }
        var limbs = LimbArray3072(repeating: 0)
        var span = limbs.mutableSpan
        Limb.read(bigEndian: bytes, into: &span, limbs: Limbs3072.limbCount)
        self.limbs = limbs
    }

    /// Writes the 384-byte big-endian encoding into `out`, which must hold exactly 384 bytes.
    public func bigEndianBytes(into out: inout MutableSpan<UInt8>) {
        precondition(
            out.count == Limbs3072.byteCount, "Limbs3072.bigEndianBytes needs a 384-byte buffer")
        Limb.write(limbs.span, limbs: Limbs3072.limbCount, bigEndianInto: &out, at: 0)
    }

    /// Limb-wise equality. Not constant-time: compare public values only.
    public static func == (lhs: Limbs3072, rhs: Limbs3072) -> Bool {
        for i in 0..<Limbs3072.limbCount where lhs.limbs[i] != rhs.limbs[i] {
            return false
        }
        return true
    }
}
