import Aggregation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning
import TestSupport
import Testing

/// The trust review's attack 2 and 5 (and the replays behind 4), from the aggregator's side:
/// on the code before signed statements the aggregator chose n and the peers (its setupBegin was
/// accepted in any phase, public keys were tagged under one group-wide MAC key) and one frame
/// key served every group. Each test would succeed against that code; the firmware refuses.
@Suite("Trust: the meter acts only on what the authority signed")
struct TrustTests {
    func stored(_ m: SimulatedMeter) -> MeterRecord? { m.firmware.storedRecord }
    func phase(_ m: SimulatedMeter) -> MeterPhase? { m.firmware.phase }
    func pending(_ m: SimulatedMeter) -> Int { m.firmware.pendingReadings }

    /// Delivers frames; the events.
    func deliver(_ frames: [[UInt8]], to meter: SimulatedMeter) throws -> [MeterEvent] {
        try frames.map { try meter.handle($0) }
    }

    func statementRejections(_ meter: SimulatedMeter) -> Int {
        meter.takeSent().compactMap(statusCode).filter { $0 == .statementRejected }.count
    }

    @Test("a group statement signed by anyone but the authority is refused: n = 2 with a forged peer (attack 2)")
    func unsignedGroup() throws {
        let bench = try TestBench(meters: 3)
        let victim = bench.meters[0]
        // The aggregator signs its own statement: the victim and one forged peer, n = 2.
        let rogue = ProvisioningAuthority(seed: 666)
        let forgedPeer = [UInt8](repeating: 0x07, count: FFDHGroup.byteCount)
        let enrolled = try #require(bench.setup.enrolments[victim.id])
        let roster = try RosterTree(publicKeys: [victim.id: Array(enrolled[0..<384]), 99: forgedPeer])
        let body = SignedGroup.body(
            group: 1, epoch: bench.setup.epoch, parameterID: LWRParameters.standard.id, keyMode: 0, maxReading: 1000,
            roster: roster)
        let forged = rogue.sign(body)
        let intake = FrameIntake(members: bench.members)
        let frames = intake.statementFrames(forged, to: victim.id)
        _ = victim.takeSent()
        let events = try deliver(frames, to: victim)
        #expect(events.last == .statusSent(.statementRejected))
        #expect(phase(victim) == .provisioned)
        #expect(stored(victim)?.groupSize == 0)
        // The genuine statement with a bit flipped in n is refused too.
        var body2 = try #require(bench.setup.signedGroup).statement.body
        body2[23] ^= 0x01
        let tampered = SignedStatement(body: body2, signature: bench.setup.signedGroup!.statement.signature)
        let frames2 = intake.statementFrames(tampered, to: victim.id)
        #expect(try deliver(frames2, to: victim).last == .statusSent(.statementRejected))
        #expect(phase(victim) == .provisioned)
    }

    @Test("a roster entry whose key is not the signed one, or a member's entry at another index, is refused (attack 2)")
    func forgedRosterEntry() throws {
        let bench = try TestBench(meters: 3)
        let victim = bench.meters[0]
        let intake = FrameIntake(members: bench.members)
        let statement = try bench.setup.statementFrames(for: victim.id)
        #expect(try deliver(statement, to: victim).last == .statementAccepted(.groupParameters))
        let entries = try bench.setup.rosterFrames(for: victim.id)
        #expect(try victim.handle(entries[0]) == .none)  // its own entry
        // Meter 2's entry with another key (the aggregator's own, or a colluder's).
        var payload = Array(entries[1][Frame.headerBytes..<(entries[1].count - Frame.tagBytes)])
        payload[8 + 10] ^= 0x01
        _ = victim.takeSent()
        #expect(
            try victim.handle(intake.seal(.rosterEntry, to: 1, label: 0, payload: payload))
                == .statusSent(.peerKeyRejected))
        // Meter 3's genuine entry relayed at meter 2's index.
        var moved = Array(entries[2][Frame.headerBytes..<(entries[2].count - Frame.tagBytes)])
        moved[3] = 1
        #expect(
            try victim.handle(intake.seal(.rosterEntry, to: 1, label: 0, payload: moved))
                == .statusSent(.peerKeyRejected))
        // Nothing changed: the genuine entries still complete setup.
        #expect(try victim.handle(entries[1]) == .none)
        #expect(try victim.handle(entries[2]) == .keyShareSent)
        #expect(phase(victim) == .ready)
    }

    @Test(
        "a ready meter is not sent back into key setup: the same or an older statement is refused (attack 2, replays)")
    func noReplay() throws {
        let bench = try TestBench(meters: 2)
        _ = try bench.completeSetup()
        let meter = bench.meters[0]
        let before = try #require(stored(meter))
        _ = meter.takeSent()
        let statement = try bench.setup.statementFrames(for: meter.id)
        #expect(try deliver(statement, to: meter).first == .statusSent(.statementRejected))
        // An enrolment request for the current epoch changes nothing either.
        #expect(try meter.handle(bench.setup.enrolFrames()[0].frame) == .statusSent(.statementRejected))
        #expect(phase(meter) == .ready)
        #expect(stored(meter) == before)
    }

    @Test("a Paillier key statement older than the one held, or for another meter, is refused (attack 4)")
    func paillierRollback() throws {
        let bench = try PaillierBench(meterCount: 2, groups: [1: [1, 2]])
        try bench.deliverKeys()
        let meter = bench.meters[0]
        let held = try #require(stored(meter))
        // The same genuine statement again (a replay of the current epoch).
        #expect(try bench.deliver(bench.keyFrames(for: meter), to: meter) == .statusSent(.statementRejected))
        // Relayed by group 1's aggregator of the statement's epoch.
        func relay(_ statement: SignedStatement) throws -> [[UInt8]] {
            let intake = FrameIntake(
                members: try bench.authority.members(
                    group: 1, epoch: statement.epoch, scheme: .paillier, meters: [1, 2]))
            return intake.statementFrames(statement, to: 1)
        }
        // Meter 2's genuine, newer statement relayed to meter 1.
        _ = try bench.authority.signLayout(groups: [1: [1, 2]], epoch: bench.epoch + 1)
        _ = try bench.authority.signLayout(groups: [1: [1, 2]], epoch: bench.epoch + 2)
        let forMeter2 = try bench.authority.signPaillierKey(
            meter: 2, publicKey: PaillierBench.key.publicKey, layoutEpoch: bench.epoch + 1)
        #expect(try bench.deliver(relay(forMeter2), to: meter) == .statusSent(.statementRejected))
        #expect(stored(meter) == held)
        // A newer key for meter 1, then the older genuine one again: the rollback is refused.
        let newer = try bench.authority.signPaillierKey(
            meter: 1, publicKey: PaillierFixturesForFirmware.otherKey.publicKey, layoutEpoch: bench.epoch + 2)
        #expect(try bench.deliver(relay(newer), to: meter) == .statementAccepted(.paillierKey))
        let older = try bench.authority.signPaillierKey(
            meter: 1, publicKey: PaillierBench.key.publicKey, layoutEpoch: bench.epoch)
        let rotated = try #require(stored(meter))
        #expect(try bench.deliver(relay(older), to: meter) == .statusSent(.statementRejected))
        #expect(stored(meter) == rotated)
        #expect(rotated.paillierEpoch == bench.epoch + 2)
    }

    @Test("frame keys are per (meter, group, epoch): a frame keyed for another group or epoch is refused (attack 5)")
    func frameKeysPerGroupAndEpoch() throws {
        let bench = try TestBench(meters: 2)
        _ = try bench.completeSetup()
        let meter = bench.meters[0]
        try meter.firmware.encryptAndSend(label: 3, reading: 10)
        #expect(pending(meter) == 1)
        // Aggregator of group 2 (holding meter 1's group-2 key) forges an ack into group 1.
        let key2 = try bench.authority.frameKey(meter: 1, group: 2, epoch: bench.members.epoch)
        let key1 = try bench.authority.frameKey(meter: 1, group: 1, epoch: bench.members.epoch)
        #expect(key1 != key2)
        let otherEpoch = try bench.authority.members(
            group: 1, epoch: bench.members.epoch + 1, scheme: .lwrPSA, meters: [1, 2])
        let forgedGroup = try GroupMembers(group: 1, epoch: 1, scheme: .lwrPSA, frameKeys: [1: key2, 2: key2])
        for intake in [FrameIntake(members: forgedGroup), FrameIntake(members: otherEpoch)] {
            #expect(try meter.handle(intake.acknowledgement(to: 1, label: 3)) == .none)
            #expect(pending(meter) == 1)
        }
        // The reading frame itself is refused by an aggregator keyed for another epoch.
        let reading = try #require(meter.takeSent().first { frameType($0) == .reading })
        #expect(throws: AggregationError.badTag(meter: 1)) {
            try FrameIntake(members: otherEpoch).open(reading, expecting: .reading)
        }
        // The genuine ack is taken.
        #expect(
            try meter.handle(FrameIntake(members: bench.members).acknowledgement(to: 1, label: 3))
                == .acknowledged(label: 3))
    }
}
