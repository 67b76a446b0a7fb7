import ArgumentParser
import CostReport
import Foundation
import HeapCounter

struct Cost: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the cost of every scheme: per reading on the meter, per label on the aggregator.",
        discussion: """
            Meter side per configuration (scheme/parameters/key mode): CPU time per reading \
            (thread CPU clock, median and p10–p90 over --readings readings), heap allocations, \
            peak stack (painted stack), static RAM, flash footprint (scripts/check-firmware.sh \
            --scheme), ciphertext and key-store bytes, flash wear, and the phases of a reading. \
            Aggregator side per label: CPU time and peak heap for each --meters group size. \
            Build with -c release for figures worth quoting.
            """)

    @Option(help: "Readings timed per configuration.")
    var readings = 500
    @Option(help: "Group sizes for the aggregator, comma-separated (default 100,1000,10000; with --quick 100,1000).")
    var meters: String?
    @Option(
        name: .customLong("scheme"),
        help: "Only these: a scheme, scheme/parameters or scheme/parameters/variant (repeatable).")
    var schemes: [String] = []
    @Flag(help: "Print the report as JSON.")
    var json = false
    @Flag(help: "Print the report as CSV, one figure per line.")
    var csv = false
    @Option(help: "Also write a chart (SVG) to this file.")
    var svg: String?
    @Flag(help: "Count instructions per reading with callgrind (scripts/count-instructions.sh; slow).")
    var instructions = false
    @Flag(name: .customLong("no-flash"), help: "Skip the flash footprint (no firmware build).")
    var noFlash = false
    @Flag(help: "Fewer samples: 100 readings, aggregator n = 100 and 1000.")
    var quick = false
    @Option(
        name: .customLong("target"),
        help: """
            Also measure on this target: cortex-m4 (every scheme's bench image on QEMU's \
            mps2-an386, instructions per reading, flash, RAM, stack; minutes; needs \
            gcc-arm-none-eabi, libnewlib-arm-none-eabi, qemu-system-arm: docs/m4.md).
            """)
    var targets: [String] = []
    @Flag(name: .customLong("list-variants"), help: "List the configurations and exit.")
    var listVariants = false
    @Option(name: .customLong("instruction-probe"), help: .hidden)
    var instructionProbe: String?

    func validate() throws {
        guard !(json && csv) else { throw ValidationError("--json and --csv exclude each other") }
        guard readings >= 1 else { throw ValidationError("--readings must be at least 1") }
        guard parsedMeters() != nil else { throw ValidationError("--meters takes group sizes ≥ 2, e.g. 100,1000") }
        for t in targets where t != CortexM4Bench.target {
            throw ValidationError(TargetBenchError.unknownTarget(t).description)
        }
    }

    func parsedMeters() -> [Int]? {
        let values = (meters ?? (quick ? "100,1000" : "100,1000,10000")).split(separator: ",").map {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) >= 2 }) else { return nil }
        return values.map { $0! }
    }

    func run() throws {
        if listVariants {
            for s in CostCatalog.schemes { print(s.id.description) }
            return
        }
        if let id = instructionProbe {
            guard let scheme = CostCatalog.schemes.first(where: { $0.id.description == id }) else {
                throw ValidationError("unknown configuration '\(id)' (see --list-variants)")
            }
            try InstructionProbe.run(scheme)
            return
        }

        let selected = CostCatalog.select(schemes)
        guard !selected.isEmpty else {
            throw ValidationError("no configuration matches \(schemes) (see --list-variants)")
        }
        var options = CostOptions()
        options.readings = quick ? min(readings, 100) : readings
        options.aggregatorMeters = parsedMeters()!
        options.allocationCounter = InterposedAllocationCounter()
        options.progress = { line in FileHandle.standardError.write(Data("cost: \(line)\n".utf8)) }
        let root = ProjectRoot.locate()
        if !targets.isEmpty {
            // Before the host measurement: a missing tool fails at once, not after minutes.
            guard root != nil else { throw ToolError.projectRootNotFound }
            try CortexM4Bench.checkTools()
        }
        if !noFlash {
            guard let root else { throw ToolError.projectRootNotFound }
            options.firmware = FirmwareSizer(root: root)
        }
        if instructions {
            guard let root else { throw ToolError.projectRootNotFound }
            let binary =
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                ?? CommandLine.arguments[0]
            options.progress("instructions: scripts/count-instructions.sh (callgrind, one reading per configuration)")
            options.instructions = try InstructionCounter(root: root, binary: binary).count(selected.map(\.id))
        }

        var report = try CostReporter.run(schemes: selected, options: options)
        if let root, !targets.isEmpty {
            report.addTarget(
                try CortexM4Bench(root: root).run(schemes: Set(selected.map(\.id.scheme)), progress: options.progress))
        }
        if let svg {
            try CostChart(report: report).svg().write(toFile: svg, atomically: true, encoding: .utf8)
            options.progress("chart written to \(svg)")
        }
        if json {
            print(try report.json())
        } else if csv {
            print(report.csv(), terminator: "")
        } else {
            print(report.table(), terminator: "")
        }
    }
}
