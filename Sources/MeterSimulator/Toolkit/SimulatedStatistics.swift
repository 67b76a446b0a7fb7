import Aggregation
import MeterCrypto
import MeterFirmware
import Provisioning

extension SimulatedGroup {
    /// The authority signs `spec` for this group (n-of-n, its epoch and n) and the aggregator
    /// relays it to every meter, each of which must accept it; then the aggregator's
    /// statistics side with K (docs/spec/statistics.md).
    public func installStatistics(
        _ spec: StatisticsPlanSpec, setup: LWRKeySetup, aggregateKey: [UInt64]
    ) throws -> LWRStatisticsAggregator {
        let signed = try authority.signStatisticsPlan(
            spec, group: members.group, epoch: epoch, meters: UInt32(meters.count), maxReading: setup.maxReading,
            parameters: setup.parameters)
        try deliverStatisticsPlan(signed)
        return try LWRStatisticsAggregator(
            members: members, parameters: setup.parameters, maxReading: setup.maxReading,
            aggregateKey: aggregateKey, plan: signed)
    }

    /// Relays a signed plan to every meter; throws unless each accepted it.
    public func deliverStatisticsPlan(_ signed: SignedStatisticsPlan) throws {
        try deliver(signed.statement, accepted: .statisticsPlan, "the statistics plan")
    }

    /// Relays a signed statement to every meter; throws unless each accepted it as `kind`.
    public func deliver(_ statement: SignedStatement, accepted kind: StatementKind, _ what: String) throws {
        for meter in meters {
            var event = MeterEvent.none
            for frame in intake.statementFrames(statement, to: meter.id) { event = try meter.handle(frame) }
            _ = meter.takeSent()
            guard event == .statementAccepted(kind) else {
                throw SimulatorError.setupStalled(meter: meter.id, detail: "\(what) answered \(event)")
            }
        }
    }
}
