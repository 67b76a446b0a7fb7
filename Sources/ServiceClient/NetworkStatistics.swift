import Aggregation
import AggregatorAPI
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning

extension NetworkFleet {
    /// The authority signs the configured statistics plan for the group, the operator installs
    /// it on the service, and every meter takes it from its downlink (docs/spec/statistics.md).
    func installStatistics() async throws {
        guard let spec = fleet.configuration.statistics else { return }
        let configuration = fleet.configuration
        let signed = try fleet.authority.signStatisticsPlan(
            spec, group: group, epoch: fleet.epoch, meters: UInt32(fleet.meters.count),
            maxReading: configuration.maxReading, parameters: configuration.parameters)
        try await client.installStatisticsPlan(
            group: group, body: signed.statement.body, signature: signed.statement.signature)
        try await takeStatement(.statisticsPlan, "the statistics plan")
    }

    /// Every meter takes the statement the service relays in its downlink; throws unless
    /// each accepted it as `kind`.
    func takeStatement(_ kind: StatementKind, _ what: String) async throws {
        let frames = try await downlinks()
        let meters = fleet.meters
        let accepted = Box([Bool](repeating: false, count: meters.count))
        await forEachMeter { i in
            var event = MeterEvent.none
            for frame in frames[i] { event = (try? meters[i].handle(frame)) ?? .none }
            _ = meters[i].takeSent()
            accepted.set(i, event == .statementAccepted(kind))
        }
        for (i, ok) in accepted.value.enumerated() where !ok {
            throw SimulatorError.setupStalled(meter: meters[i].id, detail: "\(what) was not accepted")
        }
    }

    /// The supplier's analytics from the service against the statistics of the true readings:
    /// labels whose every figure matches, and what differs (a label without statistics differs).
    public func statisticsCheck(supplier: AggregatorClient) async throws -> (
        exact: Int, mismatches: [String], response: AnalyticsResponse
    ) {
        guard let spec = fleet.configuration.statistics else { throw ClientError.decoding("no statistics plan") }
        let response = try await supplier.analytics(group: group, from: 0, to: UInt64(labels - 1))
        var byLabel: [UInt64: AnalyticsResponse.Label] = [:]
        for l in response.labels { byLabel[l.label] = l }
        var exact = 0
        var mismatches: [String] = []
        for label in 0..<labels {
            let readings = (0..<fleet.meters.count).map { fleet.expectedReadings(meter: $0)[label] }
            let truth = LabelStatistics(label: UInt64(label), readings: readings, spec: spec)
            guard let got = byLabel[UInt64(label)] else {
                mismatches.append("label \(label): no statistics")
                continue
            }
            if got.count == truth.count && got.sum == truth.sum && got.histogram == truth.histogram
                && got.mean == truth.mean && got.variance == truth.variance
            {
                exact += 1
            } else {
                mismatches.append("label \(label): \(got) vs true \(truth)")
            }
        }
        return (exact, mismatches, response)
    }
}
