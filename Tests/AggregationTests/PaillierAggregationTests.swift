import Aggregation
import BigNum
import Foundation
import MeterCrypto
import MeterSimulator
import Provisioning
import TestSupport
import Testing

@Suite("Paillier aggregator, supplier, layouts, billing, feeder")
struct PaillierAggregationTests {
    @Test("the aggregator multiplies a group's ciphertexts; the supplier decrypts only the group sum")
    func groupSum() throws {
        let key = PaillierFixtures.key2048
        let fixture = try PaillierGroupFixture(meters: [3, 5, 8], key: key.publicKey)
        let supplier = PaillierSupplier(privateKey: key, layout: fixture.layout)
        var rng = SeededGenerator(seed: 17)
        for label in UInt64(0)..<3 {
            var truth: UInt64 = 0
            for meter in fixture.members.meters {
                let reading = UInt64.random(in: 0...5000, using: &rng)
                truth += reading
                #expect(throws: AggregationError.self) { try fixture.aggregator.aggregate(label: label) }
                _ = try fixture.aggregator.accept(
                    fixture.frame(meter: meter, label: label, reading: reading, using: &rng))
            }
            let aggregate = try fixture.aggregator.aggregate(label: label)
            #expect(aggregate.meters == 3 && aggregate.group == 9 && aggregate.label == label)
            #expect(try supplier.decryptSum(aggregate) == truth)
            try fixture.aggregator.advance(to: label + 1)
        }
        // The same through the scheme-independent pipeline.
        let pipeline = GroupSumPipeline(aggregator: fixture.aggregator, decryptor: supplier)
        for meter in fixture.members.meters {
            _ = try pipeline.accept(fixture.frame(meter: meter, label: 3, reading: 100, using: &rng))
        }
        #expect(try pipeline.sum(label: 3).sum == 300)
    }

    @Test("rejected frames are typed errors and change nothing: bad ciphertexts, unknown meter, duplicates")
    func rejectedFrames() throws {
        let key = PaillierFixtures.key2048
        let pk = key.publicKey
        let fixture = try PaillierGroupFixture(meters: [1, 2], key: pk)
        var rng = SeededGenerator(seed: 4)
        _ = try fixture.aggregator.accept(fixture.frame(meter: 1, label: 0, reading: 10, using: &rng))
        #expect(throws: AggregationError.ciphertextOutOfRange) {
            try fixture.aggregator.accept(fixture.frame(meter: 2, label: 0, ciphertext: pk.nSquared))
        }
        #expect(throws: AggregationError.zeroCiphertext) {
            try fixture.aggregator.accept(fixture.frame(meter: 2, label: 0, ciphertext: BigInt(0)))
        }
        let short = fixture.intake.seal(.reading, to: 2, label: 0, payload: [1, 2, 3])
        #expect(throws: AggregationError.badPayload(type: .reading, size: 3)) { try fixture.aggregator.accept(short) }
        // A frame from a meter outside the group (sealed with some key).
        let outsider = try PaillierGroupFixture(meters: [1, 2, 77], key: pk)
        #expect(throws: AggregationError.unknownMeter(77)) {
            try fixture.aggregator.accept(outsider.frame(meter: 77, label: 0, reading: 1, using: &rng))
        }
        // A second, different ciphertext for the label: a label-reuse alarm.
        #expect(throws: AggregationError.labelReused(meter: 1, label: 0)) {
            try fixture.aggregator.accept(fixture.frame(meter: 1, label: 0, reading: 99, using: &rng))
        }
        // Nothing above changed the collected state.
        _ = try fixture.aggregator.accept(fixture.frame(meter: 2, label: 0, reading: 20, using: &rng))
        let supplier = PaillierSupplier(privateKey: key, layout: fixture.layout)
        #expect(try supplier.decryptSum(fixture.aggregator.aggregate(label: 0)) == 30)
        // An LWR-PSA group cannot run a Paillier aggregator.
        let lwrMembers = try GroupMembers(group: 9, scheme: .lwrPSA, frameKeys: [1: [UInt8](repeating: 1, count: 32)])
        #expect(throws: AggregationError.wrongScheme(expected: .paillier, actual: .lwrPSA)) {
            try PaillierAggregator(members: lwrMembers, publicKey: pk, layout: fixture.layout, currentLabel: 0)
        }
    }

    @Test("the supplier refuses aggregates of another key and aggregates short of the whole group")
    func supplierRefusals() throws {
        let key = PaillierFixtures.key2048
        let fixture = try PaillierGroupFixture(meters: [1, 2], key: key.publicKey)
        var rng = SeededGenerator(seed: 8)
        for meter: UInt32 in [1, 2] {
            _ = try fixture.aggregator.accept(fixture.frame(meter: meter, label: 0, reading: 5, using: &rng))
        }
        let aggregate = try fixture.aggregator.aggregate(label: 0)
        let other = PaillierSupplier(privateKey: PaillierFixtures.otherKey2048, layout: fixture.layout)
        #expect(throws: AggregationError.self) { try other.decryptSum(aggregate) }
        // A supplier whose layout says group 9 has three meters.
        let bigger = PaillierSupplier(privateKey: key, layout: try GroupLayout(group: 9, meters: [1, 2, 3]))
        #expect(throws: AggregationError.notAGroupSum(group: 9, meters: 2, expected: 3)) {
            try bigger.decryptSum(aggregate)
        }
        let elsewhere = PaillierSupplier(privateKey: key, layout: try GroupLayout(group: 10, meters: [1, 2]))
        #expect(throws: AggregationError.self) { try elsewhere.decryptSum(aggregate) }
    }

    // MARK: - layouts

    @Test("the differencing check accepts layouts whose sums reveal no single meter")
    func validLayouts() throws {
        _ = try GroupLayout(group: 1, meters: [1, 2])
        // Overlapping groups; any combination moves meters in pairs or more.
        _ = try GroupLayout(groups: [1: [1, 2, 3, 4], 2: [3, 4, 5, 6], 3: [1, 2, 5, 6]])
        // A chain: {1,2,3,4} = {1,2} + {3,4}; {2,3} adds a direction, but no e_i is reachable.
        _ = try GroupLayout(groups: [1: [1, 2, 3, 4], 2: [1, 2], 3: [2, 3], 4: [3, 4]])
        let layout = try GroupLayout(groups: [7: [10, 11, 12], 8: [12, 13, 14, 15]])
        #expect(layout.groups(of: 12) == [7, 8])
        #expect(layout.meters(of: 8) == [12, 13, 14, 15])
    }

    @Test("the differencing check rejects layouts that isolate a meter, naming it and the groups")
    func isolatingLayouts() throws {
        #expect(throws: AggregationError.layoutIsolatesMeter(meter: 1, groups: [1])) {
            try GroupLayout(group: 1, meters: [1])
        }
        // {1,2,3} − {2,3} = meter 1.
        #expect(throws: AggregationError.layoutIsolatesMeter(meter: 1, groups: [1, 2])) {
            try GroupLayout(groups: [1: [1, 2, 3], 2: [2, 3]])
        }
        // No group is a subset of another, yet {1,2} + {1,3} − {2,3} = 2·meter 1.
        #expect(throws: AggregationError.layoutIsolatesMeter(meter: 1, groups: [1, 2, 3])) {
            try GroupLayout(groups: [1: [1, 2], 2: [1, 3], 3: [2, 3]])
        }
        // A larger one where only a three-group combination isolates meter 4:
        // {1,2,3,4} − {1,2,5} − {3,6} + {5,6} = meter 4.
        let groups: [UInt32: Set<UInt32>] = [1: [1, 2, 3, 4], 2: [1, 2, 5], 3: [3, 6], 4: [5, 6]]
        let revealed = GroupLayout.revealedMeters(groups)
        #expect(revealed.map(\.meter) == [4])
        #expect(revealed.first?.groups == [1, 2, 3, 4])
        #expect(throws: AggregationError.layoutIsolatesMeter(meter: 4, groups: [1, 2, 3, 4])) {
            try GroupLayout(groups: groups)
        }
        #expect(throws: AggregationError.invalidGroup("group 3 has no meters")) {
            try GroupLayout(groups: [1: [1, 2], 3: []])
        }
    }

    struct RankInput: Encodable {
        let layouts: [[[Int]]]  // per layout: rows (groups) of 0/1 over meters 0..<m
    }
    struct RankOutput: Decodable { let revealed: [[Int]] }

    @Test("the differencing check agrees with sympy's exact rank test on random layouts")
    func layoutsAgainstSympy() throws {
        var rng = SeededGenerator(seed: 2024)
        let meterCount = 7
        var layouts: [[UInt32: Set<UInt32>]] = []
        var matrices: [[[Int]]] = []
        while layouts.count < 60 {
            let groupCount = Int.random(in: 1...5, using: &rng)
            var groups: [UInt32: Set<UInt32>] = [:]
            for g in 0..<groupCount {
                let members = Set((0..<meterCount).filter { _ in Bool.random(using: &rng) }.map { UInt32($0) })
                if !members.isEmpty { groups[UInt32(g)] = members }
            }
            guard !groups.isEmpty else { continue }
            layouts.append(groups)
            matrices.append(
                groups.keys.sorted().map { g in (0..<meterCount).map { groups[g]!.contains(UInt32($0)) ? 1 : 0 } })
        }
        let script = #"""
            import json, sys
            from sympy import Matrix
            inp = json.load(sys.stdin)
            out = []
            for rows in inp["layouts"]:
                m = Matrix(rows)
                used = [j for j in range(m.cols) if any(m[i, j] for i in range(m.rows))]
                r = m.rank()
                revealed = []
                for j in used:
                    e = Matrix([[1 if k == j else 0 for k in range(m.cols)]])
                    if m.col_join(e).rank() == r:
                        revealed.append(j)
                out.append(revealed)
            print(json.dumps({"revealed": out}))
            """#
        let expected = try PythonOracle.run(script, input: RankInput(layouts: matrices), as: RankOutput.self)
        var rejected = 0
        for (i, groups) in layouts.enumerated() {
            let ours = GroupLayout.revealedMeters(groups).map { Int($0.meter) }
            #expect(ours == expected.revealed[i], "layout \(i): \(groups)")
            if !ours.isEmpty { rejected += 1 }
        }
        #expect(rejected > 5 && rejected < 55)  // both outcomes occur
    }

    @Test("an aggregator needs its group in a validated layout")
    func aggregatorNeedsLayout() throws {
        let key = PaillierFixtures.key2048
        let layout = try GroupLayout(groups: [1: [1, 2, 3, 4], 2: [3, 4, 5, 6]])
        let keys = Dictionary(uniqueKeysWithValues: [UInt32(1), 2, 3].map { ($0, [UInt8](repeating: 1, count: 32)) })
        let members = try GroupMembers(group: 1, scheme: .paillier, frameKeys: keys)
        #expect(throws: AggregationError.self) {
            try PaillierAggregator(members: members, publicKey: key.publicKey, layout: layout, currentLabel: 0)
        }
    }

    // MARK: - billing

    /// Two meters reporting `days` days of readings to one aggregator.
    func billingFixture(days: Int, seed: UInt64) throws -> (PaillierGroupFixture, [UInt32: [UInt64]]) {
        let key = PaillierFixtures.key2048
        let fixture = try PaillierGroupFixture(meters: [1, 2], key: key.publicKey)
        var rng = SeededGenerator(seed: seed)
        var readings: [UInt32: [UInt64]] = [1: [], 2: []]
        for label in UInt64(0)..<UInt64(96 * days) {
            try fixture.aggregator.advance(to: label)
            for meter: UInt32 in [1, 2] {
                let reading = UInt64.random(in: 0...800, using: &rng)
                readings[meter]!.append(reading)
                _ = try fixture.aggregator.accept(
                    fixture.frame(meter: meter, label: label, reading: reading, using: &rng))
            }
        }
        return (fixture, readings)
    }

    @Test("the encrypted bill equals the plaintext tariff computation; reports give energy per day")
    func billing() throws {
        let (fixture, readings) = try billingFixture(days: 2, seed: 12)
        let supplier = PaillierSupplier(privateKey: PaillierFixtures.key2048, layout: fixture.layout)
        let tariff = Tariff.threeRate
        let encrypted = try fixture.aggregator.bill(meter: 1, labels: 0...95, tariff: fixture.signed(tariff))
        let bill = try supplier.decryptBill(encrypted)
        let expected = tariff.plaintextBill(readings: Array(readings[1]![0..<96]), firstLabel: 0)
        #expect(bill.amount == expected)
        #expect(bill.amount > tariff.fixedFee)
        // A second tariff (flat price) on the other meter's second day.
        let flat = try Tariff(
            unit: "ct", unitsPerCurrency: 100, classes: [.init(name: "flat", pricePerWh: 3)],
            hourClass: [Int](repeating: 0, count: 24), fixedFee: 1234)
        let bill2 = try supplier.decryptBill(
            fixture.aggregator.bill(meter: 2, labels: 96...191, tariff: fixture.signed(flat)))
        let secondDay: UInt64 = readings[2]![96..<192].reduce(0, +)
        #expect(bill2.amount == 1234 + 3 * secondDay)

        let report = try supplier.decryptReport(fixture.aggregator.energyReport(meter: 1, labels: 0...191))
        let day0: UInt64 = readings[1]![0..<96].reduce(0, +)
        let day1: UInt64 = readings[1]![96..<192].reduce(0, +)
        #expect(report.intervals.map(\.energyWh) == [day0, day1])
        #expect(report.intervals.map(\.firstLabel) == [0, 96])
        #expect(report.averageWh == Double(day0 + day1) / 2)
    }

    // Attack 7 of the trust review: price 1 for 23 hours and 2^31 for one hour decoded that
    // hour's energy of one household from one one-day bill (and two hours with three price
    // levels). Bills now need a tariff the authority signed for the group and the period,
    // with prices at most 16× apart.
    @Test("bills only under a signed tariff of the group and period, prices at most 16x apart (attack 7)")
    func tariffAttack() throws {
        let (fixture, _) = try billingFixture(days: 2, seed: 14)
        var hours = [Int](repeating: 0, count: 24)
        hours[13] = 1
        #expect(throws: AggregationError.self) {
            try Tariff(
                unit: "u", unitsPerCurrency: 1,
                classes: [.init(name: "a", pricePerWh: 1), .init(name: "b", pricePerWh: 1 << 31)],
                hourClass: hours, fixedFee: 0)
        }
        hours[14] = 2
        #expect(throws: AggregationError.self) {
            try Tariff(
                unit: "u", unitsPerCurrency: 1,
                classes: [
                    .init(name: "a", pricePerWh: 1), .init(name: "b", pricePerWh: 1 << 11),
                    .init(name: "c", pricePerWh: 1 << 22),
                ],
                hourClass: hours, fixedFee: 0)
        }
        // A tariff within the bound, but signed by someone else (the supplier), or for
        // another group, or for another period, is refused.
        let tariff = Tariff.threeRate
        let rogue = ProvisioningAuthority(seed: 99).signTariff(
            tariff, group: fixture.members.group, period: 0...191, epoch: 1)
        #expect(throws: AggregationError.unsignedStatement("the tariff is not signed by this aggregator's authority")) {
            try fixture.aggregator.bill(meter: 1, labels: 0...95, tariff: rogue)
        }
        let otherGroup = PaillierGroupFixture.authority.signTariff(tariff, group: 1234, period: 0...191, epoch: 1)
        #expect(throws: AggregationError.self) {
            try fixture.aggregator.bill(meter: 1, labels: 0...95, tariff: otherGroup)
        }
        #expect(throws: AggregationError.outsideTariffPeriod(labels: 0...95, period: 96...191)) {
            try fixture.aggregator.bill(meter: 1, labels: 0...95, tariff: fixture.signed(tariff, period: 96...191))
        }
        #expect(throws: Never.self) {
            try fixture.aggregator.bill(meter: 1, labels: 0...95, tariff: fixture.signed(tariff))
        }
    }

    // Attack 6: two layouts that are each fine but live together (during a transition)
    // isolate a household by subtraction. The authority signs a layout only if it passes
    // the differencing check together with every live one; aggregators take only signed layouts.
    @Test("layouts live at once are checked as one; only signed layouts are taken (attack 6)")
    func layoutUnion() throws {
        let authority = ProvisioningAuthority(seed: 61)
        let first = try authority.signLayout(groups: [1: [1, 2, 3]], epoch: 1)
        #expect(throws: AuthorityError.self) { try authority.signLayout(groups: [2: [2, 3]], epoch: 2) }
        authority.retireLayout(epoch: 1)
        let second = try authority.signLayout(groups: [2: [2, 3]], epoch: 2)
        #expect(try GroupLayout(signed: second, authorityKey: authority.publicKey).epoch == 2)
        #expect(try GroupLayout(signed: first, authorityKey: authority.publicKey).groups == [1: [1, 2, 3]])
        // A layout the aggregator or supplier made up is refused.
        let forged = ProvisioningAuthority(seed: 62).sign(GroupLayout.body(groups: [3: [1, 2]], epoch: 3))
        #expect(throws: AggregationError.self) { try GroupLayout(signed: forged, authorityKey: authority.publicKey) }
        // A meter's groups come from one live layout only.
        #expect(throws: AuthorityError.self) {
            try authority.signPaillierKey(meter: 1, publicKey: PaillierFixtures.key2048.publicKey, layoutEpoch: 1)
        }
    }

    @Test("billing refuses short periods, overlaps, missing readings and unknown meters")
    func billingRefusals() throws {
        let (fixture, _) = try billingFixture(days: 2, seed: 13)
        let tariff = Tariff.threeRate
        #expect(throws: AggregationError.periodTooShort(labels: 95, minimum: 96)) {
            try fixture.aggregator.bill(meter: 1, labels: 0...94, tariff: fixture.signed(tariff))
        }
        #expect(throws: AggregationError.unknownMeter(42)) {
            try fixture.aggregator.bill(meter: 42, labels: 0...95, tariff: fixture.signed(tariff))
        }
        #expect(throws: AggregationError.missingReading(meter: 1, label: 192)) {
            try fixture.aggregator.bill(meter: 1, labels: 97...192, tariff: fixture.signed(tariff))
        }
        _ = try fixture.aggregator.bill(meter: 1, labels: 0...95, tariff: fixture.signed(tariff))
        #expect(throws: AggregationError.periodAlreadyReleased(meter: 1, label: 50)) {
            try fixture.aggregator.bill(meter: 1, labels: 50...145, tariff: fixture.signed(tariff))
        }
        _ = try fixture.aggregator.bill(meter: 1, labels: 96...191, tariff: fixture.signed(tariff))  // adjacent: fine
        _ = try fixture.aggregator.energyReport(meter: 1, labels: 0...95)
        #expect(throws: AggregationError.periodAlreadyReleased(meter: 1, label: 0)) {
            try fixture.aggregator.energyReport(meter: 1, labels: 0...95)
        }
        #expect(throws: AggregationError.periodTooShort(labels: 4, minimum: 96)) {
            try fixture.aggregator.energyReport(meter: 2, labels: 0...95, intervalLabels: 4)
        }
        #expect(throws: AggregationError.invalidTariff("no price classes")) {
            try Tariff(unit: "x", unitsPerCurrency: 1, classes: [], hourClass: [], fixedFee: 0)
        }
        #expect(throws: AggregationError.invalidTariff("every price is in 1 ..< 2^32 units per Wh")) {
            try Tariff(
                unit: "x", unitsPerCurrency: 1, classes: [.init(name: "free", pricePerWh: 0)],
                hourClass: [Int](repeating: 0, count: 24), fixedFee: 0)
        }
    }

    // MARK: - feeder

    @Test("the feeder report flags labels whose gap exceeds the tolerance, and missing labels")
    func feeder() {
        let metered: [UInt64: UInt64] = [0: 1000, 1: 1000, 2: 1000, 3: 40]
        let feeder: [UInt64: UInt64] = [0: 1020, 1: 1300, 2: 900, 3: 80, 4: 500]
        let report = FeederReport(
            group: 1, metered: metered, feeder: feeder, tolerance: FeederTolerance(absoluteWh: 50, relative: 0.05))
        #expect(report.rows.map(\.label) == [0, 1, 2, 3, 4])
        #expect(report.rows.map(\.gapWh) == [20, 300, -100, 40, nil])
        #expect(report.flaggedLabels == [1, 2, 4])
    }
}
