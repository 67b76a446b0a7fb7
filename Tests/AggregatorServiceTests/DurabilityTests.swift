import AggregatorAPI
import AggregatorStore
import Foundation
import MeterSimulator
import ServiceClient
import Testing

/// The built `metering` binary (beside the test bundle; METERING_BINARY overrides).
func meteringBinary() throws -> String {
    if let path = ProcessInfo.processInfo.environment["METERING_BINARY"] { return path }
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("metering").path
    guard FileManager.default.isExecutableFile(atPath: beside) else {
        throw TestFailure("no metering binary at \(beside): run swift build first (or set METERING_BINARY)")
    }
    return beside
}

/// `metering serve` as its own process.
final class ServerProcess {
    let process = Process()
    let port: Int
    let log: URL

    init(database: String, directory: URL, name: String, extra: [String] = []) throws {
        let portFile = directory.appendingPathComponent("\(name).port")
        log = directory.appendingPathComponent("\(name).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: try meteringBinary())
        process.arguments =
            [
                "serve", "--database", database, "--port", "0", "--port-file", portFile.path, "--insecure-http",
                "--operator-token", operatorToken, "--supplier-token", supplierToken, "--log-level", "warning",
            ] + extra
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while true {
            if let text = try? String(contentsOf: portFile, encoding: .utf8),
                let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                self.port = port
                return
            }
            guard process.isRunning, Date() < deadline else {
                let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                process.terminate()
                throw TestFailure("metering serve did not start: \(output)")
            }
            usleep(20_000)
        }
    }

    var url: String { "http://127.0.0.1:\(port)" }

    func kill(_ signal: Int32) {
        _ = Foundation.kill(process.processIdentifier, signal)
        process.waitUntilExit()
    }
}

/// `metering_frames_accepted_total` as the service reports it.
func acceptedFrames(_ client: AggregatorClient) async -> Int? {
    guard let text = try? await client.metrics() else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("metering_frames_accepted_total ") {
        return Int(line.split(separator: " ")[1])
    }
    return nil
}

@Suite("Durability: the real server killed with SIGKILL mid-load", .serialized)
struct DurabilityTests {
    @Test(
        "every acknowledged frame survives SIGKILL; after the meters re-send, every sum is exact, no label twice",
        arguments: Backend.allCases)
    func sigkillMidLoad(_ backend: Backend) async throws {
        guard let database = TestDatabase(backend) else { return }
        defer { Task { await database.remove() } }
        let meters = 16
        let labels = 8
        let killLabel: UInt64 = 3
        var first: ServerProcess? = try ServerProcess(
            database: database.location, directory: database.directory, name: "first")
        let fleet = try NetworkFleet(
            configuration: {
                var c = FleetConfiguration()
                c.meters = meters
                c.seed = 11
                c.sampleSeconds = 300
                c.threads = 2
                return c
            }(), labels: labels,
            client: try AggregatorClient(baseURL: first!.url, token: operatorToken))
        try await fleet.setUp()
        for label in 0..<killLabel { await fleet.runLabel(label) }

        // Label 3 goes up one frame per request; a watcher kills the server once half of
        // them are in.
        fleet.batchSize = 1
        fleet.connections = 2
        let watcher = try AggregatorClient(baseURL: first!.url)
        let base = await acceptedFrames(watcher) ?? 0
        let frames = await fleet.runInterval(killLabel)
        let server = first!
        async let killed: Int = {
            while true {
                if let n = await acceptedFrames(watcher), n >= base + meters / 2 {
                    server.kill(SIGKILL)
                    return n - base
                }
                try? await Task.sleep(for: .milliseconds(1))
            }
        }()
        await fleet.upload(frames)
        let acceptedBeforeKill = await killed
        await watcher.shutdown()
        first = nil
        let ackedBeforeKill = fleet.acknowledged
        let resendsBefore = fleet.resends
        #expect(server.process.terminationReason == .uncaughtSignal)
        #expect(fleet.failedUploads > 0, "the kill must land while uploads are in flight")

        // Every frame acknowledged before the kill is in the database, untouched by the restart.
        let store = try await database.open()
        let stored = Set(
            try await store.readings(group: fleet.group, fromLabel: 0).map {
                NetworkFleet.MeterLabel(meter: $0.meter, label: $0.label)
            })
        await store.close()
        #expect(ackedBeforeKill.isSubset(of: stored))

        // Restart on the same database; the meters re-send from their outboxes.
        let second = try ServerProcess(database: database.location, directory: database.directory, name: "second")
        await fleet.client.shutdown()
        fleet.client = try AggregatorClient(baseURL: second.url, token: operatorToken)
        fleet.batchSize = 500
        for label in (killLabel + 1)..<UInt64(labels) { await fleet.runLabel(label) }
        try await fleet.flush()
        #expect(fleet.pending == 0)

        let supplier = try AggregatorClient(baseURL: second.url, token: supplierToken)
        let (exact, mismatches) = try await fleet.check(supplier: supplier)
        #expect(exact == labels, "\(mismatches)")
        let after = try await database.open()
        let readings = try await after.readings(group: fleet.group, fromLabel: 0)
        let sums = try await after.sums(group: fleet.group, labels: 0...UInt64(labels))
        await after.close()
        #expect(readings.count == meters * labels)
        #expect(Set(readings.map { NetworkFleet.MeterLabel(meter: $0.meter, label: $0.label) }).count == readings.count)
        #expect(sums.allSatisfy { $0.meters == meters } && sums.count == labels)
        let lost = ackedBeforeKill.subtracting(
            readings.map { NetworkFleet.MeterLabel(meter: $0.meter, label: $0.label) })
        #expect(lost.isEmpty)
        let found = ackedBeforeKill.intersection(stored).count
        let resent = fleet.resends - resendsBefore
        let summary =
            "durability (\(backend.rawValue)): \(ackedBeforeKill.count) readings acknowledged before the kill"
            + " (the service had counted \(acceptedBeforeKill) of label \(killLabel)'s \(meters) when killed),"
            + " \(found) found after it, \(resent) re-sent after the restart, \(lost.count) lost;"
            + " \(exact)/\(labels) labels exact"
        print(summary)
        await supplier.shutdown()
        await fleet.client.shutdown()
        second.kill(SIGTERM)
    }
}
