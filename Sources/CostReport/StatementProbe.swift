// The setup cost of a scheme on the meter: one signed statement of the provisioning
// authority (MeterCrypto/Statement.swift) delivered in its downlink chunks to a meter on a
// simulated board, verified and applied by the firmware's own `receiveStatementChunk`;
// and the bytes the statement and the roster put on the air per meter.
import Aggregation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning

/// A meter ready to take one signed statement, chunk by chunk, as often as asked.
///
/// A run is `load()`, then for each chunk `deliver(chunk:)` and `poll()`; only `poll()` is
/// measured (CPU time, heap allocations, stack depth) and is the firmware's own code path.
/// `settle()` checks that the statement took effect.
public protocol StatementProbe: AnyObject {
    /// The statement's kind, as the firmware names it.
    var kind: StatementKind { get }
    /// The statement the runs deliver (body and signature), for its sizes.
    var statement: SignedStatement { get }
    /// The authority's public key (the meter's from the factory).
    var authorityKey: [UInt8] { get }
    /// Downlink chunks of one run.
    var chunkCount: Int { get }
    /// Makes the next run's frames (not measured).
    func load() throws
    /// Puts chunk `chunk` of the loaded statement in the meter's radio inbox (not measured).
    func deliver(chunk: Int) throws
    /// The meter takes the delivered chunk: the measured step.
    func poll()
    /// Checks that the last chunk's poll accepted the statement.
    func settle() throws
}

/// The one `StatementProbe`: a `SimulatedMeter` and the frames of each run from `next`
/// (the same statement again where the firmware takes it again, a newer one where it
/// must not).
final class SimulatedStatementProbe: StatementProbe {
    let meter: SimulatedMeter
    let kind: StatementKind
    let statement: SignedStatement
    let authorityKey: [UInt8]
    let next: () throws -> [[UInt8]]
    var frames: [[UInt8]] = []
    var events: [MeterEvent] = []
    var polled = 0

    init(
        meter: SimulatedMeter, kind: StatementKind, statement: SignedStatement, authorityKey: [UInt8],
        next: @escaping () throws -> [[UInt8]]
    ) {
        self.meter = meter
        self.kind = kind
        self.statement = statement
        self.authorityKey = authorityKey
        self.next = next
        events.reserveCapacity(Statement.chunkCount)
    }

    var chunkCount: Int { statement.chunkPayloads.count }

    func load() throws {
        frames = try next()
        guard frames.count == chunkCount else {
            throw CostProbeError.setupFailed("\(frames.count) statement frames, expected \(chunkCount)")
        }
        events.removeAll(keepingCapacity: true)
        polled = 0
        _ = meter.takeSent()
    }

    func deliver(chunk: Int) throws { try meter.deliver(frames[chunk]) }

    func poll() {
        let event = meter.firmware.poll()
        if polled < events.capacity { events.append(event) }
        polled += 1
    }

    func settle() throws {
        guard polled == frames.count, events.last == .statementAccepted(kind),
            events.dropLast().allSatisfy({ $0 == .none })
        else {
            throw CostProbeError.setupFailed("statement not accepted: \(events)")
        }
        // Paillier reports a key that took effect with `setupComplete`; any other status is a complaint.
        let complaints = meter.takeSent().filter { frame in
            frame[1] == FrameType.status.rawValue
                && BigEndian.load16(frame.span, at: Frame.headerBytes) != StatusCode.setupComplete.rawValue
        }
        guard complaints.isEmpty else {
            throw CostProbeError.setupFailed("the meter sent \(complaints.count) status frames")
        }
    }
}

extension SimulatedStatementProbe {
    /// Meter 1 of a `ProbeGroup` enrolled for a group under `relay` (LWR-PSA, DMCFE), the
    /// authority's group-parameters statement signed: each run delivers that statement
    /// again (the firmware resumes a key setup of the same group and epoch).
    static func groupParameters(
        scheme: SchemeID, relay: (GroupMembers) throws -> KeySetupRelay
    ) throws -> SimulatedStatementProbe {
        let group = try ProbeGroup.make(scheme: scheme)
        let setup = try relay(group.members)
        let signed = try group.enrolAndSign(setup)
        let meter = group.meters[0]
        let frames = try setup.statementFrames(for: meter.id)
        return SimulatedStatementProbe(
            meter: meter, kind: .groupParameters, statement: signed.statement, authorityKey: group.authority.publicKey
        ) { frames }
    }

    /// Meter 1 of a Paillier `ProbeGroup`: each run delivers a Paillier key statement of a
    /// new epoch (its layout signed, the frames under that epoch's frame keys), as the
    /// firmware takes only newer ones.
    static func paillierKey(_ key: PaillierPublicKey) throws -> SimulatedStatementProbe {
        let group = try ProbeGroup.make(scheme: .paillier)
        let authority = group.authority
        let ids = group.meters.map(\.id)
        let meter = group.meters[0]
        func statement() throws -> (SignedStatement, FrameIntake) {
            let epoch = authority.issueEpoch()
            let members = try authority.members(group: 1, epoch: epoch, scheme: .paillier, meters: ids)
            _ = try authority.signLayout(groups: [1: Set(ids)], epoch: epoch)
            return (
                try authority.signPaillierKey(meter: meter.id, publicKey: key, layoutEpoch: epoch),
                FrameIntake(members: members)
            )
        }
        let (first, _) = try statement()
        return SimulatedStatementProbe(
            meter: meter, kind: .paillierKey, statement: first, authorityKey: authority.publicKey
        ) {
            let (s, intake) = try statement()
            return intake.statementFrames(s, to: meter.id)
        }
    }
}

/// The bytes one signed statement, and the roster behind it, put on the downlink to one
/// meter.
public struct StatementSizes: Codable, Sendable, Equatable {
    public let kind: String
    /// The statement's body.
    public let bodyBytes: Int
    public let signatureBytes: Int
    /// Downlink frames of the statement (body, then the signature in chunks).
    public let chunks: Int
    /// Bytes of those frames (headers and tags included).
    public let statementDownlinkBytes: Int
    /// Group size the roster figures are for (nil: the statement has no roster).
    public let meters: Int?
    public let rosterDepth: Int?
    /// One roster entry's payload (index, meter, DH public key, Merkle path).
    public let rosterEntryBytes: Int?
    /// Roster entries every meter receives (every member's, its own included).
    public let rosterEntries: Int
    public let rosterDownlinkBytes: Int
    /// Statement and roster frames: what one meter receives for one setup.
    public let downlinkBytesPerMeter: Int

    enum CodingKeys: String, CodingKey {
        case kind, bodyBytes, signatureBytes, chunks, statementDownlinkBytes, meters, rosterDepth, rosterEntryBytes
        case rosterEntries, rosterDownlinkBytes, downlinkBytesPerMeter
    }

    /// No roster: its figures are written as null, never left out.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(bodyBytes, forKey: .bodyBytes)
        try c.encode(signatureBytes, forKey: .signatureBytes)
        try c.encode(chunks, forKey: .chunks)
        try c.encode(statementDownlinkBytes, forKey: .statementDownlinkBytes)
        try c.encode(meters, forKey: .meters)
        try c.encode(rosterDepth, forKey: .rosterDepth)
        try c.encode(rosterEntryBytes, forKey: .rosterEntryBytes)
        try c.encode(rosterEntries, forKey: .rosterEntries)
        try c.encode(rosterDownlinkBytes, forKey: .rosterDownlinkBytes)
        try c.encode(downlinkBytesPerMeter, forKey: .downlinkBytesPerMeter)
    }

    /// The sizes of `statement`'s frames, and of the roster frames of a group of `meters`
    /// (a real `RosterTree` over random keys) when the statement carries a roster.
    static func measure(_ statement: SignedStatement, meters: Int?) throws -> StatementSizes {
        let chunks = statement.chunkPayloads
        let statementBytes = chunks.reduce(0) { $0 + Frame.size(payloadLength: $1.count) }
        var depth: Int? = nil
        var entryBytes: Int? = nil
        var entries = 0
        var rosterBytes = 0
        if let meters {
            var rng = SeededGenerator(seed: 0x5161)
            var keys: [UInt32: [UInt8]] = [:]
            for id in 1...UInt32(meters) { keys[id] = rng.bytes(FFDHGroup.byteCount) }
            let roster = try RosterTree(publicKeys: keys)
            depth = roster.depth
            entries = roster.entries.count
            let payloads = (0..<entries).map { roster.entryPayload($0).count }
            entryBytes = payloads.max()
            rosterBytes = payloads.reduce(0) { $0 + Frame.size(payloadLength: $1) }
        }
        return StatementSizes(
            kind: statement.kind.map { "\($0)" } ?? "?", bodyBytes: statement.body.count,
            signatureBytes: statement.signature.count, chunks: chunks.count, statementDownlinkBytes: statementBytes,
            meters: meters, rosterDepth: depth, rosterEntryBytes: entryBytes, rosterEntries: entries,
            rosterDownlinkBytes: rosterBytes, downlinkBytesPerMeter: statementBytes + rosterBytes)
    }
}

/// One statement's verification on the meter, for one configuration.
public struct SetupCost: Encodable, Sendable {
    public let id: CostVariantID
    /// CPU time of the polls that take the statement's chunks (verification as the
    /// signature streams in, then the statement applied), per statement.
    public let cpuPerStatement: Distribution
    /// The last chunk's poll alone (the end of verification, and applying the statement).
    public let lastChunk: Distribution
    /// `SLHDSA.verify` alone on the same statement (host, the firmware's code, no radio).
    public let verifyAlone: Distribution
    /// Heap allocations in the polls of `allocationRuns` statements; nil: not counted.
    public let heapAllocations: UInt64?
    public let allocationRuns: Int
    /// Deepest poll of one statement, on the painted stack (harness frames included).
    public let peakStackBytes: Int?
    /// Deepest poll of the chunks before the last (the signature streaming through the verifier).
    public let streamingStackBytes: Int?
    public let stackHarnessBytes: Int?
    /// Text of the SLH-DSA symbols in the scheme's firmware (nil: not measured).
    public let verifierFlashBytes: Int?
    /// The scheme's whole firmware flash (text + data), for comparison.
    public let firmwareFlashBytes: Int?
    public let sizes: StatementSizes

    enum CodingKeys: String, CodingKey {
        case id, cpuPerStatement, lastChunk, verifyAlone, heapAllocations, allocationRuns, peakStackBytes,
            streamingStackBytes
        case stackHarnessBytes, verifierFlashBytes, firmwareFlashBytes, sizes
    }

    /// Figures that were not measured are written as null, never left out.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(cpuPerStatement, forKey: .cpuPerStatement)
        try c.encode(lastChunk, forKey: .lastChunk)
        try c.encode(verifyAlone, forKey: .verifyAlone)
        try c.encode(heapAllocations, forKey: .heapAllocations)
        try c.encode(allocationRuns, forKey: .allocationRuns)
        try c.encode(peakStackBytes, forKey: .peakStackBytes)
        try c.encode(streamingStackBytes, forKey: .streamingStackBytes)
        try c.encode(stackHarnessBytes, forKey: .stackHarnessBytes)
        try c.encode(verifierFlashBytes, forKey: .verifierFlashBytes)
        try c.encode(firmwareFlashBytes, forKey: .firmwareFlashBytes)
        try c.encode(sizes, forKey: .sizes)
    }
}

extension CostReporter {
    /// The setup section: every configuration whose scheme gives a statement probe.
    static func measureSetups(
        _ schemes: [any CostScheme], options: CostOptions, counter: (any AllocationCounter)?,
        footprints: [String: FirmwareFootprint]
    ) throws -> [SetupCost] {
        var costs: [SetupCost] = []
        for scheme in schemes {
            guard let probe = try scheme.makeStatementProbe() else { continue }
            options.progress("setup: \(scheme.id): \(probe.kind) statement, \(options.statementRuns) runs")
            let runs = max(1, options.statementRuns)
            // Warm-up, then the allocation count.
            try statementRun(probe) { probe.poll() }
            var allocations: UInt64? = nil
            if let counter {
                var total: UInt64 = 0
                try statementRun(probe) {
                    counter.begin()
                    probe.poll()
                    total += counter.end().allocations
                }
                allocations = total
            }
            var peak: Int? = nil
            var streaming: Int? = nil
            var harness: Int? = nil
            if options.stackReadings > 0 {
                var deepest = 0
                var chunk = 0
                var failure: StackProbeError? = nil
                let empty = Result { () throws(StackProbeError) in
                    try StackProbe.measure(stackBytes: options.stackBytes) {}
                }
                try statementRun(probe) {
                    let use = Result { () throws(StackProbeError) in
                        try StackProbe.measure(stackBytes: options.stackBytes) { probe.poll() }
                    }
                    switch use {
                    case .success(let u):
                        deepest = max(deepest, u.highWaterBytes)
                        if chunk < probe.chunkCount - 1 { streaming = max(streaming ?? 0, u.highWaterBytes) }
                    case .failure(let e): failure = e
                    }
                    chunk += 1
                }
                switch empty {
                case .success(let u): harness = u.highWaterBytes
                case .failure(let e): failure = e
                }
                if let failure { throw CostReportError.stack(scheme.id, failure) }
                peak = deepest
            }
            var whole: [UInt64] = []
            var last: [UInt64] = []
            for _ in 0..<runs {
                var total: UInt64 = 0
                var final: UInt64 = 0
                try statementRun(probe) {
                    let t = threadCPUNanoseconds()
                    probe.poll()
                    final = threadCPUNanoseconds() - t
                    total += final
                }
                whole.append(total)
                last.append(final)
            }
            let statement = probe.statement
            var alone: [UInt64] = []
            for _ in 0..<runs {
                let t = threadCPUNanoseconds()
                let ok = SLHDSA.verify(
                    parameters: Statement.signatureParameters, publicKey: probe.authorityKey.span,
                    message: statement.body.span, signature: statement.signature.span, context: Statement.context)
                alone.append(threadCPUNanoseconds() - t)
                guard ok else { throw CostProbeError.setupFailed("the statement does not verify on the host") }
            }
            let footprint = footprints[scheme.id.scheme]
            costs.append(
                SetupCost(
                    id: scheme.id, cpuPerStatement: Distribution(nanoseconds: whole),
                    lastChunk: Distribution(nanoseconds: last), verifyAlone: Distribution(nanoseconds: alone),
                    heapAllocations: allocations, allocationRuns: 1, peakStackBytes: peak,
                    streamingStackBytes: streaming, stackHarnessBytes: harness,
                    verifierFlashBytes: footprint?.signatureVerifierText, firmwareFlashBytes: footprint?.flashBytes,
                    sizes: try StatementSizes.measure(
                        statement, meters: probe.kind == .groupParameters ? options.setupMeters : nil)))
        }
        return costs
    }

    /// One statement through `probe`, `poll` run once per chunk.
    static func statementRun(_ probe: any StatementProbe, poll: () -> Void) throws {
        try probe.load()
        for chunk in 0..<probe.chunkCount {
            try probe.deliver(chunk: chunk)
            poll()
        }
        try probe.settle()
    }
}
