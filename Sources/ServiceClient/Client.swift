import AggregatorAPI
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// Why a call to the aggregator service failed.
public enum ClientError: Error, CustomStringConvertible, Sendable {
    /// The service answered with an error status (and, mostly, a problem document).
    case http(status: Int, problem: Problem?)
    /// No answer: connection refused or reset, timeout.
    case transport(String)
    /// An answer that does not decode as the route promises.
    case decoding(String)
    /// A TLS trust file that cannot be read.
    case tls(String)

    public var description: String {
        switch self {
        case .http(let status, let problem):
            return "HTTP \(status)" + (problem.map { ": \($0.title): \($0.detail)" } ?? "")
        case .transport(let s): return "no answer: \(s)"
        case .decoding(let s): return "unexpected answer: \(s)"
        case .tls(let s): return "TLS: \(s)"
        }
    }
}

/// A client of the aggregator service's HTTP API (docs/api/openapi.yaml).
public final class AggregatorClient: Sendable {
    public let baseURL: String
    let token: String?
    let http: HTTPClient

    /// `caCertificate`: a PEM file of the roots to trust for https (the system's otherwise).
    public init(baseURL: String, token: String? = nil, caCertificate: String? = nil) throws(ClientError) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        var configuration = HTTPClient.Configuration()
        if let caCertificate {
            var tls = TLSConfiguration.makeClientConfiguration()
            do { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caCertificate)) } catch {
                throw .tls("\(caCertificate): \(error)")
            }
            configuration.tlsConfiguration = tls
        }
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(60))
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func shutdown() async {
        guard closed.close() else { return }
        try? await http.shutdown()
    }

    let closed = CloseOnce()

    deinit {
        // AsyncHTTPClient traps when a client is dropped open (a test that threw early).
        if closed.close() { try? http.syncShutdown() }
    }

    /// One request; returns the status, the content type and the body.
    public func send(
        _ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, contentType: String? = nil,
        accept: String? = nil, authorized: Bool = true
    ) async throws(ClientError) -> (status: Int, contentType: String, body: [UInt8]) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        if let accept { request.headers.add(name: "Accept", value: accept) }
        if authorized, let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await http.execute(request, timeout: .seconds(120))
            let buffer = try await response.body.collect(upTo: 256 << 20)
            return (
                Int(response.status.code), response.headers.first(name: "Content-Type") ?? "",
                Array(buffer.readableBytesView)
            )
        } catch {
            throw .transport("\(error)")
        }
    }

    /// `send`, then a 2xx status or the problem as `ClientError.http`.
    func call(
        _ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, contentType: String? = nil, accept: String? = nil
    ) async throws(ClientError) -> [UInt8] {
        let answer = try await send(method, path, body: body, contentType: contentType, accept: accept)
        guard (200..<300).contains(answer.status) else {
            throw .http(
                status: answer.status, problem: try? JSONDecoder().decode(Problem.self, from: Data(answer.body)))
        }
        return answer.body
    }

    func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws(ClientError) -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(bytes)) } catch {
            throw .decoding("\(T.self): \(error)")
        }
    }

    func encode<T: Encodable>(_ value: T) -> [UInt8] { Array((try? JSONEncoder().encode(value)) ?? Data()) }

    // MARK: - routes

    public func health() async throws(ClientError) -> Bool {
        (try await send(.GET, "/health", authorized: false)).status == 200
    }

    /// Uploads frames in one batch; one outcome per frame.
    public func upload(_ frames: [[UInt8]]) async throws(ClientError) -> [UploadOutcome] {
        let body = try await call(
            .POST, "/v1/uplink/batch", body: FrameBatch.encode(frames), contentType: "application/octet-stream")
        do {
            let outcomes = try UploadOutcome.decode(body)
            guard outcomes.count == frames.count else {
                throw ClientError.decoding("\(outcomes.count) outcomes for \(frames.count) frames")
            }
            return outcomes
        } catch let error as ClientError {
            throw error
        } catch {
            throw .decoding("batch outcomes: \(error)")
        }
    }

    /// What the service holds for a meter.
    public func downlink(meter: UInt32) async throws(ClientError) -> [[UInt8]] {
        let body = try await call(.GET, "/v1/meters/\(meter)/downlink")
        do { return try FrameBatch.decode(body) } catch { throw .decoding("downlink batch: \(error)") }
    }

    public func createGroup(_ creation: GroupCreation) async throws(ClientError) -> GroupStatus {
        try decode(
            GroupStatus.self,
            try await call(.POST, "/v1/groups", body: encode(creation), contentType: "application/json"))
    }

    public func status(group: UInt32) async throws(ClientError) -> GroupStatus {
        try decode(GroupStatus.self, try await call(.GET, "/v1/groups/\(group)"))
    }

    public func enrolments(group: UInt32) async throws(ClientError) -> Enrolments {
        try decode(Enrolments.self, try await call(.GET, "/v1/groups/\(group)/enrolments"))
    }

    public func installSigned(group: UInt32, _ signed: SignedParameters) async throws(ClientError) -> GroupStatus {
        try decode(
            GroupStatus.self,
            try await call(
                .PUT, "/v1/groups/\(group)/signed-parameters", body: encode(signed), contentType: "application/json"))
    }

    public func sums(group: UInt32, from: UInt64 = 0, to: UInt64 = UInt64(Int64.max)) async throws(ClientError)
        -> SumsResponse
    {
        try decode(SumsResponse.self, try await call(.GET, "/v1/groups/\(group)/sums?from=\(from)&to=\(to)"))
    }

    public func sumsCSV(group: UInt32, from: UInt64 = 0, to: UInt64 = UInt64(Int64.max)) async throws(ClientError)
        -> String
    {
        String(
            decoding: try await call(.GET, "/v1/groups/\(group)/sums?from=\(from)&to=\(to)", accept: "text/csv"),
            as: UTF8.self)
    }

    /// Paillier groups: the encrypted group sums, for the supplier to decrypt.
    public func encryptedSums(group: UInt32, from: UInt64 = 0, to: UInt64 = UInt64(Int64.max)) async throws(ClientError)
        -> EncryptedSumsResponse
    {
        try decode(
            EncryptedSumsResponse.self, try await call(.GET, "/v1/groups/\(group)/encrypted-sums?from=\(from)&to=\(to)")
        )
    }

    /// Installs the authority's signed statistics plan for an LWR-PSA group (operator).
    public func installStatisticsPlan(group: UInt32, body: [UInt8], signature: [UInt8]) async throws(ClientError) {
        _ = try await call(
            .PUT, "/v1/groups/\(group)/statistics-plan",
            body: encode(
                StatisticsPlanBody(statement_body: Hex.encode(body), signature: Hex.encode(signature))),
            contentType: "application/json")
    }

    /// LWR-PSA groups under a statistics plan: statistics per label and the peak (supplier).
    public func analytics(group: UInt32, from: UInt64 = 0, to: UInt64 = UInt64(Int64.max)) async throws(ClientError)
        -> AnalyticsResponse
    {
        try decode(AnalyticsResponse.self, try await call(.GET, "/v1/groups/\(group)/analytics?from=\(from)&to=\(to)"))
    }

    /// LWR-PSA groups: the authority's signed tariff for the meters' own bills (operator).
    public func installMeterTariff(group: UInt32, body: [UInt8], signature: [UInt8]) async throws(ClientError) {
        _ = try await call(
            .PUT, "/v1/groups/\(group)/tariff",
            body: encode(MeterTariffBody(statement_body: Hex.encode(body), signature: Hex.encode(signature))),
            contentType: "application/json")
    }

    /// The sealed bills the group's meters made (supplier).
    public func meterBills(group: UInt32) async throws(ClientError) -> MeterBillsResponse {
        try decode(MeterBillsResponse.self, try await call(.GET, "/v1/groups/\(group)/meter-bills"))
    }

    public func alarms(group: UInt32) async throws(ClientError) -> AlarmsResponse {
        try decode(AlarmsResponse.self, try await call(.GET, "/v1/groups/\(group)/alarms"))
    }

    public func metrics() async throws(ClientError) -> String {
        String(decoding: try await call(.GET, "/metrics"), as: UTF8.self)
    }
}

/// True the first time `close` is called.
final class CloseOnce: @unchecked Sendable {
    let lock = NSLock()
    var done = false
    func close() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if done { return false }
        done = true
        return true
    }
}
