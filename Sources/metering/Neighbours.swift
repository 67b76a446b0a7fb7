import Aggregation
import ArgumentParser
import Foundation
import MeterSimulator

struct Neighbours: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "neighbours",
        abstract: "The neighbour-graph key setup (dropout recovery): k per group size, setup and recovery cost.",
        discussion: """
            For each --meters size: k from the corruption bound γ, the dropout bound δ and 2^-σ per label \
            (docs/spec/dropout.md; scripts/dropout_degree.py computes the same k), then a real signed group of \
            reference meters (MeterCrypto on the host): key agreements and downlink bytes per meter next to the \
            n-of-n setup's, the median setup CPU of --sample meters, one recovery answer's frames and CPU, and, \
            for groups up to --full, one label with ⌊δn⌋ silent meters end to end. Build with -c release for \
            figures worth quoting.
            """)

    @Option(help: "Group sizes, comma-separated.")
    var meters = "100,1000,10000"
    @Option(help: "γ: the fraction of meters that may collude with the aggregator.")
    var gamma = NeighbourGraphAnalysis.defaultCorruptFraction
    @Option(help: "δ: the fraction of meters that may be silent at one label.")
    var delta = NeighbourGraphAnalysis.defaultSilentFraction
    @Option(help: "σ: the honest reporting meters disconnect with probability ≤ 2^-σ per label.")
    var sigma = NeighbourGraphAnalysis.defaultSecurityBits
    @Option(help: "Meters whose setup is timed per group.")
    var sample = 8
    @Option(help: "Largest group set up in full for the per-label figures.")
    var full = 1000
    @Option(help: "Worker threads.")
    var threads = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let sizes = meters.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 >= 2 && $0 <= 65536 }) else {
            throw ValidationError("--meters takes sizes 2 ... 65536")
        }
        var rows: [NeighbourSetupCost] = []
        for n in sizes {
            let plan = NeighbourGraphAnalysis.plan(
                meters: UInt32(n), corruptFraction: gamma, silentFraction: delta, securityBits: sigma)
            guard plan.degree <= 64 else {
                throw ValidationError("n = \(n): k = \(plan.degree) is above the meters' 64 neighbour slots")
            }
            rows.append(
                try NeighbourSetupProbe.measure(
                    meters: n, plan: plan, sample: sample, fullGroupLimit: full, threads: threads))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            return
        }
        print("γ = \(gamma), δ = \(delta), σ = \(sigma); setup CPU on this host, reference meters (thread CPU clock)")
        print(
            pad("n", 6) + pad("k", 4) + pad("t", 4) + pad("log2 P", 8) + pad("DH", 6) + pad("DH n-of-n", 10)
                + pad("down B", 9) + pad("down n-of-n", 12) + pad("setup ms", 10) + pad("answer B", 9)
                + pad("answer ms", 10) + pad("+1 silent", 10) + pad("label agg ms", 13))
        for r in rows {
            let p = r.log2_disconnect.map { String(format: "%.1f", $0) } ?? "0"
            let agg =
                r.aggregator_cpu_ms_per_label.map {
                    String(format: "%.1f (%d/%d)", $0, r.label_answers!, r.label_silent!)
                } ?? "—"
            print(
                pad("\(r.meters)", 6) + pad("\(r.degree)", 4) + pad("\(r.max_silent)", 4) + pad(p, 8)
                    + pad("\(r.key_agreements_per_meter)", 6) + pad("\(r.key_agreements_n_of_n)", 10)
                    + pad("\(r.downlink_bytes_per_meter)", 9) + pad("\(r.downlink_bytes_n_of_n)", 12)
                    + pad(String(format: "%.1f", r.setup_cpu_ms_median), 10) + pad("\(r.answer_frame_bytes)", 9)
                    + pad(String(format: "%.2f", r.answer_cpu_ms), 10)
                    + pad(String(format: "%.2f", r.answer_cpu_ms_per_extra_silent), 10) + pad(agg, 13))
        }
        print(
            "label agg ms: the aggregator's CPU for one label with ⌊δn⌋ silent (answers/silent); every such label exact: \(rows.allSatisfy { $0.label_exact ?? true })"
        )
    }

    func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
