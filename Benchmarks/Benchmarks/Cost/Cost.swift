// The cost report's measurements as benchmarks: every configuration of `metering cost`
// (CostCatalog.schemes), through the same ReadingProbe / CostPhase / LabelWorkload code.
//
// Run from Benchmarks/:  swift package benchmark --target Cost
//   timings only:        swift package benchmark --target Cost --filter '(meter|phase|aggregator|decrypt)\..*'
//   allocation check:    swift package benchmark thresholds check --target Cost --filter 'alloc\..*'
//
// Groups (ID = scheme.parameters.variant, e.g. lwr-psa.standard.seed):
//   meter.ID.reading     one reading on a simulated meter after a real key setup: prepare
//                        (LWR: F_k(l) while idle) + boundary (encrypt, persist, seal, send);
//                        thread CPU of the whole and of each step
//   phase.ID.NAME        each standalone phase of a reading alone (LWR: label expansion,
//                        key stream, inner product; the boundary step is meter.ID.reading's)
//   aggregator.G.nN      one label on the aggregator of group G (scheme.parameters): verify
//                        and collect N frames, decrypt; N = 100, 1000, 10000
//   decrypt.G.nN         the same label's decryptSum alone (the frames collected before the
//                        measurement starts): mask removal, and DMCFE's discrete logarithm
//   alloc.meter.ID       heap allocations of 16 consecutive readings (prepare + boundary of
//                        each, settle not counted), so every sample spans a whole key-store
//                        compaction cycle (1 reading in 16); counted by the harness's malloc
//                        interposer (BenchmarkSupport.countingHeapAllocations). Any allocation
//                        in any sample stops the run with a fatal error naming the benchmark
//                        (the p100 check: `thresholds check` compares only p90 with the stored
//                        zero thresholds, Thresholds/Cost.alloc.*.p90.json, metric
//                        "heap allocations").
//   alloc.phase.ID.NAME  the standalone phases, 16 runs per sample, the same check.
//   dmcfe.decrypt.n100.bound1e10
//                        DMCFE, one label of 100 meters with the aggregator's discrete-log
//                        table for |<x, y>| ≤ 10^10 (2^20 baby steps, built once in setup,
//                        not measured): verify and collect the frames, then decrypt
//                        (mask removal and the discrete logarithm) as its own metric.

import Benchmark
import BenchmarkSupport
import CostReport

let prepareCPU = BenchmarkMetric.custom("prepare thread CPU (ns)")
let boundaryCPU = BenchmarkMetric.custom("boundary thread CPU (ns)")

/// "lwr-psa/standard/seed" → "lwr-psa.standard.seed" (benchmark and threshold file names).
func benchmarkName(_ id: CostVariantID) -> String { "\(id.scheme).\(id.parameters).\(id.variant)" }

func phaseName(_ phase: CostPhase) -> String { phase.name.replacingOccurrences(of: " ", with: "-") }

/// A configuration's meter and phases, built once (key setup) and shared by its benchmarks.
final class MeterFixture: @unchecked Sendable {
    let probe: any ReadingProbe
    let phases: [CostPhase]
    init(_ scheme: any CostScheme) throws {
        probe = try scheme.makeMeter()
        phases = try scheme.makePhases()
        for _ in 0..<4 {
            probe.prepare()
            probe.boundary()
            try probe.settle()
        }
    }
}

let benchmarks: @Sendable () -> Void = {
    let timing = Benchmark.Configuration(
        metrics: [.wallClock, threadCPU, prepareCPU, boundaryCPU],
        timeUnits: .microseconds,
        warmupIterations: 10,
        maxDuration: .seconds(3),
        maxIterations: 20_000)
    let phaseTiming = Benchmark.Configuration(
        metrics: [.wallClock, threadCPU],
        timeUnits: .microseconds,
        warmupIterations: 10,
        maxDuration: .seconds(2),
        maxIterations: 20_000)
    let allocation = allocationConfiguration(maxIterations: 32)
    // Readings (or phase runs) per allocation sample: the key store compacts once in 16.
    let allocRepeats = 16

    for scheme in CostCatalog.schemes {
        // One meter per configuration, set up when the benchmarks are registered (key setup
        // on simulated boards takes milliseconds and is not benchmarked).
        let fixture = try! MeterFixture(scheme)
        let name = benchmarkName(scheme.id)

        Benchmark("meter.\(name).reading", configuration: timing) { benchmark in
            benchmark.startMeasurement()
            let t0 = cpuNow()
            fixture.probe.prepare()
            let t1 = cpuNow()
            fixture.probe.boundary()
            let t2 = cpuNow()
            benchmark.stopMeasurement()
            benchmark.measurement(threadCPU, t2 - t0)
            benchmark.measurement(prepareCPU, t1 - t0)
            benchmark.measurement(boundaryCPU, t2 - t1)
            try fixture.probe.settle()
        }

        Benchmark("alloc.meter.\(name)", configuration: allocation) { benchmark in
            var count = 0
            for _ in 0..<allocRepeats {
                count += countingHeapAllocations {
                    fixture.probe.prepare()
                    fixture.probe.boundary()
                }
                try fixture.probe.settle()
            }
            requireNoHeapAllocations(benchmark, count, sample: "\(allocRepeats) readings")
        }

        for phase in fixture.phases {
            guard case .standalone(let body) = phase.source else { continue }
            let run = PhaseBody(body).run
            Benchmark("phase.\(name).\(phaseName(phase))", configuration: phaseTiming) { benchmark in
                let t0 = cpuNow()
                run()
                benchmark.measurement(threadCPU, cpuNow() - t0)
            }
            Benchmark("alloc.phase.\(name).\(phaseName(phase))", configuration: allocation) { benchmark in
                let count = countingHeapAllocations { for _ in 0..<allocRepeats { run() } }
                requireNoHeapAllocations(benchmark, count, sample: "\(allocRepeats) runs")
            }
        }
    }

    // One aggregator per group (LWR-PSA's key modes share it).
    var groups: [String] = []
    for scheme in CostCatalog.schemes where !groups.contains(scheme.aggregatorGroup) {
        groups.append(scheme.aggregatorGroup)
        let group = scheme.aggregatorGroup.replacingOccurrences(of: "/", with: ".")
        for meters in [100, 1_000, 10_000] where scheme.measuresAggregator(meters: meters) {
            let configuration = Benchmark.Configuration(
                metrics: [.wallClock, threadCPU],
                timeUnits: .microseconds,
                warmupIterations: 1,
                maxDuration: .seconds(3),
                maxIterations: 2_000)
            let workload: @Sendable () throws -> LabelWorkloadBox = {
                LabelWorkloadBox(try scheme.makeLabelWorkload(meters: meters, labels: 3))
            }
            labelBenchmark("aggregator.\(group).n\(meters)", configuration, collectMeasured: true, setup: workload)
            labelBenchmark("decrypt.\(group).n\(meters)", configuration, collectMeasured: false, setup: workload)
        }
    }

    // DMCFE's decryption with the bound a supplier would use for large sums.
    let decryptCPU = BenchmarkMetric.custom("decrypt thread CPU (ns)")
    Benchmark(
        "dmcfe.decrypt.n100.bound1e10",
        configuration: Benchmark.Configuration(
            metrics: [.wallClock, threadCPU, decryptCPU], timeUnits: .microseconds, warmupIterations: 1,
            maxDuration: .seconds(5), maxIterations: 2_000),
        closure: { (benchmark: Benchmark, workload: LabelWorkloadBox) in
            let w = workload.workload
            let label = benchmark.currentIteration % w.labelCount
            try w.start(label: label)
            benchmark.startMeasurement()
            let t0 = cpuNow()
            try w.collect(label: label)
            let t1 = cpuNow()
            let ok = try w.decrypt(label: label)
            let t2 = cpuNow()
            benchmark.stopMeasurement()
            benchmark.measurement(threadCPU, t2 - t0)
            benchmark.measurement(decryptCPU, t2 - t1)
            w.finish()
            precondition(ok, "wrong sum")
        },
        setup: {
            LabelWorkloadBox(try DMCFECostScheme().makeLabelWorkload(meters: 100, labels: 3, bound: 10_000_000_000))
        })
}

/// One label on a workload's fresh aggregator: collect (measured or not), then decryptSum.
func labelBenchmark(
    _ name: String, _ configuration: Benchmark.Configuration, collectMeasured: Bool,
    setup: @escaping @Sendable () throws -> LabelWorkloadBox
) {
    Benchmark(
        name, configuration: configuration,
        closure: { (benchmark: Benchmark, workload: LabelWorkloadBox) in
            let w = workload.workload
            let label = benchmark.currentIteration % w.labelCount
            try w.start(label: label)
            if !collectMeasured { try w.collect(label: label) }
            benchmark.startMeasurement()
            let t0 = cpuNow()
            if collectMeasured { try w.collect(label: label) }
            let ok = try w.decrypt(label: label)
            benchmark.measurement(threadCPU, cpuNow() - t0)
            benchmark.stopMeasurement()
            w.finish()
            precondition(ok, "wrong sum")
        }, setup: setup)
}

/// A phase's closure, shared with the harness's (Sendable) benchmark closures; benchmarks
/// run one at a time.
final class PhaseBody: @unchecked Sendable {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
    func run() { body() }
}

/// A workload passed through the harness's setup closure.
final class LabelWorkloadBox: @unchecked Sendable {
    let workload: any LabelWorkload
    init(_ workload: any LabelWorkload) { self.workload = workload }
}
