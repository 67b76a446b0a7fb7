import Aggregation
import AggregatorAPI
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning

extension NetworkFleet {
    /// The authority signs the configured tariff for the group's epoch, the operator installs
    /// it on the service, and every meter takes it from its downlink (docs/spec/billing.md).
    func installMeterTariff() async throws {
        guard let plan = fleet.configuration.meterBilling else { return }
        let signed = fleet.authority.signTariff(
            plan.tariff, group: group, period: plan.period, epoch: fleet.epoch, supplier: plan.supplier)
        try await client.installMeterTariff(
            group: group, body: signed.statement.body, signature: signed.statement.signature)
        try await takeStatement(.tariff, "the tariff")
        meterTariff = signed
    }

    /// One meter's bill from the service, opened and priced by the supplier, beside the
    /// tariff applied to the meter's true readings.
    public struct MeterBillCheck: Codable, Sendable {
        public let meter: UInt32
        public let amount: UInt64
        public let truth: UInt64
        public let class_totals: [UInt64]
        public var exact: Bool { amount == truth }
    }

    /// The supplier fetches the sealed bills from the service and opens each with the bill
    /// keys the authority gives it; a meter without a bill is an error.
    public func meterBillChecks(supplier: AggregatorClient) async throws -> [MeterBillCheck] {
        guard let plan = fleet.configuration.meterBilling, let tariff = meterTariff else { return [] }
        var keys: [UInt32: [UInt8]] = [:]
        for meter in fleet.meters {
            keys[meter.id] = try fleet.authority.billKey(meter: meter.id, supplier: plan.supplier)
        }
        let billing = SupplierBilling(supplier: plan.supplier, billKeys: keys)
        let response = try await supplier.meterBills(group: group)
        var byMeter: [UInt32: [UInt8]] = [:]
        for entry in response.bills where entry.last_label == plan.period.upperBound {
            guard let frame = Hex.decode(entry.frame) else {
                throw ClientError.decoding("a bill frame that is not hex")
            }
            byMeter[entry.meter] = frame
        }
        var checks: [MeterBillCheck] = []
        for (i, meter) in fleet.meters.enumerated() {
            guard let frame = byMeter[meter.id] else {
                throw ClientError.decoding("the service holds no bill of meter \(meter.id)")
            }
            let made = try billing.bill(frame, tariff: tariff)
            let readings = plan.period.map { l in
                Int(l) < labels ? fleet.expectedReadings(meter: i)[Int(l)] : 0
            }
            checks.append(
                MeterBillCheck(
                    meter: meter.id, amount: made.bill.amount,
                    truth: tariff.tariff.plaintextBill(readings: readings, firstLabel: plan.period.lowerBound),
                    class_totals: made.classTotals))
        }
        return checks
    }
}
