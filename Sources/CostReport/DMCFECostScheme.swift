// DMCFE in the cost report: the 3072-bit group with its 256-bit subgroup, one group per
// meter, the functional key for y = (1, …, 1) (the group's sum).
import Aggregation
import Foundation
import MeterCrypto
import MeterFirmware
import MeterSimulator

/// DMCFE with the firmware's one parameter set.
public struct DMCFECostScheme: CostScheme {
    public init() {}

    /// Every configuration the firmware supports.
    public static var all: [DMCFECostScheme] { [DMCFECostScheme()] }

    /// Baby steps of the aggregator's discrete-logarithm tables (the aggregator's default).
    static let tableEntries = 1 << 20

    public var id: CostVariantID { CostVariantID(scheme: "dmcfe", parameters: "3072", variant: "-") }
    public var parameterSetName: String { "dmcfe-3072-q256-shake256" }
    public var ciphertextBytes: Int { DMCFE.ciphertextBytes }
    public var frameBytes: Int { Frame.size(payloadLength: DMCFE.ciphertextBytes) }
    /// n = 10 000 is left out: verifying a frame (c^q = 1) is a 256-bit exponentiation, so
    /// one label takes seconds and the report's five samples and the frames for three
    /// labels would take several minutes.
    public var aggregatorMaxMeters: Int? { 1_000 }

    public var keyStore: KeyStoreFootprint {
        // The key-store slot of a ready DMCFE meter (identity, keys, key seed: s_i is derived
        // from it) in the journal's two sectors, plus the pairwise seeds it keeps for
        // functional keys: one 48-byte slot per peer (the probe's two-meter group: one),
        // in their own sector.
        var record = MeterRecord()
        record.phase = .ready
        record.parameterID = DMCFE.parameterID
        record.keyMode = .seed
        let peers = 1
        let seedSectors =
            (peers * MeterFlashLayout.peerSeedSlotBytes + LWRCostScheme.sectorSize - 1) / LWRCostScheme.sectorSize
        return KeyStoreFootprint(
            bytes: record.bodyBytes + peers * MeterFlashLayout.peerSeedSlotBytes,
            flashBytes: (2 + seedSectors) * LWRCostScheme.sectorSize)
    }

    public var firmwareState: [StateItem] {
        [
            StateItem(
                name: "Meter<DMCFEScheme> (the whole firmware state)", bytes: MemoryLayout<Meter<DMCFEScheme>>.size,
                isTotal: true),
            StateItem(
                name: "DMCFE state (the next label's pad, the weight-vector digest, key-setup state)",
                bytes: MemoryLayout<DMCFEScheme>.size, isTotal: false),
            StateItem(name: "frame + inbox buffers", bytes: 2 * Frame.maxFrameBytes, isTotal: false),
            StateItem(name: "MeterRecord (key store state)", bytes: MemoryLayout<MeterRecord>.size, isTotal: false),
        ]
    }

    public func makeMeter() throws -> any ReadingProbe { try DMCFEReadingProbe.make() }

    public func makeStatementProbe() throws -> (any StatementProbe)? {
        try SimulatedStatementProbe.groupParameters(scheme: .dmcfe) { members in
            try DMCFEKeySetup(members: members, maxReading: LWRCostScheme.maxReading)
        }
    }

    public func makeLabelWorkload(meters: Int, labels: Int) throws -> any LabelWorkload {
        try DMCFELabelWorkload(meters: meters, labels: labels, table: Self.table(meters: meters))
    }

    /// A group of `meters` whose aggregator solves discrete logarithms up to `bound` (a
    /// table of 2^20 baby steps, built here once per bound and process).
    public func makeLabelWorkload(meters: Int, labels: Int, bound: UInt64) throws -> any LabelWorkload {
        try DMCFELabelWorkload(
            meters: meters, labels: labels, table: Self.tables.table(bound: bound, maxEntries: Self.tableEntries))
    }

    /// The discrete-logarithm table for a group of `meters` (bound n × the largest
    /// reading), built once per group size and process: the aggregator builds it once and
    /// keeps it for every label, so it is never part of a label's cost.
    static func table(meters: Int) throws -> DiscreteLogTable {
        try tables.table(bound: UInt64(meters) * LWRCostScheme.maxReading, maxEntries: tableEntries)
    }
    static let tables = TableCache()

    public func makePhases() throws -> [CostPhase] {
        let group: UInt32 = 1
        let state = PhaseState()
        var seed = InlineArray<32, UInt8>(repeating: 0)
        for i in 0..<32 { seed[i] = UInt8(truncatingIfNeeded: i &* 29 &+ 7) }
        let secret = DMCFESecret(seed: seed.span)
        // The hashes of one label, computed once for the exponentiation phase.
        let h1 = DMCFE.hashToGroup(group: group, label: 1, index: 1)
        let h2 = DMCFE.hashToGroup(group: group, label: 1, index: 2)
        let hashes = CostPhase(
            name: "hash to group",
            detail: "H(l)_1 and H(l)_2: SHAKE256 to 400 bytes, reduced mod p, raised to the cofactor (p − 1)/q",
            source: .standalone {
                let label = state.nextLabel()
                let a = DMCFE.hashToGroup(group: group, label: label, index: 1)
                let b = DMCFE.hashToGroup(group: group, label: label, index: 2)
                consume(UInt64(a.limbs[0] ^ b.limbs[0]))
            })
        let exponentiations = CostPhase(
            name: "exponentiations by s",
            detail: "H(l)_1^{s_1} · H(l)_2^{s_2} mod p: two 256-bit exponentiations and one multiplication",
            source: .standalone {
                let a = DMCFE.power(h1, secret.s1)
                let b = DMCFE.power(h2, secret.s2)
                consume(UInt64(DMCFE.multiply(a, b).limbs[0]))
            })
        let boundary = CostPhase(
            name: "boundary step",
            detail:
                "with the pad precomputed: sample, pad · g^x (64-bit exponent), the frame sealed and written to the outbox, sent",
            source: .boundaryStep)
        return [hashes, exponentiations, .customerDetail(scheme: .dmcfe), boundary]
    }
}

/// Discrete-logarithm tables by bound, built once per process.
final class TableCache: @unchecked Sendable {
    private var tables: [UInt64: DiscreteLogTable] = [:]
    private let lock = NSLock()

    func table(bound: UInt64, maxEntries: Int) throws -> DiscreteLogTable {
        try lock.withLock {
            if let t = tables[bound] { return t }
            let t = try DiscreteLogTable(bound: bound, maxEntries: maxEntries)
            tables[bound] = t
            return t
        }
    }
}

// MARK: - The meter

/// Meter 1 of a two-meter DMCFE group (`ProbeGroup`) after a real key setup (ffdhe3072,
/// the pairwise seed kept) and the functional key for y = (1, 1).
enum DMCFEReadingProbe {
    static func make() throws -> SimulatedReadingProbe {
        let group = try ProbeGroup.make(scheme: .dmcfe)
        let members = group.members
        let setup = try group.setUpDMCFE(maxReading: LWRCostScheme.maxReading)
        let weights = Dictionary(uniqueKeysWithValues: members.meters.map { ($0, Int64(1)) })
        let shares = try group.functionalKeyShares(setup, weights: weights)
        let aggregator = try DMCFEAggregator(
            members: members, weights: weights, keyShares: shares,
            table: DMCFECostScheme.tables.table(bound: ProbeGroup.labelSum, maxEntries: 1 << 10), currentLabel: 0)
        return try ProbeGroup.readingProbe(
            group, ciphertextBytes: DMCFE.ciphertextBytes, accept: { try aggregator.acceptAndAcknowledge($0).ack },
            decrypt: { try aggregator.decryptSum(label: $0) })
    }
}

// MARK: - The aggregator

/// A group of n meters with real sealed DMCFE reading frames and functional-key shares
/// for y = (1, …, 1), replayed into fresh `DMCFEAggregator`s. The aggregator does not see
/// how a ciphertext was made, so the frames are built cheaply: s_i = i·a (mod q), so that
/// meter i's pad is meter i − 1's times H(l)_1^{a_1}·H(l)_2^{a_2}, one multiplication per
/// meter instead of two exponentiations; the key shares are the s_i themselves (masks
/// t_i = 0 sum to zero as the pairwise ones do).
final class DMCFELabelWorkload: LabelWorkload {
    let group: UInt32 = 7
    /// The replayed group: meter ids, frame keys.
    let replayed: WorkloadGroup
    let keyShares: [[UInt8]]
    let table: DiscreteLogTable
    let labels: [UInt64]
    let frames: [[[UInt8]]]
    let sums: [UInt64]
    var aggregator: DMCFEAggregator?

    var meters: Int { replayed.ids.count }
    var labelCount: Int { labels.count }

    init(meters: Int, labels labelCount: Int, table: DiscreteLogTable) throws {
        self.table = table
        var workload = try WorkloadGroup(
            group: group, scheme: .dmcfe, meters: meters, labels: labelCount, seed: 0xD3C0 &+ UInt64(meters))
        replayed = workload
        labels = workload.labels
        let ids = workload.ids
        let intake = workload.intake

        var step: DMCFESecret? = nil
        while step == nil {
            let random = workload.bytes(DMCFESecret.randomByteCount)
            step = DMCFESecret(randomBytes: random.span)
        }
        let a = step!
        let weights = Dictionary(uniqueKeysWithValues: ids.map { ($0, Int64(1)) })
        let digest = DMCFEAggregator.digest(of: weights)
        let zero = DMCFE.Exponent(repeating: 0)
        var s1 = zero
        var s2 = zero
        var shares: [[UInt8]] = []
        shares.reserveCapacity(meters)
        for id in ids {
            s1 = DMCFE.addExponents(s1, a.s1)
            s2 = DMCFE.addExponents(s2, a.s2)
            guard let secret = DMCFESecret(s1: s1, s2: s2) else {
                throw CostProbeError.setupFailed("s_\(id) is not below q")
            }
            var share = [UInt8](repeating: 0, count: DMCFE.keyShareBytes)
            var span = share.mutableSpan
            DMCFE.keyShare(secret: secret, weight: 1, t1: zero, t2: zero, into: &span)
            shares.append(intake.seal(.functionalKeyShare, to: id, label: 0, payload: digest + share))
        }
        keyShares = shares

        let group = group
        (frames, sums) = try workload.readingFrames(maxReading: LWRCostScheme.maxReading) { label in
            let h1 = DMCFE.hashToGroup(group: group, label: label, index: 1)
            let h2 = DMCFE.hashToGroup(group: group, label: label, index: 2)
            let padStep = DMCFE.multiply(DMCFE.power(h1, a.s1), DMCFE.power(h2, a.s2))
            var pad = Limbs3072(1)
            return { _, reading in
                pad = DMCFE.multiply(pad, padStep)
                let ct = DMCFE.encrypt(reading: reading, pad: pad)
                var payload = [UInt8](repeating: 0, count: DMCFE.ciphertextBytes)
                var span = payload.mutableSpan
                ct.bigEndianBytes(into: &span)
                return payload
            }
        }
    }

    func start(label index: Int) throws {
        let members = try replayed.freshMembers()
        let weights = Dictionary(uniqueKeysWithValues: members.meters.map { ($0, Int64(1)) })
        aggregator = try DMCFEAggregator(
            members: members, weights: weights, keyShares: keyShares, table: table, currentLabel: labels[index])
    }

    func collect(label index: Int) throws {
        guard let aggregator else { preconditionFailure("collect before start") }
        for frame in frames[index] { _ = try aggregator.accept(frame) }
    }

    func decrypt(label index: Int) throws -> Bool {
        guard let aggregator else { preconditionFailure("decrypt before start") }
        return try aggregator.decryptSum(label: labels[index]) == sums[index]
    }

    func finish() { aggregator = nil }
}
