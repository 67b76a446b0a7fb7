import Aggregation
import MeterCrypto
import MeterFirmware
import Provisioning

/// Bills made on the meter (docs/spec/billing.md): the tariff the authority signs for a
/// group's billing period, and the supplier it names.
public struct MeterBillingPlan: Sendable {
    public var tariff: Tariff
    public var period: ClosedRange<UInt64>
    public var supplier: UInt32

    public init(
        tariff: Tariff = .threeRate, period: ClosedRange<UInt64>, supplier: UInt32 = SignedTariff.defaultSupplier
    ) {
        self.tariff = tariff
        self.period = period
        self.supplier = supplier
    }
}

extension SimulatedGroup {
    /// The authority signs `plan`'s tariff for this group and epoch and the aggregator relays
    /// it to every meter, each of which must accept it; the supplier gets its meters' bill
    /// keys from the authority.
    public func installMeterBilling(_ plan: MeterBillingPlan) throws -> (SignedTariff, SupplierBilling) {
        let signed = authority.signTariff(
            plan.tariff, group: members.group, period: plan.period, epoch: epoch, supplier: plan.supplier)
        try deliverTariff(signed)
        var keys: [UInt32: [UInt8]] = [:]
        for meter in meters { keys[meter.id] = try authority.billKey(meter: meter.id, supplier: plan.supplier) }
        return (signed, SupplierBilling(supplier: plan.supplier, billKeys: keys))
    }

    /// Relays a signed tariff to every meter; throws unless each accepted it.
    public func deliverTariff(_ signed: SignedTariff) throws {
        try deliver(signed.statement, accepted: .tariff, "the tariff")
    }
}
