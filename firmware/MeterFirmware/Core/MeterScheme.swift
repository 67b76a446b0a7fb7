// The scheme interface of the meter firmware: `Meter<Scheme>` is the core (boot, main loop,
// radio, label counter, key store, outbox, signed statements), `Scheme` one privacy scheme's
// state and code. Each firmware image is built for one scheme (Package.swift: one Embedded
// target per scheme), so an image holds only its own scheme's state and code: Embedded
// Swift specialises the generic core for it.
//
// The requirements are static functions over the whole meter, because a scheme's code
// needs the core's buffers (frame, key store, board) as much as its own state; each scheme
// file implements them in an `extension Meter where Scheme == ...`.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

/// The outbox ring a scheme's reading frames go to (`MeterFlashLayout`).
public enum OutboxRing: UInt8, Sendable {
    /// The LWR-PSA ring: 48-byte frames.
    case narrow
    /// The wide ring: frames up to `MeterFlashLayout.wideFrameBytes` (Paillier, DMCFE).
    case wide
}

/// One privacy scheme on the meter.
public protocol MeterScheme: ~Copyable {
    /// The scheme id in this scheme's frames.
    static var schemeID: SchemeID { get }
    /// The ring the scheme's readings are stored in until acknowledged.
    static var outboxRing: OutboxRing { get }
    /// A meter that holds no key of this scheme.
    init()

    /// After boot read the key store: loads what the scheme keeps in it (may mark the
    /// store corrupt).
    static func boot(_ meter: inout Meter<Self>)
    /// True when the scheme encrypts readings (key setup done, or the key it needs present).
    static func isReady(_ meter: inout Meter<Self>) -> Bool
    /// True while a key setup runs in RAM (lost at a reboot: the aggregator starts it again).
    static func isSettingUp(_ meter: borrowing Meter<Self>) -> Bool
    /// The largest reading the scheme encrypts.
    static func readingMaximum(_ meter: inout Meter<Self>) -> UInt64
    /// Idle work between boundaries (precomputation for the next label); true if it did work.
    static func idle(_ meter: inout Meter<Self>) -> Bool
    /// True when the next label's boundary needs no more precomputation.
    static func isPrecomputed(_ meter: borrowing Meter<Self>) -> Bool
    /// Encrypts `reading` under `label` and stores and sends its frame(s) (the core has
    /// checked the key store and the label counter).
    static func encryptAndSend(_ meter: inout Meter<Self>, label: UInt64, reading: UInt64) throws(MeterError)
    /// The epoch whose frame key tags the downlinks of `group` (other than enrolment requests
    /// and statements); nil when `group` is none of the meter's.
    static func downlinkEpoch(_ meter: inout Meter<Self>, group: UInt32) -> UInt32?
    /// An authenticated downlink the core does not handle itself (it handles statements and acks).
    static func handleDownlink(
        _ meter: inout Meter<Self>, _ header: FrameHeader, epoch: UInt32, _ payload: Span<UInt8>
    ) throws(MeterError) -> MeterEvent?
    /// The checks of a statement's header before its signature is verified (chunk 0); throws
    /// for a kind the scheme does not take.
    static func precheckStatement(_ meter: inout Meter<Self>, kind: StatementKind, _ body: Span<UInt8>)
        throws(MeterError)
    /// A verified statement (body in the core's statement buffer) takes effect.
    static func applyStatement(_ meter: inout Meter<Self>, kind: StatementKind) throws(MeterError) -> MeterEvent?
    /// An authentic ack arrived (the outbox has let its reading go): the whole frame, for a
    /// scheme that keeps acks as evidence (LWR-PSA over the neighbour graph). Default: nothing.
    static func acknowledged(_ meter: inout Meter<Self>, _ header: FrameHeader, frame: Span<UInt8>)
    /// The group whose aggregator stores the customer's sealed detail (its frame key tags
    /// the detail frames, and its reading acknowledgement lets them go); nil for none.
    /// Default: the meter's group.
    static func detailGroup(_ meter: inout Meter<Self>) -> UInt32?
    /// Sends again the scheme's other frames of the unacknowledged labels below `label`
    /// (LWR-PSA's statistics frames), after the readings. Default: nothing.
    static func resendExtra(_ meter: inout Meter<Self>, before label: UInt64)
    /// True when the meter totals its readings per tariff class and sends bills itself
    /// (Billing.swift: LWR-PSA, DMCFE). Default: false (Paillier bills on ciphertexts).
    static var billsOnMeter: Bool { get }
}

extension MeterScheme where Self: ~Copyable {
    public static func acknowledged(_ meter: inout Meter<Self>, _ header: FrameHeader, frame: Span<UInt8>) {}
    public static func resendExtra(_ meter: inout Meter<Self>, before label: UInt64) {}
    public static var billsOnMeter: Bool { false }
    public static func detailGroup(_ meter: inout Meter<Self>) -> UInt32? {
        meter.record.group == 0 ? nil : meter.record.group
    }
}
