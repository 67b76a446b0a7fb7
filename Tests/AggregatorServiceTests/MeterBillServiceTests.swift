import Aggregation
import AggregatorAPI
import Foundation
import MeterCrypto
import MeterSimulator
import Provisioning
import ServiceClient
import Testing

/// Bills made on the meter through the service (docs/spec/billing.md, docs/service.md): the
/// operator installs the signed tariff, the meters take it from their downlink and upload their
/// sealed bills after the period; the supplier fetches them, opens them with its bill keys and
/// each equals the tariff applied to the meter's readings. The service cannot open them.
@Suite("Service: bills made on the meters", .serialized)
struct MeterBillServiceTests {
    static func put(_ client: AggregatorClient, _ path: String, _ body: MeterTariffBody) async throws -> (
        status: Int, contentType: String, body: [UInt8]
    ) {
        try await client.send(.PUT, path, body: Array(try JSONEncoder().encode(body)), contentType: "application/json")
    }

    @Test(
        "4 meters, 97 labels: every meter's bill from the service equals its readings' bill; kept across a restart; bad tariffs refused by name",
        arguments: Backend.allCases)
    func meterBills(_ backend: Backend) async throws {
        guard let database = TestDatabase(backend) else { return }
        let first = try await TestServer(TestServer.configuration(database))
        let fleet = try smallFleet(first, meters: 4, labels: 97, seed: 12) {
            $0.meterBilling = MeterBillingPlan(period: 0...95)
        }
        try await fleet.setUp()
        for label in 0..<UInt64(97) { await fleet.runLabel(label) }
        try await fleet.flush()
        #expect(fleet.billsStored == 4 && fleet.billsRejected.isEmpty, "\(fleet.billsRejected)")
        let supplier = try first.client(supplierToken)
        let checks = try await fleet.meterBillChecks(supplier: supplier)
        #expect(checks.count == 4 && checks.allSatisfy(\.exact), "\(checks)")
        #expect(checks.allSatisfy { $0.class_totals.count == 3 && $0.amount > Tariff.threeRate.fixedFee })
        // The meters let their bills go (acked): no bill frame in the last label's upload.
        for meter in fleet.fleet.meters { #expect(meter.firmware.billingRecord.periods[0].state == .empty) }

        // What the service stores opens under none of the keys it holds.
        let response = try await supplier.meterBills(group: 1)
        let members = fleet.fleet.members
        for entry in response.bills {
            let frame = try #require(Hex.decode(entry.frame))
            let key = try #require(members.frameKey(of: entry.meter))
            #expect(throws: MeterBillError.notAuthentic) { try MeterBill.open(frame.span, billKey: key.span) }
        }

        // Tariffs the service refuses by name (the meters check the signature themselves).
        let operatorClient = try first.client()
        let authority = fleet.fleet.authority
        func body(_ t: SignedTariff) -> MeterTariffBody {
            MeterTariffBody(statement_body: Hex.encode(t.statement.body), signature: Hex.encode(t.statement.signature))
        }
        let epoch = fleet.fleet.epoch
        let short = try await Self.put(
            operatorClient, "/v1/groups/1/tariff",
            body(authority.signTariff(.threeRate, group: 1, period: 200...203, epoch: epoch)))
        #expect(short.status == 422 && problem(short)?.title == "periodTooShort")
        let elsewhere = try await Self.put(
            operatorClient, "/v1/groups/1/tariff",
            body(authority.signTariff(.threeRate, group: 2, period: 200...295, epoch: epoch)))
        #expect(problem(elsewhere)?.title == "unsignedStatement")
        let older = try await Self.put(
            operatorClient, "/v1/groups/1/tariff",
            body(authority.signTariff(.threeRate, group: 1, period: 200...295, epoch: epoch + 1)))
        #expect(problem(older)?.title == "unsignedStatement")
        let forged = try await Self.put(
            operatorClient, "/v1/groups/1/tariff",
            body(ProvisioningAuthority(seed: 99).signTariff(.threeRate, group: 1, period: 200...295, epoch: epoch)))
        #expect(forged.status == 422 && problem(forged)?.title == "unsignedStatement")
        var flipped = body(authority.signTariff(.threeRate, group: 1, period: 200...295, epoch: epoch))
        flipped.signature = String(flipped.signature.dropLast(2)) + (flipped.signature.hasSuffix("00") ? "01" : "00")
        let flippedAnswer = try await Self.put(operatorClient, "/v1/groups/1/tariff", flipped)
        #expect(flippedAnswer.status == 422 && problem(flippedAnswer)?.title == "unsignedStatement")
        let garbage = try await Self.put(
            operatorClient, "/v1/groups/1/tariff", MeterTariffBody(statement_body: "0401", signature: "00"))
        #expect(garbage.status == 422)
        let anonymous = try first.client(nil)
        #expect(try await Self.put(anonymous, "/v1/groups/1/tariff", body(fleet.meterTariff!)).status == 401)
        #expect(try await anonymous.send(.GET, "/v1/groups/1/meter-bills").status == 401)
        await anonymous.shutdown()
        await operatorClient.shutdown()
        await supplier.shutdown()
        await fleet.client.shutdown()
        await first.stop()

        // Restarted: the bills are stored, byte for byte.
        let second = try await TestServer(TestServer.configuration(database))
        let supplier2 = try second.client(supplierToken)
        #expect(try await supplier2.meterBills(group: 1) == response)
        await supplier2.shutdown()
        await second.stop()
        await database.remove()
    }
}
