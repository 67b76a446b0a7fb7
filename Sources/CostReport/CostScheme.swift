// What a scheme supplies so that `metering cost` measures it. A new scheme joins the
// report by conforming one value per measured configuration to `CostScheme` and adding
// those values to `CostCatalog.schemes`; everything else (timing, allocation counting,
// stack painting, flash footprint, instruction counts, table, JSON, CSV, chart) is shared.

import MeterCrypto

/// Names one measured configuration: a row of the report.
public struct CostVariantID: Hashable, Codable, Sendable, CustomStringConvertible {
    /// The scheme, also the name of its firmware build in `firmware/schemes.conf`
    /// (`scripts/check-firmware.sh --scheme NAME`): "lwr-psa", "paillier", ...
    public let scheme: String
    /// The parameter set: "standard", "turbo", ...
    public let parameters: String
    /// What else changes the meter's cost within a parameter set. LWR-PSA: the key mode
    /// ("seed" or "expanded"); "-" when a scheme has nothing to vary.
    public let variant: String

    public init(scheme: String, parameters: String, variant: String) {
        self.scheme = scheme
        self.parameters = parameters
        self.variant = variant
    }

    /// "scheme/parameters/variant", the form the command line takes.
    public var description: String { "\(scheme)/\(parameters)/\(variant)" }
}

/// Bytes a scheme keeps on the meter's flash for its keys.
public struct KeyStoreFootprint: Codable, Sendable, Equatable {
    /// Key material and state the meter persists: for LWR-PSA one key-store journal slot
    /// (seed, counters, identity keys), plus the λ key words in expanded mode.
    public let bytes: Int
    /// Flash reserved for it, in whole erase sectors.
    public let flashBytes: Int

    public init(bytes: Int, flashBytes: Int) {
        self.bytes = bytes
        self.flashBytes = flashBytes
    }
}

/// One named part of the firmware's RAM state, from `MemoryLayout`.
public struct StateItem: Codable, Sendable, Equatable {
    public let name: String
    public let bytes: Int
    /// True for the whole state; false for a part of it, shown for explanation and not
    /// added to the total.
    public let isTotal: Bool

    public init(name: String, bytes: Int, isTotal: Bool) {
        self.name = name
        self.bytes = bytes
        self.isTotal = isTotal
    }
}

/// One phase of a reading, for the report's breakdown.
public struct CostPhase {
    /// How a phase is measured.
    public enum Source {
        /// Run this closure alone, once per sample; set up everything it needs beforehand.
        case standalone(() -> Void)
        /// The meter's whole `ReadingProbe.prepare()` step is this phase.
        case prepareStep
        /// The meter's whole `ReadingProbe.boundary()` step is this phase.
        case boundaryStep
    }

    /// Short name: "label expansion", "key stream", ...
    public let name: String
    /// One line on what exactly is timed.
    public let detail: String
    public let source: Source
    /// A part of the boundary step timed alone (the customer's detail): left out of the
    /// sum of phases, which the boundary step already counts.
    public let insideBoundary: Bool

    public init(name: String, detail: String, source: Source, insideBoundary: Bool = false) {
        self.name = name
        self.detail = detail
        self.source = source
        self.insideBoundary = insideBoundary
    }
}

/// A meter, on a simulated board, ready to encrypt readings (key setup done).
///
/// A reading is `prepare()` then `boundary()`; both are measured (CPU time, heap
/// allocations, stack depth, instructions) and must be the firmware's own code paths.
/// `settle()` is the harness's bookkeeping between readings and is never measured.
public protocol ReadingProbe: AnyObject {
    /// Work the meter does ahead of the boundary for its next reading (LWR-PSA: F_k(l)
    /// while idle; Paillier: the exponentiation). May do nothing.
    func prepare()
    /// The work at the interval boundary: encrypt the interval's reading, persist what
    /// must survive a power cut, frame and send it.
    func boundary()
    /// Checks that the last prepare/boundary produced exactly one reading, drains the
    /// radio and moves the board's clock to just before the next boundary.
    func settle() throws
}

/// One group on the aggregator with real reading frames for a few labels, for the
/// per-label cost. Label indices run over 0..<labelCount.
public protocol LabelWorkload: AnyObject {
    /// Meters in the group.
    var meters: Int { get }
    /// Labels with frames ready.
    var labelCount: Int { get }
    /// Builds a fresh aggregator for label `index` with the state it holds for the group
    /// (membership, keys). Measured for memory, not for time.
    func start(label index: Int) throws
    /// Verifies and collects the group's reading frames of label `index`.
    func collect(label index: Int) throws
    /// Decrypts label `index`'s sum; false if it differs from the true sum.
    func decrypt(label index: Int) throws -> Bool
    /// Drops the aggregator (not measured).
    func finish()
}

/// A scheme in one configuration, as the cost report measures it.
public protocol CostScheme: Sendable {
    /// The row this configuration fills.
    var id: CostVariantID { get }
    /// Rows with the same value share one aggregator measurement (LWR-PSA's aggregator
    /// does not depend on the meters' key mode). Default: "scheme/parameters".
    var aggregatorGroup: String { get }
    /// The largest group the aggregator is measured with (nil: every size asked for), for a
    /// scheme whose larger groups would take minutes per configuration.
    var aggregatorMaxMeters: Int? { get }
    /// Human-readable parameter-set name ("lwr-2048-p48-shake128").
    var parameterSetName: String { get }
    /// Bytes of one encrypted reading on the wire.
    var ciphertextBytes: Int { get }
    /// Bytes of the whole authenticated reading frame.
    var frameBytes: Int { get }
    /// Key material on the meter's flash.
    var keyStore: KeyStoreFootprint { get }
    /// The firmware state in RAM: one item with `isTotal`, and any parts worth naming.
    var firmwareState: [StateItem] { get }
    /// A meter ready to encrypt.
    func makeMeter() throws -> any ReadingProbe
    /// A group of `meters` meters with frames for `labels` labels.
    func makeLabelWorkload(meters: Int, labels: Int) throws -> any LabelWorkload
    /// The phases of one reading, each measurable alone. Empty if the scheme does not
    /// break its reading down.
    func makePhases() throws -> [CostPhase]
    /// A meter that verifies the signed statement its setup needs (the setup section);
    /// nil if the scheme's meters verify none. Default: nil.
    func makeStatementProbe() throws -> (any StatementProbe)?
}

extension CostScheme {
    public var aggregatorGroup: String { "\(id.scheme)/\(id.parameters)" }
    public var aggregatorMaxMeters: Int? { nil }
    public func makeStatementProbe() throws -> (any StatementProbe)? { nil }

    /// Whether the aggregator is measured with groups of `meters`.
    public func measuresAggregator(meters: Int) -> Bool { aggregatorMaxMeters.map { meters <= $0 } ?? true }
}

/// Why a scheme's cost probe or aggregator workload could not be built or run (every
/// scheme's probe fails the same ways).
public enum CostProbeError: Error, Equatable, Sendable {
    /// Key setup (or key delivery) of the probe's group did not complete: the step and what happened.
    case setupFailed(String)
    /// A reading step did not produce exactly one reading frame for the expected label.
    case noReading(label: UInt64, detail: String)
    /// The decrypted sum differs from the true sum (the measured path is broken).
    case wrongSum(label: UInt64, decrypted: UInt64, expected: UInt64)
}

/// Buffers of the customer-detail phase, made once (the timed closure allocates nothing).
final class DetailPhaseState {
    var label: UInt64 = 1_000
    /// Keyed once, as the meter keeps it (Meter.keyedCustomerCipher).
    let cipher: AESGCM = {
        let customerKey = (0..<16).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 5) }
        return AESGCM(key: customerKey.span)
    }()
    let frameKey = (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 11 &+ 3) }
    let plaintext: [UInt8]
    /// The customer verifier (kept from boot beside the cipher, as the meter does).
    let verifier = [UInt8](repeating: 0x5A, count: CustomerDetail.verifierBytes)

    init() {
        var p = [UInt8](repeating: 0, count: CustomerDetail.plaintextBytes)
        let minutes = [UInt16](repeating: 1234, count: CustomerDetail.minuteSlots)
        var span = p.mutableSpan
        CustomerDetail.encodePlaintext(reading: 308, minuteMask: 0x7FFF, minutes: minutes.span, into: &span)
        plaintext = p
    }
}

extension CostPhase {
    /// The customer's detail of one label sealed as every image's core seals it at the
    /// boundary, after the reading is stored: AES-128-GCM of the 42-byte plaintext under the
    /// customer key (key schedule and H included), then the frame tag (KMAC128). Part of the
    /// boundary step, timed alone.
    static func customerDetail(scheme: SchemeID) -> CostPhase {
        let state = DetailPhaseState()
        return CostPhase(
            name: "customer detail",
            detail:
                "AES-128-GCM seal of the 42-byte detail (4 blocks of keystream, GHASH; the key schedule and H kept from boot) and its frame tag: part of the boundary step",
            source: .standalone {
                state.label &+= 1
                let header = FrameHeader(
                    type: .customerDetail, scheme: scheme, group: 1, meter: 1, label: state.label,
                    payloadLength: CustomerDetail.payloadBytes)
                let cipher = state.cipher
                let plaintext = state.plaintext
                let frameKey = state.frameKey
                let verifier = state.verifier
                var frame = InlineArray<114, UInt8>(repeating: 0)
                var span = frame.mutableSpan
                CustomerDetail.seal(
                    header, cipher: cipher, verifier: verifier.span, plaintext: plaintext.span, frame: &span)
                _ = Frame.seal(header, key: frameKey.span, frame: &span)
                consume(UInt64(frame[Frame.headerBytes]))
            }, insideBoundary: true)
    }
}
