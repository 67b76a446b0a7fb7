import AggregatorAPI
import AggregatorStore
import AsyncHTTPClient
import Foundation
import Logging
import NIOHTTP1
import ServiceClient
import Testing

@testable import AggregatorService

/// A self-signed certificate for 127.0.0.1, made with the openssl CLI.
func makeCertificate(in directory: URL) throws -> (cert: String, key: String) {
    let cert = directory.appendingPathComponent("cert.pem").path
    let key = directory.appendingPathComponent("key.pem").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
        "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
    ]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw TestFailure("openssl req failed (is openssl installed?)") }
    return (cert, key)
}

@Suite("Transport and the API document")
struct TransportTests {
    @Test("TLS on loopback: a client trusting the test's certificate gets through, others do not")
    func tls() async throws {
        guard let database = TestDatabase(.sqlite) else { return }
        let (cert, key) = try makeCertificate(in: database.directory)
        var configuration = TestServer.configuration(database)
        configuration.insecureHTTP = false
        configuration.tlsCertificate = cert
        configuration.tlsKey = key
        let server = try await TestServer(configuration)
        #expect(server.url.hasPrefix("https://"))
        let trusting = try server.client(supplierToken, ca: cert)
        #expect(try await trusting.health())
        let answer = try await trusting.send(.GET, "/v1/groups/1/sums")
        #expect(answer.status == 404 && problem(answer)?.title == "unknownGroup")
        let untrusting = try server.client(supplierToken)
        await #expect(throws: ClientError.self) { _ = try await untrusting.health() }
        let plain = try AggregatorClient(baseURL: "http://127.0.0.1:\(server.port)")
        await #expect(throws: ClientError.self) { _ = try await plain.health() }
        for c in [trusting, untrusting, plain] { await c.shutdown() }
        await server.stop()
        await database.remove()
    }

    @Test("plain HTTP only when asked for; TLS needs both files")
    func transportChoice() async throws {
        var configuration = ServiceConfiguration()
        configuration.database = FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID()).sqlite").path
        configuration.port = 0
        await #expect {
            try await AggregatorServer(configuration: configuration).run()
        } throws: { error in
            if case .noTransport = error as? AggregatorServer.StartError { return true }
            return false
        }
        configuration.tlsCertificate = "/nonexistent.pem"
        await #expect {
            try await AggregatorServer(configuration: configuration).run()
        } throws: { error in
            if case .incompleteTLS = error as? AggregatorServer.StartError { return true }
            return false
        }
    }

    /// The routes as the document lists them: "METHOD /path/{param}".
    static func documentedRoutes() -> Set<String> {
        var routes: Set<String> = []
        var path: String?
        for line in AggregatorServer.openAPIDocument.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  /") && line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if let p = path, line.hasPrefix("    "), !line.hasPrefix("     "),
                let method = ["get", "post", "put", "delete", "patch"].first(where: { line == "    \($0):" })
            {
                routes.insert("\(method.uppercased()) \(p)")
            } else if !line.hasPrefix(" ") {
                path = line.hasPrefix("paths:") ? path : nil
            }
        }
        return routes
    }

    @Test("the OpenAPI document lists exactly the routes the server has")
    func documentMatchesRouter() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID()).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let store = try await openStore(file)
        let metrics = ServiceMetrics()
        let core = ServiceCore(store: store, metrics: metrics, logger: Logger(label: "test"))
        let router = Routes(core: core, metrics: metrics, configuration: ServiceConfiguration(), openAPI: "").build()
        let served = Set(
            router.routes.map { route in
                let path = route.path.description.split(separator: "/").map {
                    $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0)
                }.joined(separator: "/")
                return "\(route.method) /\(path)"
            })
        let documented = Self.documentedRoutes()
        #expect(documented.count >= 12)
        #expect(served == documented)
        await store.close()
    }

    @Test("every documented route answers on a running server (none is unmatched)")
    func everyRouteAnswers() async throws {
        try await withServer(.sqlite) { server, _ in
            let client = try server.client()
            for route in Self.documentedRoutes().sorted() {
                let parts = route.split(separator: " ")
                let path = parts[1].replacingOccurrences(of: "{group}", with: "1").replacingOccurrences(
                    of: "{meter}", with: "1"
                ).replacingOccurrences(of: "{file}", with: "index.html")
                let method: HTTPMethodName = .init(String(parts[0]))
                let answer = try await client.send(
                    method.nio, path, body: method.nio == .GET ? nil : [], contentType: "application/json")
                let title = problem(answer)?.title
                #expect(title != "notFound" && title != "methodNotAllowed", "\(route) is not served: \(answer.status)")
            }
            await client.shutdown()
        }
    }
}

@Suite("The browser interface's files")
struct WebInterfaceTests {
    /// GET `path`: status, headers, body.
    static func get(_ http: HTTPClient, _ url: String) async throws -> (Int, HTTPHeaders, [UInt8]) {
        let response = try await http.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), response.headers, Array(body.readableBytesView))
    }

    @Test("every page, script and stylesheet is served with its media type, a CSP allowing only the service, no-store")
    func pagesServed() async throws {
        try await withServer(.sqlite) { server, _ in
            let http = HTTPClient.shared
            let files = [
                ("/", "text/html"), ("/ui/index.html", "text/html"), ("/ui/supplier.html", "text/html"),
                ("/ui/customer.html", "text/html"), ("/ui/common.js", "text/javascript"),
                ("/ui/supplier.js", "text/javascript"), ("/ui/customer.js", "text/javascript"),
                ("/ui/app.css", "text/css"),
            ]
            for (path, type) in files {
                let (status, headers, body) = try await Self.get(http, server.url + path)
                #expect(status == 200, "\(path)")
                #expect(headers.first(name: "Content-Type")?.hasPrefix(type) == true, "\(path)")
                let policy = headers.first(name: "Content-Security-Policy") ?? ""
                #expect(policy.contains("default-src 'self'") && policy.contains("connect-src 'self'"), "\(path)")
                #expect(headers.first(name: "Cache-Control") == "no-store", "\(path)")
                #expect(!body.isEmpty, "\(path)")
            }
            // Every script and stylesheet a page names is served (no file left out of the bundle).
            for page in ["/ui/index.html", "/ui/supplier.html", "/ui/customer.html"] {
                let html = String(decoding: try await Self.get(http, server.url + page).2, as: UTF8.self)
                for reference in html.split(separator: "\"").filter({ $0.hasPrefix("/ui/") }) {
                    #expect(try await Self.get(http, server.url + reference).0 == 200, "\(page) → \(reference)")
                }
            }
            for path in ["/ui/nothing.html", "/ui/..%2FPackage.swift", "/ui/openapi.yaml"] {
                let (status, _, body) = try await Self.get(http, server.url + path)
                let title = try? JSONDecoder().decode(Problem.self, from: Data(body)).title
                #expect(status == 404 && title == "notFound", "\(path)")
            }
        }
    }
}

struct HTTPMethodName {
    let nio: HTTPMethod
    init(_ name: String) { nio = HTTPMethod(rawValue: name) }
}
