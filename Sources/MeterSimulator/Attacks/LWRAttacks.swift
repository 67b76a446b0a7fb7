import Aggregation
import MeterCrypto
import MeterFirmware
import Provisioning

/// Issue 9, attack 1: readings in clear. Any frame a meter sends, over many intervals and
/// with one meter above the signed maximum, is scanned for each reading's bytes.
public struct PlaintextStatusAttack: Attack {
    public let id = "plaintext-status"
    public let scheme = "lwr-psa"
    public let tries =
        "read readings off the air: every frame of 3 meters over 8 intervals (meter 1 at 500 Wh above the signed maximum 400) scanned for each reading as 8 bytes, big- and little-endian"
    public init() {}

    public func run() throws -> AttackOutcome {
        let bench = try AttackGroup(meters: 3, watts: { [2000, 1200, 1400][$0] }, maxReading: 400)
        let aggregator = try bench.complete()
        var frames = 0
        var statuses = 0
        var leaks: [String] = []
        for label in UInt64(0)..<8 {
            for (i, sent) in bench.runInterval().enumerated() {
                let reading = bench.reading(i)
                let be = (0..<8).map { UInt8(truncatingIfNeeded: reading >> UInt64(56 - 8 * $0)) }
                let le = Array(be.reversed())
                for frame in sent {
                    guard let h = header(frame) else { continue }
                    frames += 1
                    if h.type == .status { statuses += 1 }
                    let payload = Array(frame[Frame.payloadRange(h)])
                    if payload.contains(run: be) || payload.contains(run: le) {
                        leaks.append("meter \(h.meter) \(h.type) label \(h.label): \(reading) Wh")
                    }
                    if h.type == .reading, let receipt = try? aggregator.acceptAndAcknowledge(frame) {
                        try bench.meters[i].deliver(receipt.ack)
                    }
                }
            }
            try aggregator.advance(to: label + 1)
        }
        let examples = leaks.prefix(2).joined(separator: "; ")
        return .refused(
            if: leaks.isEmpty,
            leaks.isEmpty
                ? "0 of \(frames) frames (\(statuses) status) carry a reading's bytes"
                : "\(leaks.count) of \(frames) frames (\(statuses) status) carry a reading in clear, e.g. \(examples)")
    }
}

/// Issue 9, attack 2: the aggregator chooses the group. It signs group parameters with its
/// own SLH-DSA key: n = 2, the victim and a peer whose DH key it made itself.
public struct UnsignedGroupAttack: Attack {
    public let id = "unsigned-group"
    public let scheme = "lwr-psa"
    public let tries =
        "take the victim's key: group parameters (n = 2, victim + a peer key the aggregator made) signed with the aggregator's own SLH-DSA key, then the roster"
    public init() {}

    public func run() throws -> AttackOutcome {
        let authority = ProvisioningAuthority(seed: 7)
        let victim = try SimulatedMeter(
            factory: authority.manufacture(meter: 1), seed: 1, profile: [1_000_000], sampleSeconds: 60)
        _ = authority.manufacture(meter: 2)  // a real meter 2 exists but takes no part
        let members = try authority.members(group: 1, epoch: authority.issueEpoch(), scheme: .lwrPSA, meters: [1, 2])
        let relay = try LWRKeySetup(members: members, parameters: .standard, maxReading: 1000)
        // The victim enrols honestly (the request is a normal one).
        let request = relay.enrolFrames().first { $0.meter == 1 }!.frame
        _ = try victim.handle(request)
        for frame in victim.takeSent() where frameType(frame) == .publicKey { try relay.receivePublicKey(frame) }
        guard let enrolment = relay.enrolments[1] else { throw AttackBenchError("the victim did not enrol") }
        try installRogueGroup(relay, keys: [1: Array(enrolment[0..<FFDHGroup.byteCount]), 2: attackerPublicKey(0x5C)])
        let statement = try deliver(relay.statementFrames(for: 1), to: victim)
        let entries = try deliver(relay.rosterFrames(for: 1), to: victim)
        let sent = victim.takeSent()
        let shares = sent.filter { frameType($0) == .keyShare }.count
        let phase = victim.firmware.phase
        return .refused(
            if: shares == 0 && phase != .keySetup && phase != .ready,
            "statement's last chunk: \(describe([statement.last!])); roster entries: \(describe(entries)); phase \(phase.map { "\($0)" } ?? "none"), \(shares) key-share frames"
        )
    }
}

/// Issue 9, attack 2 with a genuine statement: roster entries whose key is not the signed
/// one, or a colluding member's genuine entry at another member's index.
public struct ForgedRosterPeerAttack: Attack {
    public let id = "forged-roster-peer"
    public let scheme = "lwr-psa"
    public let tries =
        "replace a peer in the signed roster: meter 2's entry with the aggregator's key, colluding meter 3's entry at index 1, meter 3's key under meter 2's id"
    public init() {}

    public func run() throws -> AttackOutcome {
        let bench = try AttackGroup(meters: 3)
        let victim = bench.meters[0]
        guard let signed = bench.setup.signedGroup else { throw AttackBenchError("no signed group") }
        let accepted = try deliver(bench.setup.statementFrames(for: victim.id), to: victim)
        let intake = FrameIntake(members: bench.members)
        func entry(_ payload: [UInt8]) -> [UInt8] {
            intake.seal(.rosterEntry, to: victim.id, label: 0, payload: payload)
        }
        let own = signed.roster.entryPayload(0)
        let peer = signed.roster.entryPayload(1)
        let colluder = signed.roster.entryPayload(2)
        var swappedKey = peer  // meter 2's id and path, the aggregator's key
        swappedKey.replaceSubrange(8..<(8 + FFDHGroup.byteCount), with: attackerPublicKey(0x33))
        var moved = colluder  // meter 3's genuine entry claimed at index 1
        moved.replaceSubrange(0..<4, with: [0, 0, 0, 1])
        var renamed = colluder  // meter 3's key and path under meter 2's id and index
        renamed.replaceSubrange(0..<8, with: [0, 0, 0, 1, 0, 0, 0, 2])
        let ownEvent = try victim.handle(entry(own))
        let forged = try deliver([entry(swappedKey), entry(moved), entry(renamed)], to: victim)
        let sent = victim.takeSent()
        let rejected = sent.compactMap(statusCode).filter { $0 == .peerKeyRejected }.count
        let shares = sent.filter { frameType($0) == .keyShare }.count
        let phase = victim.firmware.phase
        return .refused(
            if: accepted.last == .statementAccepted(.groupParameters) && rejected == 3 && shares == 0
                && phase != .ready,
            "genuine statement: \(describe([accepted.last!])); own entry: \(describe([ownEvent])); forged entries: \(describe(forged)) (\(rejected) peerKeyRejected); phase \(phase.map { "\($0)" } ?? "none"), \(shares) key-share frames"
        )
    }
}

/// Issue 9, attack 2/4: a ready meter gets its own (genuine) group statement and roster again.
public struct ReplayedStatementAttack: Attack {
    public let id = "replayed-statement"
    public let scheme = "lwr-psa"
    public let tries = "restart key setup of a ready meter by replaying its genuine group statement and roster"
    public init() {}

    public func run() throws -> AttackOutcome {
        let bench = try AttackGroup(meters: 2)
        _ = try bench.complete()
        let victim = bench.meters[0]
        let before = victim.firmware.storedRecord
        let events = try deliver(bench.setup.setupFrames(for: victim.id), to: victim)
        let state = ReadyVictim(victim, before: before)
        return .refused(
            if: state.refused && !events.contains(.statementAccepted(.groupParameters)),
            "replayed statement and roster: \(describe(events)); \(state.summary)")
    }
}

/// Issue 9, attack 2: a ready meter sent back into setup without a newer signed epoch.
public struct SetupResetAttack: Attack {
    public let id = "setup-reset"
    public let scheme = "lwr-psa"
    public let tries =
        "send a ready meter back into key setup: an enrolment request for its current epoch, then group parameters for a newer epoch signed by the aggregator itself"
    public init() {}

    public func run() throws -> AttackOutcome {
        let bench = try AttackGroup(meters: 2)
        _ = try bench.complete()
        let victim = bench.meters[0]
        let before = victim.firmware.storedRecord
        // (a) re-enrol for the current epoch.
        let enrol = try victim.handle(bench.setup.enrolFrames().first { $0.meter == victim.id }!.frame)
        // (b) the authority starts a new epoch (the aggregator gets its frame keys), but the
        // group parameters come signed by the aggregator's own key.
        let epoch = bench.authority.issueEpoch()
        let members = try bench.authority.members(
            group: bench.members.group, epoch: epoch, scheme: .lwrPSA, meters: bench.members.meters)
        let relay = try LWRKeySetup(members: members, parameters: .standard, maxReading: 1000)
        try installRogueGroup(
            relay, keys: Dictionary(uniqueKeysWithValues: members.meters.map { ($0, attackerPublicKey(UInt8($0))) }))
        let rogue = try deliver(relay.setupFrames(for: victim.id), to: victim)
        let state = ReadyVictim(victim, before: before)
        return .refused(
            if: state.refused,
            "enrolment for the current epoch: \(describe([enrol])); rogue epoch-\(epoch) setup: \(describe(rogue)); \(state.summary)"
        )
    }
}

/// Issue 9, attack 5: aggregator A holds a meter's frame key for group A; it forges an ack
/// and a reading with group B's header.
public struct CrossGroupFrameAttack: Attack {
    public let id = "cross-group-frame"
    public let scheme = "lwr-psa"
    public let tries =
        "aggregator of group A forges into the meter's group B: an ack for B's pending reading and a reading for B, both tagged with the meter's frame key for A"
    public init() {}

    public func run() throws -> AttackOutcome {
        let bench = try AttackGroup(meters: 2, group: 2)
        let aggregatorB = try bench.complete()
        let victim = bench.meters[0]
        let keyA = try bench.authority.frameKey(meter: victim.id, group: 1, epoch: bench.members.epoch)
        let sent = SimulatedGroup.runInterval(victim)
        guard let reading = sent.first(where: { frameType($0) == .reading }) else {
            throw AttackBenchError("the victim sent no reading")
        }
        let pending = victim.firmware.pendingReadings
        // The ack B would send, tagged with A's key instead.
        let genuineAck = try aggregatorB.acceptAndAcknowledge(reading).ack
        let ackEvent = try victim.handle(reseal(genuineAck, key: keyA))
        let stillPending = victim.firmware.pendingReadings
        // A reading for B's next label, tagged with A's key.
        var h = header(reading)!
        h.label += 1
        let forged = forge(h, payload: Array(reading[Frame.payloadRange(h)]), key: keyA)
        var intake = "accepted"
        do { _ = try aggregatorB.accept(forged) } catch { intake = "\(error)" }
        // Control: B's own ack is taken.
        let control = try victim.handle(genuineAck)
        return .refused(
            if: ackEvent != .acknowledged(label: h.label - 1) && stillPending == pending && intake != "accepted",
            "forged ack: \(describe([ackEvent])), pending \(pending) → \(stillPending); forged reading at B: \(intake); B's own ack: \(describe([control]))"
        )
    }
}

/// Issue 9, attacks 4/5: after a new epoch, frames under the old epoch's keys (an
/// aggregator that kept them) must be worthless.
public struct StaleEpochFrameAttack: Attack {
    public let id = "stale-epoch-frame"
    public let scheme = "lwr-psa"
    public let tries =
        "after the group moves to a new epoch, use the old epoch's frame keys: ack a new reading, inject a reading, replay the old group statement"
    public init() {}

    public func run() throws -> AttackOutcome {
        let bench = try AttackGroup(meters: 2)
        let old = try bench.complete()
        for (i, sent) in bench.runInterval().enumerated() {
            for frame in sent where frameType(frame) == .reading {
                _ = try bench.meters[i].handle(try old.acceptAndAcknowledge(frame).ack)
            }
        }
        // The new epoch: fresh enrolment (after a reboot: enrolments are spaced by a day
        // within one boot), signed by the authority.
        for m in bench.meters { try m.reboot() }
        let epoch = bench.authority.issueEpoch()
        let members = try bench.authority.members(
            group: bench.members.group, epoch: epoch, scheme: .lwrPSA, meters: bench.members.meters)
        let setup = try LWRKeySetup(members: members, parameters: .standard, maxReading: 1000)
        for m in bench.meters {
            let event = try m.handle(setup.enrolFrames().first { $0.meter == m.id }!.frame)
            let sent = m.takeSent()
            guard let key = sent.first(where: { frameType($0) == .publicKey }) else {
                throw AttackBenchError(
                    "meter \(m.id) did not enrol for epoch \(epoch): \(describe([event])), sent \(sent.map { frameType($0).map { "\($0)" } ?? "?" }) \(sent.compactMap(statusCode))"
                )
            }
            try setup.receivePublicKey(key)
        }
        try setup.install(
            bench.authority.signGroup(
                group: members.group, epoch: epoch, parameterID: setup.parameterByte, keyMode: setup.keyMode,
                maxReading: setup.maxReading, enrolments: setup.enrolments))
        let victim = bench.meters[0]
        let current = victim.firmware.currentLabel
        let fresh = try SignedSetup.completeLWR(meters: bench.meters, setup: setup, currentLabel: current)
        guard victim.firmware.storedRecord?.groupEpoch == epoch else { throw AttackBenchError("no new epoch") }
        let sent = SimulatedGroup.runInterval(victim)
        guard let reading = sent.first(where: { frameType($0) == .reading }) else {
            throw AttackBenchError("the victim sent no reading in the new epoch")
        }
        let pending = victim.firmware.pendingReadings
        let before = victim.firmware.storedRecord
        let oldKey = bench.members.frameKey(of: victim.id)!
        let genuineAck = try fresh.acceptAndAcknowledge(reading).ack
        let ackEvent = try victim.handle(reseal(genuineAck, key: oldKey))
        let stillPending = victim.firmware.pendingReadings
        var h = header(reading)!
        h.label += 1
        var intake = "accepted"
        do { _ = try fresh.accept(forge(h, payload: Array(reading[Frame.payloadRange(h)]), key: oldKey)) } catch {
            intake = "\(error)"
        }
        let replay = try deliver(bench.setup.setupFrames(for: victim.id), to: victim)
        let after = victim.firmware.storedRecord
        let unchanged = before == after && victim.firmware.phase == .ready
        return .refused(
            if: stillPending == pending && intake != "accepted" && unchanged
                && !replay.contains(.statementAccepted(.groupParameters)),
            "old-epoch ack: \(describe([ackEvent])), pending \(pending) → \(stillPending); old-epoch reading at the new aggregator: \(intake); old statement replayed: \(describe(replay)); key store \(unchanged ? "unchanged" : "CHANGED")"
        )
    }
}
