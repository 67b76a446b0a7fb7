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
    var server: String?
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

    /// The base URL (fleet and load need one; demo runs in process without).
    func url() throws -> String {
        guard let server else { throw ValidationError("give --server URL") }
        return server
    }

    func clients() throws -> (operator: AggregatorClient, supplier: AggregatorClient) {
        let server = try url()
        return (
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
    @Option(
        help: "Aggregation scheme of the group: lwr or paillier (the supplier decrypts the service's encrypted sums).")
    var scheme: Demo.Scheme = .lwr
    @Option(name: .customLong("key-bits"), help: "Paillier: bits of the supplier's key N (2048 or 3072).")
    var keyBits = 3072
    @Option(help: "Worker threads for the simulated meters.")
    var threads = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Print a JSON summary.")
    var json = false
    @Flag(
        help:
            "Bill every meter over the run's whole days (three-rate tariff signed by the authority) through the service; check each bill. Paillier: the service computes it on ciphertexts. LWR-PSA: the meters make it (docs/spec/billing.md)."
    )
    var bills = false
    @Flag(help: "LWR-PSA: compare the service's sums with a feeder meter (2 % losses, --bypass) through the service.")
    var feeder = false
    @Option(help: "With --feeder: unmetered load the feeder sees, as LABEL:WH (repeatable).")
    var bypass: [String] = []
    @Option(
        help: ArgumentHelp(
            "Write each household's code (what its meter's display shows once) and its meter's readings to FILE (JSON), for the household's own tools and tests.",
            valueName: "FILE"))
    var households: String?
    @Option(
        name: .customLong("statistics-bins"),
        help: ArgumentHelp(
            "LWR-PSA: sign a statistics plan with x² and N equal bins over 0 ... a fifth of the maximum reading, install it on the service (GET /v1/groups/{g}/analytics, metering analytics --server).",
            valueName: "N"))
    var statisticsBins: Int?
    @OptionGroup var load: ProfileOptions

    /// `--households FILE`: what each household holds (its code) and what its meter metered.
    struct Households: Encodable {
        struct Household: Encodable {
            let meter: UInt32
            let group: UInt32
            let code: String
            /// [label, Wh] of every label run.
            let readings: [[UInt64]]
        }
        let households: [Household]
    }

    /// `--json`: meters, labels, exact_labels and the network counts, as one object; with
    /// --bills each meter's bill check, with --feeder the flagged labels.
    struct Summary: Encodable {
        let meters: Int
        let labels: Int
        let exact_labels: Int
        let counts: NetworkCounts
        var bills: [NetworkFleet.BillCheck]?
        var meter_bills: [NetworkFleet.MeterBillCheck]?
        var feeder_flagged_labels: [UInt64]?

        enum CodingKeys: String, CodingKey {
            case meters, labels, exact_labels, bills, bills_exact, meter_bills, meter_bills_exact, feeder_flagged_labels
        }

        func encode(to encoder: Encoder) throws {
            try counts.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(meters, forKey: .meters)
            try c.encode(labels, forKey: .labels)
            try c.encode(exact_labels, forKey: .exact_labels)
            if let bills {
                try c.encode(bills, forKey: .bills)
                try c.encode(bills.filter(\.exact).count, forKey: .bills_exact)
            }
            if let meter_bills {
                try c.encode(meter_bills, forKey: .meter_bills)
                try c.encode(meter_bills.filter(\.exact).count, forKey: .meter_bills_exact)
            }
            try c.encodeIfPresent(feeder_flagged_labels, forKey: .feeder_flagged_labels)
        }
    }

    func validate() throws {
        _ = try service.url()
        guard meters >= 2 else { throw ValidationError("--meters must be at least 2") }
        guard labels >= 1 else { throw ValidationError("--labels must be at least 1") }
        guard scheme == .lwr || scheme == .paillier else { throw ValidationError("--scheme is lwr or paillier") }
        guard keyBits == 2048 || keyBits == 3072 else { throw ValidationError("--key-bits must be 2048 or 3072") }
        if bills {
            guard labels >= 96 else { throw ValidationError("--bills needs at least one whole day: --labels 96") }
        }
        if feeder { guard scheme == .lwr else { throw ValidationError("--feeder needs --scheme lwr") } }
        if statisticsBins != nil, scheme != .lwr { throw ValidationError("--statistics-bins needs --scheme lwr") }
        guard bypass.isEmpty || feeder else { throw ValidationError("--bypass goes with --feeder") }
        _ = try parseBypass(bypass)
    }

    func run() async throws {
        let (operatorClient, supplierClient) = try service.clients()
        var config = FleetConfiguration()
        config.meters = meters
        config.group = group
        config.seed = seed
        config.threads = threads
        config.sampleSeconds = 60
        config.scheme = scheme == .paillier ? .paillier : .lwrPSA
        config.paillierKeyBits = keyBits
        config.loadProfiles = try load.source()
        if let bins = statisticsBins {
            config.statistics = .uniform(bins: bins, maxReading: config.maxReading / 5)
        }
        if bills && scheme == .lwr {
            config.meterBilling = MeterBillingPlan(period: 0...UInt64(labels / 96 * 96 - 1))
        }
        let log = Log(quiet: json)
        log.line("load profiles: \(config.loadProfiles.describe(meters: meters))")
        log.line("key setup of \(meters) meters through \(try service.url()) ...")
        let (fleet, _) = try await runFleetOverService(
            config, labels: labels, batch: batch, client: operatorClient, log: log)
        let (exact, mismatches) = try await fleet.check(supplier: supplierClient)
        for m in mismatches { log.line("MISMATCH \(m)") }
        var summary = Summary(
            meters: meters, labels: labels, exact_labels: exact, counts: NetworkCounts(fleet, url: try service.url()))
        if let households {
            var list: [Households.Household] = []
            for (index, meter) in fleet.fleet.meters.enumerated() {
                let readings = fleet.fleet.expectedReadings(meter: index).prefix(labels).enumerated().map {
                    [UInt64($0.offset), $0.element]
                }
                list.append(
                    Households.Household(
                        meter: meter.id, group: group, code: try meter.revealCustomerCode(), readings: readings))
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(Households(households: list)).write(to: URL(fileURLWithPath: households))
            log.line("households' codes and readings written to \(households)")
        }
        if bills && scheme == .lwr {
            let checks = try await fleet.meterBillChecks(supplier: supplierClient)
            for c in checks where !c.exact { log.line("BILL MISMATCH meter \(c.meter): \(c.amount) ≠ \(c.truth)") }
            log.line(
                "bills made on the meters: \(checks.filter(\.exact).count) of \(checks.count) exact (labels 0 ... \(labels / 96 * 96 - 1)), \(fleet.billsStored) bill frames stored by the service"
            )
            summary.meter_bills = checks
        } else if bills {
            let checks = try await fleet.billChecks(supplier: supplierClient)
            for c in checks where !c.exact { log.line("BILL MISMATCH meter \(c.meter): \(c.amount) ≠ \(c.truth)") }
            log.line(
                "bills: \(checks.filter(\.exact).count) of \(checks.count) exact (labels 0 ... \(checks.first?.to ?? 0))"
            )
            summary.bills = checks
        }
        if feeder {
            let report = try await fleet.feederCheck(
                supplier: supplierClient, feeder: FeederMeter(lossFraction: 0.02, bypass: try parseBypass(bypass)))
            log.line("feeder check: flagged labels \(report.flagged_labels)")
            summary.feeder_flagged_labels = report.flagged_labels
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            print(
                "exact labels \(exact) / \(labels); frames sent \(fleet.framesSent), acknowledged \(fleet.framesAcked), re-sent \(fleet.resends)"
            )
        }
        await operatorClient.shutdown()
        await supplierClient.shutdown()
        if exact != labels || summary.bills?.contains(where: { !$0.exact }) == true
            || summary.meter_bills?.contains(where: { !$0.exact }) == true
        {
            throw ExitCode(1)
        }
    }
}

/// The simulated meters against a running service (`fleet`, `demo --server`): key setup
/// through the service's routes, `labels` boundaries, then the outboxes flushed. Returns
/// the fleet (its counts) and the key setup's wall time; the caller checks the sums.
func runFleetOverService(
    _ config: FleetConfiguration, labels: Int, batch: Int, client: AggregatorClient, log: Log
) async throws -> (fleet: NetworkFleet, setupSeconds: Double) {
    let fleet = try NetworkFleet(configuration: config, labels: labels, client: client)
    fleet.batchSize = batch
    let start = monotonicSeconds()
    try await fleet.setUp()
    let setupSeconds = monotonicSeconds() - start
    for label in 0..<labels {
        await fleet.runLabel(UInt64(label))
        log.line("label \(label): \(fleet.framesAcked) frames acknowledged so far")
    }
    try await fleet.flush()
    return (fleet, setupSeconds)
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
