import Aggregation
import AggregatorAPI
import AggregatorService
import ArgumentParser
import Foundation
import MeterCrypto
import MeterSimulator
import ServiceClient

/// `metering analytics`: statistics without individuals per label (docs/spec/statistics.md):
/// count, sum, mean, variance, histogram and the group peak, from a simulated fleet (every
/// figure checked against the true readings) or from a running service.
struct AnalyticsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analytics",
        abstract: "Statistics per label (count, sum, mean, variance, histogram, peak) without any household's value.",
        discussion: """
            Without --server: a simulated LWR-PSA fleet under a statistics plan the authority signs (x² and
            packed histogram slots, docs/spec/statistics.md); every figure is compared with the same figure
            computed from the true readings (exit status 1 on a difference). With --server: the service's
            GET /v1/groups/{g}/analytics for --labels A..B (supplier token). Groups below the plan's minimum
            size (default 10) are refused.
            """)

    @OptionGroup var service: ServerOptions
    @Option(help: "With --server: the group.")
    var group: UInt32 = 1
    @Option(help: "Labels: N (simulator: labels 0 ..< N) or A..B (inclusive; with --server).")
    var labels = "8"
    @Option(help: "Simulator: meters in the group (at least the minimum group size).")
    var meters = 20
    @Option(help: "Simulator: bins of equal width over 0 ... --bin-range (the last one open), 0 for none.")
    var bins = 10
    @Option(
        name: .customLong("bin-range"), help: "Simulator: Wh the equal bins span (default: a fifth of --max-reading).")
    var binRange: UInt64?
    @Option(help: "Simulator: bin edges in Wh, comma-separated (instead of --bins).")
    var edges: String?
    @Flag(name: .customLong("no-variance"), help: "Simulator: a plan without the x² slot.")
    var noVariance = false
    @Option(name: .customLong("min-group-size"), help: "Simulator: the plan's minimum group size.")
    var minGroupSize: UInt32 = StatisticsPlan.minimumGroupSize
    @Option(name: .customLong("max-reading"), help: "Simulator: the group's signed maximum reading per interval (Wh).")
    var maxReading: UInt64 = 5000
    @Option(help: "Simulator: seed.")
    var seed: UInt64 = 1
    @Option(help: "Simulator: worker threads for the meters.")
    var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Decimal places of mean and variance in the table.")
    var digits = 3
    @Flag(help: "Print the analytics JSON (the service's shape).")
    var json = false
    @Flag(
        name: .customLong("meter-cost"),
        help: "Simulator: also run the same fleet without a plan and print the meters' CPU per label with and without.")
    var meterCost = false

    /// `--labels`: "N" or "A..B".
    func labelRange() throws -> ClosedRange<UInt64> {
        let parts = labels.components(separatedBy: "..")
        if parts.count == 2, let a = UInt64(parts[0]), let b = UInt64(parts[1]), a <= b { return a...b }
        if parts.count == 1, let n = UInt64(parts[0]), n > 0 { return 0...(n - 1) }
        throw ValidationError("--labels is N or A..B (A ≤ B)")
    }

    func spec() throws -> StatisticsPlanSpec {
        var spec: StatisticsPlanSpec
        if let edges {
            let values = edges.split(separator: ",").compactMap { UInt32($0.trimmingCharacters(in: .whitespaces)) }
            spec = StatisticsPlanSpec(edges: values, squares: !noVariance)
        } else {
            spec = StatisticsPlanSpec.uniform(
                bins: bins, maxReading: binRange ?? max(maxReading / 5, 1), squares: !noVariance)
        }
        spec.minimumGroupSize = minGroupSize
        return spec
    }

    func run() async throws {
        let range = try labelRange()
        let response: AnalyticsResponse
        var checked: Int? = nil
        if service.server != nil {
            let (_, supplier) = try service.clients()
            do {
                response = try await supplier.analytics(group: group, from: range.lowerBound, to: range.upperBound)
                await supplier.shutdown()
            } catch {
                await supplier.shutdown()
                throw error
            }
        } else {
            (response, checked) = try simulate(range)
        }
        var cost: String? = nil
        if meterCost, service.server == nil {
            let with = try meterCPU(range, plan: true)
            let without = try meterCPU(range, plan: false)
            cost = String(
                format:
                    "meter CPU per label (median over meters and labels, thread CPU, debug or release as built): idle precompute %.3f ms with the plan, %.3f ms without; boundary %.1f µs with, %.1f µs without",
                with.idle * 1e3, without.idle * 1e3, with.boundary * 1e6, without.boundary * 1e6)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(response), as: UTF8.self))
        } else {
            printTable(response)
            if let checked {
                print("every figure equals the one computed from the true readings (\(checked) labels)")
            }
            if let cost { print(cost) }
        }
    }

    /// A fleet under the plan; throws when a figure differs from the true readings'.
    func simulate(_ range: ClosedRange<UInt64>) throws -> (AnalyticsResponse, Int) {
        var config = FleetConfiguration()
        config.meters = meters
        config.seed = seed
        config.threads = threads
        config.maxReading = maxReading
        config.statistics = try spec()
        let fleet = try Fleet(config, labels: Int(range.upperBound) + 1)
        _ = try fleet.runKeySetup()
        var labels: [LabelStatistics] = []
        for label in 0...range.upperBound {
            let result = try fleet.runLabel(label)
            guard let got = result.statistics, let truth = result.trueStatistics else {
                throw ValidationError("label \(label): no statistics")
            }
            guard result.exact, got == truth else {
                throw ValidationError(
                    "label \(label): the statistics differ from the true readings' (\(got) vs \(truth))")
            }
            if range.contains(label) { labels.append(got) }
        }
        let plan = fleet.statisticsAggregator!.plan
        let analytics = GroupAnalytics(
            group: plan.group, meters: Int(plan.meters), minimumGroupSize: plan.spec.minimumGroupSize,
            edges: plan.spec.edges, labels: labels)
        return (AnalyticsResponse(analytics), labels.count)
    }

    /// Median idle precompute and boundary seconds per meter and label, with or without the plan.
    func meterCPU(_ range: ClosedRange<UInt64>, plan: Bool) throws -> (idle: Double, boundary: Double) {
        var config = FleetConfiguration()
        config.meters = meters
        config.seed = seed
        config.threads = 1
        config.maxReading = maxReading
        config.statistics = plan ? try spec() : nil
        let fleet = try Fleet(config, labels: Int(range.upperBound) + 2)
        _ = try fleet.runKeySetup()
        var idle: [Double] = []
        var boundary: [Double] = []
        for label in 0...(range.upperBound + 1) {
            let result = try fleet.runLabel(label)
            if label > 0 { idle += result.precomputeSeconds }  // label 0's pads came with key setup
            boundary += result.boundarySeconds
        }
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        return (median(idle), median(boundary))
    }

    func printTable(_ r: AnalyticsResponse) {
        let lows = [UInt32(0)] + r.bins
        let bins =
            r.bins.isEmpty
            ? "none"
            : lows.enumerated().map { i, low in i < r.bins.count ? "[\(low), \(r.bins[i]))" : "[\(low), ∞)" }
                .joined(separator: " ")
        print("group \(r.group): \(r.meters) meters (minimum \(r.minimumGroupSize)); bins (Wh): \(bins)")
        func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
        print(
            [pad("label", 6), pad("count", 6), pad("sum Wh", 9), pad("mean Wh", 10), pad("variance Wh²", 14)].joined(
                separator: " ") + "  histogram")
        for s in r.labels {
            let mean = LabelStatistics.decimal(UInt128(s.sum), UInt128(max(s.count, 1)), digits: digits)
            let variance = s.variance.map { String(format: "%.\(digits)f", $0) } ?? "-"
            print(
                [pad("\(s.label)", 6), pad("\(s.count)", 6), pad("\(s.sum)", 9), pad(mean, 10), pad(variance, 14)]
                    .joined(separator: " ") + "  " + s.histogram.map(String.init).joined(separator: " "))
        }
        if let peak = r.peak { print("peak: label \(peak.label), \(peak.sum) Wh") }
    }
}
