import Aggregation
import BigNum
import MeterCrypto
import MeterFirmware
import Provisioning

/// Issue 9, attack 6: two layouts that are each fine but live together (during a
/// transition) isolate a household by subtraction, {1, 2, 3} − {2, 3} = meter 1. The
/// authority signs a layout only if it passes the differencing check together with every
/// live one; aggregators and the supplier take signed layouts only.
public struct LayoutUnionAttack: Attack {
    public let id = "layout-union"
    public let scheme = "paillier"
    public let tries =
        "while layout {1: [1, 2, 3]} is live, have {2: [2, 3]} signed (each fine alone; together they isolate meter 1), or hand the aggregator a layout signed with another key"
    public init() {}

    public func run() throws -> AttackOutcome {
        let authority = ProvisioningAuthority(seed: 61)
        let first = authority.issueEpoch()
        let second = authority.issueEpoch()
        _ = try authority.signLayout(groups: [1: [1, 2, 3]], epoch: first)
        // Control: each layout alone passes the check.
        _ = try GroupLayout(groups: [2: [2, 3]])
        var signedTransition = false
        do {
            _ = try authority.signLayout(groups: [2: [2, 3]], epoch: second)
            signedTransition = true
        } catch {}
        let forged = ProvisioningAuthority(seed: 666).sign(GroupLayout.body(groups: [2: [2, 3]], epoch: second))
        let forgedTaken = (try? GroupLayout(signed: forged, authorityKey: authority.publicKey)) != nil
        // After the first layout is retired, the second one is signed (nothing else is live).
        authority.retireLayout(epoch: first)
        let afterRetire = (try? authority.signLayout(groups: [2: [2, 3]], epoch: second)) != nil
        guard afterRetire else { throw AttackBenchError("the second layout alone was not signed") }
        return .refused(
            if: !signedTransition && !forgedTaken,
            "overlapping layout signed while the first was live: \(signedTransition); forged layout taken by the aggregator: \(forgedTaken); signed once the first was retired: \(afterRetire)"
        )
    }
}

/// Issue 9, attack 7: a bill under a tariff of price 1 for 23 hours and 2^31 for one hour
/// decodes that hour's energy of one household exactly (and two hours with three price
/// levels). Bills are made only under a tariff the authority signed for the group and the
/// billing period, with prices at most `Tariff.maxPriceRatio` apart.
public struct TariffEncodingAttack: Attack {
    public let id = "tariff-encoding"
    public let scheme = "paillier"
    public let tries =
        "bill one household for a day under price 1 with 2^31 for one hour (or 1, 2^11, 2^22), under a tariff signed by the supplier, or outside the signed period"
    public init() {}

    public func run() throws -> AttackOutcome {
        var hours = [Int](repeating: 0, count: 24)
        hours[13] = 1
        var made: [String] = []
        if (try? Tariff(
            unit: "u", unitsPerCurrency: 1,
            classes: [.init(name: "a", pricePerWh: 1), .init(name: "b", pricePerWh: 1 << 31)],
            hourClass: hours, fixedFee: 0)) != nil
        {
            made.append("1 / 2^31")
        }
        hours[14] = 2
        if (try? Tariff(
            unit: "u", unitsPerCurrency: 1,
            classes: [
                .init(name: "a", pricePerWh: 1), .init(name: "b", pricePerWh: 1 << 11),
                .init(name: "c", pricePerWh: 1 << 22),
            ], hourClass: hours, fixedFee: 0)) != nil
        {
            made.append("1 / 2^11 / 2^22")
        }
        // A real aggregator with a day of one household's ciphertexts.
        let bench = try PaillierAttackBench()
        let authority = bench.authority
        let epoch = authority.issueEpoch()
        let layout = try GroupLayout(
            signed: authority.signLayout(groups: [1: [1, 2]], epoch: epoch), authorityKey: authority.publicKey)
        let members = try authority.members(group: 1, epoch: epoch, scheme: .paillier, meters: [1, 2])
        let key = PaillierAttackBench.key
        let aggregator = try PaillierAggregator(
            members: members, publicKey: key.publicKey, layout: layout, currentLabel: 0,
            authorityKey: authority.publicKey)
        let intake = FrameIntake(members: members)
        var generator = SeededGenerator(seed: 7)
        for label in UInt64(0)..<96 {
            try aggregator.advance(to: label)
            for meter: UInt32 in [1, 2] {
                let c = key.publicKey.encrypt(BigInt(100), using: &generator)
                _ = try aggregator.accept(
                    intake.seal(
                        .reading, to: meter, label: label,
                        payload: c.value.bigEndianBytes(
                            length: key.publicKey.ciphertextBytes)!))
            }
        }
        let rogue = ProvisioningAuthority(seed: 666).signTariff(.threeRate, group: 1, period: 0...95, epoch: epoch)
        let elsewhere = authority.signTariff(.threeRate, group: 1, period: 96...191, epoch: epoch)
        var billed: [String] = []
        if (try? aggregator.bill(meter: 1, labels: 0...95, tariff: rogue)) != nil {
            billed.append("supplier-signed tariff")
        }
        if (try? aggregator.bill(meter: 1, labels: 0...95, tariff: elsewhere)) != nil {
            billed.append("another period")
        }
        // Control: the published tariff bills.
        let genuine = authority.signTariff(.threeRate, group: 1, period: 0...95, epoch: epoch)
        guard (try? aggregator.bill(meter: 2, labels: 0...95, tariff: genuine)) != nil else {
            throw AttackBenchError("the signed tariff did not bill")
        }
        return .refused(
            if: made.isEmpty && billed.isEmpty,
            "encoding tariffs made: \(made.isEmpty ? "none (prices at most \(Tariff.maxPriceRatio)x apart)" : made.joined(separator: ", ")); bills under \(billed.isEmpty ? "no forged or foreign tariff" : billed.joined(separator: ", ")); the published tariff bills"
        )
    }
}
