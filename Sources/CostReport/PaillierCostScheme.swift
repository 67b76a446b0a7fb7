// Paillier in the cost report: 2048- and 3072-bit supplier keys, one group per meter.
import Aggregation
import BigNum
import MeterCrypto
import MeterFirmware
import MeterSimulator

/// Paillier with one key size; the meter reports to one group.
public struct PaillierCostScheme: CostScheme {
    public let bits: Int

    public init(bits: Int) {
        precondition(bits == 2048 || bits == 3072, "the meter takes 2048- or 3072-bit keys")
        self.bits = bits
    }

    /// Every key size the firmware supports.
    public static var all: [PaillierCostScheme] { [2048, 3072].map { PaillierCostScheme(bits: $0) } }

    /// The supplier's key for `bits`, generated once per process from a fixed seed (the
    /// report needs a key, not a secret one).
    static func key(bits: Int) -> PaillierPrivateKey { bits == 2048 ? key2048 : key3072 }
    static let key2048 = makeKey(bits: 2048)
    static let key3072 = makeKey(bits: 3072)
    static func makeKey(bits: Int) -> PaillierPrivateKey {
        var generator = SeededGenerator(seed: 0xC0_57_2A11 &+ UInt64(bits))
        do { return try PaillierPrivateKey.generate(bits: bits, using: &generator) } catch {
            preconditionFailure("Paillier key generation failed: \(error)")
        }
    }

    public var id: CostVariantID { CostVariantID(scheme: "paillier", parameters: "\(bits)", variant: "-") }
    public var parameterSetName: String { "paillier-\(bits)-g=n+1" }
    public var ciphertextBytes: Int { bits / 4 }
    public var frameBytes: Int { Frame.size(payloadLength: ciphertextBytes) }

    public var keyStore: KeyStoreFootprint {
        // The key-store slot with the Paillier key record (identity, keys, N, groups); the
        // journal's two sectors. The Paillier outbox ring is not key material.
        var record = MeterRecord()
        var key = PaillierKeyRecord()
        key.bits = UInt16(bits)
        key.groupCount = 1
        record.paillierKey = key
        return KeyStoreFootprint(bytes: record.bodyBytes, flashBytes: 2 * LWRCostScheme.sectorSize)
    }

    public var firmwareState: [StateItem] {
        [
            StateItem(
                name: "Meter<PaillierScheme> (the whole firmware state)",
                bytes: MemoryLayout<Meter<PaillierScheme>>.size, isTotal: true),
            StateItem(
                name: "Paillier state (N, N², 4 randomizers r^N mod N²)",
                bytes: Meter<PaillierScheme>.paillierStateBytes, isTotal: false),
            StateItem(name: "frame + inbox buffers", bytes: 2 * Frame.maxFrameBytes, isTotal: false),
            StateItem(
                name: "MeterRecord (key store state, N included)", bytes: MemoryLayout<MeterRecord>.size, isTotal: false
            ),
        ]
    }

    public func makeMeter() throws -> any ReadingProbe { try PaillierReadingProbe.make(key: Self.key(bits: bits)) }

    public func makeStatementProbe() throws -> (any StatementProbe)? {
        try SimulatedStatementProbe.paillierKey(Self.key(bits: bits).publicKey)
    }

    public func makeLabelWorkload(meters: Int, labels: Int) throws -> any LabelWorkload {
        try PaillierLabelWorkload(key: Self.key(bits: bits), meters: meters, labels: labels)
    }

    public func makePhases() throws -> [CostPhase] {
        let key = Self.key(bits: bits)
        let n = key.publicKey.n.bigEndianBytes(length: bits / 8)!
        let meterKey = try PaillierMeterKey(modulusBigEndian: n.span)
        // One randomizer computed here; each run encrypts with a copy (encrypt wipes its
        // argument, never the template).
        var template = PaillierRandomizer()
        var rng = SeededGenerator(seed: 0xFACE)
        var accepted = false
        while !accepted {
            let r = (0..<(bits / 8)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            accepted = template.precompute(key: meterKey, randomBytes: r.span)
        }
        let randomizer = template
        let state = PhaseState()
        let bits = self.bits
        let exponentiation = CostPhase(
            name: "exponentiation",
            detail: "r^N mod N² while idle: r drawn and checked (mpn_sub_n, mpn_sec_invert), mpn_sec_powm",
            source: .prepareStep)
        let online = CostPhase(
            name: "online multiplication",
            detail: "(1 + m·N)·R mod N² with R precomputed: mpn_mul_1, mpn_add_n, mpn_sec_mul, mpn_sec_div_r",
            source: .standalone {
                var r = randomizer
                var out = InlineArray<768, UInt8>(repeating: 0)
                var span = out.mutableSpan
                try! Paillier.encrypt(
                    reading: state.nextLabel() % 5000, randomizer: &r, key: meterKey, into: &span, at: 768 - bits / 4)
                consume(UInt64(out[767]))
            })
        let boundary = CostPhase(
            name: "boundary step",
            detail: "with R precomputed: sample, the multiplication, the frame sealed and written to the outbox, sent",
            source: .boundaryStep)
        return [exponentiation, online, .customerDetail(scheme: .paillier), boundary]
    }
}

// MARK: - The meter

/// Meter 1 of a two-meter Paillier group (`ProbeGroup`), the key delivered over the radio.
enum PaillierReadingProbe {
    static func make(key: PaillierPrivateKey) throws -> SimulatedReadingProbe {
        let group = try ProbeGroup.make(scheme: .paillier)
        let (meters, members, authority) = (group.meters, group.members, group.authority)
        let layout = try GroupLayout(
            signed: authority.signLayout(groups: [1: Set(members.meters)], epoch: members.epoch),
            authorityKey: authority.publicKey)
        let aggregator = try PaillierAggregator(
            members: members, publicKey: key.publicKey, layout: layout, currentLabel: 0, keepsReadings: false)
        let supplier = PaillierSupplier(privateKey: key, layout: layout)
        do {
            try SignedSetup.deliverPaillierKey(
                meters: meters, publicKey: key.publicKey, aggregator: aggregator, authority: authority,
                layoutEpoch: members.epoch)
        } catch {
            throw CostProbeError.setupFailed("key delivery: \(error)")
        }
        return try ProbeGroup.readingProbe(
            group, ciphertextBytes: key.publicKey.ciphertextBytes,
            accept: { try aggregator.acceptAndAcknowledge($0).ack },
            decrypt: { try supplier.decryptSum(aggregator.aggregate(label: $0)) })
    }
}

// MARK: - The aggregator

/// A group of n meters with real sealed Paillier reading frames, replayed into fresh
/// `PaillierAggregator`s; the supplier decrypts the product. The aggregator does not see
/// how a ciphertext was made, so the frames are built cheaply: R_i = R_{i−1}·R mod N², an
/// encryption with r_i = r^i (a valid randomizer) for one multiplication each instead of
/// an exponentiation per meter.
final class PaillierLabelWorkload: LabelWorkload {
    let key: PaillierPrivateKey
    let group: UInt32 = 7
    /// The replayed group: meter ids, frame keys.
    let replayed: WorkloadGroup
    let labels: [UInt64]
    let frames: [[[UInt8]]]
    let sums: [UInt64]
    var aggregator: PaillierAggregator?
    var supplier: PaillierSupplier?

    var meters: Int { replayed.ids.count }
    var labelCount: Int { labels.count }

    init(key: PaillierPrivateKey, meters: Int, labels labelCount: Int) throws {
        self.key = key
        let publicKey = key.publicKey
        var workload = try WorkloadGroup(
            group: group, scheme: .paillier, meters: meters, labels: labelCount, seed: 0xBA11 &+ UInt64(meters))
        replayed = workload
        labels = workload.labels
        let nSquared = publicKey.nSquared
        let step = publicKey.encrypt(
            BigInt(0), randomizer: BigInt(bigEndian: workload.bytes(publicKey.modulusBytes - 1))
        ).value
        var randomizer = BigInt(1)
        (frames, sums) = try workload.readingFrames(maxReading: LWRCostScheme.maxReading) { _ in
            { _, reading in
                randomizer.multiply(by: step, modulo: nSquared)
                var c = publicKey.trivialEncryption(BigInt(reading)).value
                c.multiply(by: randomizer, modulo: nSquared)
                return c.bigEndianBytes(length: publicKey.ciphertextBytes)!
            }
        }
    }

    func start(label index: Int) throws {
        let members = try replayed.freshMembers()
        let layout = try GroupLayout(group: group, meters: members.meters)
        aggregator = try PaillierAggregator(
            members: members, publicKey: key.publicKey, layout: layout, currentLabel: labels[index],
            keepsReadings: false)
        supplier = PaillierSupplier(privateKey: key, layout: layout)
    }

    func collect(label index: Int) throws {
        guard let aggregator else { preconditionFailure("collect before start") }
        for frame in frames[index] { _ = try aggregator.accept(frame) }
    }

    func decrypt(label index: Int) throws -> Bool {
        guard let aggregator, let supplier else { preconditionFailure("decrypt before start") }
        return try supplier.decryptSum(aggregator.aggregate(label: labels[index])) == sums[index]
    }

    func finish() {
        aggregator = nil
        supplier = nil
    }
}
