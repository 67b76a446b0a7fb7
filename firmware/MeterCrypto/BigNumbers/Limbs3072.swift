// A fixed-size 3072-bit unsigned integer for the ffdhe3072 group: no heap, no C.

#if _pointerBitWidth(_32)
    // GMP's limb is the C `unsigned long`: 32 bits on a 32-bit board, where 3072 bits
    // are 96 limbs. The limb count below assumes 64-bit limbs; port it before building
    // for such a target.
    #error("Limbs3072 assumes 64-bit limbs (48 x 64 = 3072 bits)")
#endif

/// A 3072-bit unsigned integer stored as 48 limbs of 64 bits, least significant limb
/// first (GMP's `mpn` layout), so a pointer to `limbs` is a valid `mp_limb_t` operand.
///
/// The wire format is 384 bytes, big-endian, fixed length (leading zero bytes kept),
/// as RFC 7919 and TLS encode finite-field Diffie–Hellman values.
public struct Limbs3072: Equatable, Sendable {
    /// Number of 64-bit limbs.
    public static let limbCount = 48
    /// Number of bytes in the big-endian encoding.
    public static let byteCount = 384

    /// The value's limbs, least significant first.
    public var limbs: InlineArray<48, UInt>

    /// The value whose limbs are `limbs` (least significant first).
    public init(limbs: InlineArray<48, UInt>) {
        self.limbs = limbs
    }

    /// A value below 2^64.
    public init(_ small: UInt) {
        limbs = InlineArray(repeating: 0)
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
        var limbs = InlineArray<48, UInt>(repeating: 0)
        for limbIndex in 0..<Limbs3072.limbCount {
            // Limb i holds bytes [384 - 8(i+1), 384 - 8i) of the big-endian string.
            let start = Limbs3072.byteCount - 8 * (limbIndex + 1)
            var limb: UInt = 0
            for offset in 0..<8 {
                limb = (limb << 8) | UInt(bytes[start + offset])
            }
            limbs[limbIndex] = limb
        }
        self.limbs = limbs
    }

    /// Writes the 384-byte big-endian encoding into `out`, which must hold exactly 384 bytes.
    public func bigEndianBytes(into out: inout MutableSpan<UInt8>) {
        precondition(
            out.count == Limbs3072.byteCount, "Limbs3072.bigEndianBytes needs a 384-byte buffer")
        for limbIndex in 0..<Limbs3072.limbCount {
            let start = Limbs3072.byteCount - 8 * (limbIndex + 1)
            let limb = limbs[limbIndex]
            for offset in 0..<8 {
                out[start + offset] = UInt8(truncatingIfNeeded: limb >> UInt(56 - 8 * offset))
            }
        }
    }

    /// Limb-wise equality. Not constant-time: compare public values only.
    public static func == (lhs: Limbs3072, rhs: Limbs3072) -> Bool {
        for i in 0..<Limbs3072.limbCount where lhs.limbs[i] != rhs.limbs[i] {
            return false
        }
        return true
    }
}
