import Aggregation
import AggregatorAPI
import AggregatorStore
import BigNum
import Foundation
import Hummingbird
import MeterCrypto

// The supplier's bills, energy reports and feeder check over the service. Bills and reports
// (Paillier groups) are computed on the stored ciphertexts of one meter under the rules of
// `PaillierRelease` (PaillierBilling.swift): a signed tariff, at least one day, each label
// released at most once per meter and kind. The released periods are stored before the
// answer leaves, so neither a retry nor a restart releases a label twice.

extension GroupEngine {
    /// The release rules of this Paillier group (an LWR-PSA group has no bills here).
    func paillierRelease() throws(ServiceError) -> PaillierRelease {
        guard let key = paillierKey, let handOver = record.paillier else {
            throw .otherScheme(
                "group \(group) is an LWR-PSA group: the service decrypts its sums; bills on ciphertexts are Paillier's"
            )
        }
        return PaillierRelease(
            publicKey: key, group: group, authorityKey: handOver.authorityKey,
            minimumLabels: PaillierAggregator.minimumReleaseLabels)
    }

    /// The meter's stored ciphertexts of `labels`, by label (one range query); a label it did
    /// not report is missing (the release then refuses it by name).
    func ciphertexts(meter: UInt32, labels: ClosedRange<UInt64>) async throws(ServiceError) -> [UInt64: BigInt] {
        guard members.frameKey(of: meter) != nil else { throw .frame(.unknownMeter(meter)) }
        guard labels.upperBound - labels.lowerBound < 366 * 96 else {
            throw .badRequest("a release covers at most a year of labels")
        }
        let frames: [StoredReading]
        do throws(StoreError) {
            frames = try await store.readings(group: group, meter: meter, labels: labels)
        } catch {
            throw .store(error)
        }
        var out: [UInt64: BigInt] = [:]
        for reading in frames {
            guard let header = try? Frame.parseHeader(reading.frame.span) else { continue }
            out[reading.label] = BigInt(bigEndian: Array(reading.frame[Frame.payloadRange(header)]))
        }
        return out
    }

    func release(
        kind: ReleaseKind, meter: UInt32, labels: ClosedRange<UInt64>,
        compute: (PaillierRelease, [ClosedRange<UInt64>], (UInt64) throws(AggregationError) -> BigInt)
            throws(AggregationError) -> Void
    ) async throws(ServiceError) {
        try await locked { () async throws(ServiceError) in
            let rules = try paillierRelease()
            let released: [ClosedRange<UInt64>]
            do throws(StoreError) { released = try await store.releases(group: group, meter: meter, kind: kind) } catch
            {
                throw .store(error)
            }
            let stored = try await ciphertexts(meter: meter, labels: labels)
            do throws(AggregationError) {
                try compute(rules, released) { (label) throws(AggregationError) -> BigInt in
                    guard let c = stored[label] else { throw .missingReading(meter: meter, label: label) }
                    return c
                }
            } catch {
                throw .frame(error)
            }
            do throws(StoreError) {
                try await store.recordRelease(group: group, meter: meter, kind: kind, labels: labels)
            } catch {
                throw .store(error)
            }
        }
    }

    func bill(_ request: BillRequest) async throws(ServiceError) -> EncryptedBillResponse {
        guard request.from <= request.to else { throw .badRequest("from must not exceed to") }
        guard let body = Hex.decode(request.tariff.body), let signature = Hex.decode(request.tariff.signature) else {
            throw .badRequest("the tariff's body and signature are hex")
        }
        let tariff: SignedTariff
        do throws(AggregationError) {
            tariff = try SignedTariff(SignedStatement(body: body, signature: signature))
        } catch {
            throw .frame(error)
        }
        var bill: PaillierEncryptedBill?
        try await release(kind: .bill, meter: request.meter, labels: request.from...request.to) {
            (rules, released, reading) throws(AggregationError) in
            bill = try rules.bill(
                meter: request.meter, labels: request.from...request.to, tariff: tariff, released: released,
                reading: reading)
        }
        let key = paillierKey!
        return EncryptedBillResponse(
            group: group, meter: request.meter, from: request.from, to: request.to, unit: tariff.tariff.unit,
            units_per_currency: tariff.tariff.unitsPerCurrency,
            modulus: Hex.encode(key.n.bigEndianBytes(length: key.modulusBytes)!),
            ciphertext: Hex.encode(bill!.ciphertext.value.bigEndianBytes(length: key.ciphertextBytes)!))
    }

    func energyReport(_ request: EnergyReportRequest) async throws(ServiceError) -> EncryptedReportResponse {
        guard request.from <= request.to else { throw .badRequest("from must not exceed to") }
        var report: PaillierEncryptedReport?
        try await release(kind: .report, meter: request.meter, labels: request.from...request.to) {
            (rules, released, reading) throws(AggregationError) in
            report = try rules.energyReport(
                meter: request.meter, labels: request.from...request.to,
                intervalLabels: request.interval_labels ?? Int(Tariff.labelsPerDay), released: released,
                reading: reading)
        }
        let key = paillierKey!
        return EncryptedReportResponse(
            group: group, meter: request.meter, modulus: Hex.encode(key.n.bigEndianBytes(length: key.modulusBytes)!),
            intervals: zip(report!.intervals, report!.ciphertexts).map { range, c in
                .init(
                    from: range.lowerBound, to: range.upperBound,
                    ciphertext: Hex.encode(c.value.bigEndianBytes(length: key.ciphertextBytes)!))
            })
    }

    /// The feeder meter's totals against the decrypted sums (LWR-PSA groups).
    func feederReport(_ request: FeederReportRequest) async throws(ServiceError) -> FeederReportResponse {
        guard paillierKey == nil else {
            throw .otherScheme(
                "group \(group) is a Paillier group: the supplier decrypts its sums and compares them itself")
        }
        guard let first = request.feeder.map(\.label).min(), let last = request.feeder.map(\.label).max() else {
            throw .badRequest("feeder holds at least one label")
        }
        guard last <= UInt64(Int64.max) else { throw .badRequest("labels are below 2^63") }
        var feeder: [UInt64: UInt64] = [:]
        for entry in request.feeder {
            guard entry.wh <= UInt64(Int64.max) else { throw .badRequest("wh is below 2^63") }
            guard feeder.updateValue(entry.wh, forKey: entry.label) == nil else {
                throw .badRequest("label \(entry.label) appears twice in feeder")
            }
        }
        let percent = request.tolerance_percent ?? 5
        guard percent >= 0, percent <= 100 else { throw .badRequest("tolerance_percent is 0 ... 100") }
        let tolerance = FeederTolerance(absoluteWh: request.tolerance_wh ?? 50, relative: percent / 100)
        let sums: [LabelSum]
        do throws(StoreError) { sums = try await store.sums(group: group, labels: first...last) } catch {
            throw .store(error)
        }
        let report = FeederReport(
            group: group, metered: Dictionary(uniqueKeysWithValues: sums.map { ($0.label, $0.sum) }), feeder: feeder,
            tolerance: tolerance)
        return FeederReportResponse(
            group: group, tolerance_wh: tolerance.absoluteWh, tolerance_percent: percent,
            flagged_labels: report.flaggedLabels,
            rows: report.rows.map {
                .init(
                    label: $0.label, metered_wh: $0.meteredWh, feeder_wh: $0.feederWh, gap_wh: $0.gapWh,
                    flagged: $0.flagged)
            })
    }
}

extension Routes {
    /// Bills, energy reports (Paillier) and the feeder check (LWR-PSA): supplier or operator.
    func registerReleases(on router: Router<BasicRequestContext>) {
        router.post("/v1/groups/:group/bills") { request, context -> Response in
            try authorize(request, [.supplier, .operator])
            let engine = try await core.engine(try groupID(context))
            return Routes.respond(try await engine.bill(try await json(BillRequest.self, request)), status: .created)
        }
        router.post("/v1/groups/:group/energy-reports") { request, context -> Response in
            try authorize(request, [.supplier, .operator])
            let engine = try await core.engine(try groupID(context))
            return Routes.respond(
                try await engine.energyReport(try await json(EnergyReportRequest.self, request)), status: .created)
        }
        router.post("/v1/groups/:group/feeder-report") { request, context -> Response in
            try authorize(request, [.supplier, .operator])
            let engine = try await core.engine(try groupID(context))
            return Routes.respond(try await engine.feederReport(try await json(FeederReportRequest.self, request)))
        }
    }
}
