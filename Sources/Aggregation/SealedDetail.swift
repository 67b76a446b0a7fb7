import MeterCrypto

/// One customer-detail frame as the aggregator keeps it: opaque bytes it checked came from
/// a member of its group and cannot read (sealed under the customer key, which it never
/// holds; docs/spec/customer-detail.md).
public struct SealedDetail: Sendable, Equatable, Codable {
    public let meter: UInt32
    public let group: UInt32
    public let label: UInt64
    /// The whole frame as received: header, sealed payload (ciphertext ‖ GCM tag), frame tag.
    public let frame: [UInt8]

    public init(meter: UInt32, group: UInt32, label: UInt64, frame: [UInt8]) {
        self.meter = meter
        self.group = group
        self.label = label
        self.frame = frame
    }

    /// The customer verifier v the frame carries in clear (bytes 24 ..< 40): which
    /// customer's frame it is, for the service's index; empty for a frame too short.
    public var verifier: [UInt8] {
        frame.count >= CustomerDetail.verifierRange.upperBound ? Array(frame[CustomerDetail.verifierRange]) : []
    }
}

/// Where the aggregator puts sealed detail (memory, a file, the service's database).
public protocol SealedDetailStore: AnyObject {
    /// Keeps `detail`. A repeat of a frame already kept changes nothing.
    func store(_ detail: SealedDetail) throws
}

/// Where the customer's side reads sealed detail from (the file the simulator writes, or
/// the aggregator service: the seam for an HTTP client of `metering serve`).
public protocol SealedDetailSource {
    /// The sealed detail of `meter`, labels in `labels` (all when nil), label order.
    func sealedDetail(meter: UInt32, labels: ClosedRange<UInt64>?) throws -> [SealedDetail]
}

/// The aggregator's intake of customer-detail frames: the checks every uplink passes
/// (layout, group, scheme, member, frame tag), the type, and the payload size (74: v,
/// ciphertext, GCM tag); what it returns is the frame as received, to be stored under its
/// customer verifier v and never opened.
public struct CustomerDetailIntake: Sendable {
    public let intake: FrameIntake

    public init(members: GroupMembers) { intake = FrameIntake(members: members) }

    public func accept(_ frame: [UInt8]) throws(AggregationError) -> SealedDetail {
        let opened = try intake.open(frame, expecting: .customerDetail)
        guard opened.payload.count == CustomerDetail.payloadBytes else {
            throw .badPayload(type: .customerDetail, size: opened.payload.count)
        }
        let h = opened.header
        return SealedDetail(meter: h.meter, group: h.group, label: h.label, frame: frame)
    }
}

/// Sealed detail in memory, one frame per (meter, label): the first kept, a byte-identical
/// repeat ignored, a different frame for the same label counted (a meter never seals a
/// label twice, so that is forged or a broken meter) and not kept.
public final class MemoryDetailStore: SealedDetailStore, SealedDetailSource, @unchecked Sendable {
    var frames: [UInt32: [UInt64: SealedDetail]] = [:]
    /// Different frames offered for a (meter, label) already kept.
    public private(set) var conflicts = 0

    public init() {}

    public func store(_ detail: SealedDetail) {
        if let kept = frames[detail.meter]?[detail.label] {
            if kept != detail { conflicts += 1 }
            return
        }
        frames[detail.meter, default: [:]][detail.label] = detail
    }

    public func sealedDetail(meter: UInt32, labels: ClosedRange<UInt64>?) -> [SealedDetail] {
        (frames[meter] ?? [:]).values.filter { labels?.contains($0.label) ?? true }.sorted { $0.label < $1.label }
    }

    /// Every meter with sealed detail here.
    public var meters: [UInt32] { frames.keys.sorted() }

    /// Every frame kept, by meter then label.
    public var all: [SealedDetail] { meters.flatMap { sealedDetail(meter: $0, labels: nil) } }
}
