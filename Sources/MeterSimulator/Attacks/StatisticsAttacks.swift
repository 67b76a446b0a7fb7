import Aggregation
import MeterCrypto
import MeterFirmware
import Provisioning

/// Issue 14, statistics: the aggregator wants a histogram fine enough to single out the
/// households of a small group (3 meters, 15 bins). It tries a plan the authority signed for
/// another, large group; that plan re-addressed to the victim's group; a plan for the 3-meter
/// group under the authority's key (as if the authority had been misled: n and minimum 3);
/// and a plan signed with the aggregator's own key. The meters must send no statistics frame.
public struct StatisticsPlanAttack: Attack {
    public let id = "statistics-plan"
    public let scheme = "lwr-psa"
    public let tries =
        "make 3 meters send a 15-bin histogram: another group's signed plan, that plan re-addressed, an authority-signed plan for n = 3, a plan under the aggregator's own key"
    public init() {}

    public func run() throws -> AttackOutcome {
        let bench = try AttackGroup(meters: 3, watts: { [400, 1200, 2800][$0] }, maxReading: 1000)
        let aggregator = try bench.complete()
        let victimGroup = bench.members.group
        let epoch = bench.members.epoch
        let fine = StatisticsPlanSpec(edges: (1...14).map { UInt32($0 * 60) }, squares: true, minimumGroupSize: 10)
        // 1. A genuine plan of a 12-meter group 2, relayed as is.
        let other = try bench.authority.signStatisticsPlan(
            fine, group: victimGroup + 1, epoch: epoch, meters: 12, maxReading: 1000)
        // 2. Its body re-addressed to the victim's group and size (the signature no longer fits).
        var readdressed = other.statement.body
        var span = readdressed.mutableSpan
        BigEndian.store(victimGroup, at: 12, in: &span)
        BigEndian.store(UInt32(3), at: 16, in: &span)
        // 3. The authority's signature over a plan for n = 3 with minimum 3.
        let small = StatisticsPlanSpec(edges: fine.edges, squares: true, minimumGroupSize: 3)
        let misled = bench.authority.sign(small.body(group: victimGroup, epoch: epoch, meters: 3))
        // 4. The aggregator's own key.
        let rogue = ProvisioningAuthority(seed: 666).sign(fine.body(group: victimGroup, epoch: epoch, meters: 3))
        let attempts: [(String, SignedStatement)] = [
            ("other group's plan", other.statement),
            ("re-addressed", SignedStatement(body: readdressed, signature: other.statement.signature)),
            ("authority-signed n = 3", misled), ("aggregator-signed", rogue),
        ]
        var report: [String] = []
        var accepted = 0
        let intake = FrameIntake(members: bench.members)
        for (what, statement) in attempts {
            var events: [MeterEvent] = []
            for meter in bench.meters {
                events += try deliver(intake.statementFrames(statement, to: meter.id), to: meter)
                _ = meter.takeSent()
            }
            accepted += events.filter { $0 == .statementAccepted(.statisticsPlan) }.count
            let answered = events.filter { $0 != .none }
            report.append("\(what): \(describe(answered.isEmpty ? [.none] : answered))")
        }
        var statistics = 0
        for (i, sent) in bench.runInterval().enumerated() {
            for frame in sent {
                if frameType(frame) == .statistics { statistics += 1 }
                if frameType(frame) == .reading, let receipt = try? aggregator.acceptAndAcknowledge(frame) {
                    try bench.meters[i].deliver(receipt.ack)
                }
            }
        }
        return .refused(
            if: accepted == 0 && statistics == 0,
            report.joined(separator: "; ") + "; next interval: \(statistics) statistics frames")
    }
}
