import Aggregation
import Dispatch
import Foundation
import MeterCrypto
import MeterFirmware
import Provisioning

/// CPU time of the calling thread, in seconds (CLOCK_THREAD_CPUTIME_ID).
public func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Wall-clock seconds from a monotonic clock.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// A group of simulated meters and their aggregator.
public struct FleetConfiguration: Sendable {
    public var meters: Int = 100
    public var group: UInt32 = 1
    /// The largest reading a meter may produce per interval, in Wh.
    public var maxReading: UInt64 = 5000
    public var seed: UInt64 = 1
    public var parameters: LWRParameters = .standard
    public var keyMode: KeyMode = .seed
    public var sampleSeconds: UInt64 = 1
    /// Worker threads for the meters (each meter is its own device).
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// The scheme the scenario runs: the same meters, load profiles and readings for each.
    public var scheme: SchemeID = .lwrPSA
    /// Paillier: bits of the supplier's N (2048 or 3072).
    public var paillierKeyBits = 3072
    /// Paillier: the supplier's key; nil generates one from `seed` (reproducible, for demos
    /// and tests only: see `ReproducibleGenerator`).
    public var paillierKey: PaillierPrivateKey? = nil
    /// LWR-PSA: the n-of-n key setup (`.allPairs`) or the neighbour graph with dropout
    /// recovery (docs/spec/dropout.md; its key is always expanded in flash).
    public var keySetup: KeySetupKind = .allPairs
    /// The neighbour graph's k and t; nil: `NeighbourGraphAnalysis.plan` for n and the
    /// dropout bound (at least `dropoutPercent`).
    public var graphPlan: NeighbourGraphPlan? = nil
    /// Meters silent at each label (an outage over the boundary), chosen from `seed`.
    public var dropoutPercent: Double = 0
    /// The meter indices silent at a label, instead of `dropoutPercent`'s draw (tests).
    public var silentAt: (@Sendable (UInt64) -> Set<Int>)? = nil

    public init() {}
}

/// Timings of key setup.
public struct SetupReport: Sendable {
    public let wallSeconds: Double
    /// CPU seconds each meter spent on key setup.
    public let meterCPUSeconds: [Double]
    /// CPU seconds the aggregator spent on the setup messages.
    public let aggregatorCPUSeconds: Double
    /// Paillier: wall seconds the supplier spent generating its key (included in wallSeconds).
    public var supplierKeySeconds: Double = 0
}

/// One label's outcome.
public struct LabelResult: Sendable {
    public let label: UInt64
    public let decryptedSum: UInt64
    public let trueSum: UInt64
    public var exact: Bool { decryptedSum == trueSum }
    /// Per meter: CPU seconds of the pad precomputation F_k(l) done while idle.
    public let precomputeSeconds: [Double]
    /// Per meter: CPU seconds of the boundary step (add, persist counter, seal, send).
    public let boundarySeconds: [Double]
    /// Aggregator CPU seconds to verify and collect the n frames.
    public let collectSeconds: Double
    /// CPU seconds to decrypt the sum (the aggregator under LWR-PSA, the supplier under Paillier).
    public let decryptSeconds: Double
    /// Aggregator CPU seconds to release the label's aggregate.
    public var aggregateSeconds: Double = 0
    /// Meters whose reading is in the sum (all of them without dropouts).
    public var reporting: Int = 0
    /// Meters silent at the label, and the recovery answers their neighbours sent.
    public var silent: Int = 0
    public var recoveryMessages: Int = 0
}

/// Runs the scenario with the configured scheme: setup (key setup for LWR-PSA, key
/// delivery for Paillier), then readings label by label.
public final class Fleet {
    public let configuration: FleetConfiguration
    public let meters: [SimulatedMeter]
    public let members: GroupMembers
    let expected: [[UInt64]]
    /// The provisioning authority: factory keys, enrolment checks, signed statements.
    public let authority: ProvisioningAuthority
    /// The group's epoch (the frame keys the aggregator holds are this epoch's).
    public let epoch: UInt32
    /// Key setup over the radio: LWR-PSA's, or DMCFE's (the same relay of public keys).
    let setup: KeySetupRelay?
    /// LWR-PSA: the aggregator, once key setup is done.
    public private(set) var aggregator: LWRAggregator?
    /// LWR-PSA over the neighbour graph: the aggregator (it holds no key), once set up.
    public internal(set) var neighbourAggregator: NeighbourAggregator?
    /// Neighbour graph: notices waiting for a silent meter to be back (meter → frames).
    var queuedNotices: [UInt32: [[UInt8]]] = [:]
    /// Neighbour graph: the plan the authority signed.
    public internal(set) var graphPlan: NeighbourGraphPlan?
    /// Neighbour graph: the last label's ciphertexts and readings per meter id (what the
    /// aggregator received, and what each meter measured: for attacks and tests).
    public internal(set) var lastCiphertexts: [UInt32: UInt64] = [:]
    public internal(set) var lastReadings: [UInt32: UInt64] = [:]
    /// Neighbour graph: every confirmation relayed so far (receiver, downlink frame).
    public internal(set) var relayedConfirmations: [(meter: UInt32, frame: [UInt8])] = []
    /// Paillier: the group's aggregator and the supplier, once the key is delivered.
    public internal(set) var paillierAggregator: PaillierAggregator?
    public internal(set) var supplier: PaillierSupplier?
    /// DMCFE: the aggregator for y = (1, …, 1), once the functional key is combined.
    public internal(set) var dmcfeAggregator: DMCFEAggregator?
    /// The host side of whichever scheme runs: frames in, sums out.
    public internal(set) var pipeline: GroupSumPipeline?
    /// The aggregator's label-reuse alarms so far.
    public var labelReuseAlarms: [LabelReuseAlarm] { pipeline?.labelReuseAlarms ?? [] }
    /// Precompute time per meter for the label about to close (one slot per meter,
    /// written only by the thread that runs that meter).
    let pendingPrecompute: UnsafeMutableBufferPointer<Double>

    /// Builds the boards, provisions the meters and computes the expected readings
    /// for `labels` labels from the load profiles.
    public init(_ configuration: FleetConfiguration, labels: Int) throws {
        self.configuration = configuration
        var rng = SplitMix64(seed: configuration.seed)
        let authority = ProvisioningAuthority(seed: configuration.seed)
        let model = LoadModel(maxWattHoursPerInterval: configuration.maxReading)
        var built: [SimulatedMeter] = []
        var expected: [[UInt64]] = []
        for i in 0..<configuration.meters {
            let id = UInt32(i + 1)
            let profile = model.household(seed: configuration.seed &* 1_000_003 &+ UInt64(id))
            built.append(
                try SimulatedMeter(
                    factory: authority.manufacture(meter: id), seed: rng.next(), profile: profile,
                    sampleSeconds: configuration.sampleSeconds, scheme: configuration.scheme))
            let metering = ExpectedMetering(
                profile: profile, ticksPerSecond: 1000, sampleSeconds: configuration.sampleSeconds)
            expected.append(metering.readings(count: labels))
        }
        meters = built
        self.expected = expected
        self.authority = authority
        epoch = authority.issueEpoch()
        members = try authority.members(
            group: configuration.group, epoch: epoch, scheme: configuration.scheme, meters: built.map(\.id))
        switch configuration.scheme {
        case .lwrPSA where configuration.keySetup == .neighbourGraph:
            setup = try NeighbourKeySetup(
                members: members, parameters: configuration.parameters, maxReading: configuration.maxReading)
        case .lwrPSA:
            setup = try LWRKeySetup(
                members: members, parameters: configuration.parameters, maxReading: configuration.maxReading,
                keyMode: configuration.keyMode.rawValue)
        case .dmcfe:
            setup = try DMCFEKeySetup(members: members, maxReading: configuration.maxReading)
        case .paillier:
            setup = nil
        }
        pendingPrecompute = .allocate(capacity: configuration.meters)
        pendingPrecompute.initialize(repeating: 0)
    }

    deinit { pendingPrecompute.deallocate() }

    /// Runs `body(i)` for every meter index on the configured number of threads.
    func forEachMeter(_ body: (Int) -> Void) {
        let threads = max(1, min(configuration.threads, meters.count))
        let count = meters.count
        // Each index is visited by exactly one thread; the meters touched by `body(i)`
        // are owned by that index, so the unchecked sharing below is race-free.
        nonisolated(unsafe) let work = body
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            var i = t
            while i < count {
                work(i)
                i += threads
            }
        }
    }

    /// Key setup for the whole group. `progress(done, total)` is called as meters finish.
    public func runKeySetup(progress: (Int, Int) -> Void = { _, _ in }) throws -> SetupReport {
        if configuration.scheme == .paillier { return try runPaillierSetup(progress: progress) }
        guard let setup else { throw SimulatorError.unsupportedScheme(configuration.scheme) }
        let start = monotonicSeconds()
        var aggregatorCPU = 0.0
        let n = meters.count
        let cpu = UnsafeMutableBufferPointer<Double>.allocate(capacity: n)
        defer { cpu.deallocate() }
        cpu.initialize(repeating: 0)
        let outboxes = UnsafeMutableBufferPointer<[[UInt8]]>.allocate(capacity: n)
        defer { outboxes.deallocate() }
        outboxes.initialize(repeating: [])
        let failures = UnsafeMutableBufferPointer<String?>.allocate(capacity: n)
        defer { failures.deallocate() }
        failures.initialize(repeating: nil)

        // 1. enrolment requests → public keys, signed by the authority.
        let timed: SignedSetup.Runner = { _, body in
            self.forEachMeter { i in
                let t0 = threadCPUSeconds()
                body(i)
                cpu[i] += threadCPUSeconds() - t0
            }
        }
        if let relay = setup as? NeighbourKeySetup {
            graphPlan = neighbourPlan()
            try SignedSetup.enrolAndSignNeighbourGroup(
                meters: meters, relay: relay, authority: authority, plan: graphPlan!, runner: timed)
        } else {
            try SignedSetup.enrolAndSign(meters: meters, relay: setup, authority: authority, runner: timed)
        }

        // 2. statement and roster → masked key shares.
        let done = ManagedCounter()
        let report = NSLock()
        let sent = try SignedSetup.distribute(meters: meters, relay: setup) { count, body in
            timed(count) { i in
                body(i)
                let finished = done.increment()
                report.lock()
                progress(finished, n)
                report.unlock()
            }
        }
        for (i, meter) in meters.enumerated() {
            outboxes[i] = sent[i]
            if meter.firmware.phase != .ready {
                throw SimulatorError.setupStalled(meter: meter.id, detail: "not ready after the roster")
            }
        }
        var t0 = threadCPUSeconds()
        if let setup = setup as? NeighbourKeySetup {
            neighbourAggregator = try NeighbourAggregator(
                members: members, group: setup.neighbourGroup!, parameters: configuration.parameters,
                silentLimit: Int((graphPlan!.silentFraction * Double(n)).rounded(.down)), currentLabel: 0)
        } else if let setup = setup as? LWRKeySetup {
            for i in 0..<n {
                for frame in outboxes[i] { try setup.receiveKeyShare(frame) }
            }
            let key = try setup.aggregateKey()
            aggregator = try LWRAggregator(
                members: members, parameters: configuration.parameters, bounds: setup.bounds, aggregateKey: key,
                currentLabel: 0)
            pipeline = GroupSumPipeline(aggregator: aggregator!, decryptor: aggregator!)
        } else if let setup = setup as? DMCFEKeySetup {
            for i in 0..<n {
                for frame in outboxes[i] { try setup.receiveSetupComplete(frame) }
            }
            aggregatorCPU += threadCPUSeconds() - t0
            aggregatorCPU += try runDMCFEFunctionalKey(setup, cpu: cpu, failures: failures)
            t0 = threadCPUSeconds()
        }
        aggregatorCPU += threadCPUSeconds() - t0

        // The meters precompute the pad of their first label while idle.
        forEachMeter { i in
            let t0 = threadCPUSeconds()
            self.meters[i].firmware.idle()
            self.pendingPrecompute[i] = threadCPUSeconds() - t0
        }
        return SetupReport(
            wallSeconds: monotonicSeconds() - start, meterCPUSeconds: Array(cpu),
            aggregatorCPUSeconds: aggregatorCPU)
    }

    func checkFailures(_ failures: UnsafeMutableBufferPointer<String?>) throws {
        for (i, failure) in failures.enumerated() {
            if let failure { throw SimulatorError.setupStalled(meter: meters[i].id, detail: failure) }
        }
    }

    /// Runs the meters through one 15-minute interval, sample by sample, then has the
    /// aggregator collect and decrypt the label's sum.
    public func runLabel(_ label: UInt64) throws -> LabelResult {
        if neighbourAggregator != nil { return try runNeighbourLabel(label) }
        guard let pipeline else { throw AggregationError.keySetupIncomplete }
        let n = meters.count
        let steps = Int(900 / configuration.sampleSeconds)
        let sampleTicks = configuration.sampleSeconds * 1000
        var boundary = [Double](repeating: 0, count: n)
        var precompute = [Double](repeating: 0, count: n)
        var frames = [[[UInt8]]](repeating: [], count: n)
        boundary.withUnsafeMutableBufferPointer { boundaryTimes in
            precompute.withUnsafeMutableBufferPointer { precomputeTimes in
                frames.withUnsafeMutableBufferPointer { sent in
                    forEachMeter { i in
                        let meter = self.meters[i]
                        for step in 1...steps {
                            meter.advance(ticks: sampleTicks)
                            if step == steps {
                                let t0 = threadCPUSeconds()
                                _ = meter.firmware.poll()
                                boundaryTimes[i] = threadCPUSeconds() - t0
                            } else {
                                _ = meter.firmware.poll()
                            }
                        }
                        sent[i] = meter.takeSent()
                        precomputeTimes[i] = self.pendingPrecompute[i]
                        let t0 = threadCPUSeconds()
                        meter.firmware.idle()  // F_k(l+1) while waiting for the next boundary
                        self.pendingPrecompute[i] = threadCPUSeconds() - t0
                    }
                }
            }
        }
        let t0 = threadCPUSeconds()
        try pipeline.advance(to: label)
        for (i, meterFrames) in frames.enumerated() {
            let readings = meterFrames.filter { $0.count > 1 && $0[1] == FrameType.reading.rawValue }
            guard !readings.isEmpty else { throw SimulatorError.missingReading(meter: meters[i].id, label: label) }
            for frame in readings {
                // The ack lets the meter drop the reading from its outbox (next poll). A
                // second, different ciphertext for the label is an alarm, never acked.
                let receipt: ReadingReceipt
                do throws(AggregationError) { receipt = try pipeline.acceptAndAcknowledge(frame) } catch {
                    if case .labelReused = error { continue }
                    throw error
                }
                try meters[i].deliver(receipt.ack)
            }
        }
        let t1 = threadCPUSeconds()
        let sum = try pipeline.sum(label: label, clock: threadCPUSeconds)
        let truth = expected.reduce(0) { $0 + $1[Int(label)] }
        return LabelResult(
            label: label, decryptedSum: sum.sum, trueSum: truth, precomputeSeconds: precompute,
            boundarySeconds: boundary, collectSeconds: t1 - t0, decryptSeconds: sum.decryptSeconds,
            aggregateSeconds: sum.aggregateSeconds)
    }

    /// The readings the simulator expects meter `index` to report (Wh per label).
    public func expectedReadings(meter index: Int) -> [UInt64] { expected[index] }
}

/// A thread-safe counter for progress reports.
final class ManagedCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func increment() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
