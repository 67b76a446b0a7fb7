import Aggregation
import AggregatorAPI
import AggregatorStore
import BigNum
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MeterCrypto
import NIOCore

/// Who a bearer token speaks for.
enum Role: String, Sendable {
    case `operator`
    case supplier
}

/// The service's routes (docs/api/openapi.yaml describes each one).
struct Routes: Sendable {
    let core: ServiceCore
    let metrics: ServiceMetrics
    let configuration: ServiceConfiguration
    let openAPI: String

    func roles(_ request: Request) -> Role? {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return nil }
        let token = String(header.dropFirst("Bearer ".count))
        if configuration.operatorTokens.contains(token) { return .operator }
        if configuration.supplierTokens.contains(token) { return .supplier }
        return nil
    }

    /// Refuses the request unless its token has one of `allowed`.
    func authorize(_ request: Request, _ allowed: Set<Role>) throws(ServiceError) {
        guard let role = roles(request) else { throw .unauthorized }
        guard allowed.contains(role) else { throw .forbidden(role: role.rawValue) }
    }

    func body(_ request: Request, mediaType: String) async throws(ServiceError) -> [UInt8] {
        let type = request.headers[.contentType]?.split(separator: ";").first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        guard type == mediaType else { throw .unsupportedMediaType(expected: mediaType) }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > configuration.maxBodyBytes {
            throw .bodyTooLarge(limit: configuration.maxBodyBytes)
        }
        var request = request
        do {
            let buffer = try await request.collectBody(upTo: configuration.maxBodyBytes)
            return Array(buffer.readableBytesView)
        } catch {
            throw .bodyTooLarge(limit: configuration.maxBodyBytes)
        }
    }

    func json<T: ClosedJSONBody>(_ type: T.Type, _ request: Request) async throws(ServiceError) -> T {
        let bytes = try await body(request, mediaType: "application/json")
        if let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] {
            let unknown = Set(object.keys).subtracting(T.fields)
            guard unknown.isEmpty else { throw .badRequest("unknown members \(unknown.sorted()) in \(T.self)") }
        }
        do { return try JSONDecoder().decode(T.self, from: Data(bytes)) } catch {
            throw .badRequest("the JSON body does not match \(T.self): \(error)")
        }
    }

    static func respond<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data()
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `from` and `to` (labels below 2^63, from ≤ to; default: every label).
    static func labelRange(_ query: Parameters) throws(ServiceError) -> (from: UInt64, to: UInt64) {
        func label(_ name: String, _ fallback: UInt64) throws(ServiceError) -> UInt64 {
            guard let text = query[name[...]] else { return fallback }
            guard let value = UInt64(String(text)), value <= UInt64(Int64.max) else {
                throw .badRequest("\(name) is a label below 2^63")
            }
            return value
        }
        let from = try label("from", 0)
        let to = try label("to", UInt64(Int64.max))
        guard from <= to else { throw ServiceError.badRequest("from must not exceed to") }
        return (from, to)
    }

    static func octets(_ bytes: [UInt8]) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/octet-stream"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    func groupID(_ context: BasicRequestContext) throws(ServiceError) -> UInt32 {
        guard let text = context.parameters.get("group"), let group = UInt32(text) else {
            throw .badRequest("the group id is a decimal number below 2^32")
        }
        return group
    }

    // MARK: - uplink

    /// Runs frames through their groups' engines; one outcome per frame, in order, and
    /// the typed error of each rejected one.
    func upload(_ frames: [[UInt8]]) async throws(ServiceError) -> (
        outcomes: [UploadOutcome], errors: [Int: ServiceError]
    ) {
        var outcomes = [UploadOutcome](repeating: .rejected(error: "pending"), count: frames.count)
        var errors: [Int: ServiceError] = [:]
        var byGroup: [UInt32: [Int]] = [:]
        for (i, frame) in frames.enumerated() {
            do throws(AggregationError) {
                byGroup[try Frame.header(frame).group, default: []].append(i)
            } catch {
                outcomes[i] = .rejected(error: error.name)
                errors[i] = .frame(error)
            }
        }
        for group in byGroup.keys.sorted() {
            let all = byGroup[group]!
            let engine: GroupEngine
            do { engine = try await core.engine(group) } catch {
                for i in all {
                    outcomes[i] = .rejected(error: error.name)
                    errors[i] = error
                }
                continue
            }
            // Sealed customer detail (CustomerRoutes.swift), apart from the readings.
            let detail = all.filter { Routes.isDetail(frames[$0]) }
            if !detail.isEmpty {
                try await uploadDetail(
                    engine: engine, frames: frames, indices: detail, outcomes: &outcomes, errors: &errors)
            }
            let indices = all.filter { !Routes.isDetail(frames[$0]) }
            guard !indices.isEmpty else { continue }
            let result = try await engine.upload(indices.map { frames[$0] })
            for (k, i) in indices.enumerated() {
                outcomes[i] = result.outcomes[k]
                if let error = result.errors[k] { errors[i] = error }
            }
            metrics.framesAccepted(result.stored)
            metrics.framesAcknowledgedAgain(result.again)
            metrics.labelsDecrypted(result.labelsDecrypted)
        }
        for error in errors.values { metrics.frameRejected(reason: error.name) }
        return (outcomes, errors)
    }

    // MARK: - the router

    func build() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        let table = RouteTable()
        router.add(middleware: LatencyMiddleware(metrics: metrics, table: table))

        router.get("/health") { _, _ in Routes.respond(["status": "ok"]) }
        registerAnalytics(router)
        registerMeterBills(router)
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render())))
        }
        let openAPI = self.openAPI
        router.get("/openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: openAPI)))
        }

        // Meters: authenticated by their frames' tags, no token.
        router.post("/v1/uplink") { request, _ -> Response in
            let frame = try await body(request, mediaType: "application/octet-stream")
            let result = try await upload([frame])
            if let error = result.errors[0] { throw error }
            return Routes.octets(result.outcomes[0].ack ?? [])
        }
        router.post("/v1/uplink/batch") { request, _ -> Response in
            let bytes = try await body(request, mediaType: "application/octet-stream")
            let frames: [[UInt8]]
            do throws(FrameBatch.DecodeError) {
                frames = try FrameBatch.decode(bytes, maxFrames: configuration.maxBatchFrames)
            } catch {
                switch error {
                case .tooManyFrames(let limit): throw ServiceError.batchTooLong(limit: limit)
                case .truncated(let offset):
                    throw ServiceError.malformedBatch("the batch ends inside the frame at byte \(offset)")
                case .emptyFrame(let offset): throw ServiceError.malformedBatch("an empty frame at byte \(offset)")
                }
            }
            return Routes.octets(UploadOutcome.encode(try await upload(frames).outcomes))
        }
        router.get("/v1/meters/:meter/downlink") { _, context -> Response in
            guard let text = context.parameters.get("meter"), let meter = UInt32(text) else {
                throw ServiceError.badRequest("the meter id is a decimal number below 2^32")
            }
            var frames: [[UInt8]] = []
            var known = false
            for engine in await core.allEngines where engine.members.frameKey(of: meter) != nil {
                known = true
                frames += try await engine.downlink(meter: meter)
            }
            guard known else { throw ServiceError.unknownMeter(meter) }
            return Routes.octets(FrameBatch.encode(frames))
        }

        // Operator.
        router.post("/v1/groups") { request, _ -> Response in
            try authorize(request, [.operator])
            let creation = try await json(GroupCreation.self, request)
            let engine = try await core.createGroup(creation)
            return Routes.respond(try await engine.status(), status: .created)
        }
        // Status (supplier too: counts per group, no meter's reading).
        router.get("/v1/groups") { request, _ -> Response in
            try authorize(request, [.operator, .supplier])
            var statuses: [GroupStatus] = []
            for engine in await core.allEngines { statuses.append(try await engine.status()) }
            return Routes.respond(GroupList(groups: statuses))
        }
        router.get("/v1/groups/:group") { request, context -> Response in
            try authorize(request, [.operator, .supplier])
            return Routes.respond(try await core.engine(try groupID(context)).status())
        }
        router.get("/v1/groups/:group/enrolments") { request, context -> Response in
            try authorize(request, [.operator])
            let engine = try await core.engine(try groupID(context))
            let enrolments = try await engine.enrolments()
            return Routes.respond(
                Enrolments(
                    group: engine.group, epoch: engine.record.epoch,
                    enrolments: Dictionary(uniqueKeysWithValues: enrolments.map { ("\($0.key)", Hex.encode($0.value)) })
                ))
        }
        router.put("/v1/groups/:group/signed-parameters") { request, context -> Response in
            try authorize(request, [.operator])
            let engine = try await core.engine(try groupID(context))
            let signed = try await json(SignedParameters.self, request)
            guard let body = Hex.decode(signed.statement_body), let signature = Hex.decode(signed.signature) else {
                throw ServiceError.badRequest("statement_body and signature are hex")
            }
            var keys: [UInt32: [UInt8]] = [:]
            for (id, hex) in signed.public_keys {
                guard let meter = UInt32(id), let key = Hex.decode(hex) else {
                    throw ServiceError.badRequest("public_keys maps decimal meter ids to hex keys")
                }
                keys[meter] = key
            }
            try await engine.installSigned(SignedGroupRecord(body: body, signature: signature, rosterKeys: keys))
            return Routes.respond(try await engine.status())
        }
        router.get("/v1/groups/:group/alarms") { request, context -> Response in
            try authorize(request, [.operator, .supplier])
            let group = try groupID(context)
            _ = try await core.engine(group)
            let alarms: [StoredAlarm]
            do throws(StoreError) { alarms = try await core.store.alarms(group: group) } catch {
                throw ServiceError.store(error)
            }
            return Routes.respond(
                AlarmsResponse(
                    group: group, alarms: alarms.map { AlarmEntry(meter: $0.meter, label: $0.label, kind: $0.kind) }))
        }

        // Supplier (and operator): sums only, never a meter's frame.
        router.get("/v1/groups/:group/sums") { request, context -> Response in
            try authorize(request, [.supplier, .operator])
            let group = try groupID(context)
            guard try await core.engine(group).paillierKey == nil else {
                throw ServiceError.otherScheme(
                    "group \(group) is a Paillier group: the service holds no key; the supplier decrypts /v1/groups/\(group)/encrypted-sums"
                )
            }
            let query = request.uri.queryParameters
            let (from, to) = try Routes.labelRange(query)
            let sums: [LabelSum]
            do throws(StoreError) { sums = try await core.store.sums(group: group, labels: from...to) } catch {
                throw ServiceError.store(error)
            }
            let response = SumsResponse(
                group: group, from: from, to: to,
                sums: sums.map { SumEntry(label: $0.label, sum: $0.sum, meters: $0.meters) })
            if let format = query["format"], format != "csv", format != "json" {
                throw ServiceError.badRequest("format is json or csv")
            }
            let wantsCSV =
                query["format"].map { $0 == "csv" } ?? (request.headers[.accept]?.contains("text/csv") ?? false)
            if wantsCSV {
                return Response(
                    status: .ok, headers: [.contentType: "text/csv; charset=utf-8"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: response.csv)))
            }
            return Routes.respond(response)
        }
        // Paillier groups: the product of every meter's ciphertext per complete label, for the
        // supplier to decrypt (the service holds no key; no single meter's ciphertext leaves).
        router.get("/v1/groups/:group/encrypted-sums") { request, context -> Response in
            try authorize(request, [.supplier, .operator])
            let group = try groupID(context)
            guard let key = try await core.engine(group).paillierKey else {
                throw ServiceError.otherScheme(
                    "group \(group) is an LWR-PSA group: the service decrypts; read /v1/groups/\(group)/sums")
            }
            let (from, to) = try Routes.labelRange(request.uri.queryParameters)
            let sums: [LabelSum]
            do throws(StoreError) { sums = try await core.store.sums(group: group, labels: from...to) } catch {
                throw ServiceError.store(error)
            }
            return Routes.respond(
                EncryptedSumsResponse(
                    group: group, from: from, to: to,
                    modulus: Hex.encode(key.n.bigEndianBytes(length: key.modulusBytes)!),
                    sums: sums.compactMap { s in
                        s.ciphertext.map {
                            EncryptedSumEntry(label: s.label, meters: s.meters, ciphertext: Hex.encode($0))
                        }
                    }))
        }
        addCustomerRoutes(to: router)
        registerReleases(on: router)
        WebInterface.shared.register(on: router)
        table.set(router.routes.map { ($0.method.rawValue, $0.path.description) })
        return router
    }
}

/// The routes once built, so a path served under other methods answers 405 with `Allow`.
final class RouteTable: @unchecked Sendable {
    let lock = NSLock()
    var routes: [(method: String, components: [Substring])] = []

    func set(_ routes: [(String, String)]) {
        lock.lock()
        defer { lock.unlock() }
        self.routes = routes.map { ($0.0, $0.1.split(separator: "/")) }
    }

    /// The methods served at `path` (parameters match any component).
    func methods(at path: String) -> [String] {
        let parts = path.split(separator: "/")
        lock.lock()
        defer { lock.unlock() }
        return routes.filter { route in
            route.components.count == parts.count
                && zip(route.components, parts).allSatisfy { $0.hasPrefix(":") || $0 == $1 }
        }.map(\.method).sorted()
    }
}

/// Times every request into `metering_http_request_duration_seconds` (route, status), and
/// answers errors that are not the service's own with a problem document too.
struct LatencyMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let metrics: ServiceMetrics
    let table: RouteTable

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        func record(_ status: Int) {
            let elapsed = ContinuousClock.now - start
            let ns = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
            metrics.request(route: context.endpointPath ?? "unmatched", status: status, nanoseconds: ns)
        }
        do {
            let response = try await next(request, context)
            record(Int(response.status.code))
            return response
        } catch let error as ServiceError {
            record(Int(error.httpStatus.code))
            throw error
        } catch let error as HTTPError {
            let allowed = error.status == .notFound ? table.methods(at: request.uri.path) : []
            if !allowed.isEmpty {
                record(405)
                var response = problemResponse(
                    Problem(
                        title: "methodNotAllowed", status: 405,
                        detail: "\(request.method) is not served at \(request.uri.path)"))
                response.status = .methodNotAllowed
                response.headers[.allow] = allowed.joined(separator: ", ")
                return response
            }
            record(Int(error.status.code))
            let name =
                error.status == .notFound
                ? "notFound" : error.status == .methodNotAllowed ? "methodNotAllowed" : "httpError"
            return problemResponse(
                Problem(title: name, status: Int(error.status.code), detail: error.body ?? error.status.reasonPhrase))
        } catch {
            record(500)
            throw error
        }
    }
}
