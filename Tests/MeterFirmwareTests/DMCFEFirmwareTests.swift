import Aggregation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning
import TestSupport
import Testing

/// A DMCFE group on simulated boards (`SimulatedGroup`): key setup over the radio, then
/// functional keys.
struct DMCFETestBench {
    let group: SimulatedGroup
    let setup: DMCFEKeySetup
    var meters: [SimulatedMeter] { group.meters }
    var members: GroupMembers { group.members }

    init(meters n: Int) throws {
        group = try SimulatedGroup(
            authority: ProvisioningAuthority(seed: 24), group: 9, scheme: .dmcfe, ids: (1...n).map { UInt32($0 * 2) },
            profile: { _ in [800_000] })
        setup = try group.setUpDMCFE(maxReading: 10_000)
    }

    /// Every meter's functional-key share for `weights`.
    func keyShares(_ weights: [UInt32: Int64]) throws -> [[UInt8]] {
        try group.functionalKeyShares(setup, weights: weights)
    }
}

@Suite("Meter firmware, DMCFE mode")
struct DMCFEFirmwareTests {
    static let table = try! DiscreteLogTable(bound: 100_000, maxEntries: 1 << 10)

    @Test("key setup keeps the pairwise seeds; the functional key for y = ones combines into d_y")
    func functionalKeys() throws {
        let bench = try DMCFETestBench(meters: 3)
        #expect(bench.setup.isComplete)
        for m in bench.meters {
            let phase = m.firmware.phase
            let dmcfe = m.firmware.isDMCFE
            #expect(phase == .ready)
            #expect(dmcfe)
        }
        let ids = bench.members.meters
        for weights in [Dictionary(uniqueKeysWithValues: ids.map { ($0, Int64(1)) })] {
            let shares = try bench.keyShares(weights)
            #expect(shares.count == 3)
            let aggregator = try DMCFEAggregator(
                members: bench.members, weights: weights, keyShares: shares, table: Self.table, currentLabel: 4)
            // Readings made with the meters' own secrets (derived from their key seeds): the
            // firmware's key shares must open them.
            var expected: Int64 = 0
            for m in bench.meters {
                let record = m.firmware.storedRecord
                let seed = try #require(record).psaSeed
                let secret = DMCFESecret(seed: seed.span)
                let x = UInt64(m.id) * 100
                expected += weights[m.id]! * Int64(x)
                let ct = DMCFE.encrypt(reading: x, pad: DMCFE.pad(secret: secret, group: 9, label: 4))
                var payload = [UInt8](repeating: 0, count: 384)
                var span = payload.mutableSpan
                ct.bigEndianBytes(into: &span)
                _ = try aggregator.accept(
                    FrameIntake(members: bench.members).seal(.reading, to: m.id, label: 4, payload: payload))
            }
            #expect(try aggregator.decryptInnerProduct(label: 4) == expected)
        }
    }

    @Test("a weight vector out of order or without the meter gets no key share")
    func badWeights() throws {
        let bench = try DMCFETestBench(meters: 2)
        let ids = bench.members.meters
        let intake = FrameIntake(members: bench.members)
        func entry(_ id: UInt32, _ w: Int64) -> [UInt8] {
            (0..<4).map { UInt8(truncatingIfNeeded: id >> UInt32(24 - 8 * $0)) }
                + (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: w) >> UInt64(56 - 8 * $0)) }
        }
        let m = bench.meters[0]
        _ = m.takeSent()
        // Decreasing ids.
        let reversed = [0, 0, 0, 2] + entry(ids[1], 1) + entry(ids[0], 1)
        _ = try m.handle(intake.seal(.weights, to: m.id, label: 0, payload: reversed))
        #expect(!m.takeSent().contains { $0[1] == FrameType.functionalKeyShare.rawValue })
        // A vector that leaves this meter out.
        let without = [0, 0, 0, 1] + entry(ids[1], 1)
        _ = try m.handle(intake.seal(.weights, to: m.id, label: 0, payload: without))
        #expect(!m.takeSent().contains { $0[1] == FrameType.functionalKeyShare.rawValue })
    }

    // Attack 3 of the trust review: with y = e_1, or two vectors that differ in one
    // coordinate, the aggregator solved for meter 1's secret and then read every reading.
    // The meter answers only the signed policy, y = (1, …, 1) over its roster.
    @Test("any weight vector but y = ones over the roster gets no key share (attack 3)")
    func onlyTheSignedPolicy() throws {
        let bench = try DMCFETestBench(meters: 3)
        let ids = bench.members.meters
        let m = bench.meters[0]
        _ = m.takeSent()
        let shareType = FrameType.functionalKeyShare.rawValue
        for weights: [UInt32: Int64] in [
            [ids[0]: 1, ids[1]: 0, ids[2]: 0], [ids[0]: 3, ids[1]: -2, ids[2]: 5], [ids[0]: 1, ids[1]: 1, ids[2]: 2],
            [ids[0]: 0, ids[1]: 1, ids[2]: 1],
        ] {
            for frame in try bench.setup.weightFrames(weights, for: m.id) { _ = try m.handle(frame) }
            #expect(!m.takeSent().contains { $0[1] == shareType }, "answered \(weights)")
        }
        // An id outside the roster in place of a member.
        let intake = FrameIntake(members: bench.members)
        func entry(_ id: UInt32) -> [UInt8] {
            (0..<4).map { UInt8(truncatingIfNeeded: id >> UInt32(24 - 8 * $0)) } + [0, 0, 0, 0, 0, 0, 0, 1]
        }
        let foreign = [0, 0, 0, 3] + entry(ids[0]) + entry(ids[1]) + entry(999)
        _ = try m.handle(intake.seal(.weights, to: m.id, label: 0, payload: foreign))
        #expect(!m.takeSent().contains { $0[1] == shareType })
        // The policy itself is answered, and always with the same share.
        let ones = Dictionary(uniqueKeysWithValues: ids.map { ($0, Int64(1)) })
        var answers: [[UInt8]] = []
        for _ in 0..<2 {
            for frame in try bench.setup.weightFrames(ones, for: m.id) { _ = try m.handle(frame) }
            answers += m.takeSent().filter { $0[1] == shareType }
        }
        #expect(answers.count == 2 && answers[0] == answers[1])
    }
}

@Suite("Fleet, DMCFE")
struct DMCFEFleetTests {
    @Test("the firmware's DMCFE readings decrypt to the exact sums through the wide outbox")
    func fleet() throws {
        var config = FleetConfiguration()
        config.scheme = .dmcfe
        config.meters = 3
        config.maxReading = 3000
        config.sampleSeconds = 60
        config.threads = 1
        let fleet = try Fleet(config, labels: 2)
        _ = try fleet.runKeySetup()
        for label in UInt64(0)..<2 {
            let r = try fleet.runLabel(label)
            #expect(r.exact, "label \(label): \(r.decryptedSum) vs \(r.trueSum)")
            #expect(r.trueSum > 0)
        }
        // Acked readings leave the outbox.
        for m in fleet.meters {
            _ = m.firmware.poll()
            let pending = m.firmware.pendingReadings
            #expect(pending == 0)
        }
    }
}
