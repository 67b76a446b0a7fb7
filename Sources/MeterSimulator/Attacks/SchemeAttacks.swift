import Aggregation
import BigNum
import MeterCrypto
import MeterFirmware
import Provisioning

/// Issue 9, attack 3: functional keys for any weight vector. With y = e_1, or two vectors
/// differing in one coordinate, a meter's secret would follow.
public struct DMCFEVectorAttack: Attack {
    public let id = "dmcfe-vector"
    public let scheme = "dmcfe"
    public let tries =
        "ask a meter for functional-key shares of y = e_1, (3, −2, 5), (1, 1, 2) after (1, 1, 1), (0, 1, 1), and a vector naming an id outside the roster"
    public init() {}

    public func run() throws -> AttackOutcome {
        let group = try SimulatedGroup(
            authority: ProvisioningAuthority(seed: 24), group: 9, scheme: .dmcfe, ids: [2, 4, 6],
            profile: { _ in [800_000] })
        let setup = try group.setUpDMCFE(maxReading: 10_000)
        let (meters, members) = (group.meters, group.members)
        let ids = members.meters
        let m = meters[0]
        _ = m.takeSent()
        let shareType = FrameType.functionalKeyShare
        func shares(_ weights: [UInt32: Int64]) throws -> Int {
            for frame in try setup.weightFrames(weights, for: m.id) { _ = try m.handle(frame) }
            return m.takeSent().filter { frameType($0) == shareType }.count
        }
        // The signed policy, y = (1, …, 1), is answered (the control).
        let policy = try shares(Dictionary(uniqueKeysWithValues: ids.map { ($0, Int64(1)) }))
        guard policy == 1 else { throw AttackBenchError("the policy itself got \(policy) shares") }
        var answered: [String] = []
        for weights: [Int64] in [[1, 0, 0], [3, -2, 5], [1, 1, 2], [0, 1, 1]] {
            let n = try shares(Dictionary(uniqueKeysWithValues: zip(ids, weights).map { ($0, $1) }))
            if n > 0 { answered.append("\(weights)") }
        }
        let intake = FrameIntake(members: members)
        func entry(_ id: UInt32) -> [UInt8] {
            (0..<4).map { UInt8(truncatingIfNeeded: id >> UInt32(24 - 8 * $0)) } + [0, 0, 0, 0, 0, 0, 0, 1]
        }
        let foreign: [UInt8] = [0, 0, 0, 3] + entry(ids[0]) + entry(ids[1]) + entry(999)
        _ = try m.handle(intake.seal(.weights, to: m.id, label: 0, payload: foreign))
        if m.takeSent().contains(where: { frameType($0) == shareType }) { answered.append("[1, 1, id 999]") }
        return .refused(
            if: answered.isEmpty,
            answered.isEmpty
                ? "policy (1, 1, 1) answered with 1 share; 0 shares for the 5 other vectors"
                : "key shares for \(answered.joined(separator: ", "))")
    }
}

/// A Paillier bench: meters 1 and 2 in group 1, the supplier's key signed per meter.
struct PaillierAttackBench {
    /// One 2048-bit supplier key for every Paillier attack (generated once, reproducibly).
    static let key: PaillierPrivateKey = {
        var generator = SeededGenerator(seed: 77)
        return try! PaillierPrivateKey.generate(bits: 2048, using: &generator)
    }()

    let authority = ProvisioningAuthority(seed: 0x5A)
    let meters: [SimulatedMeter]

    init() throws {
        meters = try (1...2).map { [authority] i in
            try SimulatedMeter(
                factory: authority.manufacture(meter: UInt32(i)), seed: UInt64(i), profile: [1_000_000],
                sampleSeconds: 60, scheme: .paillier)
        }
    }

    /// The frames of a key statement for `meter`, relayed by group 1's aggregator of `epoch`.
    func frames(_ statement: SignedStatement, meter: UInt32, epoch: UInt32) throws -> [[UInt8]] {
        let members = try authority.members(group: 1, epoch: epoch, scheme: .paillier, meters: [1, 2])
        return FrameIntake(members: members).statementFrames(statement, to: meter)
    }
}

/// Issue 9, attack 4: the aggregator's own N in the Paillier key statement.
public struct PaillierKeySwapAttack: Attack {
    public let id = "paillier-key-swap"
    public let scheme = "paillier"
    public let tries =
        "install the aggregator's own Paillier N: swapped into the signed body, the groups changed, the swapped body signed with the aggregator's own key"
    public init() {}

    public func run() throws -> AttackOutcome {
        let bench = try PaillierAttackBench()
        let victim = bench.meters[0]
        let epoch = bench.authority.issueEpoch()
        _ = try bench.authority.signLayout(groups: [1: [1, 2]], epoch: epoch)
        let signed = try bench.authority.signPaillierKey(
            meter: victim.id, publicKey: PaillierAttackBench.key.publicKey, layoutEpoch: epoch)
        // An N the aggregator would know the factors of: any odd 2048-bit number will do here.
        var ownN = [UInt8](repeating: 0xA7, count: 256)
        ownN[0] = 0xC1
        ownN[255] = 0x01
        var swapped = signed.body
        swapped.replaceSubrange(36..<292, with: ownN)
        var regrouped = signed.body
        regrouped[23] = 9
        let rogue = ProvisioningAuthority(seed: 666).sign(swapped)
        var events: [MeterEvent] = []
        for statement in [
            SignedStatement(body: swapped, signature: signed.signature),
            SignedStatement(body: regrouped, signature: signed.signature), rogue,
        ] {
            events.append(try deliver(bench.frames(statement, meter: victim.id, epoch: epoch), to: victim).last!)
        }
        let ready = victim.firmware.paillierReady
        let readings = SimulatedGroup.runInterval(victim).filter { frameType($0) == .reading }.count
        // Control: the genuine statement is taken.
        let control = try deliver(bench.frames(signed, meter: victim.id, epoch: epoch), to: victim).last!
        return .refused(
            if: !ready && readings == 0 && !events.contains(.statementAccepted(.paillierKey))
                && control == .statementAccepted(.paillierKey),
            "swapped N, changed groups, re-signed by the aggregator: \(describe(events)); key installed: \(ready), \(readings) readings sent; genuine statement: \(describe([control]))"
        )
    }
}

/// Issue 9, attack 4: an older genuine Paillier key statement after a newer one (rollback
/// to a retired key or group list).
public struct ReplayedPaillierKeyAttack: Attack {
    public let id = "replayed-paillier-key"
    public let scheme = "paillier"
    public let tries =
        "roll a meter back: after the epoch-2 key statement (groups [1, 2]), replay the genuine epoch-1 one (groups [1]) and the epoch-2 one again"
    public init() {}

    public func run() throws -> AttackOutcome {
        let bench = try PaillierAttackBench()
        let victim = bench.meters[0]
        let key = PaillierAttackBench.key.publicKey
        let e1 = bench.authority.issueEpoch()
        let e2 = bench.authority.issueEpoch()
        _ = try bench.authority.signLayout(groups: [1: [1, 2]], epoch: e1)
        _ = try bench.authority.signLayout(groups: [1: [1, 2], 2: [1, 2]], epoch: e2)
        let older = try bench.authority.signPaillierKey(meter: victim.id, publicKey: key, layoutEpoch: e1)
        let newer = try bench.authority.signPaillierKey(meter: victim.id, publicKey: key, layoutEpoch: e2)
        let accepted = try deliver(bench.frames(newer, meter: victim.id, epoch: e2), to: victim).last!
        guard accepted == .statementAccepted(.paillierKey) else {
            throw AttackBenchError("the newer statement was not taken: \(accepted)")
        }
        _ = victim.takeSent()
        let before = victim.firmware.storedRecord
        let replayOld = try deliver(bench.frames(older, meter: victim.id, epoch: e1), to: victim).last!
        let replayNew = try deliver(bench.frames(newer, meter: victim.id, epoch: e2), to: victim).last!
        let after = victim.firmware.storedRecord
        let unchanged = before != nil && before == after && victim.firmware.paillierGroupCount == 2
        return .refused(
            if: unchanged && replayOld != .statementAccepted(.paillierKey)
                && replayNew != .statementAccepted(.paillierKey),
            "epoch \(e2) taken; epoch-\(e1) replay: \(describe([replayOld])); epoch-\(e2) replay: \(describe([replayNew])); key store \(unchanged ? "unchanged (2 groups, epoch \(after?.paillierEpoch ?? 0))" : "CHANGED")"
        )
    }
}
