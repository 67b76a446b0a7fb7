// KMAC128 (NIST SP 800-185, section 4): a keyed MAC on cSHAKE128, built on the XOF sponge.
//
//   KMAC128(K, X, L, S) = cSHAKE128(bytepad(encode_string(K), 168) || X || right_encode(L), L, "KMAC", S)
//   cSHAKE128(X, L, N, S) = Keccak[256](bytepad(encode_string(N) || encode_string(S), 168) || X || 00, L)
//
// The "00" bits after the cSHAKE input make its padding byte 0x04 (SHAKE's is 0x1F).

/// KMAC128 with a fixed output length, streaming over the message.
///
/// Callers choose the tag length and the key; SP 800-185 asks for a key at least as long as
/// the security strength (16 bytes here). Nothing below enforces it. Copyable, like `XOF`:
/// key once, then copy the keyed state for each message.
public struct KMAC128: Sendable {
    var sponge: XOF

    /// cSHAKE128 rate (bytes) and the padding byte after its input.
    static var rate: Int { 168 }
    static var cSHAKEDomainByte: UInt8 { 0x04 }

    /// Keys KMAC128 with `key` under the customization string `customization` (S in SP 800-185).
    public init(key: Span<UInt8>, customization: StaticString) {
        sponge = XOF(rate: Self.rate, domainByte: Self.cSHAKEDomainByte, firstRound: 0)
        customization.withUTF8Buffer { sponge.absorbCustomizationBlock(customization: $0) }
        key.withUnsafeBufferPointer { sponge.absorbKeyBlock(key: $0) }
    }

    /// Keys KMAC128 with a customization string known only at run time (its raw bytes).
    public init(key: Span<UInt8>, customization: Span<UInt8>) {
        sponge = XOF(rate: Self.rate, domainByte: Self.cSHAKEDomainByte, firstRound: 0)
        customization.withUnsafeBufferPointer { sponge.absorbCustomizationBlock(customization: $0) }
        key.withUnsafeBufferPointer { sponge.absorbKeyBlock(key: $0) }
    }

    /// Absorbs message bytes (X in SP 800-185); the integer forms absorb big-endian bytes.
    public mutating func absorb(_ bytes: Span<UInt8>) { sponge.absorb(bytes) }
    public mutating func absorb(_ byte: UInt8) { sponge.absorb(byte) }
    public mutating func absorb(bigEndian value: UInt32) { sponge.absorb(bigEndian: value) }
    public mutating func absorb(bigEndian value: UInt64) { sponge.absorb(bigEndian: value) }

    /// Fixed-length KMAC (right_encode(L) with L = out.count*8) into out.
    public consuming func finalize(into out: inout MutableSpan<UInt8>) {
        sponge.absorbRightEncoded(UInt64(out.count) * 8)
        sponge.squeeze(into: &out)
    }

    /// Constant-time comparison of the tag with `expected` (same length), for verifiers.
    ///
    /// The tag is computed for L = expected.count * 8 and compared byte by byte without an
    /// early exit. `expected` must not be empty (an empty tag would verify anything): take
    /// its length from the fixed frame layout, never from the sender.
    public consuming func verify(_ expected: Span<UInt8>) -> Bool {
        precondition(!expected.isEmpty, "KMAC128: empty tag")
        sponge.absorbRightEncoded(UInt64(expected.count) * 8)
        var difference: UInt8 = 0
        expected.withUnsafeBufferPointer { tag in
            for byte in tag {
                difference |= sponge.squeezeByte() ^ byte
            }
        }
        return difference == 0
    }
}

// MARK: SP 800-185 encodings (section 2.3), absorbed straight into the sponge

extension XOF {
    /// left_encode(x): the byte count n (1...8), then x big-endian in n bytes.
    mutating func absorbLeftEncoded(_ x: UInt64) {
        let n = UInt8(truncatingIfNeeded: Swift.max(1, (64 - x.leadingZeroBitCount + 7) / 8))
        absorb(n)
        absorbMinimalBigEndian(x, byteCount: Int(n))
    }

    /// right_encode(x): x big-endian in n bytes (1...8), then n.
    mutating func absorbRightEncoded(_ x: UInt64) {
        let n = UInt8(truncatingIfNeeded: Swift.max(1, (64 - x.leadingZeroBitCount + 7) / 8))
        absorbMinimalBigEndian(x, byteCount: Int(n))
        absorb(n)
    }

    private mutating func absorbMinimalBigEndian(_ x: UInt64, byteCount: Int) {
        var shift = 8 * (byteCount - 1)
        while shift >= 0 {
            absorb(UInt8(truncatingIfNeeded: x >> UInt64(shift)))
            shift -= 8
        }
    }

    /// encode_string(S) = left_encode(len(S) in bits) || S.
    mutating func absorbEncodedString(_ bytes: UnsafeBufferPointer<UInt8>) {
        absorbLeftEncoded(UInt64(bytes.count) * 8)
        absorb(buffer: bytes)
    }

    /// cSHAKE's first block: bytepad(encode_string("KMAC") || encode_string(S), rate).
    /// bytepad(X, w) = left_encode(w) || X || zeros up to a multiple of w bytes.
    mutating func absorbCustomizationBlock(customization: UnsafeBufferPointer<UInt8>) {
        absorbLeftEncoded(UInt64(rate))
        let functionName: StaticString = "KMAC"
        functionName.withUTF8Buffer { absorbEncodedString($0) }
        absorbEncodedString(customization)
        zeroPadToBlockBoundary()
    }

    /// KMAC's key block: bytepad(encode_string(K), rate).
    mutating func absorbKeyBlock(key: UnsafeBufferPointer<UInt8>) {
        absorbLeftEncoded(UInt64(rate))
        absorbEncodedString(key)
        zeroPadToBlockBoundary()
    }
}
