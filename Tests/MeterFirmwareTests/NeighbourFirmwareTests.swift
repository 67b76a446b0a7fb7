import Aggregation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning
import Testing

/// LWR-PSA over the neighbour graph on the real firmware (docs/spec/dropout.md): silent
/// meters, the bounds a meter keeps, and power cuts in its key setup.
@Suite("Neighbour-graph firmware")
struct NeighbourFirmwareTests {
    /// A fleet of `n` firmware meters over the graph, nobody silent unless `silent` says.
    func fleet(_ n: Int = 16, degree: Int = 4, silent: @escaping @Sendable (UInt64) -> Set<Int>) throws -> Fleet {
        var c = FleetConfiguration()
        c.meters = n
        c.threads = 2
        c.keySetup = .neighbourGraph
        c.keyMode = .expanded
        c.graphPlan = NeighbourGraphAnalysis.plan(meters: UInt32(n), silentFraction: 0.3).with(
            degree: degree, maxSilent: degree)
        c.silentAt = silent
        let f = try Fleet(c, labels: 16)
        _ = try f.runKeySetup()
        return f
    }

    @Test("0, 1, adjacent, a run of them and many silent meters; a silent meter that comes back; exact sums")
    func silentMeters() throws {
        // Ring positions are fixed by the signed seed: the silent sets are chosen on the ring.
        let probe = try fleet(silent: { _ in [] })
        let ring = probe.neighbourAggregator!.group.roster.entries.map(\.meter)
        let index = Dictionary(uniqueKeysWithValues: probe.meters.enumerated().map { ($1.id, $0) })
        let at: [UInt64: Set<Int>] = [
            1: [index[ring[3]]!],
            2: [index[ring[15]]!, index[ring[0]]!],  // adjacent across the wrap
            3: [index[ring[6]]!, index[ring[7]]!, index[ring[8]]!],  // a run longer than k/2
            4: [],  // the meter of label 1 is back, and the others
            5: [0, 4, 8, 12],
        ]
        let f = try fleet(silent: { at[$0] ?? [] })
        for label in UInt64(0)..<6 {
            let r = try f.runLabel(label)
            #expect(r.exact, "label \(label): decrypted \(r.decryptedSum), true \(r.trueSum)")
            #expect(r.reporting == 16 - (at[label]?.count ?? 0))
            #expect(r.silent == at[label]?.count ?? 0)
            #expect((r.recoveryMessages > 0) == (r.silent > 0))
        }
        // The silent meters confirmed once back: every answer about them was given back.
        #expect(!f.relayedConfirmations.isEmpty)
    }

    @Test(
        "a meter silent for more than B labels in a row: its recovery stops at the budget, and resumes once it confirms"
    )
    func budgetAndConfirmations() throws {
        let f = try fleet(silent: { $0 >= 1 && $0 <= 5 ? [2] : [] })
        let budget = f.neighbourAggregator!.group.terms.budget
        #expect(budget == 4)
        var exact: [Bool] = []
        for label in UInt64(0)..<8 { exact.append(try f.runLabel(label).exact) }
        // Labels 1 … 4 spend the neighbours' budget for meter 2; label 5 finds none left;
        // at label 6 meter 2 is back, confirms 1 … 4, and label 7 would be recoverable again.
        #expect(exact == [true, true, true, true, true, false, true, true])
        let confirmed = f.relayedConfirmations.count
        #expect(confirmed == 4 * f.neighbourAggregator!.group.neighbours(of: f.meters[2].id).count)
        // A replayed confirmation gives nothing back and writes nothing.
        let replay = f.relayedConfirmations[0]
        let meter = f.meters.first { $0.id == replay.meter }!
        let before = meter.board.flashOperations
        _ = try meter.handle(replay.frame)
        #expect(meter.takeSent().isEmpty)
        #expect(meter.board.flashOperations == before)
    }

    @Test("a power cut at every flash operation of the neighbour setup: old or new state, never a mix")
    func powerCutDuringSetup() throws {
        let authority = ProvisioningAuthority(seed: 21)
        let model = LoadModel(maxWattHoursPerInterval: 5000)
        let meters = try (1...8).map { i in
            try SimulatedMeter(
                factory: authority.manufacture(meter: UInt32(i)), seed: UInt64(i), profile: model.household(seed: 7),
                sampleSeconds: 60)
        }
        let members = try authority.members(
            group: 3, epoch: authority.issueEpoch(), scheme: .lwrPSA, meters: meters.map(\.id))
        let relay = try NeighbourKeySetup(members: members, parameters: .standard, maxReading: 5000)
        let plan = NeighbourGraphAnalysis.plan(meters: 8).with(degree: 4, maxSilent: 2)
        try SignedSetup.enrolAndSignNeighbourGroup(meters: meters, relay: relay, authority: authority, plan: plan)
        let victim = meters[5]
        let frames = try relay.setupFrames(for: victim.id)
        let snapshot = victim.board.flashSnapshot()
        // The uncut setup: the flash operations it takes and the ciphertext its key gives.
        func finishAndEncrypt() throws -> UInt64 {
            _ = victim.takeSent()
            try victim.firmware.encryptAndSend(label: 100, reading: 7)
            let f = victim.takeSent().first { $0[1] == FrameType.reading.rawValue }!
            return BigEndian.load64(Array(f[Frame.headerBytes..<(Frame.headerBytes + 8)]).span, at: 0)
        }
        let start = victim.board.flashOperations
        for frame in frames { _ = try victim.handle(frame) }
        #expect(victim.firmware.phase == .ready)
        let operations = victim.board.flashOperations - start
        let reference = try finishAndEncrypt()
        #expect(operations > 40)
        var outcomes: [MeterPhase: Int] = [:]
        for cut in 0..<operations {
            victim.board.restoreFlash(snapshot)
            try victim.reboot()
            victim.board.armPowerCut(afterOperations: cut, mode: .partial)
            for frame in frames where victim.board.powered { _ = try victim.handle(frame) }
            victim.board.disarmPowerCut()
            try victim.reboot()
            #expect(
                victim.firmware.storeError == nil, "cut \(cut): store \(String(describing: victim.firmware.storeError))"
            )
            let phase = try #require(victim.firmware.phase)
            outcomes[phase, default: 0] += 1
            if phase != .ready {
                for frame in frames { _ = try victim.handle(frame) }
            }
            #expect(victim.firmware.phase == .ready, "cut \(cut)")
            #expect(try finishAndEncrypt() == reference, "cut \(cut): another key")
        }
        #expect(outcomes[.ready, default: 0] >= 1 && outcomes[.provisioned, default: 0] >= 1)
    }
}
