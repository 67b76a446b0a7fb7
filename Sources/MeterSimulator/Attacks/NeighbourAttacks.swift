import Aggregation
import MeterCrypto
import MeterFirmware
import Provisioning

/// A neighbour-graph LWR-PSA group of firmware meters (docs/spec/dropout.md), set up over
/// the radio; the attacker is its aggregator: it holds the members' frame keys and sees
/// every frame, and may ask any meter anything.
public struct NeighbourAttackGroup {
    public let fleet: Fleet
    public let intake: FrameIntake

    /// `meters` meters with k = `degree`, t = `maxSilent`; nobody silent unless `silentAt` says.
    public init(
        meters n: Int = 14, degree: Int = 4, maxSilent: Int = 2, seed: UInt64 = 9,
        silentAt: (@Sendable (UInt64) -> Set<Int>)? = nil
    ) throws {
        var c = FleetConfiguration()
        c.meters = n
        c.seed = seed
        c.threads = 1
        c.keySetup = .neighbourGraph
        c.keyMode = .expanded
        c.graphPlan = NeighbourGraphAnalysis.plan(meters: UInt32(n), silentFraction: 0.3).with(
            degree: degree, maxSilent: maxSilent)
        c.silentAt = silentAt ?? { _ in [] }
        fleet = try Fleet(c, labels: 24)
        _ = try fleet.runKeySetup()
        intake = FrameIntake(members: fleet.members)
    }

    public var group: SignedNeighbourGroup { fleet.neighbourAggregator!.group }
    public var terms: NeighbourGroupTerms { group.terms }

    public func meter(_ id: UInt32) -> SimulatedMeter { fleet.meters.first { $0.id == id }! }

    /// A recovery request to `meter` for `label` naming `silent` (ids increasing).
    public func request(to meter: UInt32, label: UInt64, silent: [UInt32]) -> [UInt8] {
        var payload: [UInt8] = [UInt8(silent.count), 0, 0, 0]
        for j in silent.sorted() {
            payload += [UInt8(j >> 24), UInt8(j >> 16 & 0xFF), UInt8(j >> 8 & 0xFF), UInt8(j & 0xFF)]
        }
        return intake.seal(.recoveryRequest, to: meter, label: label, payload: payload)
    }

    /// Delivers `frame` to `meter` and returns what it sent.
    @discardableResult
    public func ask(_ meter: UInt32, _ frame: [UInt8]) throws -> [[UInt8]] {
        let m = self.meter(meter)
        _ = try m.handle(frame)
        return m.takeSent()
    }

    /// The recovery answer r in a meter's frames, if it sent one.
    public static func answer(in frames: [[UInt8]]) -> UInt64? {
        for f in frames where frameType(f) == .recovery {
            return BigEndian.load64(Array(f[Frame.payloadRange(header(f)!)]).span, at: 0)
        }
        return nil
    }

    /// The `RecoveryRefusal` of a meter's status frame, if it refused.
    public static func refusal(in frames: [[UInt8]]) -> RecoveryRefusal? {
        for f in frames where statusCode(f) == .recoveryRefused {
            return RecoveryRefusal(rawValue: f[Frame.headerBytes + 9])
        }
        return nil
    }
}

/// Issue 13: false dropouts. The aggregator has the victim's reading for a label (it acked
/// it), declares the victim silent anyway, and asks every neighbour for the victim's edges:
/// their answers and the ciphertext give the reading. The bound: at most B such labels
/// (each neighbour's budget for the victim, which only the victim's confirmation restores,
/// and a reboot does not), and every one of them leaves proof (the victim's alarm carries a
/// plain ack and a relayed notice of the same label, which the authority checks).
public struct FalseDropoutAttack: Attack {
    public let id = "false-dropout"
    public let scheme = "lwr-psa"
    public let tries =
        "learn one meter's readings by declaring it silent although its frame was acked, for 2B labels in a row, relaying every notice; then reboot a neighbour to reset its budget"
    public init() {}

    public func run() throws -> AttackOutcome {
        let bench = try NeighbourAttackGroup()
        let victim = bench.fleet.meters[3].id
        let neighbours = bench.group.neighbours(of: victim)
        let budget = bench.terms.budget
        let bounds = try NeighbourKeys.bounds(
            meters: UInt32(bench.fleet.meters.count), maxReading: bench.fleet.configuration.maxReading,
            parameters: .standard)
        var learned = 0
        var proven = 0
        var refusedAfter = 0
        for label in UInt64(0)..<UInt64(2 * budget) {
            _ = try bench.fleet.runLabel(label)
            guard let c = bench.fleet.lastCiphertexts[victim], let truth = bench.fleet.lastReadings[victim] else {
                throw AttackBenchError("the victim did not report label \(label)")
            }
            var recovered: UInt64 = 0
            var answers = 0
            var notices: [[UInt8]] = []
            for i in neighbours {
                let sent = try bench.ask(i, bench.request(to: i, label: label, silent: [victim]))
                if let r = NeighbourAttackGroup.answer(in: sent) {
                    recovered &+= r
                    answers += 1
                } else if NeighbourAttackGroup.refusal(in: sent) == .budgetExhausted {
                    refusedAfter += 1
                }
                notices += sent.filter { frameType($0) == .silenceNotice }
            }
            if answers == neighbours.count {
                // Σ r_i = F_{k_victim}(l) − e with 0 ≤ e < k: c − Σ r_i = Δ·x + e, the reading.
                let x = ((c &- recovered) & LWRParameters.standard.plaintextMask) / bounds.delta
                if x == truth { learned += 1 }
            }
            // The attacker relays the notices: the victim answers with alarms.
            var labelProven = false
            for notice in notices {
                let relayed = try bench.fleet.neighbourAggregator!.relay(notice)
                for f in try bench.ask(relayed.meter, relayed.frame) where frameType(f) == .silenceAlarm {
                    let payload = Array(f[Frame.payloadRange(header(f)!)])
                    if try bench.fleet.authority.checkFalseDropoutAlarm(
                        meter: victim, group: bench.fleet.members.group, epoch: bench.fleet.epoch, label: label,
                        payload: payload)
                    {
                        labelProven = true
                    }
                }
            }
            if answers > 0 && labelProven { proven += 1 }
        }
        // A rebooted neighbour keeps its budget: the ledger is on flash.
        let label = UInt64(2 * budget)
        try bench.meter(neighbours[0]).reboot()
        _ = bench.meter(neighbours[0]).firmware.poll()
        _ = bench.meter(neighbours[0]).takeSent()
        _ = try bench.fleet.runLabel(label)
        let afterReboot = try bench.ask(neighbours[0], bench.request(to: neighbours[0], label: label, silent: [victim]))
        let rebootRefused = NeighbourAttackGroup.refusal(in: afterReboot) == .budgetExhausted
        let detail =
            "\(learned) of \(2 * budget) readings learned (B = \(budget)), \(proven) with proof the authority verified; \(refusedAfter) answers refused for budget; after a reboot: \(rebootRefused ? "still refused" : "ANSWERED")"
        return .refused(if: learned <= budget && proven == learned && rebootRefused && refusedAfter > 0, detail)
    }
}

/// Issue 13: recovery outside its scope. The aggregator asks for answers that would help it
/// elsewhere: a label older than the window, one not yet over, one the meter did not
/// encrypt, members that are not the meter's neighbours, more than t silent neighbours, and
/// the same label twice. Every one is refused; no recovery frame leaves a meter.
public struct RecoveryScopeAttack: Attack {
    public let id = "recovery-scope"
    public let scheme = "lwr-psa"
    public let tries =
        "get recovery answers outside their scope: old labels (beyond W), the current label, an unencrypted label, non-neighbours, more than t silent, a second answer for a label"
    public init() {}

    public func run() throws -> AttackOutcome {
        let bench = try NeighbourAttackGroup(silentAt: { $0 == 6 ? [5] : [] })
        for label in UInt64(0)..<7 { _ = try bench.fleet.runLabel(label) }
        let i = bench.fleet.meters[2].id
        let neighbours = bench.group.neighbours(of: i)
        let far = bench.fleet.meters.map(\.id).first { $0 != i && !bench.group.areNeighbours($0, i) }!
        let silentMeter = bench.fleet.meters[5].id
        let window = UInt64(bench.terms.window)
        var cases: [(String, [UInt8], UInt32, RecoveryRefusal)] = [
            ("label older than W", bench.request(to: i, label: 6 - window, silent: [neighbours[0]]), i, .outsideWindow),
            ("the current label", bench.request(to: i, label: 7, silent: [neighbours[0]]), i, .notEncrypted),
            ("not a neighbour", bench.request(to: i, label: 6, silent: [far]), i, .malformed),
            (
                "more than t silent",
                bench.request(to: i, label: 6, silent: Array(neighbours.prefix(bench.terms.maxSilent + 1))),
                i, .tooManySilent
            ),
        ]
        if let j = bench.group.neighbours(of: silentMeter).first {
            cases.append(
                (
                    "a label the meter did not encrypt", bench.request(to: silentMeter, label: 6, silent: [j]),
                    silentMeter, .notEncrypted
                ))
        }
        // A second answer for one label (the first is within scope and answered).
        _ = try bench.ask(i, bench.request(to: i, label: 5, silent: [neighbours[1]]))
        cases.append(
            ("the same label again", bench.request(to: i, label: 5, silent: [neighbours[2]]), i, .answeredBefore))
        var leaks: [String] = []
        var seen: [String] = []
        for (name, frame, meter, expected) in cases {
            let sent = try bench.ask(meter, frame)
            let refusal = NeighbourAttackGroup.refusal(in: sent)
            if NeighbourAttackGroup.answer(in: sent) != nil || refusal != expected {
                leaks.append("\(name): \(refusal.map { "\($0)" } ?? "ANSWERED")")
            }
            seen.append("\(name): \(refusal.map { "\($0)" } ?? "answered")")
        }
        return .refused(
            if: leaks.isEmpty,
            leaks.isEmpty
                ? "all \(cases.count) refused (\(seen.joined(separator: "; ")))" : leaks.joined(separator: "; "))
    }
}
