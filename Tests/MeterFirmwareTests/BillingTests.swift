import Aggregation
import Foundation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning
import TestSupport
import Testing

/// Bills without the curve (issue 14, item 4; docs/spec/billing.md): under a signed tariff an
/// LWR-PSA or DMCFE meter totals its stored readings per class and sends only the totals,
/// sealed for the supplier; they equal the tariff applied to its readings, across power cuts.
@Suite("Bills made on the meter")
struct BillingTests {
    /// A load that changes every minute (W), so that every label and class differs.
    static let profile: [UInt32] = (0..<(200 * 15)).map { m in UInt32(300 + (m * 7919) % 3200) * 1000 }

    /// Two meters keyed, a three-rate tariff for the 96 labels from the next one installed.
    struct Bench {
        let bench: TestBench
        let tariff: SignedTariff
        let supplier: SupplierBilling
        let intake: FrameIntake
        let seed: [UInt8]
        let bounds: LWRGroupBounds

        init(keyMode: KeyMode = .seed) throws {
            bench = try TestBench(meters: 2, profile: BillingTests.profile, keyMode: keyMode)
            _ = try bench.completeSetup()
            let first = bench.meters[0].firmware.nextLabel
            (tariff, supplier) = try bench.group.installMeterBilling(MeterBillingPlan(period: first...(first + 95)))
            intake = bench.group.intake
            let record = try #require(bench.meters[0].firmware.storedRecord)
            seed = (0..<32).map { record.psaSeed[$0] }
            bounds = try LWRGroupBounds(meters: 2, maxReading: 1000, parameters: .standard)
        }

        var meter: SimulatedMeter { bench.meters[0] }

        /// Meter 1's reading inside its reading frame (its own pad, from the seed).
        func reading(_ frame: [UInt8]) -> (label: UInt64, wh: UInt64) {
            let label = (12..<20).reduce(UInt64(0)) { $0 << 8 | UInt64(frame[$1]) }
            let c = (24..<32).reduce(UInt64(0)) { $0 << 8 | UInt64(frame[$1]) }
            let pad = LWRPSA.prf(parameters: .standard, seed: seed.span, group: 1, label: label)
            return (label, ((c &- pad) & LWRParameters.standard.plaintextMask) / bounds.delta)
        }

        /// Acks what the meters sent (readings and bills); meter 1's readings by label and its bill.
        func collect(_ sent: [[[UInt8]]], into readings: inout [UInt64: UInt64], bill: inout [UInt8]?) throws {
            for (i, frames) in sent.enumerated() {
                let m = bench.meters[i]
                for frame in frames {
                    switch frameType(frame) {
                    case .reading:
                        let label = (12..<20).reduce(UInt64(0)) { $0 << 8 | UInt64(frame[$1]) }
                        if i == 0 {
                            let r = reading(frame)
                            if let old = readings[r.label] { #expect(old == r.wh, "a label stored twice") }
                            readings[r.label] = r.wh
                        }
                        try m.deliver(intake.acknowledgement(to: m.id, label: label))
                    case .bill:
                        let (header, ack) = try intake.acceptBill(frame)
                        if i == 0 {
                            if let old = bill { #expect(old == frame, "every resend of a bill is byte-identical") }
                            bill = frame
                        }
                        #expect(header.label == tariff.period.upperBound)
                        try m.deliver(ack)
                    default: break
                    }
                }
            }
        }

        /// The bill the tariff gives meter 1's stored `readings`, per class.
        func expectedTotals(_ readings: [UInt64: UInt64]) -> [UInt64] {
            var totals = [UInt64](repeating: 0, count: tariff.tariff.classes.count)
            for (label, wh) in readings where tariff.period.contains(label) {
                totals[tariff.tariff.classIndex(of: label)] += wh
            }
            return totals
        }
    }

    @Test("12 meters, 97 labels: each meter's bill equals the tariff applied to its true readings")
    func fleetBills() throws {
        var config = FleetConfiguration()
        config.meters = 12
        config.threads = 2
        config.maxReading = 5000
        config.seed = 4
        config.meterBilling = MeterBillingPlan(period: 0...95)
        let fleet = try Fleet(config, labels: 97)
        _ = try fleet.runKeySetup()
        for label in UInt64(0)..<96 {
            #expect(try fleet.runLabel(label).exact)
            #expect(fleet.meterBillFrames.isEmpty == (label < 95), "bills come at the period's last label")
        }
        let bills = try fleet.meterMadeBills()
        #expect(bills.count == 12)
        for (i, (made, expected)) in bills.enumerated() {
            #expect(made.bill.amount == expected)
            #expect(made.meteredLabels == 96)
            let readings = fleet.expectedReadings(meter: i)
            var totals = [UInt64](repeating: 0, count: 3)
            for l in 0..<96 { totals[Tariff.threeRate.classIndex(of: UInt64(l))] += readings[l] }
            #expect(made.classTotals == totals)
            #expect(made.bill.amount > Tariff.threeRate.fixedFee)
        }
        // The acks arrive with the next label: the meters hold no period any more.
        #expect(try fleet.runLabel(96).exact)
        for meter in fleet.meters { #expect(meter.firmware.billingRecord.periods[0].state == .empty) }
    }

    @Test("the bill key, nonce and seal agree with pycryptodome's KMAC128 and PyPI cryptography's AES-GCM")
    func crossCheck() throws {
        let b = try Bench()
        var readings: [UInt64: UInt64] = [:]
        var bill: [UInt8]? = nil
        for _ in 0..<97 { try b.collect(b.bench.runInterval(), into: &readings, bill: &bill) }
        let frame = try #require(bill)
        let record = try #require(b.meter.firmware.storedRecord)
        let secret = (0..<32).map { record.frameSecret[$0] }
        struct Input: Encodable {
            let secret: String
            let supplier: UInt32
            let meter: UInt32
            let frame: String
        }
        struct Output: Decodable {
            let key: String
            let nonceMatches: Bool
            let classCount: Int
            let metered: Int
            let totals: [UInt64]
        }
        let script = """
            import json, sys
            from Crypto.Hash import KMAC128
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            d = json.load(sys.stdin)
            frame = bytes.fromhex(d["frame"])
            k = KMAC128.new(key=bytes.fromhex(d["secret"]), mac_len=32, custom=b"PM-BILL-KEY-v1")
            k.update(d["supplier"].to_bytes(4, "big") + d["meter"].to_bytes(4, "big"))
            key = k.digest()
            aad, nonce, sealed = frame[:48], frame[48:60], frame[60:116]
            pt = AESGCM(key[:16]).decrypt(nonce, sealed, aad)
            n = KMAC128.new(key=key[16:], mac_len=16, custom=b"PM-BILL-NONCE-v1")
            n.update(aad + pt)
            totals = [int.from_bytes(pt[8 + 8 * c:16 + 8 * c], "big") for c in range(pt[1])]
            print(json.dumps({"key": key.hex(), "nonceMatches": n.digest()[:12] == nonce, "classCount": pt[1],
                              "metered": int.from_bytes(pt[4:8], "big"), "totals": totals}))
            """
        let out = try PythonOracle.run(
            script, input: Input(secret: Hex.encode(secret), supplier: 1, meter: 1, frame: Hex.encode(frame)),
            as: Output.self)
        #expect(out.key == Hex.encode(try b.bench.authority.billKey(meter: 1, supplier: 1)))
        #expect(out.nonceMatches)
        #expect(out.classCount == 3 && out.metered == 96)
        #expect(out.totals == b.expectedTotals(readings))
        #expect(try b.supplier.open(frame).totals == out.totals)
    }

    @Test(
        "a power cut anywhere in a billed boundary counts that reading once or not at all, as the aggregator got it",
        arguments: 0..<12)
    func powerCut(_ run: Int) throws {
        let b = try Bench()
        let cutLabel = b.tariff.period.lowerBound + 10
        var readings: [UInt64: UInt64] = [:]
        var bill: [UInt8]? = nil
        var cut = false
        while bill == nil {
            let m = b.meter
            if m.firmware.nextLabel == cutLabel && !cut {
                // Meter 1 through the interval, its boundary cut after `run / 3` flash operations.
                for _ in 0..<14 {
                    m.advance(ticks: 60_000)
                    _ = m.firmware.poll()
                }
                m.advance(ticks: 60_000)
                m.board.armPowerCut(afterOperations: UInt64(run / 3), mode: [.partial, .before, .after][run % 3])
                _ = m.firmware.poll()
                m.board.disarmPowerCut()
                cut = true
                var frames = m.takeSent()
                try m.reboot()
                _ = m.firmware.poll()  // resends what is pending
                frames += m.takeSent()
                try b.collect(
                    [frames, SimulatedGroup.runInterval(b.bench.meters[1])], into: &readings, bill: &bill)
                continue
            }
            try b.collect(b.bench.runInterval(), into: &readings, bill: &bill)
            #expect(m.firmware.nextLabel < cutLabel + 200, "the period never closed")
            if m.firmware.nextLabel > cutLabel + 200 { break }
        }
        let contents = try b.supplier.open(try #require(bill))
        let inPeriod = readings.filter { b.tariff.period.contains($0.key) }
        #expect(contents.totals == b.expectedTotals(readings))
        #expect(Int(contents.meteredLabels) == inPeriod.count)
        #expect(inPeriod.count >= 95, "at most the cut label's reading is missing")
    }

    @Test("refused tariffs: too short, started, overlapping, too many classes; nothing held changes")
    func refusals() throws {
        let b = try Bench()
        let group = b.bench.group
        let meter = b.meter
        let epoch = group.epoch
        let held = b.tariff.period
        /// The last event, and the code and detail of the first status frame (the chunks after
        /// a refused first chunk are refused as out of order).
        func answer(_ signed: SignedTariff) throws -> (MeterEvent, StatusCode?, UInt16?) {
            // The acks still in the inbox first: one frame per poll.
            while meter.board.inboxPending > 0 { _ = meter.firmware.poll() }
            _ = meter.takeSent()
            var event = MeterEvent.none
            for frame in group.intake.statementFrames(signed.statement, to: meter.id) {
                event = try meter.handle(frame)
            }
            let status = meter.takeSent().first { frameType($0) == .status }
            return (event, status.flatMap(statusCode), status.map { UInt16($0[32]) << 8 | UInt16($0[33]) })
        }
        // Two readings stored (labels 0 and 1): the held period is open.
        var readings: [UInt64: UInt64] = [:]
        var bill: [UInt8]? = nil
        for _ in 0..<2 { try b.collect(b.bench.runInterval(), into: &readings, bill: &bill) }
        #expect(readings.count == 2 && meter.firmware.billingRecord.periods[0].state == .open)
        let authority = b.bench.authority
        let next = held.upperBound + 1
        let five = try Tariff(
            unit: "µ€", unitsPerCurrency: 1_000_000,
            classes: (0..<5).map { Tariff.PriceClass(name: "c\($0)", pricePerWh: 200 + UInt64($0)) },
            hourClass: (0..<24).map { $0 % 5 }, fixedFee: 0)
        let cases: [(SignedTariff, BillingRejection)] = [
            (authority.signTariff(.threeRate, group: 1, period: next...(next + 3), epoch: epoch), .periodTooShort),
            (
                authority.signTariff(.threeRate, group: 1, period: (held.lowerBound + 1)...(next + 200), epoch: epoch),
                .periodStarted
            ),
            (
                authority.signTariff(
                    .threeRate, group: 1, period: held.upperBound...(held.upperBound + 96), epoch: epoch),
                .overlapsPeriod
            ),
            (authority.signTariff(five, group: 1, period: next...(next + 95), epoch: epoch), .tooManyClasses),
        ]
        for (signed, why) in cases {
            let (_, code, detail) = try answer(signed)
            #expect(code == .billingRejected)
            #expect(detail == UInt16(why.rawValue))
        }
        // Another group's tariff and an older epoch's are not this meter's (the aggregator holds
        // no frame key of an older epoch: its relay fails the frame tag).
        let other = try answer(authority.signTariff(.threeRate, group: 2, period: next...(next + 95), epoch: epoch))
        #expect(other.1 == .statementRejected && other.2 == UInt16(StatementRejection.wrongSubject.rawValue))
        let older = try answer(authority.signTariff(.threeRate, group: 1, period: next...(next + 95), epoch: epoch - 1))
        #expect(older.0 != .statementAccepted(.tariff) && older.1 == nil)
        let periods = meter.firmware.billingRecord.periods
        #expect(periods[0].state == .open && periods[0].first == held.lowerBound && periods[1].state == .empty)
        // The next period queues behind the first; a third is refused until a bill is acknowledged.
        #expect(
            try answer(authority.signTariff(.threeRate, group: 1, period: next...(next + 95), epoch: epoch)).0
                == .statementAccepted(.tariff))
        let third = next + 96
        let busy = try answer(authority.signTariff(.threeRate, group: 1, period: third...(third + 95), epoch: epoch))
        #expect(busy.1 == .billingRejected && busy.2 == UInt16(BillingRejection.busy.rawValue))
        // A reboot reads both periods back.
        try meter.reboot()
        let after = meter.firmware.billingRecord.periods
        #expect(after[0].first == held.lowerBound && after[0].state == .open && after[0].meteredLabels == 2)
        #expect(after[1].first == next && after[1].state == .queued)
    }

    @Test("expanded key mode and a DMCFE group bill the same way")
    func otherModes() throws {
        let b = try Bench(keyMode: .expanded)
        var readings: [UInt64: UInt64] = [:]
        var bill: [UInt8]? = nil
        for _ in 0..<97 { try b.collect(b.bench.runInterval(), into: &readings, bill: &bill) }
        #expect(try b.supplier.open(try #require(bill)).totals == b.expectedTotals(readings))

        var config = FleetConfiguration()
        config.meters = 3
        config.threads = 2
        config.scheme = .dmcfe
        config.maxReading = 1000
        config.meterBilling = MeterBillingPlan(period: 0...95)
        let fleet = try Fleet(config, labels: 96)
        _ = try fleet.runKeySetup()
        for label in UInt64(0)..<96 { #expect(try fleet.runLabel(label).exact) }
        let bills = try fleet.meterMadeBills()
        #expect(bills.count == 3)
        for (made, expected) in bills { #expect(made.bill.amount == expected) }
    }
}
