// The downlink payload that gives a meter the supplier's Paillier public key N and the
// groups it reports to, shared by the firmware (which checks and stores it) and the host
// (which builds it), so both read one layout.
//
// Layout (big-endian integers):
//   0  key bits     u16   2048 or 3072
//   2  group count  u8    1 ... PaillierKeyPayload.maxGroups
//   3  reserved     u8    0
//   4  groups       4 × u32 (unused entries 0)
//  20  N            bits/8 bytes, big-endian
//  ..  tag          16    KMAC128(provisioning key, "PM-PAILLIER-KEY-v1", meter ‖ bytes 0 ..< 20 + bits/8)
//
// The tag is under the group's provisioning key, which the provisioning authority holds
// and the aggregator does not: an aggregator that relays this frame cannot substitute a
// key of its own (which would let it decrypt single readings) or change the meter's groups.

/// Layout and authentication of the `paillierKey` downlink payload.
public enum PaillierKeyPayload {
    /// The most groups one meter reports to (one ciphertext per group per label).
    public static let maxGroups = 4
    /// Bytes before N.
    public static let headerBytes = 20
    /// Bytes of the tag.
    public static let tagBytes = 16

    /// Payload size for a key of `modulusBytes` bytes.
    public static func size(modulusBytes: Int) -> Int { headerBytes + modulusBytes + tagBytes }

    /// Key bits declared in a payload (0 if it is too short to say).
    public static func declaredBits(_ payload: Span<UInt8>) -> Int {
        payload.count >= 2 ? Int(BigEndian.load16(payload, at: 0)) : 0
    }

    /// The tag over `body` (the payload without its tag) for `meter`.
    public static func tag(
        provisioningKey: Span<UInt8>, meter: UInt32, body: Span<UInt8>, into out: inout MutableSpan<UInt8>
    ) {
        precondition(out.count == tagBytes, "a Paillier key tag has 16 bytes")
        mac(provisioningKey, meter, body).finalize(into: &out)
    }

    /// Checks the tag at the end of `payload` in constant time.
    public static func verify(provisioningKey: Span<UInt8>, meter: UInt32, payload: Span<UInt8>) -> Bool {
        guard payload.count > tagBytes else { return false }
        let split = payload.count - tagBytes
        return mac(provisioningKey, meter, payload.extracting(0..<split)).verify(
            payload.extracting(split..<payload.count))
    }

    private static func mac(_ key: Span<UInt8>, _ meter: UInt32, _ body: Span<UInt8>) -> KMAC128 {
        var mac = KMAC128(key: key, customization: "PM-PAILLIER-KEY-v1")
        mac.absorb(bigEndian: meter)
        mac.absorb(body)
        return mac
    }
}
