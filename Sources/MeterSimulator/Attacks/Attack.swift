import Aggregation
import MeterCrypto
import MeterFirmware
import Provisioning

/// An attack by a malicious aggregator (alone, or with a colluding meter) against the real
/// firmware on simulated boards. `run()` drives the attack and reports whether the meters
/// (or the honest host side) refused it. docs/attacks.md lists them and how to add one:
/// write one type conforming to `Attack` and add it to `Attacks.all`.
public protocol Attack: Sendable {
    /// Short stable name (`metering attacks`, the JSON output, the test's argument).
    var id: String { get }
    /// The scheme it is run against (lwr-psa, dmcfe, paillier).
    var scheme: String { get }
    /// What the attacker tries, in one sentence.
    var tries: String { get }
    /// Runs the attack. Throws only when the bench itself fails (not an outcome).
    func run() throws -> AttackOutcome
}

/// What came of an attack, with the evidence the run observed.
public struct AttackOutcome: Sendable, Equatable {
    public enum Result: String, Sendable, Equatable {
        /// Every attempt was refused; nothing the attacker wanted left a meter.
        case refused
        /// The attacker obtained something it must not (a reading, a key share, a state change).
        case leaked
    }

    public let outcome: Result
    /// What the run saw (events, status codes, frame counts, state before and after).
    public let detail: String

    public init(_ outcome: Result, _ detail: String) {
        self.outcome = outcome
        self.detail = detail
    }

    /// `.refused` when `refused` holds, `.leaked` otherwise.
    public static func refused(if refused: Bool, _ detail: String) -> AttackOutcome {
        AttackOutcome(refused ? .refused : .leaked, detail)
    }
}

/// The registry of attacks `metering attacks` and the tests run.
public enum Attacks {
    public static let all: [any Attack] = [
        PlaintextStatusAttack(), UnsignedGroupAttack(), ForgedRosterPeerAttack(), ReplayedStatementAttack(),
        ReplayedPaillierKeyAttack(), SetupResetAttack(), DMCFEVectorAttack(), PaillierKeySwapAttack(),
        CrossGroupFrameAttack(), StaleEpochFrameAttack(), LayoutUnionAttack(), TariffEncodingAttack(),
        CustomerDetailAttack(), FalseDropoutAttack(), RecoveryScopeAttack(), StatisticsPlanAttack(),
        MeterBillingAttack(),
    ]

    /// The attack named `id`.
    public static func named(_ id: String) -> (any Attack)? { all.first { $0.id == id } }
}

/// Failures of an attack's bench (not outcomes: the attack could not be run as designed).
public struct AttackBenchError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

// MARK: - helpers shared by the attacks

/// An LWR-PSA group on simulated boards (`SimulatedGroup`), enrolled and signed by the
/// authority; the attacker is its aggregator (it holds the group's frame keys, nothing else).
struct AttackGroup {
    let group: SimulatedGroup
    let setup: LWRKeySetup
    let watts: [UInt32]
    var authority: ProvisioningAuthority { group.authority }
    var meters: [SimulatedMeter] { group.meters }
    var members: GroupMembers { group.members }

    init(
        meters n: Int, group id: UInt32 = 1, watts: (Int) -> UInt32 = { _ in 1000 }, maxReading: UInt64 = 1000,
        authority: ProvisioningAuthority = ProvisioningAuthority(seed: 42)
    ) throws {
        let loads = (0..<n).map(watts)
        self.watts = loads
        group = try SimulatedGroup(
            authority: authority, group: id, ids: (1...n).map { UInt32($0) }, profile: { [loads[$0] * 1000] })
        setup = try group.lwrKeySetup(maxReading: maxReading)
        try group.enrolAndSign(setup)
    }

    /// The statement and roster to every meter, key shares collected: the aggregator.
    func complete(currentLabel: UInt64 = 0) throws -> LWRAggregator {
        try group.completeLWR(setup, currentLabel: currentLabel)
    }

    /// The energy of one 15-minute interval of meter `index` (constant load), in Wh.
    func reading(_ index: Int) -> UInt64 { UInt64(watts[index]) * 15 / 60 }

    /// Every meter through one 15-minute interval (sampled each minute); what each sent.
    func runInterval() -> [[[UInt8]]] { group.runInterval() }
}

/// Group parameters over `keys` (meter → DH public key) for `relay`'s group and epoch,
/// signed with the aggregator's own SLH-DSA key (one the meters never saw), installed in
/// `relay` as if the authority had signed them.
func installRogueGroup(_ relay: LWRKeySetup, keys: [UInt32: [UInt8]]) throws {
    let roster = try RosterTree(publicKeys: keys)
    let body = SignedGroup.body(
        group: relay.members.group, epoch: relay.epoch, parameterID: relay.parameterByte, keyMode: relay.keyMode,
        maxReading: relay.maxReading, roster: roster)
    let aggregatorKey = ProvisioningAuthority(seed: 666)
    try relay.install(SignedGroup(statement: aggregatorKey.sign(body), roster: roster))
}

/// A ready victim after an attack: its key store against `before`, the key shares it sent.
struct ReadyVictim {
    let unchanged: Bool
    let shares: Int

    init(_ victim: SimulatedMeter, before: MeterRecord?) {
        shares = victim.takeSent().filter { frameType($0) == .keyShare }.count
        unchanged = before != nil && before == victim.firmware.storedRecord && victim.firmware.phase == .ready
    }

    var refused: Bool { unchanged && shares == 0 }
    var summary: String { "key store \(unchanged ? "unchanged, still ready" : "CHANGED"), \(shares) key-share frames" }
}

/// The header of a frame, nil when it does not parse.
func header(_ frame: [UInt8]) -> FrameHeader? { try? Frame.parseHeader(frame.span) }

func frameType(_ frame: [UInt8]) -> FrameType? { header(frame)?.type }

func statusCode(_ frame: [UInt8]) -> StatusCode? {
    guard frameType(frame) == .status, frame.count >= Frame.headerBytes + 2 else { return nil }
    return StatusCode(rawValue: UInt16(frame[Frame.headerBytes]) << 8 | UInt16(frame[Frame.headerBytes + 1]))
}

/// The same header and payload, tagged under `key` instead (what an attacker holding
/// `key` can produce for any header it likes).
func reseal(_ frame: [UInt8], key: [UInt8]) -> [UInt8] {
    guard let h = header(frame) else { return frame }
    var out = frame
    var span = out.mutableSpan
    _ = Frame.seal(h, key: key.span, frame: &span)
    return out
}

/// A frame with `header` and `payload`, tagged under `key`.
func forge(_ h: FrameHeader, payload: [UInt8], key: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: Frame.size(payloadLength: payload.count))
    out.replaceSubrange(Frame.payloadRange(h), with: payload)
    var span = out.mutableSpan
    _ = Frame.seal(h, key: key.span, frame: &span)
    return out
}

/// A DH public key (384 big-endian bytes) the attacker made itself.
func attackerPublicKey(_ seed: UInt8) -> [UInt8] {
    let random = [UInt8](repeating: seed, count: FFDHPrivateKey.randomByteCount)
    let y = FFDHGroup.publicKey(for: FFDHPrivateKey(randomBytes: random.span))
    var bytes = [UInt8](repeating: 0, count: FFDHGroup.byteCount)
    var span = bytes.mutableSpan
    y.bigEndianBytes(into: &span)
    return bytes
}

/// Delivers frames one by one; the events the firmware returned.
func deliver(_ frames: [[UInt8]], to meter: SimulatedMeter) throws -> [MeterEvent] {
    try frames.map { try meter.handle($0) }
}

/// An event without module prefixes ("status statementRejected").
func name(_ e: MeterEvent) -> String {
    switch e {
    case .none: return "no answer"
    case .readingSent(let label, _): return "reading sent (label \(label))"
    case .publicKeySent: return "public key sent"
    case .statementAccepted(let kind): return "statement accepted (\(kind))"
    case .keyShareSent: return "key share sent"
    case .statusSent(let code): return "status \(code)"
    case .acknowledged(let label): return "acknowledged (label \(label))"
    case .recoveryAnswered(let label): return "recovery answered (label \(label))"
    case .energySaved: return "energy register saved (power-fail warning)"
    case .billAcknowledged(let label): return "bill acknowledged (period ending at label \(label))"
    }
}

/// A short description of events, repeats counted ("statusSent(statementRejected) ×2").
func describe(_ events: [MeterEvent]) -> String {
    var parts: [(String, Int)] = []
    for e in events {
        let s = name(e)
        if let last = parts.last, last.0 == s { parts[parts.count - 1].1 += 1 } else { parts.append((s, 1)) }
    }
    return parts.map { $0.1 > 1 ? "\($0.0) ×\($0.1)" : $0.0 }.joined(separator: ", ")
}

extension Array where Element == UInt8 {
    /// True when `needle` occurs as a contiguous run.
    func contains(run needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return false }
        for start in 0...(count - needle.count) where self[start] == needle[0] {
            if Array(self[start..<(start + needle.count)]) == needle { return true }
        }
        return false
    }
}
