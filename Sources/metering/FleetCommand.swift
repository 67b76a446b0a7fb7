import AggregatorAPI
import ArgumentParser
import Foundation
import MeterCrypto
import MeterSimulator
import ServiceClient

/// Where the clients find the service and their tokens (`metering serve` writes
/// metering-operator.token and metering-supplier.token when it is given none).
struct ServerOptions: ParsableArguments {
    @Option(help: "The service's base URL, e.g. http://127.0.0.1:8080.")
    var server: String
    @Option(name: .customLong("operator-token"), help: "Operator token (default: ./metering-operator.token).")
    var operatorToken: String?
    @Option(name: .customLong("supplier-token"), help: "Supplier token (default: ./metering-supplier.token).")
    var supplierToken: String?
    @Option(name: .customLong("ca-cert"), help: "PEM file of the roots to trust for https.")
    var caCert: String?

    func token(_ given: String?, role: String) throws -> String {
        if let given { return given }
        let path = "metering-\(role).token"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let line = text.split(whereSeparator: \.isNewline).first
        else { throw ValidationError("give --\(role)-token (no \(path) here)") }
        return String(line)
    }

    func clients() throws -> (operator: AggregatorClient, supplier: AggregatorClient) {
        (
            try AggregatorClient(baseURL: server, token: token(operatorToken, role: "operator"), caCertificate: caCert),
            try AggregatorClient(baseURL: server, token: token(supplierToken, role: "supplier"), caCertificate: caCert)
        )
    }
}

struct FleetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Run simulated meters against a running aggregator service; check every sum it releases.")

    @OptionGroup var service: ServerOptions
    @Option(help: "Meters in the group.")
    var meters = 100
    @Option(help: "Labels (15-minute intervals) to run.")
    var labels = 96
    @Option(help: "Group id to create on the service.")
    var group: UInt32 = 1
    @Option(help: "Seed of the simulation.")
    var seed: UInt64 = 1
    @Option(help: "Frames per upload request.")
    var batch = 500
    @Option(help: "Worker threads for the simulated meters.")
    var threads = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Print a JSON summary.")
    var json = false
    @OptionGroup var load: ProfileOptions

    struct Summary: Codable {
        let meters: Int
        let labels: Int
        let exact_labels: Int
        let frames_sent: Int
        let frames_acked: Int
        let resends: Int
        let failed_uploads: Int
        let rejected: [String: Int]
        let upload_p50_ms: Double
        let upload_p99_ms: Double
    }

    func validate() throws {
        guard meters >= 2 else { throw ValidationError("--meters must be at least 2") }
        guard labels >= 1 else { throw ValidationError("--labels must be at least 1") }
    }

    func run() async throws {
        let (operatorClient, supplierClient) = try service.clients()
        var config = FleetConfiguration()
        config.meters = meters
        config.group = group
        config.seed = seed
        config.threads = threads
        config.sampleSeconds = 60
        config.loadProfiles = try load.source()
        let fleet = try NetworkFleet(configuration: config, labels: labels, client: operatorClient)
        fleet.batchSize = batch
        let log = Log(quiet: json)
        log.line("load profiles: \(config.loadProfiles.describe(meters: meters))")
        log.line("key setup of \(meters) meters through \(service.server) ...")
        try await fleet.setUp()
        for label in 0..<labels {
            await fleet.runLabel(UInt64(label))
            log.line("label \(label): \(fleet.framesAcked) frames acknowledged so far")
        }
        try await fleet.flush()
        let (exact, mismatches) = try await fleet.check(supplier: supplierClient)
        for m in mismatches { log.line("MISMATCH \(m)") }
        let (p50, p99) = fleet.latencyPercentiles
        let summary = Summary(
            meters: meters, labels: labels, exact_labels: exact, frames_sent: fleet.framesSent,
            frames_acked: fleet.framesAcked, resends: fleet.resends, failed_uploads: fleet.failedUploads,
            rejected: fleet.rejected, upload_p50_ms: p50, upload_p99_ms: p99)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            print(
                "exact labels \(exact) / \(labels); frames sent \(summary.frames_sent), acknowledged \(summary.frames_acked), re-sent \(summary.resends)"
            )
        }
        await operatorClient.shutdown()
        await supplierClient.shutdown()
        if exact != labels { throw ExitCode(1) }
    }
}

struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Load a running aggregator service with pre-sealed frames; print frames/s and latency as JSON.")

    @OptionGroup var service: ServerOptions
    @Option(help: "Groups to create.")
    var groups = 10
    @Option(help: "Meters per group.")
    var meters = 1000
    @Option(help: "Labels per meter.")
    var labels = 10
    @Option(help: "Frames per upload request.")
    var batch = 5000
    @Option(help: "Upload requests in flight at once.")
    var connections = 4
    @Option(name: .customLong("first-group"), help: "Id of the first group created.")
    var firstGroup: UInt32 = 1000
    @Option(help: "The database the service runs on (reported as is).")
    var database = "unknown"

    func run() async throws {
        let (operatorClient, supplierClient) = try service.clients()
        let load = LoadGenerator(
            client: operatorClient, supplier: supplierClient, groups: groups, meters: meters, labels: labels,
            firstGroup: firstGroup)
        try await load.setUp()
        let frames = try load.sealReadings()
        let report = try await load.run(frames: frames, batch: batch, connections: connections, database: database)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
        await operatorClient.shutdown()
        await supplierClient.shutdown()
        if report.exact_labels != groups * labels || report.rejected > 0 { throw ExitCode(1) }
    }
}
