import MeterCrypto

/// A group's meters and the keys that authenticate their frames.
public struct GroupMembers: Sendable {
    public let group: UInt32
    /// The epoch whose frame keys these are (the authority hands out one epoch's keys).
    public let epoch: UInt32
    public let scheme: SchemeID
    /// Meter ids in increasing order.
    public let meters: [UInt32]
    let frameKeys: [UInt32: [UInt8]]
    /// Each meter's frame MAC, keyed once (KMAC128 is copyable for this): a frame's tag
    /// then costs the message's permutations only, not the customization and key blocks
    /// again (two of the three Keccak-f calls of a reading's tag; the service's upload
    /// path spent most of its time there).
    let frameMACs: [UInt32: KMAC128]

    public init(group: UInt32, epoch: UInt32 = 1, scheme: SchemeID, frameKeys: [UInt32: [UInt8]])
        throws(AggregationError)
    {
        guard !frameKeys.isEmpty else { throw .invalidGroup("a group needs at least one meter") }
        guard frameKeys.values.allSatisfy({ $0.count == Frame.keyBytes }) else {
            throw .invalidGroup("frame keys have \(Frame.keyBytes) bytes")
        }
        self.group = group
        self.epoch = epoch
        self.scheme = scheme
        self.frameKeys = frameKeys
        frameMACs = frameKeys.mapValues { Frame.mac(key: $0.span) }
        meters = frameKeys.keys.sorted()
    }

    public var count: Int { meters.count }

    public func frameKey(of meter: UInt32) -> [UInt8]? { frameKeys[meter] }
}

/// A frame that passed layout, membership and authentication checks.
public struct OpenedFrame: Sendable {
    public let header: FrameHeader
    public let payload: [UInt8]
}

/// The checks every uplink frame passes before any scheme looks at it: layout, group,
/// scheme, known meter, expected type, authentication tag. Shared by all schemes.
public struct FrameIntake: Sendable {
    public let members: GroupMembers

    public init(members: GroupMembers) { self.members = members }

    public func open(_ frame: [UInt8], expecting type: FrameType) throws(AggregationError) -> OpenedFrame {
        let header: FrameHeader
        do { header = try Frame.parseHeader(frame.span) } catch { throw .malformed(error) }
        guard header.group == members.group else {
            throw .wrongGroup(expected: members.group, actual: header.group)
        }
        guard header.scheme == members.scheme else {
            throw .wrongScheme(expected: members.scheme, actual: header.scheme)
        }
        guard let mac = members.frameMACs[header.meter] else { throw .unknownMeter(header.meter) }
        guard Frame.verify(frame.span, mac: mac) else { throw .badTag(meter: header.meter) }
        guard header.type == type else { throw .unexpectedType(header.type) }
        return OpenedFrame(header: header, payload: Array(frame[Frame.payloadRange(header)]))
    }

    /// Seals a downlink frame for one meter with its frame key.
    public func seal(_ type: FrameType, to meter: UInt32, label: UInt64, payload: [UInt8]) -> [UInt8] {
        guard let mac = members.frameMACs[meter] else {
            preconditionFailure("sealing a frame for a meter outside the group")
        }
        let header = FrameHeader(
            type: type, scheme: members.scheme, group: members.group, meter: meter, label: label,
            payloadLength: payload.count)
        var out = [UInt8](repeating: 0, count: Frame.size(payloadLength: payload.count))
        out.replaceSubrange(Frame.payloadRange(header), with: payload)
        var span = out.mutableSpan
        _ = Frame.seal(header, mac: mac, frame: &span)
        return out
    }
}

/// Collects one partial aggregate per label, with at most one contribution per meter
/// and label, inside a sliding window of accepted labels. Generic over the scheme's
/// partial aggregate (a sum mod p, a product of ciphertexts, ...).
public struct LabelCollection<Partial> {
    struct Slot {
        var reported: Set<UInt32>
        var partial: Partial
        /// A fingerprint of each meter's ciphertext: a different one for the same label
        /// is a reused label.
        var fingerprints: [UInt32: UInt64] = [:]
    }

    var slots: [UInt64: Slot] = [:]
    /// Label reuse seen so far, oldest first (at most `maxAlarms`, the newest kept).
    public private(set) var alarms: [LabelReuseAlarm] = []
    public static var maxAlarms: Int { 1000 }
    /// Labels accepted: current − lookback ... current + lookahead.
    public private(set) var current: UInt64
    public let lookback: UInt64
    public let lookahead: UInt64

    public init(current: UInt64, lookback: UInt64 = 96, lookahead: UInt64 = 1) {
        self.current = current
        self.lookback = lookback
        self.lookahead = lookahead
    }

    public var window: ClosedRange<UInt64> {
        let (top, overflow) = current.addingReportingOverflow(lookahead)
        return (current >= lookback ? current - lookback : 0)...(overflow ? .max : top)
    }

    /// Moves the window; labels that fall out of it are dropped. A label whose window
    /// would pass 2^64 − 1 is refused (never a trap): no meter reaches it.
    public mutating func advance(to label: UInt64) throws(AggregationError) {
        guard label <= UInt64.max - lookahead else { throw .labelOutOfRange(label) }
        current = max(current, label)
        let low = window.lowerBound
        slots = slots.filter { $0.key >= low }
    }

    /// Adds one meter's contribution; a rejected contribution changes nothing. A second
    /// contribution for the same label is a `duplicate` when its `fingerprint` is the
    /// first one's (a retransmission), and raises a label-reuse alarm (`labelReused`)
    /// when it differs.
    public mutating func add(
        meter: UInt32, label: UInt64, fingerprint: UInt64, initial: @autoclosure () -> Partial,
        combine: (inout Partial) throws(AggregationError) -> Void
    ) throws(AggregationError) -> Int {
        guard window.contains(label) else { throw .labelOutsideWindow(label: label, accepted: window) }
        if slots[label]?.reported.contains(meter) == true {
            guard slots[label]?.fingerprints[meter] == fingerprint else {
                if alarms.count == Self.maxAlarms { alarms.removeFirst() }
                alarms.append(LabelReuseAlarm(meter: meter, label: label))
                throw .labelReused(meter: meter, label: label)
            }
            throw .duplicate(meter: meter, label: label)
        }
        var partial = slots[label]?.partial ?? initial()
        try combine(&partial)
        // Mutate the stored slot in place: a copy taken out of the dictionary shares the
        // set's storage, so inserting into the copy copied all meters so far, for every
        // frame (O(n²) per label: 48 ms at n = 10 000 in `metering cost`).
        slots[label, default: Slot(reported: [], partial: partial)].partial = partial
        slots[label]!.reported.insert(meter)
        slots[label]!.fingerprints[meter] = fingerprint
        return slots[label]!.reported.count
    }

    /// The partial aggregate of a label and how many meters it holds.
    public func partial(_ label: UInt64) -> (partial: Partial, count: Int)? {
        slots[label].map { ($0.partial, $0.reported.count) }
    }

    /// Meters that reported `label`.
    public func reported(_ label: UInt64) -> Set<UInt32> { slots[label]?.reported ?? [] }
}

/// A meter sent two different ciphertexts for one label (`AggregationError.labelReused`).
public struct LabelReuseAlarm: Sendable, Equatable, CustomStringConvertible {
    public let meter: UInt32
    public let label: UInt64

    public init(meter: UInt32, label: UInt64) {
        self.meter = meter
        self.label = label
    }

    public var description: String { "meter \(meter) sent two different ciphertexts for label \(label)" }

    /// A fingerprint of a ciphertext: its first 8 bytes when it has no more, else the first
    /// 8 bytes of SHAKE128 over it. Equal bytes give equal fingerprints (a retransmission
    /// never raises the alarm).
    public static func fingerprint(_ payload: [UInt8]) -> UInt64 {
        if payload.count <= 8 { return payload.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        var x = XOF(.shake128)
        x.absorb("PM-REUSE-v1")
        x.absorb(payload.span)
        var out = [UInt8](repeating: 0, count: 8)
        var span = out.mutableSpan
        x.squeeze(into: &span)
        return out.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }
}
