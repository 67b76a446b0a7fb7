// LWR-PSA in the cost report: both parameter sets, both key modes.
import Aggregation
import MeterCrypto
import MeterFirmware
import MeterSimulator

/// LWR-PSA with one parameter set and one key mode.
public struct LWRCostScheme: CostScheme {
    public let parameters: LWRParameters
    public let keyMode: KeyMode

    public init(parameters: LWRParameters, keyMode: KeyMode) {
        self.parameters = parameters
        self.keyMode = keyMode
    }

    /// Every configuration the firmware supports.
    public static var all: [LWRCostScheme] {
        [LWRParameters.standard, .turbo].flatMap { p in
            [KeyMode.seed, .expanded].map { LWRCostScheme(parameters: p, keyMode: $0) }
        }
    }

    /// Flash geometry of the simulated board (`SimulatedMeter`'s default).
    static let sectorSize = 4096
    /// The largest reading of the measured groups, in Wh (the demo's default).
    static let maxReading: UInt64 = 5000

    public var id: CostVariantID {
        CostVariantID(
            scheme: "lwr-psa", parameters: parameters == .standard ? "standard" : "turbo",
            variant: keyMode == .seed ? "seed" : "expanded")
    }

    public var parameterSetName: String { "\(parameters.name)" }
    public var ciphertextBytes: Int { parameters.ciphertextBytes }
    public var frameBytes: Int { Frame.size(payloadLength: parameters.ciphertextBytes) }

    public var keyStore: KeyStoreFootprint {
        // The state a ready meter keeps (typed records: identity, frame and provisioning
        // keys, parameters, PSA seed; the expanded key's sums in that mode) in a journal of
        // two sectors; the expanded key itself takes its own sectors.
        var record = MeterRecord()
        record.phase = .ready
        record.keyMode = keyMode
        let journalFlash = 2 * Self.sectorSize
        guard keyMode == .expanded else {
            return KeyStoreFootprint(bytes: record.bodyBytes, flashBytes: journalFlash)
        }
        let keyBytes = parameters.lambda * 8
        let keySectors = (keyBytes + Self.sectorSize - 1) / Self.sectorSize
        return KeyStoreFootprint(
            bytes: record.bodyBytes + keyBytes, flashBytes: journalFlash + keySectors * Self.sectorSize)
    }

    public var firmwareState: [StateItem] {
        [
            StateItem(
                name: "Meter<LWRScheme> (the whole firmware state)", bytes: MemoryLayout<Meter<LWRScheme>>.size,
                isTotal: true),
            StateItem(
                name: "LWR-PSA state (the next label's pad, key-setup state; peer seeds in flash)",
                bytes: MemoryLayout<LWRScheme>.size, isTotal: false),
            StateItem(name: "frame + inbox buffers", bytes: 2 * Frame.maxFrameBytes, isTotal: false),
            StateItem(name: "MeterRecord (key store state)", bytes: MemoryLayout<MeterRecord>.size, isTotal: false),
        ]
    }

    public func makeMeter() throws -> any ReadingProbe {
        try LWRReadingProbe.make(parameters: parameters, keyMode: keyMode)
    }

    public func makeStatementProbe() throws -> (any StatementProbe)? {
        let (parameters, keyMode) = (self.parameters, self.keyMode)
        return try SimulatedStatementProbe.groupParameters(scheme: .lwrPSA) { members in
            try LWRKeySetup(
                members: members, parameters: parameters, maxReading: LWRCostScheme.maxReading,
                keyMode: keyMode.rawValue)
        }
    }

    public func makeLabelWorkload(meters: Int, labels: Int) throws -> any LabelWorkload {
        try LWRLabelWorkload(parameters: parameters, meters: meters, labels: labels)
    }

    public func makePhases() throws -> [CostPhase] {
        let lambda = parameters.lambda
        let parameters = self.parameters
        let group: UInt32 = 1
        let state = PhaseState()
        var seedBytes = [UInt8](repeating: 0, count: 32)
        for i in seedBytes.indices { seedBytes[i] = UInt8(truncatingIfNeeded: i &* 29 &+ 7) }
        let seed = seedBytes

        // The inputs of the inner product, computed once: a_l and k as λ words each.
        var key = LWRPSA.keyStream(parameters: parameters, seed: seed.span)
        let keyWords = (0..<lambda).map { _ in key.squeezeWord() }
        var a = LWRPSA.labelExpansion(parameters: parameters, group: group, label: 1)
        let labelWords = (0..<lambda).map { _ in a.squeezeWord() }

        let expansion = CostPhase(
            name: "label expansion",
            detail: "a_l: the XOF over (domain, set, group, label) and λ = \(lambda) word squeezes",
            source: .standalone {
                var x = LWRPSA.labelExpansion(parameters: parameters, group: group, label: state.nextLabel())
                var acc: UInt64 = 0
                for _ in 0..<lambda { acc ^= x.squeezeWord() }
                consume(acc)
            })

        let keyStream: CostPhase
        switch keyMode {
        case .seed:
            keyStream = CostPhase(
                name: "key stream",
                detail: "k re-expanded from its 32-byte seed: the XOF and λ word squeezes",
                source: .standalone {
                    var x = LWRPSA.keyStream(parameters: parameters, seed: seed.span)
                    var acc: UInt64 = 0
                    for _ in 0..<lambda { acc ^= x.squeezeWord() }
                    consume(acc)
                })
        case .expanded:
            // A bare board (no meter): the key read from its flash through the HAL.
            let scratch = try SimulatedBoard(SimulatedBoard.Configuration(sectorCount: 16, rngSeed: 1))
            let board = scratch.hal
            // The key as the firmware stores it: little-endian words from address 0.
            var bytes = [UInt8](repeating: 0, count: lambda * 8)
            for (j, w) in keyWords.enumerated() {
                for b in 0..<8 { bytes[8 * j + b] = UInt8(truncatingIfNeeded: w >> UInt64(8 * b)) }
            }
            for s in 0..<UInt32((lambda * 8 + Self.sectorSize - 1) / Self.sectorSize) {
                try board.erase(sector: s)
            }
            for offset in stride(from: 0, to: bytes.count, by: 256) {
                try board.program(UInt32(offset), bytes[offset..<(offset + 256)].span)
            }
            keyStream = CostPhase(
                name: "key stream",
                detail: "k read from flash: λ/64 HAL reads of 512 bytes, bytes to words (as Meter.computePad)",
                source: .standalone {
                    withExtendedLifetime(scratch) {
                        var page = InlineArray<512, UInt8>(repeating: 0)
                        var acc: UInt64 = 0
                        var address: UInt32 = 0
                        var remaining = lambda
                        while remaining > 0 {
                            var span = page.mutableSpan
                            try! board.read(address, into: &span)
                            for w in 0..<64 {
                                var v: UInt64 = 0
                                for b in 0..<8 { v |= UInt64(page[8 * w + b]) << UInt64(8 * b) }
                                acc ^= v
                            }
                            address += 512
                            remaining -= 64
                        }
                        consume(acc)
                    }
                })
        }

        let innerProduct = CostPhase(
            name: "inner product",
            detail: "Σ a_l[j]·k[j] mod 2^64 over two precomputed λ-word vectors",
            source: .standalone {
                consume(wrappingInnerProduct(labelWords, keyWords))
            })

        let boundary = CostPhase(
            name: "boundary step",
            detail: "with F_k(l) precomputed: sample, add Δ·x, persist the label counter, seal and send the frame",
            source: .boundaryStep)
        return [expansion, keyStream, innerProduct, .customerDetail(scheme: .lwrPSA), boundary]
    }
}

/// A fresh label per phase run (the firmware never expands the same label twice).
final class PhaseState {
    private var label: UInt64 = 1_000
    func nextLabel() -> UInt64 {
        label &+= 1
        return label
    }
}

/// Σ a[j]·b[j] mod 2^64.
@inline(never)
func wrappingInnerProduct(_ a: [UInt64], _ b: [UInt64]) -> UInt64 {
    precondition(a.count == b.count, "inner product of vectors of different lengths")
    return a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            var acc: UInt64 = 0
            for j in 0..<pa.count { acc &+= pa[j] &* pb[j] }
            return acc
        }
    }
}

/// Keeps a value alive so the optimiser cannot drop the work that made it.
@inline(never)
func consume(_ value: UInt64) {
    sink.store(value)
}

/// Where `consume` puts values.
final class Sink: @unchecked Sendable {
    private var value: UInt64 = 0
    func store(_ v: UInt64) { value ^= v }
}
let sink = Sink()

// MARK: - The meter

/// Meter 1 of a two-meter group (`ProbeGroup`) after a real key setup (ffdhe3072, zero
/// shares).
enum LWRReadingProbe {
    static func make(parameters: LWRParameters, keyMode: KeyMode) throws -> SimulatedReadingProbe {
        let group = try ProbeGroup.make(scheme: .lwrPSA)
        let (_, aggregator) = try group.setUpLWR(
            parameters: parameters, maxReading: LWRCostScheme.maxReading, keyMode: keyMode)
        return try ProbeGroup.readingProbe(
            group, ciphertextBytes: parameters.ciphertextBytes, accept: { try aggregator.acceptAndAcknowledge($0).ack },
            decrypt: { try aggregator.decryptSum(label: $0) })
    }
}

// MARK: - The aggregator

/// A group of n meters with random keys (each from a 32-byte seed, as the firmware's seed
/// mode) and their sealed reading frames, replayed into fresh `LWRAggregator`s.
final class LWRLabelWorkload: LabelWorkload {
    let parameters: LWRParameters
    let bounds: LWRGroupBounds
    let group: UInt32 = 7
    /// The replayed group: meter ids, frame keys.
    let replayed: WorkloadGroup
    let aggregateKey: [UInt64]
    let labels: [UInt64]
    let frames: [[[UInt8]]]
    let sums: [UInt64]
    var aggregator: LWRAggregator?

    var meters: Int { replayed.ids.count }
    var labelCount: Int { labels.count }

    init(parameters: LWRParameters, meters: Int, labels labelCount: Int) throws {
        self.parameters = parameters
        bounds = try LWRGroupBounds(
            meters: UInt32(meters), maxReading: LWRCostScheme.maxReading, parameters: parameters)
        var workload = try WorkloadGroup(
            group: group, scheme: .lwrPSA, meters: meters, labels: labelCount, seed: 0xA66 &+ UInt64(meters))
        replayed = workload
        labels = workload.labels
        let seeds = workload.ids.map { _ in workload.bytes(32) }
        var aggregate = [UInt64](repeating: 0, count: parameters.lambda)
        for seed in seeds {
            var k = LWRPSA.keyStream(parameters: parameters, seed: seed.span)
            for j in 0..<parameters.lambda { aggregate[j] &+= k.squeezeWord() }
        }
        aggregateKey = aggregate
        let (parameters, bounds, group) = (parameters, bounds, group)
        (frames, sums) = try workload.readingFrames(maxReading: LWRCostScheme.maxReading) { label in
            { i, reading in
                let seed = seeds[i]
                let pad = LWRPSA.prf(parameters: parameters, seed: seed.span, group: group, label: label)
                let c = try LWRPSA.encrypt(reading: reading, pad: pad, bounds: bounds, parameters: parameters)
                return (0..<8).map { UInt8(truncatingIfNeeded: c >> UInt64(56 - 8 * $0)) }
            }
        }
    }

    func start(label index: Int) throws {
        let members = try replayed.freshMembers()
        aggregator = try LWRAggregator(
            members: members, parameters: parameters, bounds: bounds, aggregateKey: aggregateKey.map { $0 },
            currentLabel: labels[index])
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
