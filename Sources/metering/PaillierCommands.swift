import Aggregation
import ArgumentParser
import Foundation
import MeterCrypto
import MeterSimulator

/// Options shared by the Paillier commands: the simulated group and the supplier's key.
struct PaillierScenario: ParsableArguments {
    @Option(help: "Meters in the group.")
    var meters: Int = 3
    @Option(name: .customLong("key-bits"), help: "Bits of the supplier's key N (2048 or 3072).")
    var keyBits: Int = 3072
    @Option(name: .customLong("max-wh"), help: "Largest reading a meter may produce per interval, in Wh.")
    var maxWh: UInt64 = 5000
    @Option(help: "Seed of the simulation (boards, load profiles, and the supplier key: demo only).")
    var seed: UInt64 = 1
    @Option(help: "Worker threads for the simulated meters.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard meters >= 2 else {
            throw ValidationError("--meters must be at least 2 (a group of one reveals its reading)")
        }
        guard keyBits == 2048 || keyBits == 3072 else { throw ValidationError("--key-bits must be 2048 or 3072") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    /// Runs the group through `labels` labels in Paillier mode; returns the fleet and the results.
    func run(labels: Int, quiet: Bool) throws -> (Fleet, [LabelResult]) {
        var config = FleetConfiguration()
        config.meters = meters
        config.maxReading = maxWh
        config.seed = seed
        config.threads = threads
        config.scheme = .paillier
        config.paillierKeyBits = keyBits
        let fleet = try Fleet(config, labels: labels)
        let setupBar = ProgressBar(title: "key delivery", total: meters)
        _ = try fleet.runKeySetup { done, _ in if !quiet { setupBar.update(done) } }
        setupBar.finish()
        let bar = ProgressBar(title: "labels", total: labels)
        var results: [LabelResult] = []
        for label in 0..<labels {
            results.append(try fleet.runLabel(UInt64(label)))
            if !quiet { bar.update(label + 1) }
        }
        bar.finish()
        return (fleet, results)
    }
}

func rightAligned(_ text: String, _ width: Int) -> String {
    String(repeating: " ", count: max(0, width - text.count)) + text
}

func money(_ amount: UInt64, _ unitsPerCurrency: UInt64) -> String {
    String(format: "%.6f", Double(amount) / Double(unitsPerCurrency))
}

struct BillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bill",
        abstract:
            "Bill one meter from its Paillier ciphertexts: the aggregator applies the tariff to them, the supplier decrypts only the bill."
    )

    @OptionGroup var scenario: PaillierScenario
    @Option(help: "The meter to bill (1 ... meters).")
    var meter: UInt32 = 1
    @Option(help: "Days in the billing period (96 labels each).")
    var days: Int = 1
    @Option(
        help:
            "Tariff as JSON (unit, unitsPerCurrency, classes [{name, pricePerWh}], hourClass [24], fixedFee); default: a three-rate tariff in µ€."
    )
    var tariff: String?
    @Flag(help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        guard meter >= 1 && Int(meter) <= scenario.meters else {
            throw ValidationError("--meter must be in 1...\(scenario.meters)")
        }
        guard days >= 1 else { throw ValidationError("--days must be at least 1") }
    }

    struct Output: Codable {
        let meter: UInt32
        let labels: Int
        let keyBits: Int
        let bill: Bill
        let plaintextBill: UInt64
        let billMatches: Bool
        let energyPerDayWh: [UInt64]
        let averageWhPerDay: Double
        let aggregatorBillMs: Double
        let supplierDecryptMs: Double

        enum CodingKeys: String, CodingKey {
            case meter, labels, keyBits = "key_bits", bill, plaintextBill = "plaintext_bill"
            case billMatches = "bill_matches", energyPerDayWh = "energy_per_day_wh"
            case averageWhPerDay = "average_wh_per_day", aggregatorBillMs = "aggregator_bill_ms"
            case supplierDecryptMs = "supplier_decrypt_ms"
        }
    }

    func run() throws {
        let tariff =
            try tariff.map { try JSONDecoder().decode(Tariff.self, from: Data(contentsOf: URL(fileURLWithPath: $0))) }
            ?? .threeRate
        let labels = 96 * days
        let log = Log(quiet: json)
        log.line(
            "billing meter \(meter) of \(scenario.meters) over \(days) day(s) (\(labels) labels), Paillier-\(scenario.keyBits)"
        )
        let (fleet, _) = try scenario.run(labels: labels, quiet: json)
        guard let aggregator = fleet.paillierAggregator, let supplier = fleet.supplier else {
            throw ValidationError("the fleet did not set up Paillier")
        }
        let period = UInt64(0)...UInt64(labels - 1)
        var t0 = threadCPUSeconds()
        // The authority publishes the tariff for the group and the billing period.
        let signed = fleet.authority.signTariff(
            tariff, group: fleet.configuration.group, period: period, epoch: fleet.authority.issueEpoch())
        let encrypted = try aggregator.bill(meter: meter, labels: period, tariff: signed)
        let billSeconds = threadCPUSeconds() - t0
        t0 = threadCPUSeconds()
        let bill = try supplier.decryptBill(encrypted)
        let decryptSeconds = threadCPUSeconds() - t0
        let report = try supplier.decryptReport(aggregator.energyReport(meter: meter, labels: period))
        // The simulator's own view of the readings, for the check (nobody in the system has it).
        let readings = fleet.expectedReadings(meter: Int(meter) - 1)
        let plain = tariff.plaintextBill(readings: readings, firstLabel: 0)
        let output = Output(
            meter: meter, labels: labels, keyBits: scenario.keyBits, bill: bill, plaintextBill: plain,
            billMatches: plain == bill.amount, energyPerDayWh: report.intervals.map(\.energyWh),
            averageWhPerDay: report.averageWh, aggregatorBillMs: billSeconds * 1e3,
            supplierDecryptMs: decryptSeconds * 1e3)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(output), as: UTF8.self))
        } else {
            print("")
            print(
                "tariff: "
                    + tariff.classes.map { "\($0.name) \($0.pricePerWh) \(tariff.unit)/Wh" }.joined(separator: ", ")
                    + ", fixed fee \(tariff.fixedFee) \(tariff.unit)")
            print(
                "bill (decrypted by the supplier)    \(bill.amount) \(tariff.unit) = \(money(bill.amount, tariff.unitsPerCurrency))"
            )
            print(
                "tariff on the simulated readings    \(plain) \(tariff.unit)  \(plain == bill.amount ? "match" : "MISMATCH")"
            )
            for (day, interval) in report.intervals.enumerated() {
                print("energy day \(day + 1)                        \(interval.energyWh) Wh")
            }
            print(String(format: "average per day                     %.1f Wh", report.averageWh))
            print(
                String(
                    format: "aggregator: bill on ciphertexts %.1f ms; supplier: decryption %.1f ms (CPU)",
                    billSeconds * 1e3, decryptSeconds * 1e3))
        }
        if plain != bill.amount { throw ExitCode(1) }
    }
}

struct FeederCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feeder",
        abstract:
            "Compare decrypted Paillier group sums with a feeder meter's physical totals; flag labels whose gap exceeds the tolerance."
    )

    @OptionGroup var scenario: PaillierScenario
    @Option(help: "Labels to run.")
    var labels: Int = 8
    @Option(
        name: .customLong("loss-percent"), help: "Line losses the feeder sees on top of the metered energy, in percent."
    )
    var lossPercent: Double = 2
    @Option(help: "Unmetered load the feeder sees, as LABEL:WH (repeatable), e.g. a bypassed meter.")
    var bypass: [String] = ["3:800"]
    @Option(name: .customLong("tolerance-wh"), help: "Gap in Wh always tolerated.")
    var toleranceWh: UInt64 = 50
    @Option(name: .customLong("tolerance-percent"), help: "Gap tolerated as a percentage of the feeder's total.")
    var tolerancePercent: Double = 5
    @Flag(help: "Print JSON instead of text.")
    var json = false

    func parsedBypass() throws -> [UInt64: UInt64] { try parseBypass(bypass) }

    func validate() throws {
        guard labels >= 1 else { throw ValidationError("--labels must be at least 1") }
        _ = try parsedBypass()
    }

    func run() throws {
        let log = Log(quiet: json)
        log.line(
            "feeder check: \(scenario.meters) meters, \(labels) labels, losses \(lossPercent) %, Paillier-\(scenario.keyBits)"
        )
        let (fleet, results) = try scenario.run(labels: labels, quiet: json)
        let feeder = FeederMeter(lossFraction: lossPercent / 100, bypass: try parsedBypass())
        var metered: [UInt64: UInt64] = [:]
        var physical: [UInt64: UInt64] = [:]
        for r in results {
            metered[r.label] = r.decryptedSum
            physical[r.label] = feeder.reading(label: r.label, meteredWh: r.trueSum)
        }
        let report = FeederReport(
            group: fleet.configuration.group, metered: metered, feeder: physical,
            tolerance: FeederTolerance(absoluteWh: toleranceWh, relative: tolerancePercent / 100))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print("")
            print("label   metered Wh   feeder Wh     gap Wh  allowed Wh")
            for row in report.rows {
                let allowed = report.tolerance.allowance(feederWh: row.feederWh ?? 0)
                let cells = [
                    "\(row.label)", row.meteredWh.map { "\($0)" } ?? "-", row.feederWh.map { "\($0)" } ?? "-",
                    row.gapWh.map { "\($0)" } ?? "-", String(format: "%.0f", allowed),
                ]
                let widths = [5, 12, 11, 10, 11]
                print(
                    zip(cells, widths).map { rightAligned($0, $1) }.joined(separator: " ") + "  "
                        + (row.flagged ? "FLAGGED" : "ok"))
            }
            print(
                "flagged labels: \(report.flaggedLabels.isEmpty ? "none" : report.flaggedLabels.map(String.init).joined(separator: ", "))"
            )
        }
    }
}

/// `--bypass LABEL:WH` (repeatable): unmetered load per label the feeder sees (`feeder`, `fleet --feeder`).
func parseBypass(_ items: [String]) throws -> [UInt64: UInt64] {
    var result: [UInt64: UInt64] = [:]
    for item in items where !item.isEmpty {
        let parts = item.split(separator: ":")
        guard parts.count == 2, let label = UInt64(parts[0]), let wh = UInt64(parts[1]) else {
            throw ValidationError("--bypass takes LABEL:WH, got '\(item)'")
        }
        result[label, default: 0] += wh
    }
    return result
}
