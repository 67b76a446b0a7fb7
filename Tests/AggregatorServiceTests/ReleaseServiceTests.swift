import Aggregation
import AggregatorAPI
import AggregatorService
import AggregatorStore
import Foundation
import MeterCrypto
import MeterSimulator
import Provisioning
import ServiceClient
import Testing

@Suite("Bills, energy reports and the feeder check over the service (SQLite and PostgreSQL)", .serialized)
struct ReleaseServiceTests {
    /// POST `path` with a JSON body as the supplier; the answer.
    static func post<T: Encodable>(_ client: AggregatorClient, _ path: String, _ body: T) async throws -> (
        status: Int, contentType: String, body: [UInt8]
    ) {
        try await client.send(.POST, path, body: Array(try JSONEncoder().encode(body)), contentType: "application/json")
    }

    @Test("a release over more than a year of labels is refused with 400, up to from 0 to 2^63 − 1 (that one trapped)")
    func releaseTooLong() async throws {
        try await withServer(.sqlite) { server, _ in
            let fleet = try paillierFleet(server, meters: 3, labels: 1)
            try await fleet.setUp()
            let supplier = try server.client(supplierToken)
            for to in [UInt64(366 * 96), UInt64(Int64.max)] {
                let answer = try await Self.post(
                    supplier, "/v1/groups/1/energy-reports", EnergyReportRequest(meter: 1, from: 0, to: to))
                #expect(answer.status == 400 && problem(answer)?.title == "badRequest", "to \(to)")
            }
            let year = try await Self.post(
                supplier, "/v1/groups/1/energy-reports", EnergyReportRequest(meter: 1, from: 0, to: 366 * 96 - 1))
            #expect(problem(year)?.title == "missingReading")
            await supplier.shutdown()
            await fleet.client.shutdown()
        }
    }

    @Test(
        "a Paillier meter's bill over a day, decrypted by the supplier, equals the bill of its readings; no label billed twice, also after a restart",
        arguments: Backend.allCases)
    func billsOverTheService(_ backend: Backend) async throws {
        guard let database = TestDatabase(backend) else { return }
        let first = try await TestServer(TestServer.configuration(database))
        let fleet = try paillierFleet(first, meters: 3, labels: 96)
        try await fleet.setUp()
        for label in 0..<UInt64(96) { await fleet.runLabel(label) }
        try await fleet.flush()
        #expect(fleet.pending == 0)
        let supplier = try first.client(supplierToken)
        let checks = try await fleet.billChecks(supplier: supplier)
        #expect(checks.count == 3 && checks.allSatisfy(\.exact), "\(checks)")
        #expect(checks.allSatisfy { $0.amount > Tariff.threeRate.fixedFee })

        let tariff = fleet.fleet.authority.signTariff(.threeRate, group: 1, period: 0...95, epoch: fleet.fleet.epoch)
        let json = SignedStatementJSON(
            body: Hex.encode(tariff.statement.body), signature: Hex.encode(tariff.statement.signature))
        // The same day again, a shorter period, an unsigned tariff, another group's tariff.
        let again = try await Self.post(
            supplier, "/v1/groups/1/bills", BillRequest(meter: 1, from: 0, to: 95, tariff: json))
        #expect(again.status == 409 && problem(again)?.title == "periodAlreadyReleased", "\(problem(again)!)")
        let short = try await Self.post(
            supplier, "/v1/groups/1/bills", BillRequest(meter: 1, from: 0, to: 94, tariff: json))
        #expect(short.status == 422 && problem(short)?.title == "periodTooShort")
        let stranger = ProvisioningAuthority(seed: 99).signTariff(.threeRate, group: 1, period: 0...95, epoch: 1)
        let forged = try await Self.post(
            supplier, "/v1/groups/1/bills",
            BillRequest(
                meter: 2, from: 0, to: 95,
                tariff: SignedStatementJSON(
                    body: Hex.encode(stranger.statement.body), signature: Hex.encode(stranger.statement.signature))))
        #expect(forged.status == 422 && problem(forged)?.title == "unsignedStatement")
        let elsewhere = fleet.fleet.authority.signTariff(.threeRate, group: 2, period: 0...95, epoch: fleet.fleet.epoch)
        let wrongGroup = try await Self.post(
            supplier, "/v1/groups/1/bills",
            BillRequest(
                meter: 2, from: 0, to: 95,
                tariff: SignedStatementJSON(
                    body: Hex.encode(elsewhere.statement.body), signature: Hex.encode(elsewhere.statement.signature))))
        #expect(problem(wrongGroup)?.title == "unsignedStatement")
        let unknown = try await Self.post(
            supplier, "/v1/groups/1/bills", BillRequest(meter: 77, from: 0, to: 95, tariff: json))
        #expect(unknown.status == 404 && problem(unknown)?.title == "unknownMeter")
        let anonymous = try first.client(nil)
        #expect(
            try await Self.post(anonymous, "/v1/groups/1/bills", BillRequest(meter: 1, from: 0, to: 95, tariff: json))
                .status == 401)

        // An energy report of the day: Enc(Σ usage), decrypted, equals the meter's day.
        let report = try await supplier.energyReport(group: 1, EnergyReportRequest(meter: 2, from: 0, to: 95))
        #expect(report.intervals.count == 1 && report.intervals[0].from == 0 && report.intervals[0].to == 95)
        let decryptor = fleet.supplier!
        let decrypted = try decryptor.decryptReport(
            PaillierEncryptedReport(
                meter: 2, intervals: [0...95],
                ciphertexts: [
                    try decryptor.publicKey.ciphertext(bigEndian: Hex.decode(report.intervals[0].ciphertext)!)
                ]))
        #expect(decrypted.intervals.map(\.energyWh) == [fleet.fleet.expectedReadings(meter: 1).prefix(96).reduce(0, +)])
        await anonymous.shutdown()
        await supplier.shutdown()
        await fleet.client.shutdown()
        await first.stop()

        // Restarted: the released periods are stored, the same day is still refused.
        let second = try await TestServer(TestServer.configuration(database))
        let supplier2 = try second.client(supplierToken)
        let afterRestart = try await Self.post(
            supplier2, "/v1/groups/1/bills", BillRequest(meter: 3, from: 0, to: 95, tariff: json))
        #expect(afterRestart.status == 409 && problem(afterRestart)?.title == "periodAlreadyReleased")
        let reportAgain = try await Self.post(
            supplier2, "/v1/groups/1/energy-reports", EnergyReportRequest(meter: 2, from: 0, to: 95))
        #expect(reportAgain.status == 409)
        let store = try await database.open()
        #expect(try await store.releases(group: 1, meter: 3, kind: .bill) == [0...95])
        #expect(try await store.releases(group: 1, meter: 2, kind: .report) == [0...95])
        await store.close()
        await supplier2.shutdown()
        await second.stop()
        await database.remove()
    }

    @Test(
        "the feeder check flags exactly the label with unmetered load; Paillier groups and bad bodies are refused by name",
        arguments: Backend.allCases)
    func feederCheckOverTheService(_ backend: Backend) async throws {
        try await withServer(backend) { server, _ in
            let fleet = try smallFleet(server, meters: 4, labels: 8)
            try await fleet.setUp()
            for label in 0..<UInt64(8) { await fleet.runLabel(label) }
            try await fleet.flush()
            let supplier = try server.client(supplierToken)
            let clean = try await fleet.feederCheck(supplier: supplier, feeder: FeederMeter(lossFraction: 0.02))
            #expect(clean.rows.count == 8 && clean.flagged_labels.isEmpty, "\(clean.rows)")
            #expect(clean.rows.allSatisfy { ($0.gap_wh ?? -1) >= 0 })
            let theft = try await fleet.feederCheck(
                supplier: supplier, feeder: FeederMeter(lossFraction: 0.02, bypass: [3: 2_000]))
            #expect(theft.flagged_labels == [3])
            let row = theft.rows.first { $0.label == 3 }!
            #expect(row.gap_wh! >= 2_000 && row.metered_wh == fleet.labelChecksTruth(3))
            let twice = try await Self.post(
                supplier, "/v1/groups/1/feeder-report",
                FeederReportRequest(feeder: [.init(label: 1, wh: 5), .init(label: 1, wh: 6)]))
            #expect(twice.status == 400 && problem(twice)?.title == "badRequest")
            let empty = try await Self.post(supplier, "/v1/groups/1/feeder-report", FeederReportRequest(feeder: []))
            #expect(empty.status == 400)
            // A total beyond the schema's 2^63 (schemathesis found it answered 200; with a sum on
            // the same label the gap would have trapped).
            let huge = try await Self.post(
                supplier, "/v1/groups/1/feeder-report", FeederReportRequest(feeder: [.init(label: 1, wh: 1 << 63)]))
            #expect(huge.status == 400 && problem(huge)?.title == "badRequest")
            let bill = try await Self.post(
                supplier, "/v1/groups/1/bills",
                BillRequest(meter: 1, from: 0, to: 95, tariff: SignedStatementJSON(body: "00", signature: "00")))
            #expect(problem(bill)?.title != nil && bill.status >= 400)
            await supplier.shutdown()
            await fleet.client.shutdown()
        }
    }
}

extension NetworkFleet {
    /// The true sum of `label` over the fleet's meters.
    func labelChecksTruth(_ label: Int) -> UInt64 {
        (0..<fleet.meters.count).reduce(UInt64(0)) { $0 + fleet.expectedReadings(meter: $1)[label] }
    }
}
