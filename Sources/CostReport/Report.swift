// The cost report: what is measured, and how (CostReporter.run).
import Aggregation
import Foundation
import MeterSimulator

/// Every scheme configuration the report measures. A new scheme adds its values here.
public enum CostCatalog {
    public static var schemes: [any CostScheme] {
        LWRCostScheme.all + PaillierCostScheme.all + DMCFECostScheme.all
    }

    /// The configurations whose id, scheme/parameters or scheme matches one of `filters`
    /// (all of them when `filters` is empty).
    public static func select(_ filters: [String]) -> [any CostScheme] {
        guard !filters.isEmpty else { return schemes }
        return schemes.filter { s in
            filters.contains { f in
                f == s.id.scheme || f == "\(s.id.scheme)/\(s.id.parameters)" || f == s.id.description
            }
        }
    }
}

/// How much to measure.
public struct CostOptions {
    /// Readings timed per configuration.
    public var readings = 500
    /// Readings run before anything is measured (first-touch effects).
    public var warmupReadings = 8
    /// Readings whose heap allocations are counted (enough to include a key-store compaction).
    public var allocationReadings = 40
    /// Readings run on the painted stack (the deepest one counts).
    public var stackReadings = 40
    /// Size of the painted stack.
    public var stackBytes = 256 * 1024
    /// Signed statements timed per configuration in the setup section (after one warm-up).
    public var statementRuns = 5
    /// Group size of the setup section's roster figures.
    public var setupMeters = 100
    /// Group sizes for the aggregator.
    public var aggregatorMeters = [100, 1_000, 10_000]
    /// Group sizes of the LWR-PSA key-setup section (neighbour graph against n-of-n); nil: the
    /// aggregator's sizes. Groups up to 1 000 also run one label with ⌊δn⌋ silent meters.
    public var keySetupMeters: [Int]? = nil
    /// Labels with frames per group (samples cycle through them with fresh aggregators).
    public var aggregatorLabels = 3
    /// Samples per group size: at least `min`, at most `max`, and beyond `min` only while
    /// the aggregator's CPU time stays under `aggregatorBudgetSeconds`.
    public var aggregatorSamples = (min: 5, max: 200)
    public var aggregatorBudgetSeconds = 1.0
    /// Measures flash footprints with scripts/check-firmware.sh; nil leaves them out.
    public var firmware: FirmwareSizer?
    /// Instruction counts from scripts/count-instructions.sh, when asked for.
    public var instructions: [CostVariantID: InstructionCount] = [:]
    /// Counts heap allocations; nil: the report says they were not counted.
    public var allocationCounter: (any AllocationCounter)?
    /// Progress lines (to standard error in the tool).
    public var progress: (String) -> Void = { _ in }

    public init() {}
}

/// Per reading, on the meter.
public struct MeterCost: Encodable, Sendable {
    public let id: CostVariantID
    public let parameterSet: String
    /// CPU time of prepare + boundary per reading, and of each alone.
    public let cpuPerReading: Distribution
    public let prepare: Distribution
    public let boundary: Distribution
    /// Heap allocations in `allocationReadings` readings; nil when no counter was available.
    public let heapAllocations: UInt64?
    public let allocationReadings: Int
    public let stack: StackFigures?
    public let staticRAM: StaticRAM
    /// The scheme's firmware build (nil when not measured).
    public let flash: FirmwareFootprint?
    public let ciphertextBytes: Int
    public let frameBytes: Int
    public let keyStore: KeyStoreFootprint
    /// nil: the key store provides no figure yet (see `KeyStoreWear`).
    public let flashWear: FlashWear?
    /// nil: not counted (`--instructions`).
    public let instructions: InstructionCount?
    public let phases: [PhaseCost]
    /// Σ phase medians / median CPU per reading.
    public let phasesSumFraction: Double?

    public var heapAllocationsPerReading: Double? {
        heapAllocations.map { Double($0) / Double(max(1, allocationReadings)) }
    }

    enum CodingKeys: String, CodingKey {
        case id, parameterSet, cpuPerReading, prepare, boundary, heapAllocations, heapAllocationsPerReading
        case allocationReadings, stack, staticRAM = "staticRam", flash, ciphertextBytes, frameBytes, keyStore
        case flashWear, instructions, phases, phasesSumFraction
    }

    /// Figures that were not measured are written as null, never left out.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(parameterSet, forKey: .parameterSet)
        try c.encode(cpuPerReading, forKey: .cpuPerReading)
        try c.encode(prepare, forKey: .prepare)
        try c.encode(boundary, forKey: .boundary)
        try c.encode(heapAllocations, forKey: .heapAllocations)
        try c.encode(heapAllocationsPerReading, forKey: .heapAllocationsPerReading)
        try c.encode(allocationReadings, forKey: .allocationReadings)
        try c.encode(stack, forKey: .stack)
        try c.encode(staticRAM, forKey: .staticRAM)
        try c.encode(flash, forKey: .flash)
        try c.encode(ciphertextBytes, forKey: .ciphertextBytes)
        try c.encode(frameBytes, forKey: .frameBytes)
        try c.encode(keyStore, forKey: .keyStore)
        try c.encode(flashWear, forKey: .flashWear)
        try c.encode(instructions, forKey: .instructions)
        try c.encode(phases, forKey: .phases)
        try c.encode(phasesSumFraction, forKey: .phasesSumFraction)
    }
}

/// The stack high-water mark of one reading.
public struct StackFigures: Codable, Sendable, Equatable {
    /// Deepest prepare step, measured from the probe thread's entry frame.
    public let prepareBytes: Int
    /// Deepest boundary step.
    public let boundaryBytes: Int
    /// Painted bytes below the entry frame (the mark must stay below).
    public let paintedBytes: Int
    /// The same probe around an empty body: the harness's own call frames, included in
    /// the figures above.
    public let harnessBytes: Int
    public let readings: Int

    /// The deeper of the two steps: the stack a reading needs.
    public var highWaterBytes: Int { max(prepareBytes, boundaryBytes) }

    enum CodingKeys: String, CodingKey {
        case prepareBytes, boundaryBytes, paintedBytes, harnessBytes, readings, highWaterBytes
    }

    public init(prepareBytes: Int, boundaryBytes: Int, paintedBytes: Int, harnessBytes: Int, readings: Int) {
        self.prepareBytes = prepareBytes
        self.boundaryBytes = boundaryBytes
        self.paintedBytes = paintedBytes
        self.harnessBytes = harnessBytes
        self.readings = readings
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        prepareBytes = try c.decode(Int.self, forKey: .prepareBytes)
        boundaryBytes = try c.decode(Int.self, forKey: .boundaryBytes)
        paintedBytes = try c.decode(Int.self, forKey: .paintedBytes)
        harnessBytes = try c.decode(Int.self, forKey: .harnessBytes)
        readings = try c.decode(Int.self, forKey: .readings)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(prepareBytes, forKey: .prepareBytes)
        try c.encode(boundaryBytes, forKey: .boundaryBytes)
        try c.encode(paintedBytes, forKey: .paintedBytes)
        try c.encode(harnessBytes, forKey: .harnessBytes)
        try c.encode(readings, forKey: .readings)
        try c.encode(highWaterBytes, forKey: .highWaterBytes)
    }
}

/// RAM the firmware needs for its whole life.
public struct StaticRAM: Encodable, Sendable, Equatable {
    /// The firmware state by type (MemoryLayout in the host build).
    public let state: [StateItem]
    /// .data + .bss of the Embedded object (nil when the firmware was not built).
    public let firmwareData: Int?
    public let firmwareBSS: Int?

    public var totalBytes: Int {
        state.filter(\.isTotal).reduce(0) { $0 + $1.bytes } + (firmwareData ?? 0) + (firmwareBSS ?? 0)
    }

    enum CodingKeys: String, CodingKey { case state, firmwareData, firmwareBss, totalBytes }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(state, forKey: .state)
        try c.encode(firmwareData, forKey: .firmwareData)
        try c.encode(firmwareBSS, forKey: .firmwareBss)
        try c.encode(totalBytes, forKey: .totalBytes)
    }
}

/// One phase of a reading.
public struct PhaseCost: Encodable, Sendable {
    public let name: String
    public let detail: String
    public let cpu: Distribution
    /// Median of this phase / median CPU per reading.
    public let fraction: Double
    /// "standalone", "prepare" or "boundary": how it was measured.
    public let measuredAs: String
}

/// Per label, on the aggregator, for one group size.
public struct AggregatorCost: Encodable, Sendable {
    public let group: String
    public let scheme: String
    public let parameters: String
    public let parameterSet: String
    public let meters: Int
    /// Verify and collect the n frames, decrypt the sum: per label.
    public let cpuPerLabel: Distribution
    public let collect: Distribution
    public let decrypt: Distribution
    /// Peak heap bytes (allocated − freed) while building the aggregator's state for the
    /// group and running one label through it; nil when no counter was available.
    public let peakHeapBytes: Int64?
    /// Heap allocations in that window.
    public let heapAllocations: UInt64?

    enum CodingKeys: String, CodingKey {
        case group, scheme, parameters, parameterSet, meters, cpuPerLabel, collect, decrypt, peakHeapBytes
        case heapAllocations
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(group, forKey: .group)
        try c.encode(scheme, forKey: .scheme)
        try c.encode(parameters, forKey: .parameters)
        try c.encode(parameterSet, forKey: .parameterSet)
        try c.encode(meters, forKey: .meters)
        try c.encode(cpuPerLabel, forKey: .cpuPerLabel)
        try c.encode(collect, forKey: .collect)
        try c.encode(decrypt, forKey: .decrypt)
        try c.encode(peakHeapBytes, forKey: .peakHeapBytes)
        try c.encode(heapAllocations, forKey: .heapAllocations)
    }
}

public struct HostInfo: Encodable, Sendable {
    public let cores: Int
    public let system: String
    public let build: String
}

/// Everything one `metering cost` run measured (`CostReporter.run`): printed as a table,
/// CSV, JSON (`json()`) or a chart (`CostChart`).
public struct CostMeasurements: Encodable, Sendable {
    public let generated: String
    public let host: HostInfo
    /// Allocations counted for a path that allocates (nil: no counter). At least 1, or
    /// the meter side's zeros would mean nothing (and are not reported).
    public let allocationCounterControl: UInt64?
    public let meter: [MeterCost]
    /// Per setup on the meter: one signed statement verified, and the downlink it takes.
    public let setup: [SetupCost]
    public let aggregator: [AggregatorCost]
    public let firmware: [FirmwareFootprint]
    public var notes: [String]
    /// LWR-PSA key setup per group size: the neighbour graph's (measured on reference meters,
    /// docs/spec/dropout.md) next to the n-of-n setup's counts, and the recovery cost.
    public var keySetup: [NeighbourSetupCost] = []
    /// The meter's cost per reading by target (`metering cost --target cortex-m4`): an
    /// x86_64 entry per host column and the bench images' cortex-m4 entries. Empty unless
    /// a target was asked for (and then not in the JSON).
    public var targets: [TargetCost] = []

    enum CodingKeys: String, CodingKey {
        case generated, host, allocationCounterControl, meter, setup, aggregator, firmware, notes, keySetup, targets
    }

    /// Adds the entries of another target beside an x86_64 entry per host column.
    public mutating func addTarget(_ entries: [TargetCost]) {
        if targets.isEmpty { targets = meter.map { TargetCost(host: $0) } }
        targets += entries
    }

    /// The entry of configuration `id` on `target`.
    public func target(_ target: String, _ id: CostVariantID) -> TargetCost? {
        targets.first { $0.target == target && $0.id == id }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(generated, forKey: .generated)
        try c.encode(host, forKey: .host)
        try c.encode(allocationCounterControl, forKey: .allocationCounterControl)
        try c.encode(meter, forKey: .meter)
        try c.encode(setup, forKey: .setup)
        try c.encode(aggregator, forKey: .aggregator)
        try c.encode(firmware, forKey: .firmware)
        try c.encode(notes, forKey: .notes)
        try c.encode(keySetup, forKey: .keySetup)
        if !targets.isEmpty { try c.encode(targets, forKey: .targets) }
    }
}

/// Why the report could not be made.
public enum CostReportError: Error, CustomStringConvertible {
    /// No configuration matched the selection.
    case nothingSelected
    /// A decrypted sum was wrong while measuring the aggregator: nothing real was timed.
    case wrongSum(group: String, meters: Int, label: Int)
    /// The stack probe failed for a configuration.
    case stack(CostVariantID, StackProbeError)

    public var description: String {
        switch self {
        case .nothingSelected: return "no scheme configuration matches the selection"
        case .wrongSum(let g, let n, let l): return "\(g), n = \(n): label \(l) decrypted to a wrong sum"
        case .stack(let id, let e): return "\(id): stack probe failed: \(e)"
        }
    }
}

public enum CostReporter {
    public static func run(schemes: [any CostScheme], options: CostOptions) throws -> CostMeasurements {
        guard !schemes.isEmpty else { throw CostReportError.nothingSelected }
        var notes: [String] = []

        // The allocation counter must see a path that allocates, or its zeros mean nothing.
        var counter = options.allocationCounter
        var control: UInt64? = nil
        if let c = counter {
            let n = c.controlCount()
            control = n
            if n == 0 {
                notes.append("the allocation counter saw no allocation on a path that allocates: heap figures omitted")
                counter = nil
            }
        } else {
            notes.append("heap allocations not counted (no allocation counter in this process)")
        }

        var footprints: [String: FirmwareFootprint] = [:]
        if let sizer = options.firmware {
            for scheme in Set(schemes.map(\.id.scheme)).sorted() {
                options.progress("flash footprint: scripts/check-firmware.sh --scheme \(scheme)")
                footprints[scheme] = try sizer.footprint(scheme: scheme)
            }
        } else {
            notes.append("flash footprint not measured")
        }

        let meter = try measureMeters(schemes, options: options, counter: counter, footprints: footprints)
        let setup = try measureSetups(schemes, options: options, counter: counter, footprints: footprints)

        // One scheme per aggregator group (LWR-PSA's key modes share one aggregator).
        var groups: [any CostScheme] = []
        for scheme in schemes where !groups.contains(where: { $0.aggregatorGroup == scheme.aggregatorGroup }) {
            groups.append(scheme)
        }
        var aggregator: [AggregatorCost] = []
        for n in options.aggregatorMeters {
            let measured = groups.filter { $0.measuresAggregator(meters: n) }
            guard !measured.isEmpty else { continue }
            aggregator += try measureAggregators(measured, meters: n, options: options, counter: counter)
        }
        let order = groups.map(\.aggregatorGroup)
        aggregator.sort {
            (order.firstIndex(of: $0.group)!, $0.meters) < (order.firstIndex(of: $1.group)!, $1.meters)
        }

        var system = utsname()
        uname(&system)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        #if DEBUG
            let build = "debug"
            notes.append("debug build: timings are not representative (use swift run -c release)")
        #else
            let build = "release"
        #endif
        let formatter = ISO8601DateFormatter()
        var keySetup: [NeighbourSetupCost] = []
        if schemes.contains(where: { $0.id.scheme == "lwr-psa" }) {
            for n in options.keySetupMeters ?? options.aggregatorMeters {
                options.progress("key setup: neighbour graph, n = \(n) (reference meters)")
                keySetup.append(
                    try NeighbourSetupProbe.measure(meters: n, plan: NeighbourGraphAnalysis.plan(meters: UInt32(n))))
            }
        }
        var report = CostMeasurements(
            generated: formatter.string(from: Date()),
            host: HostInfo(
                cores: ProcessInfo.processInfo.activeProcessorCount,
                system: "\(field(system.sysname)) \(field(system.release)) \(field(system.machine))", build: build),
            allocationCounterControl: control, meter: meter, setup: setup, aggregator: aggregator,
            firmware: footprints.keys.sorted().map { footprints[$0]! }, notes: notes)
        report.keySetup = keySetup
        return report
    }

    static func reading(_ probe: any ReadingProbe) throws {
        probe.prepare()
        probe.boundary()
        try probe.settle()
    }

    /// One configuration's meter while it is being measured.
    final class MeterRun {
        let scheme: any CostScheme
        let probe: any ReadingProbe
        let phases: [CostPhase]
        var standalone: [[UInt64]]
        var prepare: [UInt64] = []
        var boundary: [UInt64] = []
        var whole: [UInt64] = []
        var allocations: UInt64? = nil
        var stack: StackFigures? = nil

        init(_ scheme: any CostScheme, readings: Int) throws {
            self.scheme = scheme
            probe = try scheme.makeMeter()
            phases = try scheme.makePhases()
            standalone = phases.map { _ in [] }
            for k in standalone.indices { standalone[k].reserveCapacity(readings) }
            prepare.reserveCapacity(readings)
            boundary.reserveCapacity(readings)
            whole.reserveCapacity(readings)
        }

        /// One timed reading, then one timed run of each standalone phase.
        func timedReading() throws {
            let t0 = threadCPUNanoseconds()
            probe.prepare()
            let t1 = threadCPUNanoseconds()
            probe.boundary()
            let t2 = threadCPUNanoseconds()
            try probe.settle()
            prepare.append(t1 - t0)
            boundary.append(t2 - t1)
            whole.append(t2 - t0)
            for (k, phase) in phases.enumerated() {
                guard case .standalone(let run) = phase.source else { continue }
                let t = threadCPUNanoseconds()
                run()
                standalone[k].append(threadCPUNanoseconds() - t)
            }
        }
    }

    /// The meter side of every configuration. The timing loop takes one reading of each
    /// configuration in turn, each followed by one run of each of its standalone phases,
    /// so that a noisy neighbour on the machine slows all configurations, wholes and parts
    /// alike, and their comparison stays fair.
    static func measureMeters(
        _ schemes: [any CostScheme], options: CostOptions, counter: (any AllocationCounter)?,
        footprints: [String: FirmwareFootprint]
    ) throws -> [MeterCost] {
        var runs: [MeterRun] = []
        for scheme in schemes {
            options.progress("meter: \(scheme.id): key setup on simulated boards, warm-up")
            let run = try MeterRun(scheme, readings: options.readings)
            for _ in 0..<options.warmupReadings { try reading(run.probe) }
            for phase in run.phases {
                if case .standalone(let body) = phase.source { for _ in 0..<3 { body() } }
            }
            runs.append(run)
        }

        for run in runs {
            // Heap allocations of prepare + boundary, settle excluded.
            if let counter {
                var total: UInt64 = 0
                for _ in 0..<options.allocationReadings {
                    counter.begin()
                    run.probe.prepare()
                    run.probe.boundary()
                    total += counter.end().allocations
                    try run.probe.settle()
                }
                run.allocations = total
            }
            // Stack: prepare and boundary each on a fresh painted stack; the deepest counts.
            if options.stackReadings > 0 {
                do {
                    run.stack = try measureStack(run.probe, options: options)
                } catch let error as StackProbeError {
                    throw CostReportError.stack(run.scheme.id, error)
                }
            }
        }

        options.progress("meter: \(options.readings) timed readings of each configuration, interleaved")
        for _ in 0..<options.readings {
            for run in runs { try run.timedReading() }
        }

        return runs.map { run in
            let scheme = run.scheme
            let cpu = Distribution(nanoseconds: run.whole)
            let prepareCPU = Distribution(nanoseconds: run.prepare)
            let boundaryCPU = Distribution(nanoseconds: run.boundary)
            var phases: [PhaseCost] = []
            for (k, phase) in run.phases.enumerated() {
                let cpuOfPhase: Distribution
                let how: String
                switch phase.source {
                case .prepareStep:
                    cpuOfPhase = prepareCPU
                    how = "prepare"
                case .boundaryStep:
                    cpuOfPhase = boundaryCPU
                    how = "boundary"
                case .standalone:
                    cpuOfPhase = Distribution(nanoseconds: run.standalone[k])
                    how = "standalone"
                }
                phases.append(
                    PhaseCost(
                        name: phase.name, detail: phase.detail, cpu: cpuOfPhase,
                        fraction: cpuOfPhase.medianUs / cpu.medianUs, measuredAs: how))
            }
            let footprint = footprints[scheme.id.scheme]
            return MeterCost(
                id: scheme.id, parameterSet: scheme.parameterSetName, cpuPerReading: cpu, prepare: prepareCPU,
                boundary: boundaryCPU, heapAllocations: run.allocations, allocationReadings: options.allocationReadings,
                stack: run.stack,
                staticRAM: StaticRAM(
                    state: scheme.firmwareState, firmwareData: footprint?.data, firmwareBSS: footprint?.bss),
                flash: footprint, ciphertextBytes: scheme.ciphertextBytes, frameBytes: scheme.frameBytes,
                keyStore: scheme.keyStore,
                flashWear: KeyStoreWear.perYear(for: scheme.id, readings: readingsPerYear),
                instructions: options.instructions[scheme.id], phases: phases,
                phasesSumFraction: phases.isEmpty
                    ? nil : zip(run.phases, phases).filter { !$0.0.insideBoundary }.reduce(0) { $0 + $1.1.fraction })
        }
    }

    static func measureStack(_ probe: any ReadingProbe, options: CostOptions) throws -> StackFigures {
        let harness = try StackProbe.measure(stackBytes: options.stackBytes) {}
        var prepareUse = harness
        var boundaryUse = harness
        for _ in 0..<options.stackReadings {
            let p = try StackProbe.measure(stackBytes: options.stackBytes) { probe.prepare() }
            let b = try StackProbe.measure(stackBytes: options.stackBytes) { probe.boundary() }
            try probe.settle()
            if p.highWaterBytes > prepareUse.highWaterBytes { prepareUse = p }
            if b.highWaterBytes > boundaryUse.highWaterBytes { boundaryUse = b }
        }
        return StackFigures(
            prepareBytes: prepareUse.highWaterBytes, boundaryBytes: boundaryUse.highWaterBytes,
            paintedBytes: min(prepareUse.paintedBytes, boundaryUse.paintedBytes),
            harnessBytes: harness.highWaterBytes, readings: options.stackReadings)
    }

    /// The aggregator side of every group for one group size, samples interleaved across
    /// the groups like the meter side.
    static func measureAggregators(
        _ groups: [any CostScheme], meters: Int, options: CostOptions, counter: (any AllocationCounter)?
    ) throws -> [AggregatorCost] {
        var workloads: [any LabelWorkload] = []
        var peaks: [Int64?] = []
        var allocations: [UInt64?] = []
        for scheme in groups {
            options.progress("aggregator: \(scheme.aggregatorGroup), n = \(meters): making the meters' frames")
            let workload = try scheme.makeLabelWorkload(meters: meters, labels: max(1, options.aggregatorLabels))
            // Memory: the aggregator's state for the group and one label, from scratch.
            var peak: Int64? = nil
            var count: UInt64? = nil
            if let counter {
                counter.begin()
                var ok = false
                do {
                    try workload.start(label: 0)
                    try workload.collect(label: 0)
                    ok = try workload.decrypt(label: 0)
                } catch {
                    _ = counter.end()
                    throw error
                }
                let counts = counter.end()
                workload.finish()
                guard ok else {
                    throw CostReportError.wrongSum(group: scheme.aggregatorGroup, meters: meters, label: 0)
                }
                peak = counts.peakLiveBytes
                count = counts.allocations
            }
            workloads.append(workload)
            peaks.append(peak)
            allocations.append(count)
        }

        options.progress("aggregator: n = \(meters): timing labels, interleaved")
        var collect: [[UInt64]] = groups.map { _ in [] }
        var decrypt: [[UInt64]] = groups.map { _ in [] }
        var whole: [[UInt64]] = groups.map { _ in [] }
        var spent: UInt64 = 0
        let budget = UInt64(options.aggregatorBudgetSeconds * 1e9) * UInt64(groups.count)
        var i = 0
        while i < options.aggregatorSamples.max && (i < options.aggregatorSamples.min || spent < budget) {
            for (g, workload) in workloads.enumerated() {
                let label = i % workload.labelCount
                try workload.start(label: label)
                let t0 = threadCPUNanoseconds()
                try workload.collect(label: label)
                let t1 = threadCPUNanoseconds()
                let ok = try workload.decrypt(label: label)
                let t2 = threadCPUNanoseconds()
                workload.finish()
                guard ok else {
                    throw CostReportError.wrongSum(group: groups[g].aggregatorGroup, meters: meters, label: label)
                }
                collect[g].append(t1 - t0)
                decrypt[g].append(t2 - t1)
                whole[g].append(t2 - t0)
                spent += t2 - t0
            }
            i += 1
        }
        return groups.indices.map { g in
            let scheme = groups[g]
            return AggregatorCost(
                group: scheme.aggregatorGroup, scheme: scheme.id.scheme, parameters: scheme.id.parameters,
                parameterSet: scheme.parameterSetName, meters: meters, cpuPerLabel: Distribution(nanoseconds: whole[g]),
                collect: Distribution(nanoseconds: collect[g]), decrypt: Distribution(nanoseconds: decrypt[g]),
                peakHeapBytes: peaks[g], heapAllocations: allocations[g])
        }
    }
}

/// One reading of one configuration inside the callgrind regions, for
/// scripts/count-instructions.sh (`metering cost --instruction-probe ID`).
public enum InstructionProbe {
    /// Builds the meter, runs `warmup` readings outside the regions, then one reading
    /// with prepare in pm_cost_region_prepare and boundary in pm_cost_region_boundary.
    public static func run(_ scheme: any CostScheme, warmup: Int = 3) throws {
        let probe = try scheme.makeMeter()
        for _ in 0..<warmup { try CostReporter.reading(probe) }
        CallgrindRegion.prepare { probe.prepare() }
        CallgrindRegion.boundary { probe.boundary() }
        try probe.settle()
    }
}
