import Aggregation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning
import Testing

@Suite("Simulator toolkit: the group harness")
struct GroupHarnessTests {
    @Test("an LWR-PSA group set up through the harness decrypts its first label exactly")
    func lwrGroup() throws {
        let group = try SimulatedGroup(authority: ProvisioningAuthority(seed: 3), meters: 3, watts: 1200)
        #expect(group.meters.map(\.id) == [1, 2, 3])
        #expect(group.members.meters == [1, 2, 3] && group.members.scheme == .lwrPSA)
        let (_, aggregator) = try group.setUpLWR(maxReading: 1000)
        #expect(group.meters.allSatisfy { $0.firmware.phase == .ready })
        let sent = group.runInterval()
        let label = try #require(
            sent.first?.compactMap { try? Frame.parseHeader($0.span) }.first { $0.type == .reading }
        )
        .label
        for frames in sent {
            for frame in frames where frame[1] == FrameType.reading.rawValue { _ = try aggregator.accept(frame) }
        }
        // 1.2 kW for 15 minutes is 300 Wh per meter.
        #expect(try aggregator.decryptSum(label: label) == 900)
    }

    @Test("a DMCFE group: every meter answers the policy with one functional-key share")
    func dmcfeGroup() throws {
        let group = try SimulatedGroup(
            authority: ProvisioningAuthority(seed: 4), group: 5, scheme: .dmcfe, ids: [10, 20], profile: { _ in [1] })
        let setup = try group.setUpDMCFE(maxReading: 100)
        #expect(setup.isComplete)
        let ones = Dictionary(uniqueKeysWithValues: group.members.meters.map { ($0, Int64(1)) })
        let shares = try group.functionalKeyShares(setup, weights: ones)
        #expect(shares.count == 2)
        #expect(shares.allSatisfy { $0[1] == FrameType.functionalKeyShare.rawValue })
    }

    @Test("key setup on one thread or several: the same keys, the same meter CPU slots filled")
    func parallelSetup() throws {
        func aggregateKey(threads: Int) throws -> ([UInt64], [Double]) {
            let group = try SimulatedGroup(authority: ProvisioningAuthority(seed: 9), meters: 4)
            let setup = try group.lwrKeySetup(maxReading: 500)
            let cpu = MeterCPU(meters: 4)
            let runner = ParallelRunner(threads: threads)
            try group.enrolAndSign(setup, runner: runner, cpu: cpu)
            _ = try group.completeLWR(setup, runner: runner, cpu: cpu)
            return (try setup.aggregateKey(), cpu.perMeter)
        }
        let (one, oneCPU) = try aggregateKey(threads: 1)
        let (two, twoCPU) = try aggregateKey(threads: 2)
        #expect(one == two)
        #expect(oneCPU.count == 4 && twoCPU.allSatisfy { $0 > 0 })
    }

    @Test("a meter that refuses the statement stalls setup with its id")
    func stalled() throws {
        let group = try SimulatedGroup(authority: ProvisioningAuthority(seed: 5), meters: 2)
        let setup = try group.lwrKeySetup(maxReading: 500)
        try group.enrolAndSign(setup)
        // Meter 2 loses its keys (factory reset): it no longer takes the group's statement.
        group.meters[1].board.restoreFlash([UInt8](repeating: 0xFF, count: group.meters[1].board.flashSize))
        try group.meters[1].reboot()
        var stalled: UInt32? = nil
        do { _ = try group.completeLWR(setup) } catch let SimulatorError.setupStalled(meter, _) { stalled = meter }
        #expect(stalled == 2)
    }

    @Test("a replayed workload group is the same for the same seed")
    func workload() throws {
        func frames(seed: UInt64) throws -> ([[[UInt8]]], [UInt64]) {
            var w = try WorkloadGroup(group: 7, scheme: .lwrPSA, meters: 3, labels: 2, seed: seed)
            #expect(w.ids == [1, 2, 3] && w.labels == [500, 501])
            #expect(try w.freshMembers().meters == [1, 2, 3])
            return try w.readingFrames(maxReading: 10) { _ in { i, reading in [UInt8(i), UInt8(reading)] } }
        }
        let a = try frames(seed: 1)
        let b = try frames(seed: 1)
        #expect(a.0 == b.0 && a.1 == b.1)
        #expect(try frames(seed: 2).0 != a.0)
    }
}
