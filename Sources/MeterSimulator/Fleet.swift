import Aggregation
import Foundation
import MeterCrypto
import MeterFirmware
import Provisioning

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
    /// and tests only: see `SeededGenerator`).
    public var paillierKey: PaillierPrivateKey? = nil
    /// The meters' load profiles (docs/load-profiles.md).
    public var loadProfiles: LoadProfileSource = .synthetic
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
    /// LWR-PSA n-of-n: a statistics plan the authority signs for the group after key setup
    /// (docs/spec/statistics.md); nil: no statistics.
    public var statistics: StatisticsPlanSpec? = nil
    /// LWR-PSA and DMCFE: a tariff the authority signs for the group after key setup, under
    /// which each meter totals its readings per class and sends its own sealed bill when the
    /// period is over (docs/spec/billing.md); nil: no bills on the meters.
    public var meterBilling: MeterBillingPlan? = nil

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
    /// Under a statistics plan: the label's decrypted statistics, and the same computed from
    /// the true readings.
    public var statistics: LabelStatistics? = nil
    public var trueStatistics: LabelStatistics? = nil
}

/// Runs the scenario with the configured scheme: setup (key setup for LWR-PSA, key
/// delivery for Paillier), then readings label by label.
public final class Fleet {
    public let configuration: FleetConfiguration
    /// The meters on their boards, the authority that provisioned them, the group's members.
    public let group: SimulatedGroup
    public var meters: [SimulatedMeter] { group.meters }
    public var members: GroupMembers { group.members }
    /// The provisioning authority: factory keys, enrolment checks, signed statements.
    public var authority: ProvisioningAuthority { group.authority }
    /// The group's epoch (the frame keys the aggregator holds are this epoch's).
    public var epoch: UInt32 { group.epoch }
    let expected: [[UInt64]]
    /// Runs the meters, each its own device, on the configured threads.
    let runner: ParallelRunner
    /// Key setup over the radio: LWR-PSA's, or DMCFE's (the same relay of public keys).
    let setup: KeySetupRelay?
    /// LWR-PSA: the aggregator, once key setup is done.
    public private(set) var aggregator: LWRAggregator?
    /// LWR-PSA under a statistics plan: the aggregator's statistics side (same K).
    public private(set) var statisticsAggregator: LWRStatisticsAggregator?
    /// Bills made on the meters: the signed tariff, the supplier's keys, and the bill frames
    /// the aggregator stored (meter → frame), sealed, as received.
    public private(set) var signedTariff: SignedTariff?
    public private(set) var supplierBilling: SupplierBilling?
    public internal(set) var meterBillFrames: [UInt32: [UInt8]] = [:]
    /// Under a tariff: each meter's stored readings by label (what its bill must total).
    var billedReadings: [UInt32: [UInt64: UInt64]] = [:]
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
    /// Where the aggregator keeps the customers' sealed detail (nil: the frames are dropped).
    public var detailStore: (any SealedDetailStore)?
    /// Customer-detail frames the aggregator's intake refused (layout, member, tag).
    public private(set) var detailRefused = 0
    /// Precompute time per meter for the label about to close.
    var pendingPrecompute: [Double]

    /// Builds the boards, provisions the meters and computes the expected readings
    /// for `labels` labels from the load profiles.
    public init(_ configuration: FleetConfiguration, labels: Int) throws {
        self.configuration = configuration
        var rng = SeededGenerator(seed: configuration.seed)
        let model = LoadModel(maxWattHoursPerInterval: configuration.maxReading)
        // Enough minutes for every label's samples (the last one reads the next minute).
        let minutes = labels * 15 + 1
        let profiles = (0..<configuration.meters).map { i in
            configuration.loadProfiles.profile(
                meter: i, seed: configuration.seed &* 1_000_003 &+ UInt64(i + 1), minutes: minutes, model: model)
        }
        group = try SimulatedGroup(
            authority: ProvisioningAuthority(seed: configuration.seed), group: configuration.group,
            scheme: configuration.scheme, ids: (0..<configuration.meters).map { UInt32($0 + 1) },
            sampleSeconds: configuration.sampleSeconds, boardSeed: { _ in rng.next() }, profile: { profiles[$0] })
        expected = profiles.map { profile in
            ExpectedMetering(profile: profile, ticksPerSecond: 1000, sampleSeconds: configuration.sampleSeconds)
                .readings(count: labels)
        }
        runner = ParallelRunner(threads: configuration.threads)
        switch configuration.scheme {
        case .lwrPSA where configuration.keySetup == .neighbourGraph:
            setup = try NeighbourKeySetup(
                members: group.members, parameters: configuration.parameters, maxReading: configuration.maxReading)
        case .lwrPSA:
            setup = try group.lwrKeySetup(
                parameters: configuration.parameters, maxReading: configuration.maxReading,
                keyMode: configuration.keyMode)
        case .dmcfe:
            setup = try DMCFEKeySetup(members: group.members, maxReading: configuration.maxReading)
        case .paillier:
            setup = nil
        }
        pendingPrecompute = [Double](repeating: 0, count: configuration.meters)
    }

    /// Key setup for the whole group. `progress(done, total)` is called as meters finish
    /// (one call at a time).
    public func runKeySetup(progress: @escaping ParallelRunner.Progress = { _, _ in }) throws -> SetupReport {
        if configuration.scheme == .paillier { return try runPaillierSetup(progress: progress) }
        guard let setup else { throw SimulatorError.unsupportedScheme(configuration.scheme) }
        let start = monotonicSeconds()
        let cpu = MeterCPU(meters: meters.count)

        // 1. enrolment requests → public keys, signed by the authority.
        if let relay = setup as? NeighbourKeySetup {
            graphPlan = neighbourPlan()
            try SignedSetup.enrolAndSignNeighbourGroup(
                meters: meters, relay: relay, authority: authority, plan: graphPlan!, runner: runner, cpu: cpu)
        } else {
            try group.enrolAndSign(setup, runner: runner, cpu: cpu)
        }
        // 2. statement and roster → masked key shares (LWR-PSA) or setupComplete (DMCFE);
        // nothing back over the neighbour graph.
        var aggregatorCPU = 0.0
        if let setup = setup as? NeighbourKeySetup {
            _ = try SignedSetup.distribute(meters: meters, relay: setup, runner: runner, cpu: cpu, progress: progress)
            try SignedSetup.requireReady(meters)
            neighbourAggregator = try NeighbourAggregator(
                members: members, group: setup.neighbourGroup!, parameters: configuration.parameters,
                silentLimit: Int((graphPlan!.silentFraction * Double(meters.count)).rounded(.down)), currentLabel: 0)
        } else if let setup = setup as? LWRKeySetup {
            let sent = try SignedSetup.distribute(
                meters: meters, relay: setup, runner: runner, cpu: cpu, progress: progress)
            try SignedSetup.requireReady(meters)
            let t0 = threadCPUSeconds()
            let aggregator = try SignedSetup.lwrAggregator(setup: setup, keyShares: sent)
            self.aggregator = aggregator
            pipeline = GroupSumPipeline(aggregator: aggregator, decryptor: aggregator)
            aggregatorCPU += threadCPUSeconds() - t0
            if let spec = configuration.statistics {
                statisticsAggregator = try group.installStatistics(
                    spec, setup: setup, aggregateKey: setup.aggregateKey())
            }
        } else if let setup = setup as? DMCFEKeySetup {
            try SignedSetup.completeDMCFE(meters: meters, setup: setup, runner: runner, cpu: cpu, progress: progress)
            aggregatorCPU += try runDMCFEFunctionalKey(setup, cpu: cpu)
        }
        if let plan = configuration.meterBilling {
            (signedTariff, supplierBilling) = try group.installMeterBilling(plan)
        }
        precomputeFirstLabel()
        return SetupReport(
            wallSeconds: monotonicSeconds() - start, meterCPUSeconds: cpu.perMeter,
            aggregatorCPUSeconds: aggregatorCPU)
    }

    /// The meters precompute their first label's pad (or randomizer) while idle.
    func precomputeFirstLabel() {
        pendingPrecompute = runner.map(meters.count) { i in
            let t0 = threadCPUSeconds()
            self.meters[i].firmware.idle()
            return threadCPUSeconds() - t0
        }
    }

    /// Runs the meters through one 15-minute interval, sample by sample, then has the
    /// aggregator collect and decrypt the label's sum.
    public func runLabel(_ label: UInt64) throws -> LabelResult {
        if neighbourAggregator != nil { return try runNeighbourLabel(label) }
        guard let pipeline else { throw AggregationError.keySetupIncomplete }
        let steps = Int(900 / configuration.sampleSeconds)
        let sampleTicks = configuration.sampleSeconds * 1000
        let interval = runner.map(meters.count) { i in
            let meter = self.meters[i]
            var boundary = 0.0
            for step in 1...steps {
                meter.advance(ticks: sampleTicks)
                if step == steps {
                    let t0 = threadCPUSeconds()
                    _ = meter.firmware.poll()
                    boundary = threadCPUSeconds() - t0
                } else {
                    _ = meter.firmware.poll()
                }
            }
            let sent = meter.takeSent()
            let t0 = threadCPUSeconds()
            meter.firmware.idle()  // F_k(l+1) while waiting for the next boundary
            return (sent: sent, boundary: boundary, nextPrecompute: threadCPUSeconds() - t0)
        }
        let precompute = pendingPrecompute
        pendingPrecompute = interval.map(\.nextPrecompute)
        let t0 = threadCPUSeconds()
        try pipeline.advance(to: label)
        for (i, meterFrames) in interval.map(\.sent).enumerated() {
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
            if let statistics = statisticsAggregator {
                for frame in meterFrames where frame.count > 1 && frame[1] == FrameType.statistics.rawValue {
                    try statistics.accept(frame)
                }
            }
            try takeBills(meterFrames, meter: i)
            if signedTariff != nil { billedReadings[meters[i].id, default: [:]][label] = expected[i][Int(label)] }
            if let store = detailStore {
                // Sealed customer detail: checked, stored as received, never opened.
                let intake = CustomerDetailIntake(members: members)
                for frame in meterFrames where frame.count > 1 && frame[1] == FrameType.customerDetail.rawValue {
                    do { try store.store(intake.accept(frame)) } catch { detailRefused += 1 }
                }
            }
        }
        let t1 = threadCPUSeconds()
        let sum = try pipeline.sum(label: label, clock: threadCPUSeconds)
        let truth = expected.reduce(0) { $0 + $1[Int(label)] }
        var result = LabelResult(
            label: label, decryptedSum: sum.sum, trueSum: truth, precomputeSeconds: precompute,
            boundarySeconds: interval.map(\.boundary), collectSeconds: t1 - t0, decryptSeconds: sum.decryptSeconds,
            aggregateSeconds: sum.aggregateSeconds)
        if let statistics = statisticsAggregator {
            result.statistics = try statistics.statistics(label: label, sum: sum.sum)
            result.trueStatistics = LabelStatistics(
                label: label, readings: expected.map { $0[Int(label)] }, spec: statistics.plan.spec)
        }
        return result
    }

    /// The readings the simulator expects meter `index` to report (Wh per label).
    public func expectedReadings(meter index: Int) -> [UInt64] { expected[index] }

    /// The bills among a meter's frames: checked, kept as received (sealed), acked.
    func takeBills(_ frames: [[UInt8]], meter i: Int) throws {
        for frame in frames where frame.count > 1 && frame[1] == FrameType.bill.rawValue {
            let (header, ack) = try group.intake.acceptBill(frame)
            meterBillFrames[header.meter] = frame
            try meters[i].deliver(ack)
        }
    }

    /// The supplier opens each meter's bill and prices it under the signed tariff; beside
    /// each, the bill computed from the readings the meter stored (what it must equal).
    public func meterMadeBills() throws -> [(bill: MeterMadeBill, expected: UInt64)] {
        guard let supplier = supplierBilling, let tariff = signedTariff else { return [] }
        var out: [(MeterMadeBill, UInt64)] = []
        for meter in meters {
            guard let frame = meterBillFrames[meter.id] else { continue }
            let bill = try supplier.bill(frame, tariff: tariff)
            let stored = billedReadings[meter.id] ?? [:]
            let period = tariff.period
            let readings = (period.lowerBound...period.upperBound).map { stored[$0] ?? 0 }
            out.append((bill, tariff.tariff.plaintextBill(readings: readings, firstLabel: period.lowerBound)))
        }
        return out
    }
}
