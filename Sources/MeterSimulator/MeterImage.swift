import MeterCrypto
import MeterFirmware

/// A meter's firmware image, as the simulator drives it: `Meter<Scheme>` of the scheme the
/// board was flashed with. A real meter runs one scheme's image (Package.swift builds one
/// per scheme); the simulator picks it when it creates or re-flashes a board
/// (`SimulatedMeter.reflash(scheme:)`), the commissioning step.
public protocol MeterImage: AnyObject {
    /// The scheme of the image.
    var scheme: SchemeID { get }

    func poll() -> MeterEvent
    @discardableResult func idle() -> Bool
    func encryptAndSend(label: UInt64, reading: UInt64) throws(MeterError)
    @discardableResult func resendPending(before label: UInt64) -> Int
    func provision(
        meter: UInt32, frameSecret: Span<UInt8>, enrolmentKey: Span<UInt8>, authorityKey: Span<UInt8>,
        minGroupSize: UInt32
    ) throws(MeterError)

    var board: Board { get }
    var layout: MeterFlashLayout { get }
    var phase: MeterPhase? { get }
    /// True when the image encrypts readings (key setup done, or its key present).
    var isReady: Bool { get }
    var nextLabel: UInt64 { get }
    var currentLabel: UInt64 { get }
    var storeError: KeyStoreError? { get }
    var storedRecord: MeterRecord? { get }
    var keyMode: KeyMode { get }
    var padPrecomputed: Bool { get }
    var carriedEnergy: UInt64 { get }
    var lostWattHours: UInt64 { get }
    var repairs: Int { get }
    var retiredOutboxSectors: Int { get }
    var pendingReadings: Int { get }
    var droppedReadings: Int { get }
    func pendingLabel(_ i: Int) -> UInt64
    func pendingGroup(_ i: Int) -> UInt32
    func pendingFrame(_ i: Int, into out: inout MutableSpan<UInt8>) throws(KeyStoreError) -> Int
    /// The epoch whose frame key must tag the downlink `header`, or nil when its group is
    /// none of the meter's.
    func downlinkEpoch(_ header: FrameHeader) -> UInt32?
    /// The customer code, rendered once for the in-home display (`Meter.revealCustomerCode`).
    func revealCustomerCode(into out: inout MutableSpan<UInt8>) throws(MeterError) -> Int
    /// Whether the customer code can still be shown.
    var customerCodeAvailable: Bool { get }
    /// Sealed detail frames kept until their reading is acknowledged.
    var pendingDetail: Int { get }
    func pendingDetailFrame(_ i: Int, into out: inout MutableSpan<UInt8>) throws(KeyStoreError) -> Int
    /// The billing periods the meter holds and their totals (Billing.swift).
    var billingRecord: BillingRecord { get }
}

extension MeterImage {
    @discardableResult public func resendPending() -> Int { resendPending(before: .max) }

    public func provision(
        meter: UInt32, frameSecret: Span<UInt8>, enrolmentKey: Span<UInt8>, authorityKey: Span<UInt8>
    ) throws(MeterError) {
        try provision(
            meter: meter, frameSecret: frameSecret, enrolmentKey: enrolmentKey, authorityKey: authorityKey,
            minGroupSize: 2)
    }

    /// True for a DMCFE image.
    public var isDMCFE: Bool { scheme == .dmcfe }

    // Paillier (nil / 0 / false on the other images)
    var paillierImage: SchemeImage<PaillierScheme>? { self as? SchemeImage<PaillierScheme> }
    /// True when a Paillier image holds the supplier key and a valid key store.
    public var paillierReady: Bool { paillierImage?.meter.paillierReady ?? false }
    /// Bits of the supplier's N, or nil.
    public var paillierKeyBits: Int? { paillierImage?.meter.paillierKeyBits }
    /// The groups a Paillier meter reports to.
    public var paillierGroupCount: Int { paillierImage?.meter.paillierGroupCount ?? 0 }
    /// The `index`-th group a Paillier meter reports to.
    public func paillierGroup(at index: Int) -> UInt32 {
        guard let image = paillierImage else { preconditionFailure("not a Paillier image") }
        return image.meter.paillierGroup(at: index)
    }
    /// Randomizers ready for the next label (Paillier).
    public var paillierFreshRandomizers: Int { paillierImage?.meter.paillierFreshRandomizers ?? 0 }

    /// Peers whose seeds the last key setup stored (LWR-PSA, DMCFE; 0 for Paillier).
    public var peersProcessed: Int {
        if let image = self as? SchemeImage<LWRScheme> { return image.meter.peersProcessed }
        if let image = self as? SchemeImage<DMCFEScheme> { return image.meter.peersProcessed }
        return 0
    }
}

/// The image of one scheme: the firmware state and the forwarding of `MeterImage`.
public final class SchemeImage<Scheme: MeterScheme>: MeterImage {
    public var meter: Meter<Scheme>

    public init(board: Board, timing: MeterTiming) throws(MeterError) {
        meter = try Meter<Scheme>(board: board, timing: timing)
    }

    public var scheme: SchemeID { Scheme.schemeID }
    public func poll() -> MeterEvent { meter.poll() }
    @discardableResult public func idle() -> Bool { meter.idle() }
    public func encryptAndSend(label: UInt64, reading: UInt64) throws(MeterError) {
        try meter.encryptAndSend(label: label, reading: reading)
    }
    @discardableResult public func resendPending(before label: UInt64) -> Int { meter.resendPending(before: label) }
    public func provision(
        meter id: UInt32, frameSecret: Span<UInt8>, enrolmentKey: Span<UInt8>, authorityKey: Span<UInt8>,
        minGroupSize: UInt32
    ) throws(MeterError) {
        try meter.provision(
            meter: id, frameSecret: frameSecret, enrolmentKey: enrolmentKey, authorityKey: authorityKey,
            minGroupSize: minGroupSize)
    }

    public var board: Board { meter.board }
    public var layout: MeterFlashLayout { meter.layout }
    public var phase: MeterPhase? { meter.phase }
    public var isReady: Bool { meter.isReady }
    public var nextLabel: UInt64 { meter.nextLabel }
    public var currentLabel: UInt64 { meter.currentLabel }
    public var storeError: KeyStoreError? { meter.storeError }
    public var storedRecord: MeterRecord? { meter.storedRecord }
    public var keyMode: KeyMode { meter.keyMode }
    public var padPrecomputed: Bool { meter.padPrecomputed }
    public var carriedEnergy: UInt64 { meter.carriedEnergy }
    public var lostWattHours: UInt64 { meter.lostWattHours }
    public var repairs: Int { meter.repairs }
    public var retiredOutboxSectors: Int { meter.retiredOutboxSectors }
    public var pendingReadings: Int { meter.pendingReadings }
    public var droppedReadings: Int { meter.droppedReadings }
    public func pendingLabel(_ i: Int) -> UInt64 { meter.pendingLabel(i) }
    public func pendingGroup(_ i: Int) -> UInt32 { meter.pendingGroup(i) }
    public func pendingFrame(_ i: Int, into out: inout MutableSpan<UInt8>) throws(KeyStoreError) -> Int {
        try meter.pendingFrame(i, into: &out)
    }
    public func downlinkEpoch(_ header: FrameHeader) -> UInt32? { meter.downlinkEpoch(header) }
    public func revealCustomerCode(into out: inout MutableSpan<UInt8>) throws(MeterError) -> Int {
        try meter.revealCustomerCode(into: &out)
    }
    public var customerCodeAvailable: Bool { meter.customerCodeAvailable }
    public var billingRecord: BillingRecord { meter.billingRecord }
    public var pendingDetail: Int { meter.pendingDetail }
    public func pendingDetailFrame(_ i: Int, into out: inout MutableSpan<UInt8>) throws(KeyStoreError) -> Int {
        try meter.pendingDetailFrame(i, into: &out)
    }
}

/// The image of `scheme` booted on `board`.
public func bootImage(scheme: SchemeID, board: Board, timing: MeterTiming) throws(MeterError) -> any MeterImage {
    switch scheme {
    case .lwrPSA: return try SchemeImage<LWRScheme>(board: board, timing: timing)
    case .paillier: return try SchemeImage<PaillierScheme>(board: board, timing: timing)
    case .dmcfe: return try SchemeImage<DMCFEScheme>(board: board, timing: timing)
    }
}
