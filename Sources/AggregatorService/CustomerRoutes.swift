import Aggregation
import AggregatorAPI
import AggregatorStore
import Customer
import Foundation
import HTTPTypes
import Hummingbird
import MeterCrypto
import NIOCore

// Customers and the parties they grant access to (issue 14, items 1 and 2; docs/consent.md).
// A customer authenticates with `Authorization: Customer <w, 32 hex digits>`: the service
// computes v = SHAKE128("PM-CUSTOMER-VERIFIER-v1" ‖ w)[0 ..< 16] and serves only what belongs
// to v (the frames that carry it, its grants, its audit log). Neither w nor v gives the
// customer key K; the frames stay sealed. Grantees authenticate with party tokens
// (`--party NAME=TOKEN`) and read a grant's sealed records while it is active.

/// Why a customer or party request was refused. Nothing stored changes.
public enum CustomerAccessError: Error, Equatable, Sendable {
    /// No `Authorization: Customer <32 hex digits>` header, or no frame, grant or log of this
    /// customer (the same answer for both: it never says whether another customer exists).
    case unknownCustomer
    /// No grant with this id, or not one of this customer's.
    case unknownGrant(String)
    /// The party's token is not the grant's grantee's.
    case notGrantee(party: String)
    /// The grant was revoked (at the time given).
    case grantRevoked(String)
    /// The grant expired (at the time given).
    case grantExpired(String)
    /// The grant's signature does not verify under the customer's registered signing key.
    case badGrantSignature
    /// The grant does not parse or is inconsistent (the message says why).
    case badGrant(String)

    public var name: String {
        switch self {
        case .unknownCustomer: return "unknownCustomer"
        case .unknownGrant: return "unknownGrant"
        case .notGrantee: return "notGrantee"
        case .grantRevoked: return "grantRevoked"
        case .grantExpired: return "grantExpired"
        case .badGrantSignature: return "badGrantSignature"
        case .badGrant: return "badGrant"
        }
    }

    public var httpStatus: HTTPResponse.Status {
        switch self {
        case .unknownCustomer: return .unauthorized
        case .unknownGrant: return .notFound
        case .notGrantee, .grantRevoked, .grantExpired, .badGrantSignature: return .forbidden
        case .badGrant: return .unprocessableContent
        }
    }

    public var detail: String {
        switch self {
        case .unknownCustomer:
            return "this route needs Authorization: Customer <login secret, 32 hex digits> of a known customer"
        case .unknownGrant(let id): return "no grant \(id)"
        case .notGrantee(let party): return "party \(party) is not this grant's grantee"
        case .grantRevoked(let at): return "the grant was revoked at \(at)"
        case .grantExpired(let at): return "the grant expired at \(at)"
        case .badGrantSignature: return "the grant's signature does not verify under the customer's signing key"
        case .badGrant(let s): return s
        }
    }
}

extension Routes {
    var customerStore: any CustomerDataStore {
        guard let store = core.store as? any CustomerDataStore else {
            preconditionFailure("every store keeps customer data (CustomerStore.swift)")
        }
        return store
    }

    static func isDetail(_ frame: [UInt8]) -> Bool { frame.count > 1 && frame[1] == FrameType.customerDetail.rawValue }

    /// Stores a group's detail frames (CustomerDetailIntake's checks): stored, acknowledged
    /// again when the same frame is there, refused (`labelReused`) when another one is.
    func uploadDetail(
        engine: GroupEngine, frames: [[UInt8]], indices: [Int], outcomes: inout [UploadOutcome],
        errors: inout [Int: ServiceError]
    ) async throws(ServiceError) {
        let intake = CustomerDetailIntake(members: engine.members)
        var accepted: [(index: Int, detail: StoredDetail)] = []
        for i in indices {
            do throws(AggregationError) {
                let d = try intake.accept(frames[i])
                guard d.label <= UInt64(Int64.max) else { throw .labelOutOfRange(d.label) }
                accepted.append(
                    (
                        i,
                        StoredDetail(
                            group: d.group, meter: d.meter, label: d.label, verifier: d.verifier, frame: d.frame)
                    ))
            } catch {
                outcomes[i] = .rejected(error: error.name)
                errors[i] = .frame(error)
            }
        }
        guard !accepted.isEmpty else { return }
        let results: [DetailInsertion]
        do throws(StoreError) { results = try await customerStore.insertDetails(accepted.map(\.detail)) } catch {
            throw .store(error)
        }
        var stored = 0
        var again = 0
        for (a, result) in zip(accepted, results) {
            switch result {
            case .stored:
                outcomes[a.index] = .stored(ack: [])
                stored += 1
            case .again:
                outcomes[a.index] = .acknowledgedAgain(ack: [])
                again += 1
            case .conflict:
                outcomes[a.index] = .rejected(error: "labelReused")
                errors[a.index] = .frame(.labelReused(meter: a.detail.meter, label: a.detail.label))
            }
        }
        metrics.framesAccepted(stored)
        metrics.framesAcknowledgedAgain(again)
    }

    /// The customer verifier of the request's `Authorization: Customer <w>`, if it is a
    /// known customer's.
    func customer(_ request: Request) async throws(ServiceError) -> [UInt8] {
        guard let header = request.headers[.authorization], header.hasPrefix("Customer "),
            let w = Hex.decode(String(header.dropFirst("Customer ".count)).trimmingCharacters(in: .whitespaces)),
            w.count == CustomerDetail.loginSecretBytes
        else { throw .customer(.unknownCustomer) }
        let v = CustomerKey.verifier(loginSecret: w)
        let known: Bool
        do throws(StoreError) { known = try await customerStore.customerKnown(verifier: v) } catch {
            throw .store(error)
        }
        guard known else { throw .customer(.unknownCustomer) }
        return v
    }

    /// The party a bearer token names (`--party NAME=TOKEN`), if any.
    func party(_ request: Request) -> String? {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return nil }
        return configuration.partyTokens[String(header.dropFirst("Bearer ".count))]
    }

    var now: String { Grants.iso8601(configuration.clock()) }

    func audit(
        _ v: [UInt8], _ kind: String, grant: String, party: String, from: UInt64, to: UInt64, detail: String
    ) -> AuditAppend {
        AuditAppend(
            verifier: v, time: now, kind: kind, grant: grant, party: party, fromLabel: from, toLabel: to,
            detail: detail
        ) { seq, previous, e in
            AuditChain.hash(
                seq: seq, previous: previous, time: e.time, kind: e.kind, grant: e.grant, party: e.party,
                from: e.fromLabel, to: e.toLabel, detail: e.detail)
        }
    }

    func status(_ g: StoredGrant) -> GrantStatus {
        let purpose = (try? JSONDecoder().decode(GrantBody.self, from: Data(g.body)))?.purpose ?? ""
        let state: String
        if g.revoked != nil {
            state = "revoked"
        } else if let expires = g.expires, let date = Grants.date(expires), date <= configuration.clock() {
            state = "expired"
        } else {
            state = "active"
        }
        return GrantStatus(
            id: g.id, grantee: g.grantee, from: g.fromLabel, to: g.toLabel, purpose: purpose, expires: g.expires,
            created: g.created, status: state, revoked: g.revoked)
    }

    func storeCall<T>(_ body: () async throws(StoreError) -> T) async throws(ServiceError) -> T {
        do throws(StoreError) { return try await body() } catch { throw .store(error) }
    }

    // MARK: - the routes

    func addCustomerRoutes(to router: Router<BasicRequestContext>) {
        // The customer's own sealed detail.
        router.get("/v1/customer/detail") { request, _ -> Response in
            let v = try await customer(request)
            let (from, to) = try Routes.labelRange(request.uri.queryParameters)
            let store = customerStore
            let frames = try await storeCall { () async throws(StoreError) in
                try await store.details(verifier: v, labels: from...to)
            }
            var owner = frames.last
            if owner == nil {
                owner = try await storeCall { () async throws(StoreError) in
                    try await store.details(verifier: v, labels: 0...UInt64(Int64.max)).last
                }
            }
            return Routes.respond(
                CustomerDetailResponse(
                    meter: owner?.meter ?? 0, group: owner?.group ?? 0,
                    frames: frames.map { .init(label: $0.label, hex: Hex.encode($0.frame)) }))
        }

        // Grants: made and signed on the customer's side, checked and stored here.
        router.post("/v1/customer/grants") { request, _ -> Response in
            let v = try await customer(request)
            let upload = try await json(GrantUpload.self, request)
            guard let sealed = Hex.decode(upload.sealed), !sealed.isEmpty else {
                throw ServiceError.customer(.badGrant("sealed is hex"))
            }
            let store = customerStore
            let registered = try await storeCall { () async throws(StoreError) in
                try await store.signingKey(verifier: v)
            }
            let body: GrantBody
            do throws(GrantError) {
                body = try Grants.check(
                    body: upload.body, signature: upload.signature, sealed: sealed, expectedSigningKey: registered)
            } catch {
                if error == .badSignature { throw ServiceError.customer(.badGrantSignature) }
                throw ServiceError.customer(.badGrant("\(error)"))
            }
            guard body.customer == Hex.encode(v) else {
                throw ServiceError.customer(.badGrant("the grant is another customer's"))
            }
            guard !body.grantee.isEmpty, body.grantee.count <= 100, body.purpose.count <= 1000,
                body.to <= UInt64(Int64.max)
            else {
                throw ServiceError.customer(.badGrant("grantee 1 ... 100 characters, purpose ≤ 1000, labels < 2^63"))
            }
            if let expires = body.expires, let date = Grants.date(expires), date <= configuration.clock() {
                throw ServiceError.customer(.badGrant("the grant expired at \(expires) already"))
            }
            let grant = StoredGrant(
                id: body.id, verifier: v, grantee: body.grantee, fromLabel: body.from, toLabel: body.to,
                expires: body.expires, created: body.created, body: Array(upload.body.utf8),
                signature: Hex.decode(upload.signature) ?? [], sealed: sealed, revoked: nil)
            let entry = audit(
                v, "grant-created", grant: body.id, party: body.grantee, from: body.from, to: body.to,
                detail: body.purpose)
            let signingKey = Hex.decode(body.signing_key) ?? []
            try await storeCall { () async throws(StoreError) in
                try await store.insertGrant(grant, signingKey: signingKey, audit: entry)
            }
            return Routes.respond(status(grant), status: .created)
        }
        router.get("/v1/customer/grants") { request, _ -> Response in
            let v = try await customer(request)
            let store = customerStore
            let grants = try await storeCall { () async throws(StoreError) in try await store.grants(verifier: v) }
            return Routes.respond(GrantList(grants: grants.map(status)))
        }
        router.delete("/v1/customer/grants/:id") { request, context -> Response in
            let v = try await customer(request)
            let id = context.parameters.get("id") ?? ""
            let store = customerStore
            guard let grant = try await storeCall({ () async throws(StoreError) in try await store.grant(id: id) }),
                grant.verifier == v
            else { throw ServiceError.customer(.unknownGrant(id)) }
            if grant.revoked == nil {
                let entry = audit(
                    v, "revoked", grant: id, party: grant.grantee, from: grant.fromLabel, to: grant.toLabel,
                    detail: "the sealed records are deleted")
                try await storeCall { () async throws(StoreError) in
                    try await store.revokeGrant(id: id, at: entry.time, audit: entry)
                }
            }
            let revoked = try await storeCall { () async throws(StoreError) in try await store.grant(id: id) }
            return Routes.respond(status(revoked ?? grant))
        }
        router.get("/v1/customer/audit") { request, _ -> Response in
            let v = try await customer(request)
            let store = customerStore
            let entries = try await storeCall { () async throws(StoreError) in try await store.audit(verifier: v) }
            return Routes.respond(
                AuditResponse(
                    entries: entries.map {
                        AuditEntryJSON(
                            seq: $0.seq, time: $0.time, kind: $0.kind, grant: $0.grant, party: $0.party,
                            from: $0.fromLabel, to: $0.toLabel, detail: $0.detail, previous: Hex.encode($0.previous),
                            hash: Hex.encode($0.hash))
                    }))
        }

        // The grantee's read: the sealed records, only while the grant is active.
        router.get("/v1/grants/:id/detail") { request, context -> Response in
            let id = context.parameters.get("id") ?? ""
            let party = self.party(request)
            let store = customerStore
            guard let grant = try await storeCall({ () async throws(StoreError) in try await store.grant(id: id) })
            else {
                if party == nil { throw ServiceError.unauthorized }
                throw ServiceError.customer(.unknownGrant(id))
            }
            func refuse(_ who: String, _ error: ServiceError) async throws(ServiceError) -> Never {
                let entry = audit(
                    grant.verifier, "access-refused", grant: id, party: who, from: grant.fromLabel, to: grant.toLabel,
                    detail: error.name)
                try await storeCall { () async throws(StoreError) in try await store.appendAudit(entry) }
                throw error
            }
            guard let party else { try await refuse("(no party token)", .unauthorized) }
            guard party == grant.grantee else { try await refuse(party, .customer(.notGrantee(party: party))) }
            if let revoked = grant.revoked { try await refuse(party, .customer(.grantRevoked(revoked))) }
            if let expires = grant.expires, let date = Grants.date(expires), date <= configuration.clock() {
                try await refuse(party, .customer(.grantExpired(expires)))
            }
            let entry = audit(
                grant.verifier, "access", grant: id, party: party, from: grant.fromLabel, to: grant.toLabel,
                detail: "sealed records read")
            try await storeCall { () async throws(StoreError) in try await store.appendAudit(entry) }
            return Routes.respond(
                GrantDetailResponse(
                    body: String(decoding: grant.body, as: UTF8.self), signature: Hex.encode(grant.signature),
                    sealed: Hex.encode(grant.sealed)))
        }
    }
}
