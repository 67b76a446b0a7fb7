import Aggregation
import AggregatorAPI
import Foundation
import MeterCrypto
import MeterSimulator

extension AggregatorClient {
    /// Paillier groups: an encrypted bill of one meter under a signed tariff.
    public func bill(group: UInt32, _ request: BillRequest) async throws(ClientError) -> EncryptedBillResponse {
        try decode(
            EncryptedBillResponse.self,
            try await call(.POST, "/v1/groups/\(group)/bills", body: encode(request), contentType: "application/json"))
    }

    /// Paillier groups: one meter's encrypted energy per interval.
    public func energyReport(group: UInt32, _ request: EnergyReportRequest) async throws(ClientError)
        -> EncryptedReportResponse
    {
        try decode(
            EncryptedReportResponse.self,
            try await call(
                .POST, "/v1/groups/\(group)/energy-reports", body: encode(request), contentType: "application/json"))
    }

    /// LWR-PSA groups: the feeder meter's totals against the decrypted sums.
    public func feederReport(group: UInt32, _ request: FeederReportRequest) async throws(ClientError)
        -> FeederReportResponse
    {
        try decode(
            FeederReportResponse.self,
            try await call(
                .POST, "/v1/groups/\(group)/feeder-report", body: encode(request), contentType: "application/json"))
    }
}

extension NetworkFleet {
    /// One meter's bill from the service, decrypted by the supplier, against the bill of
    /// the readings the meter metered.
    public struct BillCheck: Sendable, Equatable, Codable {
        public let meter: UInt32
        public let from: UInt64
        public let to: UInt64
        /// The decrypted amount, in the tariff's units.
        public let amount: UInt64
        public let truth: UInt64
        public var exact: Bool { amount == truth }
    }

    /// Paillier: bills every meter over the whole days of the run under `tariff`, signed
    /// by the fleet's authority for the group; each decrypted by the supplier's key.
    public func billChecks(supplier client: AggregatorClient, tariff: Tariff = .threeRate) async throws -> [BillCheck] {
        guard let decryptor = supplier else { throw ClientError.decoding("bills are for Paillier groups") }
        let days = labels / Int(Tariff.labelsPerDay)
        guard days > 0 else { return [] }
        let last = UInt64(days) * Tariff.labelsPerDay - 1
        let signed = fleet.authority.signTariff(tariff, group: group, period: 0...last, epoch: fleet.epoch)
        let json = SignedStatementJSON(
            body: Hex.encode(signed.statement.body), signature: Hex.encode(signed.statement.signature))
        var checks: [BillCheck] = []
        for (index, meter) in fleet.meters.enumerated() {
            let answer = try await client.bill(
                group: group, BillRequest(meter: meter.id, from: 0, to: last, tariff: json))
            guard let bytes = Hex.decode(answer.ciphertext) else {
                throw ClientError.decoding("a bill that is not hex")
            }
            let bill = PaillierEncryptedBill(
                meter: meter.id, labels: 0...last, tariff: tariff,
                ciphertext: try decryptor.publicKey.ciphertext(bigEndian: bytes))
            let amount = try decryptor.decryptBill(bill).amount
            let truth = tariff.plaintextBill(
                readings: Array(fleet.expectedReadings(meter: index).prefix(Int(last) + 1)), firstLabel: 0)
            checks.append(BillCheck(meter: meter.id, from: 0, to: last, amount: amount, truth: truth))
        }
        return checks
    }

    /// LWR-PSA: the feeder meter at the group's transformer (losses, and any unmetered
    /// load) against the service's decrypted sums.
    public func feederCheck(
        supplier client: AggregatorClient, feeder: FeederMeter, tolerance: FeederTolerance = FeederTolerance()
    ) async throws -> FeederReportResponse {
        let entries = (0..<labels).map { label in
            let metered = (0..<fleet.meters.count).reduce(UInt64(0)) { $0 + fleet.expectedReadings(meter: $1)[label] }
            return FeederReportRequest.Entry(
                label: UInt64(label), wh: feeder.reading(label: UInt64(label), meteredWh: metered))
        }
        return try await client.feederReport(
            group: group,
            FeederReportRequest(
                feeder: entries, tolerance_wh: tolerance.absoluteWh, tolerance_percent: tolerance.relative * 100))
    }
}
