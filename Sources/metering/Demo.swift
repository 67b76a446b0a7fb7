import Aggregation
import ArgumentParser
import Foundation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import ServiceClient

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a group of simulated meters through key setup and L labels; check every sum.")

    enum Scheme: String, ExpressibleByArgument, CaseIterable { case lwr, paillier, dmcfe, all }
    enum Parameters: String, ExpressibleByArgument, CaseIterable { case standard, turbo }
    enum Mode: String, ExpressibleByArgument, CaseIterable { case seed, expanded }
    enum Setup: String, ExpressibleByArgument, CaseIterable {
        case graph
        case nOfN = "n-of-n"
    }

    @Option(help: "Aggregation scheme: \(Scheme.allCases.map(\.rawValue).joined(separator: ", ")).")
    var scheme: Scheme = .lwr
    @Option(help: "Meters in the group.")
    var meters: Int = 100
    @Option(help: "Labels (15-minute intervals) to run; 96 is one day.")
    var labels: Int = 96
    @Option(name: .customLong("max-wh"), help: "Largest reading a meter may produce per interval, in Wh.")
    var maxWh: UInt64 = 5000
    @Option(help: "Seed of the simulation (boards, load profiles, keys).")
    var seed: UInt64 = 1
    @Option(help: "LWR parameter set: standard (SHAKE128) or turbo (TurboSHAKE128).")
    var parameters: Parameters = .standard
    @Option(name: .customLong("key-mode"), help: "Meter key held as a 32-byte seed or expanded in flash.")
    var keyMode: Mode = .seed
    @Option(
        name: .customLong("key-setup"),
        help:
            "LWR-PSA key setup: graph (k neighbours each, sums of the meters that reported, docs/spec/dropout.md; key expanded) or n-of-n (every pair; every meter needed at every label)."
    )
    var keySetup: Setup = .graph
    @Option(
        name: .customLong("dropout-percent"),
        help: "LWR-PSA graph: meters silent at each label (off over its boundary), a random P % drawn from the seed.")
    var dropoutPercent: Double = 0
    @Option(
        help: "LWR-PSA graph: the neighbours per meter k (even); default from n and the bounds (docs/spec/dropout.md).")
    var degree: Int?
    @Option(name: .customLong("key-bits"), help: "Paillier: bits of the supplier's key N (2048 or 3072).")
    var keyBits: Int = 3072
    @Option(help: "Worker threads for the simulated meters.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Print a machine-readable summary (JSON) instead of the table.")
    var json = false
    @Option(
        help: ArgumentHelp(
            "Write every radio frame (both directions) to FILE as JSON lines: direction, meter, group, type, label, hex.",
            valueName: "FILE"))
    var trace: String?
    @OptionGroup var load: ProfileOptions
    @OptionGroup(title: "Over a running service (as metering fleet)") var service: ServerOptions
    @Option(help: "With --server: frames per upload request.")
    var batch = 500
    @Option(help: "With --server: the group id to create on the service.")
    var group: UInt32 = 1

    func validate() throws {
        if service.server != nil {
            guard scheme == .lwr || scheme == .paillier else {
                throw ValidationError("--server runs the lwr and paillier schemes")
            }
            guard trace == nil else { throw ValidationError("--trace records the in-process radio, not --server") }
            guard dropoutPercent == 0, degree == nil else {
                throw ValidationError(
                    "--server runs the service's n-of-n LWR-PSA key setup (no neighbour graph there yet): no --dropout-percent or --degree"
                )
            }
        }
        guard meters >= 2 else {
            throw ValidationError("--meters must be at least 2 (a group of one reveals its reading)")
        }
        guard labels >= 1 else { throw ValidationError("--labels must be at least 1") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if scheme == .paillier || scheme == .all {
            guard keyBits == 2048 || keyBits == 3072 else { throw ValidationError("--key-bits must be 2048 or 3072") }
        }
        if scheme == .dmcfe || scheme == .all {
            guard UInt64(meters).multipliedReportingOverflow(by: maxWh).partialValue < 1 << 60, maxWh < 1 << 48 else {
                throw ValidationError("DMCFE: meters × max-wh must stay below 2^60 (the discrete-log bound)")
            }
        }
        guard dropoutPercent >= 0, dropoutPercent < 100 else {
            throw ValidationError("--dropout-percent takes 0 ... 99")
        }
        if dropoutPercent > 0 {
            guard scheme == .lwr, keySetup == .graph else {
                throw ValidationError(
                    "--dropout-percent needs --scheme lwr --key-setup graph (n-of-n and the other schemes need every meter)"
                )
            }
        }
        if let degree {
            guard degree >= 2, degree <= 64, degree % 2 == 0 else {
                throw ValidationError("--degree takes an even k, 2 ... 64")
            }
        }
        guard scheme == .lwr || scheme == .all else { return }
        let params: LWRParameters = parameters == .standard ? .standard : .turbo
        let terms = keySetup == .graph ? 2 * UInt64(meters) : UInt64(meters)
        do {
            _ = try LWRGroupBounds(meters: UInt32(meters), maxReading: maxWh, parameters: params, roundedTerms: terms)
        } catch {
            throw ValidationError(
                "\(meters) meters × \(maxWh) Wh exceed the capacity of \(params.name): \(keySetup == .graph ? "2n" : "n")·(n·max + 1) must stay below 2^\(params.plaintextBits)"
            )
        }
        if keySetup == .graph {
            let k = degree ?? plan().degree
            guard k <= 64 else {
                throw ValidationError("k = \(k) for \(meters) meters is above the meters' 64 neighbour slots")
            }
        }
    }

    func run() async throws {
        if service.server != nil { return try await runOverService() }
        let sink = try trace.map { try JSONLinesRadioTrace(path: $0) }
        let profiles = try load.source()
        guard scheme == .all else {
            let summary = try runScenario(scheme, profiles: profiles, trace: sink)
            if json { try printJSON(summary) } else { printSummary(summary) }
            if summary.exactLabels != labels || !summary.billsExact { throw ExitCode(1) }
            return
        }
        // The same scenario (meters, load profiles, readings) for every scheme.
        var summaries: [DemoSummary] = []
        for s in [Scheme.lwr, .paillier, .dmcfe] {
            summaries.append(try runScenario(s, profiles: profiles, trace: sink))
        }
        let allExact = summaries.allSatisfy { $0.exactLabels == labels && $0.billsExact }
        if json {
            try printJSON(DemoComparison(schemes: summaries, allExact: allExact))
        } else {
            printComparison(summaries)
        }
        if !allExact { throw ExitCode(1) }
    }

    /// The neighbour graph's plan for this group: k and t from n and the bounds (δ at least
    /// the dropout percent), or the --degree given.
    func plan() -> NeighbourGraphPlan {
        let delta = max(NeighbourGraphAnalysis.defaultSilentFraction, dropoutPercent / 100)
        let p = NeighbourGraphAnalysis.plan(meters: UInt32(meters), silentFraction: delta)
        return degree.map { p.with(degree: $0, maxSilent: max(p.maxSilent, 1)) } ?? p
    }

    /// The scenario's fleet (meters, readings, keys), in process or over --server.
    func baseConfiguration(profiles: LoadProfileSource = .synthetic) -> FleetConfiguration {
        var config = FleetConfiguration()
        config.loadProfiles = profiles
        config.meters = meters
        config.maxReading = maxWh
        config.seed = seed
        config.parameters = parameters == .standard ? .standard : .turbo
        config.keyMode = keyMode == .seed ? .seed : .expanded
        config.threads = threads
        config.paillierKeyBits = keyBits
        return config
    }

    /// Runs the scenario under one scheme; prints per-label lines unless --json.
    func runScenario(
        _ scheme: Scheme, profiles: LoadProfileSource = .synthetic, trace: JSONLinesRadioTrace? = nil
    ) throws -> DemoSummary {
        var config = baseConfiguration(profiles: profiles)
        let log = Log(quiet: json)
        let schemeName: String
        let parameterName: String
        let keyModeName: String
        let ciphertextBytes: Int
        switch scheme {
        case .paillier:
            config.scheme = .paillier
            schemeName = "paillier"
            parameterName = "paillier-\(keyBits)-g=n+1"
            keyModeName = "precomputed-randomizer"
            ciphertextBytes = keyBits / 4
        case .dmcfe:
            config.scheme = .dmcfe
            config.keyMode = .seed
            schemeName = "dmcfe"
            parameterName = "dmcfe-ddh-p3072-q256"
            keyModeName = "seed"
            ciphertextBytes = DMCFE.ciphertextBytes
        case .lwr, .all:
            config.scheme = .lwrPSA
            schemeName = "lwr-psa"
            parameterName = "\(config.parameters.name)"
            keyModeName = keySetup == .graph ? "expanded" : keyMode.rawValue
            ciphertextBytes = config.parameters.ciphertextBytes
            if keySetup == .graph {
                config.keySetup = .neighbourGraph
                config.keyMode = .expanded
                config.dropoutPercent = dropoutPercent
                config.graphPlan = plan()
            }
        }

        log.line(
            "PrivateMetering demo: \(parameterName), \(meters) meters, \(labels) labels, max \(maxWh) Wh, key \(keyModeName), seed \(seed)"
        )
        log.line("load profiles: \(profiles.describe(meters: meters))")
        // Bills made on the meters over the run's whole days (LWR-PSA, DMCFE; docs/spec/billing.md).
        let billedDays = scheme == .paillier ? 0 : labels / 96
        if billedDays > 0 { config.meterBilling = MeterBillingPlan(period: 0...UInt64(billedDays * 96 - 1)) }
        let fleet = try Fleet(config, labels: labels)
        for meter in fleet.meters { meter.trace = trace }
        let bar = ProgressBar(title: "key setup", total: meters)
        let setup = try fleet.runKeySetup { done, total in bar.update(done) }
        bar.finish()
        if scheme == .paillier {
            log.line(
                String(
                    format: "supplier key generation: %.2f s (reproducible from the seed: demo only)",
                    setup.supplierKeySeconds))
        }
        log.line(
            String(
                format: "key setup: %.2f s wall, %.1f ms CPU per meter (median), aggregator %.1f ms", setup.wallSeconds,
                median(setup.meterCPUSeconds) * 1e3, setup.aggregatorCPUSeconds * 1e3))
        if let plan = fleet.graphPlan {
            let p = plan.log2Disconnect == -.infinity ? "0" : String(format: "2^%.1f", plan.log2Disconnect)
            log.line(
                "neighbour graph: k = \(plan.degree) (\(plan.neighbourCount) key agreements per meter, n-of-n: \(meters - 1)), t = \(plan.maxSilent); P(honest reporting meters disconnected) ≤ \(p) per label for γ = \(plan.corruptFraction), δ = \(plan.silentFraction); \(dropoutPercent) % silent per label"
            )
        }

        var results: [LabelResult] = []
        let labelBar = ProgressBar(title: "labels", total: labels)
        for label in 0..<labels {
            let r = try fleet.runLabel(UInt64(label))
            results.append(r)
            labelBar.clear()
            let reported =
                fleet.graphPlan == nil
                ? "" : String(format: "  reported %d/%d, %d recovery answers", r.reporting, meters, r.recoveryMessages)
            log.line(
                String(
                    format: "label %4d  decrypted %10llu Wh  true %10llu Wh  %@%@", label, r.decryptedSum, r.trueSum,
                    r.exact ? "ok" : "MISMATCH", reported))
            labelBar.update(label + 1)
        }
        labelBar.finish()
        let bills = try fleet.meterMadeBills()
        let billsExact = bills.filter { $0.bill.bill.amount == $0.expected }.count
        if let tariff = fleet.signedTariff {
            let mean = bills.isEmpty ? 0 : Double(bills.reduce(0) { $0 + $1.bill.bill.amount }) / Double(bills.count)
            log.line(
                String(
                    format:
                        "bills made on the meters: %d of %d equal the tariff applied to the readings (labels %llu ... %llu, %d class totals each, no 15-minute value); mean %.2f %@",
                    billsExact, meters, tariff.period.lowerBound, tariff.period.upperBound, tariff.tariff.classes.count,
                    mean / Double(tariff.tariff.unitsPerCurrency), "€"))
        }
        let alarms = fleet.labelReuseAlarms
        log.line("label-reuse alarms: \(alarms.isEmpty ? "none" : "")")
        for alarm in alarms { log.line("  ALARM \(alarm)") }

        let alarmDescriptions: [String] = alarms.map { $0.description }
        let precompute = results.flatMap(\.precomputeSeconds)
        let boundary = results.flatMap(\.boundarySeconds)
        let encrypt = results.flatMap { r in zip(r.precomputeSeconds, r.boundarySeconds).map { $0 + $1 } }
        return DemoSummary(
            scheme: schemeName, parameters: parameterName, keyMode: keyModeName,
            meters: meters, labels: labels, maxWh: maxWh, seed: seed,
            exactLabels: results.filter(\.exact).count,
            setupSeconds: setup.wallSeconds,
            setupCpuPerMeterMsMedian: median(setup.meterCPUSeconds) * 1e3,
            encryptUsMedian: median(encrypt) * 1e6,
            precomputeUsMedian: median(precompute) * 1e6,
            boundaryUsMedian: median(boundary) * 1e6,
            collectUsMedian: median(results.map(\.collectSeconds)) * 1e6,
            decryptUsMedian: median(results.map(\.decryptSeconds)) * 1e6,
            ciphertextBytes: ciphertextBytes,
            frameBytes: Frame.size(payloadLength: ciphertextBytes),
            labelReuseAlarms: alarmDescriptions, profiles: profiles.describe(meters: meters),
            trueTotalWh: results.reduce(0) { $0 + $1.trueSum },
            keySetup: scheme == .lwr || scheme == .all ? keySetup.rawValue : nil,
            degree: fleet.graphPlan?.degree, maxSilent: fleet.graphPlan?.maxSilent,
            log2Disconnect: fleet.graphPlan.flatMap { $0.log2Disconnect == -.infinity ? nil : $0.log2Disconnect },
            keyAgreementsPerMeter: fleet.graphPlan?.neighbourCount
                ?? (config.scheme == .paillier ? nil : meters - 1),
            dropoutPercent: fleet.graphPlan == nil ? nil : dropoutPercent,
            reportingMetersMin: fleet.graphPlan == nil ? nil : results.map(\.reporting).min(),
            recoveryMessagesTotal: fleet.graphPlan == nil ? nil : results.reduce(0) { $0 + $1.recoveryMessages },
            meterBills: fleet.signedTariff == nil ? nil : bills.count,
            meterBillsExact: fleet.signedTariff == nil ? nil : billsExact)
    }

    /// `--server`: the same scenario over a running service, through `metering fleet`'s path
    /// (`runFleetOverService`: key setup through the service's routes, uploads, re-sends until
    /// acked); the sums are the supplier's from the service, checked against the true ones.
    func runOverService() async throws {
        let (operatorClient, supplierClient) = try service.clients()
        var config = baseConfiguration(profiles: try load.source())
        config.sampleSeconds = 60
        config.group = group
        let paillier = scheme == .paillier
        if paillier { config.scheme = .paillier }
        let parameterName = paillier ? "paillier-\(keyBits)-g=n+1" : "\(config.parameters.name)"
        let keyModeName = paillier ? "precomputed-randomizer" : keyMode.rawValue
        let log = Log(quiet: json)
        let url = try service.url()
        log.line(
            "PrivateMetering demo over \(url): \(parameterName), \(meters) meters, \(labels) labels, max \(maxWh) Wh, key \(keyModeName), seed \(seed)"
        )
        log.line("load profiles: \(config.loadProfiles.describe(meters: meters))")
        let (fleet, setupSeconds) = try await runFleetOverService(
            config, labels: labels, batch: batch, client: operatorClient, log: Log(quiet: true))
        let checks = try await fleet.labelChecks(supplier: supplierClient)
        for c in checks {
            log.line(
                String(
                    format: "label %4llu  decrypted %10lld Wh  true %10llu Wh  %@", c.label,
                    c.sum.map { Int64($0) } ?? -1,
                    c.truth, c.exact ? "ok" : "MISMATCH"))
        }
        let (p50, p99) = fleet.latencyPercentiles
        let ciphertextBytes = paillier ? keyBits / 4 : config.parameters.ciphertextBytes
        var summary = DemoSummary(
            scheme: paillier ? "paillier" : "lwr-psa", parameters: parameterName, keyMode: keyModeName, meters: meters,
            labels: labels, maxWh: maxWh, seed: seed, exactLabels: checks.filter(\.exact).count,
            setupSeconds: setupSeconds, setupCpuPerMeterMsMedian: nil, encryptUsMedian: nil, precomputeUsMedian: nil,
            boundaryUsMedian: nil, collectUsMedian: nil, decryptUsMedian: nil, ciphertextBytes: ciphertextBytes,
            frameBytes: Frame.size(payloadLength: ciphertextBytes),
            labelReuseAlarms: try await operatorClient.alarms(group: config.group).alarms.map {
                "meter \($0.meter) label \($0.label): \($0.kind)"
            }, profiles: config.loadProfiles.describe(meters: meters),
            trueTotalWh: checks.reduce(0) { $0 + $1.truth },
            keySetup: paillier ? nil : "n-of-n", keyAgreementsPerMeter: paillier ? nil : meters - 1)
        summary.server = NetworkCounts(fleet, url: url)
        log.line("label-reuse alarms: \(summary.labelReuseAlarms.isEmpty ? "none" : "")")
        for alarm in summary.labelReuseAlarms { log.line("  ALARM \(alarm)") }
        await operatorClient.shutdown()
        await supplierClient.shutdown()
        if json { try printJSON(summary) } else { printSummary(summary) }
        if summary.exactLabels != labels { throw ExitCode(1) }
    }

    func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    func printSummary(_ summary: DemoSummary) {
        print("")
        print("exact labels             \(summary.exactLabels) / \(summary.labels)")
        print("energy metered           \(summary.trueTotalWh) Wh (\(summary.profiles))")
        if let net = summary.server {
            print(String(format: "key setup                %.2f s wall, through %@", summary.setupSeconds, net.url))
            print(
                String(
                    format:
                        "uploads                  %d frames sent, %d acknowledged, %d re-sent; p50 %.1f ms, p99 %.1f ms",
                    net.frames_sent, net.frames_acked, net.resends, net.upload_p50_ms, net.upload_p99_ms))
            print("ciphertext               \(summary.ciphertextBytes) bytes (frame \(summary.frameBytes) bytes)")
            return
        }
        print(
            String(
                format: "key setup                %.2f s wall; %.1f ms CPU per meter (median)", summary.setupSeconds,
                summary.setupCpuPerMeterMsMedian ?? 0))
        let pad = ["paillier": "r^N mod N^2", "dmcfe": "H(l)_1^s1·H(l)_2^s2"][summary.scheme] ?? "F_k(l)"
        print(
            String(
                format:
                    "encryption per reading   %.1f µs CPU (median): %.1f µs precomputing %@ while idle + %.1f µs at the boundary",
                summary.encryptUsMedian ?? 0, summary.precomputeUsMedian ?? 0, pad, summary.boundaryUsMedian ?? 0))
        let who = ["paillier": " (the supplier, CRT)", "dmcfe": " (with the discrete logarithm)"][summary.scheme] ?? ""
        print(
            String(
                format:
                    "aggregator per label     %.1f µs to verify and collect %d frames, %.1f µs to decrypt the sum%@ (medians)",
                summary.collectUsMedian ?? 0, summary.meters, summary.decryptUsMedian ?? 0, who))
        print("ciphertext               \(summary.ciphertextBytes) bytes (frame \(summary.frameBytes) bytes)")
    }

    /// One table: the schemes side by side on the same scenario.
    func printComparison(_ summaries: [DemoSummary]) {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        print("")
        print(
            pad("scheme", 10) + pad("setup/meter (CPU)", 19) + pad("encrypt/reading (idle + boundary)", 36)
                + pad("aggregate+decrypt/label", 25) + pad("ciphertext", 12) + "exact")
        for s in summaries {
            print(
                pad(s.scheme, 10) + pad(String(format: "%.1f ms", s.setupCpuPerMeterMsMedian ?? 0), 19)
                    + pad(
                        String(
                            format: "%.1f µs (%.1f + %.1f)", s.encryptUsMedian ?? 0, s.precomputeUsMedian ?? 0,
                            s.boundaryUsMedian ?? 0), 36)
                    + pad(String(format: "%.1f µs", (s.collectUsMedian ?? 0) + (s.decryptUsMedian ?? 0)), 25)
                    + pad("\(s.ciphertextBytes) B", 12) + "\(s.exactLabels)/\(s.labels)")
        }
    }
}

/// `--scheme all --json`: every scheme's summary.
struct DemoComparison: Codable {
    let schemes: [DemoSummary]
    let allExact: Bool

    enum CodingKeys: String, CodingKey {
        case schemes, allExact = "all_exact"
    }
}

struct DemoSummary: Codable {
    let scheme: String
    let parameters: String
    let keyMode: String
    let meters: Int
    let labels: Int
    let maxWh: UInt64
    let seed: UInt64
    let exactLabels: Int
    let setupSeconds: Double
    let setupCpuPerMeterMsMedian: Double?
    let encryptUsMedian: Double?
    let precomputeUsMedian: Double?
    let boundaryUsMedian: Double?
    let collectUsMedian: Double?
    let decryptUsMedian: Double?
    let ciphertextBytes: Int
    let frameBytes: Int
    /// Meters that sent two different ciphertexts for one label (the aggregator's alarms).
    let labelReuseAlarms: [String]
    /// What the meters ran on (`--profiles`).
    let profiles: String
    /// The true sum over every label, Wh (the profiles' metered energy).
    let trueTotalWh: UInt64
    /// With --server (the timings above are left out: they are measured in process only).
    var server: NetworkCounts? = nil
    /// LWR-PSA: graph or n-of-n; the graph's k, t and disconnection bound (log2, per label).
    var keySetup: String? = nil
    var degree: Int? = nil
    var maxSilent: Int? = nil
    var log2Disconnect: Double? = nil
    /// DH exponentiations of one meter's key setup (k, or n − 1 for n-of-n and DMCFE).
    var keyAgreementsPerMeter: Int? = nil
    /// Graph: the silent share per label, the fewest meters any label's sum held, and the
    /// recovery answers over all labels.
    var dropoutPercent: Double? = nil
    var reportingMetersMin: Int? = nil
    var recoveryMessagesTotal: Int? = nil
    /// Bills made on the meters (LWR-PSA, DMCFE, whole days run): how many the supplier got,
    /// and how many equal the tariff applied to the meter's stored readings.
    var meterBills: Int? = nil
    var meterBillsExact: Int? = nil
    /// True unless a meter's bill is missing or differs from its readings'.
    var billsExact: Bool { meterBills == nil || (meterBills == meters && meterBillsExact == meters) }

    enum CodingKeys: String, CodingKey {
        case scheme, parameters, keyMode = "key_mode", meters, labels, maxWh = "max_wh", seed
        case exactLabels = "exact_labels", setupSeconds = "setup_s"
        case setupCpuPerMeterMsMedian = "setup_cpu_per_meter_ms_median", encryptUsMedian = "encrypt_us_median"
        case precomputeUsMedian = "precompute_us_median", boundaryUsMedian = "boundary_us_median"
        case collectUsMedian = "collect_us_median", decryptUsMedian = "decrypt_us_median"
        case ciphertextBytes = "ciphertext_bytes", frameBytes = "frame_bytes", labelReuseAlarms = "label_reuse_alarms"
        case profiles, trueTotalWh = "true_total_wh"
        case server
        case keySetup = "key_setup", degree, maxSilent = "max_silent", log2Disconnect = "log2_disconnect"
        case keyAgreementsPerMeter = "key_agreements_per_meter", dropoutPercent = "dropout_percent"
        case reportingMetersMin = "reporting_meters_min", recoveryMessagesTotal = "recovery_messages_total"
        case meterBills = "meter_bills", meterBillsExact = "meter_bills_exact"
    }
}

/// What went over the network to the service (`demo --server`'s `server`, and the keys of
/// `metering fleet --json`).
struct NetworkCounts: Codable {
    let url: String
    let frames_sent: Int
    let frames_acked: Int
    let resends: Int
    let failed_uploads: Int
    let rejected: [String: Int]
    /// Customer-detail frames the service stored (or held already), and refused by error name.
    let detail_stored: Int
    let detail_rejected: [String: Int]
    let upload_p50_ms: Double
    let upload_p99_ms: Double

    init(_ fleet: NetworkFleet, url: String) {
        let (p50, p99) = fleet.latencyPercentiles
        self.url = url
        frames_sent = fleet.framesSent
        frames_acked = fleet.framesAcked
        resends = fleet.resends
        failed_uploads = fleet.failedUploads
        rejected = fleet.rejected
        detail_stored = fleet.detailStored
        detail_rejected = fleet.detailRejected
        upload_p50_ms = p50
        upload_p99_ms = p99
    }
}

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return 0 }
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Lines for people; silent with --json.
struct Log {
    let quiet: Bool
    func line(_ s: String) { if !quiet { print(s) } }
}

/// A progress bar on standard error when it is a terminal; otherwise a line every 10 %.
final class ProgressBar: @unchecked Sendable {
    let title: String
    var total: Int
    let tty = isatty(STDERR_FILENO) == 1
    var lastDecile = 0
    let start = Date()

    init(title: String, total: Int) {
        self.title = title
        self.total = total
    }

    func update(_ done: Int) {
        let fraction = total == 0 ? 1 : Double(done) / Double(total)
        if tty {
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let elapsed = Date().timeIntervalSince(start)
            let eta = fraction > 0 ? elapsed / fraction - elapsed : 0
            FileHandle.standardError.write(
                Data(String(format: "\r%@ [%@] %d/%d  %.0fs, eta %.0fs ", title, bar, done, total, elapsed, eta).utf8))
        } else if total >= 200 {
            let decile = Int(fraction * 10)
            if decile > lastDecile {
                lastDecile = decile
                FileHandle.standardError.write(Data("\(title): \(decile * 10)% (\(done)/\(total))\n".utf8))
            }
        }
    }

    func clear() { if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) } }

    func finish() { clear() }
}
