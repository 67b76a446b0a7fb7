import Aggregation
import MeterCrypto
import MeterFirmware
import Provisioning

/// Issue 14, bills without the curve: the aggregator wants one household's 15-minute
/// readings out of the bills its meters make. It relays a one-label tariff signed with its
/// own key; a four-label tariff under the authority's signature (as if the authority had been
/// misled); and two authority-signed periods that overlap in all but one label at each end,
/// whose bills would give those labels' readings by subtraction. Then it tries to open the
/// meters' real bills with every key it holds (each meter's frame key). The
/// meters must take none of the tariffs and the bills must open under none of its keys.
public struct MeterBillingAttack: Attack {
    public let id = "meter-billing"
    public let scheme = "lwr-psa"
    public let tries =
        "single out readings through bills: a one-label tariff under its own key, an authority-signed 4-label tariff, two overlapping authority-signed periods (subtraction), and opening the bills with its frame keys"
    public init() {}

    public func run() throws -> AttackOutcome {
        let bench = try AttackGroup(meters: 3, watts: { [400, 1200, 2800][$0] }, maxReading: 1000)
        _ = try bench.complete()
        let group = bench.group
        let epoch = group.epoch
        let first = bench.meters[0].firmware.nextLabel
        let genuine = MeterBillingPlan(period: first...(first + 95))
        // The first, genuine period: the meters hold it.
        let (tariff, _) = try group.installMeterBilling(genuine)
        let next = genuine.period.upperBound + 1
        let rogue = ProvisioningAuthority(seed: 666).signTariff(
            .threeRate, group: group.members.group, period: next...next, epoch: epoch)
        let short = bench.authority.signTariff(
            .threeRate, group: group.members.group, period: next...(next + 3), epoch: epoch)
        // [first + 1, first + 96] against the held [first, first + 95]: the difference of the
        // two bills' totals is reading(first + 96) − reading(first).
        let shifted = bench.authority.signTariff(
            .threeRate, group: group.members.group, period: (first + 1)...(first + 96), epoch: epoch)
        var report: [String] = []
        var accepted = 0
        for (what, signed) in [
            ("own-key 1-label tariff", rogue), ("authority 4-label", short), ("overlapping", shifted),
        ] {
            var events: [MeterEvent] = []
            for meter in bench.meters {
                events += try deliver(group.intake.statementFrames(signed.statement, to: meter.id), to: meter)
                _ = meter.takeSent()
            }
            accepted += events.filter { $0 == .statementAccepted(.tariff) }.count
            let answered = events.filter { $0 != .none }
            report.append("\(what): \(describe(answered.isEmpty ? [.none] : answered))")
        }
        // The period runs; the aggregator keeps the bills and tries its keys on them.
        var bills: [[UInt8]] = []
        for _ in 0..<96 {
            for (i, sent) in bench.runInterval().enumerated() {
                for frame in sent {
                    if frameType(frame) == .reading {
                        let label = (12..<20).reduce(UInt64(0)) { $0 << 8 | UInt64(frame[$1]) }
                        try bench.meters[i].deliver(group.intake.acknowledgement(to: bench.meters[i].id, label: label))
                    } else if frameType(frame) == .bill {
                        let (_, ack) = try group.intake.acceptBill(frame)
                        bills.append(frame)
                        try bench.meters[i].deliver(ack)
                    }
                }
            }
        }
        var opened = 0
        for frame in bills {
            let meter = (8..<12).reduce(UInt32(0)) { $0 << 8 | UInt32(frame[$1]) }
            var candidates: [[UInt8]] = []
            if let key = group.members.frameKey(of: meter) { candidates.append(key) }
            for key in candidates where (try? MeterBill.open(frame.span, billKey: key.span)) != nil { opened += 1 }
        }
        report.append(
            "\(bills.count) bills of the period \(tariff.period), \(opened) opened with the aggregator's keys")
        return .refused(if: accepted == 0 && opened == 0 && bills.count == 3, report.joined(separator: "; "))
    }
}
