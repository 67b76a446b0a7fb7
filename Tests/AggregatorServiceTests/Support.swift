import AggregatorService
import AggregatorStore
import Foundation
import Logging
import MeterSimulator
import ServiceClient
import TestSupport
import Testing

/// The backends every service test runs against.
enum Backend: String, CaseIterable, CustomTestStringConvertible {
    case sqlite
    case postgresql
    var testDescription: String { rawValue }
}

let operatorToken = "operator-token-for-tests"
let supplierToken = "supplier-token-for-tests"

/// A database for one test: a fresh SQLite file or a fresh PostgreSQL schema. nil when
/// PostgreSQL is skipped on purpose; records a failure when its URL is missing.
final class TestDatabase: Sendable {
    let location: String
    let backend: Backend
    let directory: URL

    init?(_ backend: Backend) {
        self.backend = backend
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("service-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        switch backend {
        case .sqlite:
            location = directory.appendingPathComponent("aggregator.sqlite").path
        case .postgresql:
            switch TestPostgres.availability {
            case .url(let url): location = TestPostgres.url(url, schema: TestPostgres.freshSchema("svc"))
            case .skippedOnPurpose: return nil
            case .missing(let message):
                Issue.record(Comment(rawValue: message))
                return nil
            }
        }
    }

    /// Removes the file or the schema.
    func remove() async {
        if backend == .postgresql, let store = try? PostgresStore(url: location) {
            try? await store.dropSchema()
            await store.close()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// The store itself, to check what the service committed.
    func open() async throws -> any AggregatorStore { try await openStore(location) }
}

/// The service running in this process on a free loopback port.
final class TestServer: Sendable {
    let task: Task<Void, any Error>
    let port: Int
    let scheme: String

    var url: String { "\(scheme)://127.0.0.1:\(port)" }

    static func configuration(_ database: TestDatabase) -> ServiceConfiguration {
        var c = ServiceConfiguration()
        c.database = database.location
        c.port = 0
        c.operatorTokens = [operatorToken]
        c.supplierTokens = [supplierToken]
        c.insecureHTTP = true
        return c
    }

    init(_ configuration: ServiceConfiguration, logger: Logger = Logger(label: "metering.serve")) async throws {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        task = Task {
            defer { continuation.finish() }
            try await AggregatorServer(configuration: configuration, logger: logger).run { port in
                continuation.yield(port)
            }
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            _ = try await task.value
            throw TestFailure("the service stopped before it listened")
        }
        self.port = port
        scheme = configuration.tlsCertificate == nil ? "http" : "https"
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }

    func client(_ token: String? = operatorToken, ca: String? = nil) throws -> AggregatorClient {
        try AggregatorClient(baseURL: url, token: token, caCertificate: ca)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A small fleet of simulated meters talking to `server` (3 meters by default: key setup
/// takes well under a second).
func smallFleet(
    _ server: TestServer, meters: Int = 3, labels: Int = 4, group: UInt32 = 1, seed: UInt64 = 7,
    configure: (inout FleetConfiguration) -> Void = { _ in }
) throws -> NetworkFleet {
    var config = FleetConfiguration()
    config.meters = meters
    config.group = group
    config.seed = seed
    config.sampleSeconds = 300
    config.threads = 2
    configure(&config)
    return try NetworkFleet(configuration: config, labels: labels, client: try server.client())
}

/// Runs `body` with a database and a server on it, then stops and removes both.
func withServer(
    _ backend: Backend, _ body: (TestServer, TestDatabase) async throws -> Void
) async throws {
    guard let database = TestDatabase(backend) else { return }
    let server: TestServer
    do { server = try await TestServer(TestServer.configuration(database)) } catch {
        await database.remove()
        throw error
    }
    do { try await body(server, database) } catch {
        await server.stop()
        await database.remove()
        throw error
    }
    await server.stop()
    await database.remove()
}
