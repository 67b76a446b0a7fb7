// The supplier's side of the bills LWR-PSA and DMCFE meters make themselves (issue 14,
// "bills without the curve"; MeterCrypto/MeterBill.swift, docs/spec/billing.md): the meter
// totals its readings per tariff class over the signed billing period and seals only the
// totals for the supplier; the aggregator relays the sealed bill and cannot read it. The
// supplier opens each bill with the meter's bill key (from the authority) and prices the
// totals under the tariff: Σ price_c · Wh_c + fee. No 15-minute value is ever involved.

import MeterCrypto

/// A bill a meter made, opened and priced by the supplier.
public struct MeterMadeBill: Sendable, Codable, Equatable {
    public let bill: Bill
    public let group: UInt32
    /// Wh per tariff class, in the tariff's class order.
    public let classTotals: [UInt64]
    /// Labels of the period whose reading the meter stored (fewer than the period's labels:
    /// the meter was off or not yet keyed; energy it measured meanwhile is in later readings).
    public let meteredLabels: UInt32
}

/// The supplier's keys for opening its meters' bills.
public struct SupplierBilling: Sendable {
    public let supplier: UInt32
    let billKeys: [UInt32: [UInt8]]

    /// `billKeys`: meter → its bill key for `supplier` (`ProvisioningAuthority.billKey`).
    public init(supplier: UInt32, billKeys: [UInt32: [UInt8]]) {
        self.supplier = supplier
        self.billKeys = billKeys
    }

    /// Opens a bill frame (the GCM tag under the meter's bill key; the frame tag is the
    /// aggregator's business).
    public func open(_ frame: [UInt8]) throws(AggregationError) -> MeterBill.Contents {
        let header: FrameHeader
        do { header = try Frame.parseHeader(frame.span) } catch { throw .malformed(error) }
        guard let key = billKeys[header.meter] else { throw .unknownMeter(header.meter) }
        do { return try MeterBill.open(frame.span, billKey: key.span) } catch {
            throw .billNotAuthentic(meter: header.meter, error)
        }
    }

    /// Opens `frame` and prices it under `tariff`, which must be the one the bill names:
    /// its group, epoch, period and supplier.
    public func bill(_ frame: [UInt8], tariff signed: SignedTariff) throws(AggregationError) -> MeterMadeBill {
        let c = try open(frame)
        let statement = signed.statement
        guard statement.group == c.header.group else {
            throw .billTariffMismatch("bill of group \(c.header.group), tariff of group \(statement.group)")
        }
        guard statement.epoch == c.tariffEpoch, signed.period == c.period else {
            throw .billTariffMismatch("bill under the tariff of epoch \(c.tariffEpoch), period \(c.period)")
        }
        guard c.supplier == supplier, signed.supplier == supplier else {
            throw .billTariffMismatch("bill for supplier \(c.supplier), not \(supplier)")
        }
        let classes = signed.tariff.classes
        guard c.totals.count == classes.count else {
            throw .billTariffMismatch("\(c.totals.count) class totals for \(classes.count) classes")
        }
        var amount = signed.tariff.fixedFee
        for (wh, price) in zip(c.totals, classes.map(\.pricePerWh)) {
            let (term, o1) = wh.multipliedReportingOverflow(by: price)
            let (sum, o2) = amount.addingReportingOverflow(term)
            guard !o1, !o2 else { throw .decryptedValueOutOfRange }
            amount = sum
        }
        let bill = Bill(
            meter: c.header.meter, firstLabel: c.period.lowerBound, lastLabel: c.period.upperBound, amount: amount,
            unit: signed.tariff.unit, unitsPerCurrency: signed.tariff.unitsPerCurrency)
        return MeterMadeBill(bill: bill, group: c.header.group, classTotals: c.totals, meteredLabels: c.meteredLabels)
    }
}

extension FrameIntake {
    /// The aggregator's side of a meter's bill: checks the frame (its tag under the meter's
    /// frame key, the type, the size) and answers the ack that lets the meter stop sending
    /// it. The aggregator keeps the frame as received; it holds no key that opens it.
    public func acceptBill(_ frame: [UInt8]) throws(AggregationError) -> (header: FrameHeader, ack: [UInt8]) {
        let opened = try open(frame, expecting: .bill)
        guard opened.payload.count == MeterBill.payloadBytes else {
            throw .badPayload(type: .bill, size: opened.payload.count)
        }
        let ack = seal(.billAck, to: opened.header.meter, label: opened.header.label, payload: [])
        return (opened.header, ack)
    }
}
