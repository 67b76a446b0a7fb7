import Aggregation
import AggregatorAPI
import AggregatorStore
import Foundation
import Hummingbird
import MeterCrypto

// Bills made on the meter in the service (docs/spec/billing.md, docs/service.md): the
// operator installs the authority's signed tariff for an LWR-PSA group, the service relays it
// to each meter in its downlink, checks and stores the sealed bills the meters send after the
// period (acking them), and serves them to the supplier as received. The service holds no
// key that opens a bill.

/// A group engine's billing side (GroupEngine.billing).
struct EngineBilling {
    /// The tariff installed for the meters, and the meters it was relayed to since.
    var tariff: StoredPlan?
    var relayedTo: Set<UInt32> = []
    /// Bill frames accepted since the last commit.
    var pending: [StoredReading] = []
}

extension GroupEngine {
    var meterBillStore: (any MeterBillDataStore)? { store as? any MeterBillDataStore }

    /// After `replay`: the installed tariff (relayed again to every meter: a meter refuses one
    /// it holds, with a status, and keeps its periods).
    func replayBilling() async throws(ServiceError) {
        billing = EngineBilling()
        guard let meterBillStore else { return }
        do throws(StoreError) { billing.tariff = try await meterBillStore.meterTariff(group: group) } catch {
            throw .store(error)
        }
    }

    /// The checks of a tariff for the meters (which check it all again): a tariff statement
    /// signed under the authority key the group was created with, for this LWR-PSA group and
    /// its epoch, a period of at least `MeterBill.minimumPeriodLabels`, at most
    /// `MeterBill.maxClasses` classes.
    func checkMeterTariff(_ plan: StoredPlan) throws(ServiceError) -> SignedTariff {
        guard paillierKey == nil else {
            throw .otherScheme(
                "group \(group) is a Paillier group: its bills are computed on ciphertexts (POST /bills)")
        }
        guard aggregator != nil else {
            throw .wrongPhase("group \(group) is not collecting yet: install the tariff after key setup")
        }
        let signed: SignedTariff
        do throws(AggregationError) {
            signed = try SignedTariff(SignedStatement(body: plan.body, signature: plan.signature))
            guard signed.statement.verifies(authorityKey: try authorityKey(checking: "tariff")) else {
                throw .unsignedStatement("the tariff is not signed by the group's authority")
            }
        } catch {
            throw .frame(error)
        }
        let statement = signed.statement
        guard statement.group == group, statement.epoch == record.epoch else {
            throw .frame(.unsignedStatement("the tariff is for group \(statement.group), epoch \(statement.epoch)"))
        }
        guard UInt64(signed.period.count) >= MeterBill.minimumPeriodLabels else {
            throw .frame(.periodTooShort(labels: signed.period.count, minimum: Int(MeterBill.minimumPeriodLabels)))
        }
        guard signed.tariff.classes.count <= MeterBill.maxClasses else {
            throw .frame(.invalidTariff("more than \(MeterBill.maxClasses) classes: the meters bill at most that many"))
        }
        return signed
    }

    /// Installs the tariff (operator): stored, then relayed to every meter's downlink once.
    func installMeterTariff(_ plan: StoredPlan) async throws(ServiceError) {
        try await locked { () async throws(ServiceError) in
            guard let meterBillStore else { throw .unsupportedScheme("this store keeps no bills") }
            _ = try checkMeterTariff(plan)
            do throws(StoreError) { try await meterBillStore.setMeterTariff(group: group, tariff: plan) } catch {
                stale = true
                throw .store(error)
            }
            billing.tariff = plan
            billing.relayedTo = []
        }
    }

    /// Downlink while collecting: the tariff, once per meter.
    func billingDownlink(meter: UInt32) -> [[UInt8]] {
        guard let plan = billing.tariff, members.frameKey(of: meter) != nil, !billing.relayedTo.contains(meter)
        else { return [] }
        billing.relayedTo.insert(meter)
        return FrameIntake(members: members).statementFrames(
            SignedStatement(body: plan.body, signature: plan.signature), to: meter)
    }

    /// An uploaded bill (in `upload`, under the lock): checked and kept for the commit; the ack.
    func acceptMeterBill(_ frame: [UInt8]) throws(AggregationError) -> [UInt8] {
        guard meterBillStore != nil, paillierKey == nil else { throw .unexpectedType(.bill) }
        let (header, ack) = try FrameIntake(members: members).acceptBill(frame)
        billing.pending.append(StoredReading(meter: header.meter, label: header.label, frame: frame))
        return ack
    }

    /// After the readings' commit: the bills, in one more transaction.
    func commitMeterBills() async throws(ServiceError) {
        guard let meterBillStore, !billing.pending.isEmpty else { return }
        defer { billing.pending = [] }
        do throws(StoreError) { try await meterBillStore.storeMeterBills(group: group, bills: billing.pending) } catch {
            stale = true
            throw .store(error)
        }
    }

    /// The supplier's sealed bills of the group.
    func meterBillsResponse() async throws(ServiceError) -> MeterBillsResponse {
        try await locked { () async throws(ServiceError) -> MeterBillsResponse in
            guard let meterBillStore else { throw .unsupportedScheme("this store keeps no bills") }
            let bills: [StoredReading]
            do throws(StoreError) { bills = try await meterBillStore.meterBills(group: group) } catch {
                throw .store(error)
            }
            return MeterBillsResponse(
                group: group,
                bills: bills.map { .init(meter: $0.meter, last_label: $0.label, frame: Hex.encode($0.frame)) })
        }
    }
}

extension Routes {
    /// PUT /v1/groups/{g}/tariff (operator), GET /v1/groups/{g}/meter-bills (supplier).
    func registerMeterBills(_ router: Router<BasicRequestContext>) {
        router.put("/v1/groups/:group/tariff") { request, context -> Response in
            try authorize(request, [.operator])
            let engine = try await core.engine(try groupID(context))
            let signed = try await json(MeterTariffBody.self, request)
            guard let body = Hex.decode(signed.statement_body), let signature = Hex.decode(signed.signature) else {
                throw ServiceError.badRequest("statement_body and signature are hex")
            }
            try await engine.installMeterTariff(StoredPlan(body: body, signature: signature))
            return Routes.respond(try await engine.status())
        }
        router.get("/v1/groups/:group/meter-bills") { request, context -> Response in
            try authorize(request, [.supplier, .operator])
            let engine = try await core.engine(try groupID(context))
            return Routes.respond(try await engine.meterBillsResponse())
        }
    }
}
