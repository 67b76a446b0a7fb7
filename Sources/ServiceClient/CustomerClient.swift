import Aggregation
import AggregatorAPI
import AsyncHTTPClient
import Customer
import Foundation
import MeterCrypto
import NIOCore
import NIOHTTP1

/// The customer's side of the service (docs/consent.md): their own sealed detail, their
/// grants and their audit log, authenticated by `Authorization: Customer <w>`; the key K
/// never leaves this process, only w does.
public final class CustomerClient: Sendable {
    public let client: AggregatorClient
    public let key: CustomerKey
    let authorization: String

    public init(baseURL: String, key: CustomerKey, caCertificate: String? = nil) throws(ClientError) {
        client = try AggregatorClient(baseURL: baseURL, caCertificate: caCertificate)
        self.key = key
        authorization = "Customer " + Hex.encode(key.loginSecret)
    }

    public func shutdown() async { await client.shutdown() }

    func call(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil) async throws(ClientError) -> [UInt8] {
        try await client.authorizedCall(
            method, path, authorization: authorization, body: body, contentType: body == nil ? nil : "application/json")
    }

    /// The sealed frames of labels `from ... to`, as the service holds them.
    public func detail(from: UInt64 = 0, to: UInt64 = UInt64(Int64.max)) async throws(ClientError)
        -> CustomerDetailResponse
    {
        try client.decode(
            CustomerDetailResponse.self, try await call(.GET, "/v1/customer/detail?from=\(from)&to=\(to)"))
    }

    /// The frames as sealed detail, for `CustomerCurve`.
    public func sealedDetail(labels: ClosedRange<UInt64>?) async throws -> (meter: UInt32, frames: [SealedDetail]) {
        let r = try await detail(from: labels?.lowerBound ?? 0, to: labels?.upperBound ?? UInt64(Int64.max))
        let frames = try r.frames.map { f in
            guard let bytes = Hex.decode(f.hex) else { throw ClientError.decoding("a frame that is not hex") }
            return SealedDetail(meter: r.meter, group: r.group, label: f.label, frame: bytes)
        }
        return (r.meter, frames)
    }

    /// The customer's curve from the service, opened here.
    public func curve(labels: ClosedRange<UInt64>? = nil) async throws -> (meter: UInt32, curve: CustomerCurve) {
        let (meter, frames) = try await sealedDetail(labels: labels)
        let source = FetchedDetail(frames: frames)
        return (meter, try CustomerCurve(meter: meter, key: key, source: source, labels: labels))
    }

    public func upload(_ grant: GrantUpload) async throws(ClientError) -> GrantStatus {
        try client.decode(GrantStatus.self, try await call(.POST, "/v1/customer/grants", body: client.encode(grant)))
    }

    public func grants() async throws(ClientError) -> GrantList {
        try client.decode(GrantList.self, try await call(.GET, "/v1/customer/grants"))
    }

    public func revoke(_ id: String) async throws(ClientError) -> GrantStatus {
        try client.decode(GrantStatus.self, try await call(.DELETE, "/v1/customer/grants/\(id)"))
    }

    public func audit() async throws(ClientError) -> AuditResponse {
        try client.decode(AuditResponse.self, try await call(.GET, "/v1/customer/audit"))
    }
}

/// Frames already fetched, as a `SealedDetailSource`.
public struct FetchedDetail: SealedDetailSource {
    public let frames: [SealedDetail]
    public init(frames: [SealedDetail]) { self.frames = frames }

    public func sealedDetail(meter: UInt32, labels: ClosedRange<UInt64>?) throws -> [SealedDetail] {
        frames.filter { $0.meter == meter && (labels?.contains($0.label) ?? true) }.sorted { $0.label < $1.label }
    }
}

extension AggregatorClient {
    /// One request with the given Authorization header; 2xx or the problem as `ClientError.http`.
    func authorizedCall(
        _ method: HTTPMethod, _ path: String, authorization: String?, body: [UInt8]? = nil, contentType: String? = nil
    ) async throws(ClientError) -> [UInt8] {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let status: Int
        let bytes: [UInt8]
        do {
            let response = try await http.execute(request, timeout: .seconds(120))
            bytes = Array(try await response.body.collect(upTo: 256 << 20).readableBytesView)
            status = Int(response.status.code)
        } catch {
            throw .transport("\(error)")
        }
        guard (200..<300).contains(status) else {
            throw .http(status: status, problem: try? JSONDecoder().decode(Problem.self, from: Data(bytes)))
        }
        return bytes
    }

    /// A grantee's read of a grant (`Authorization: Bearer <party token>`).
    public func grantDetail(_ id: String) async throws(ClientError) -> GrantDetailResponse {
        try decode(
            GrantDetailResponse.self,
            try await authorizedCall(.GET, "/v1/grants/\(id)/detail", authorization: token.map { "Bearer \($0)" }))
    }
}
