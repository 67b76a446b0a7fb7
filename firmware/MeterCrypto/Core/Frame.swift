// The meter ↔ aggregator wire format, shared by the firmware (which seals frames)
// and the host (which parses and verifies them), so both read one layout.
//
// Layout (big-endian integers):
//   0  version  u8    Frame.version
//   1  type     u8    FrameType
//   2  scheme   u8    SchemeID
//   3  reserved u8    0
//   4  group    u32
//   8  meter    u32
//  12  label    u64   the 15-minute interval; for key-share chunks the chunk index
//  20  length   u16   payload bytes
//  22  reserved u16   0
//  24  payload  [length]
//  ..  tag      16    KMAC128(per-meter frame key, "PM-FRAME-v1", bytes 0 ..< 24+length)

/// What a frame carries. Uplink types go meter → aggregator, downlink the other way.
public enum FrameType: UInt8, Sendable {
    /// Uplink: one encrypted reading for `label`.
    case reading = 0x01
    /// Uplink: the meter's fresh DH public key and its enrolment tag, for the authority.
    case publicKey = 0x02
    /// Uplink: one chunk of the meter's masked key share (`label` = chunk index).
    case keyShare = 0x03
    /// Uplink: a status or error report (`StatusCode` in the payload).
    case status = 0x04
    /// Uplink: a DMCFE functional-key share for one weight vector (digest, y_i·s_i + t_i).
    case functionalKeyShare = 0x05
    /// Uplink: one label's detail sealed for the meter's customer (AES-128-GCM under the
    /// customer key, CustomerDetail.swift); the aggregator stores it and cannot read it.
    case customerDetail = 0x06
    /// Uplink: a recovery answer for `label`: the rounded PRF of the edges to the silent
    /// neighbours the request named (docs/spec/dropout.md; `RecoveryPayload`).
    case recovery = 0x07
    /// Uplink: a notice to a neighbour that this meter answered a recovery about it for `label`.
    case silenceNotice = 0x08
    /// Uplink: a confirmation to a neighbour that this meter did not encrypt `label`.
    case silenceConfirm = 0x09
    /// Uplink: this meter was declared silent for `label`, which the aggregator had
    /// acknowledged: the evidence (`RecoveryPayload.alarmBytes`).
    case silenceAlarm = 0x0A
    /// Uplink: the statistics slots of `label` under a signed statistics plan (LWR-PSA):
    /// one 8-byte ciphertext per slot, u64be each (docs/spec/statistics.md).
    case statistics = 0x0B
    /// Uplink: a billing period's totals per tariff class, sealed for the supplier
    /// (MeterBill.swift, docs/spec/billing.md); `label` is the period's last label.
    case bill = 0x0C
    /// Downlink: enrol a fresh DH key for the group in the header and the epoch in `label`
    /// (the meter answers `publicKey`; nothing else changes until a signed statement).
    case enrolRequest = 0x11
    /// Downlink: one roster entry (index, meter, DH public key, Merkle path to the signed root).
    case rosterEntry = 0x12
    /// Downlink: the aggregator acknowledges the reading for `label`.
    case ack = 0x13
    /// Downlink: one chunk of a DMCFE weight vector ((meter id, weight) entries).
    case weights = 0x14
    /// Downlink: one chunk of a statement signed by the provisioning authority
    /// (`label` = epoch << 32 | chunk; Statement.swift).
    case statement = 0x16
    /// Downlink: answer a recovery for `label` covering the silent neighbours listed.
    case recoveryRequest = 0x17
    /// Downlink: a neighbour's silence notice, relayed (the sender's id and its tag).
    case noticeRelay = 0x18
    /// Downlink: a neighbour's confirmation, relayed (the sender's id and its tag).
    case confirmationRelay = 0x19
    /// Downlink: the aggregator has stored the bill of the period ending at `label`; the
    /// meter stops sending it.
    case billAck = 0x1A
}

/// Which aggregation scheme a frame belongs to.
public enum SchemeID: UInt8, Sendable {
    case lwrPSA = 1
    case paillier = 2
    case dmcfe = 3
}

/// The fixed header of a frame.
public struct FrameHeader: Sendable, Equatable {
    public var type: FrameType
    public var scheme: SchemeID
    public var group: UInt32
    public var meter: UInt32
    public var label: UInt64
    public var payloadLength: Int

    public init(
        type: FrameType, scheme: SchemeID, group: UInt32, meter: UInt32, label: UInt64,
        payloadLength: Int
    ) {
        self.type = type
        self.scheme = scheme
        self.group = group
        self.meter = meter
        self.label = label
        self.payloadLength = payloadLength
    }
}

/// Why a frame's layout was rejected (before any key is looked at), or its tag.
public enum FrameError: Error, Equatable, Sendable {
    /// Fewer bytes than a header and a tag.
    case truncated(length: Int)
    /// A version this code does not speak.
    case unsupportedVersion(UInt8)
    /// A type byte that is not a `FrameType`.
    case unknownType(UInt8)
    /// A scheme byte that is not a `SchemeID`.
    case unknownScheme(UInt8)
    /// Reserved bytes that are not zero.
    case reservedBitsSet
    /// The declared payload length disagrees with the frame's length.
    case lengthMismatch(declared: Int, actual: Int)
    /// A payload larger than `Frame.maxPayloadBytes`.
    case payloadTooLarge(Int)
    /// The payload has the wrong size for its type and scheme.
    case badPayloadSize(type: FrameType, size: Int)
    /// The authentication tag does not verify under the sender's key.
    case badTag
}

/// Sealing, parsing and verifying frames.
public enum Frame {
    public static let version: UInt8 = 1
    public static let headerBytes = 24
    public static let tagBytes = 16
    public static let keyBytes = 32
    public static let maxPayloadBytes = 1024
    public static let maxFrameBytes = headerBytes + maxPayloadBytes + tagBytes

    /// Total frame size for a payload of `payloadLength` bytes.
    @inlinable public static func size(payloadLength: Int) -> Int {
        headerBytes + payloadLength + tagBytes
    }

    /// Writes the header and the tag around a payload the caller has already placed at
    /// `frame[headerBytes ..< headerBytes + header.payloadLength]`; returns the frame size.
    public static func seal(
        _ header: FrameHeader, key: Span<UInt8>, frame: inout MutableSpan<UInt8>
    ) -> Int {
        seal(header, mac: mac(key: key), frame: &frame)
    }

    /// The frame MAC of one meter's frame key, keyed and ready to absorb a frame: KMAC128
    /// with customization "PM-FRAME-v1". A copy of it tags one frame (`seal(_:mac:frame:)`,
    /// `verify(_:mac:)`), so a party that checks many frames keys each meter's MAC once.
    public static func mac(key: Span<UInt8>) -> KMAC128 {
        precondition(key.count == keyBytes, "a frame key has 32 bytes")
        return KMAC128(key: key, customization: "PM-FRAME-v1")
    }

    /// `seal(_:key:frame:)` with the meter's MAC already keyed (`mac(key:)`).
    public static func seal(
        _ header: FrameHeader, mac keyed: KMAC128, frame: inout MutableSpan<UInt8>
    ) -> Int {
        precondition(header.payloadLength <= maxPayloadBytes, "payload larger than a frame")
        let total = size(payloadLength: header.payloadLength)
        precondition(frame.count >= total, "frame buffer too small")
        writeHeader(header, into: &frame)
        var mac = keyed
        let signed = headerBytes + header.payloadLength
        mac.absorb(frame.span.extracting(0..<signed))
        var tag = InlineArray<16, UInt8>(repeating: 0)
        var tagSpan = tag.mutableSpan
        mac.finalize(into: &tagSpan)
        for i in 0..<tagBytes { frame[signed + i] = tag[i] }
        return total
    }

    /// Writes the 24 header bytes of `header` at the start of `frame`.
    public static func writeHeader(_ header: FrameHeader, into frame: inout MutableSpan<UInt8>) {
        precondition(header.payloadLength <= maxPayloadBytes && frame.count >= headerBytes, "frame buffer too small")
        frame[0] = version
        frame[1] = header.type.rawValue
        frame[2] = header.scheme.rawValue
        frame[3] = 0
        BigEndian.store(header.group, at: 4, in: &frame)
        BigEndian.store(header.meter, at: 8, in: &frame)
        BigEndian.store(header.label, at: 12, in: &frame)
        BigEndian.store(UInt16(header.payloadLength), at: 20, in: &frame)
        BigEndian.store(UInt16(0), at: 22, in: &frame)
    }

    /// Parses and checks the layout of a frame; needs no key.
    public static func parseHeader(_ frame: Span<UInt8>) throws(FrameError) -> FrameHeader {
        guard frame.count >= headerBytes + tagBytes else { throw .truncated(length: frame.count) }
        guard frame[0] == version else { throw .unsupportedVersion(frame[0]) }
        guard let type = FrameType(rawValue: frame[1]) else { throw .unknownType(frame[1]) }
        guard let scheme = SchemeID(rawValue: frame[2]) else { throw .unknownScheme(frame[2]) }
        guard frame[3] == 0, BigEndian.load16(frame, at: 22) == 0 else { throw .reservedBitsSet }
        let length = Int(BigEndian.load16(frame, at: 20))
        guard length <= maxPayloadBytes else { throw .payloadTooLarge(length) }
        guard size(payloadLength: length) == frame.count else {
            throw .lengthMismatch(declared: length, actual: frame.count - headerBytes - tagBytes)
        }
        return FrameHeader(
            type: type, scheme: scheme, group: BigEndian.load32(frame, at: 4),
            meter: BigEndian.load32(frame, at: 8), label: BigEndian.load64(frame, at: 12),
            payloadLength: length)
    }

    /// Checks the tag of a frame whose layout `parseHeader` accepted, in constant time.
    public static func verify(_ frame: Span<UInt8>, key: Span<UInt8>) -> Bool {
        guard key.count == keyBytes else { return false }
        return verify(frame, mac: mac(key: key))
    }

    /// `verify(_:key:)` with the meter's MAC already keyed (`mac(key:)`).
    public static func verify(_ frame: Span<UInt8>, mac keyed: KMAC128) -> Bool {
        guard frame.count >= headerBytes + tagBytes else { return false }
        let signed = frame.count - tagBytes
        var mac = keyed
        mac.absorb(frame.extracting(0..<signed))
        return mac.verify(frame.extracting(signed..<frame.count))
    }

    /// Where the payload of a parsed frame lies: `frame.extracting(Frame.payloadRange(h))`.
    @inlinable public static func payloadRange(_ header: FrameHeader) -> Range<Int> {
        headerBytes..<(headerBytes + header.payloadLength)
    }
}

/// Big-endian integer fields in byte buffers.
public enum BigEndian {
    @inlinable public static func store(_ v: UInt16, at i: Int, in b: inout MutableSpan<UInt8>) {
        b[i] = UInt8(truncatingIfNeeded: v >> 8)
        b[i + 1] = UInt8(truncatingIfNeeded: v)
    }

    @inlinable public static func store(_ v: UInt32, at i: Int, in b: inout MutableSpan<UInt8>) {
        for k in 0..<4 { b[i + k] = UInt8(truncatingIfNeeded: v >> UInt32(24 - 8 * k)) }
    }

    @inlinable public static func store(_ v: UInt64, at i: Int, in b: inout MutableSpan<UInt8>) {
        for k in 0..<8 { b[i + k] = UInt8(truncatingIfNeeded: v >> UInt64(56 - 8 * k)) }
    }

    @inlinable public static func load16(_ b: Span<UInt8>, at i: Int) -> UInt16 {
        UInt16(b[i]) << 8 | UInt16(b[i + 1])
    }

    @inlinable public static func load32(_ b: Span<UInt8>, at i: Int) -> UInt32 {
        var v: UInt32 = 0
        for k in 0..<4 { v = v << 8 | UInt32(b[i + k]) }
        return v
    }

    @inlinable public static func load64(_ b: Span<UInt8>, at i: Int) -> UInt64 {
        var v: UInt64 = 0
        for k in 0..<8 { v = v << 8 | UInt64(b[i + k]) }
        return v
    }
}
