import Aggregation
import Dispatch
import MeterCrypto
import Provisioning

/// The cost of the neighbour-graph key setup and of one label's recovery, measured on
/// reference meters (MeterCrypto on the host, `NeighbourReferenceMeter`) next to the n-of-n
/// setup's counts (docs/spec/dropout.md, "Costs"; `metering neighbours`).
public struct NeighbourSetupCost: Sendable, Codable, Equatable {
    public var meters: Int
    public var degree: Int
    public var max_silent: Int
    /// log2 of the bound on P(the honest reporting members disconnect) per label (nil: 0).
    public var log2_disconnect: Double?
    /// Key agreements (ffdhe3072 exponentiations) per meter: the graph's, the n-of-n setup's.
    public var key_agreements_per_meter: Int
    public var key_agreements_n_of_n: Int
    /// Downlink bytes per meter (statement and roster frames), measured on the relay's frames;
    /// the n-of-n figure from the same layouts with all n entries.
    public var downlink_bytes_per_meter: Int
    public var downlink_bytes_n_of_n: Int
    /// Uplink bytes of key setup per meter (enrolment; the n-of-n setup adds its key share).
    public var uplink_bytes_per_meter: Int
    public var uplink_bytes_n_of_n: Int
    /// CPU of one meter's setup on this host (statement check, k + 1 paths, k exponentiations,
    /// the key from its edges), median over `sampled_meters`, thread CPU clock.
    public var setup_cpu_ms_median: Double
    public var sampled_meters: Int
    /// Recovery, per reporting neighbour of a silent meter: the request and the answer
    /// frames, and the notice there and back (uplink + relay).
    public var request_frame_bytes: Int
    public var answer_frame_bytes: Int
    public var notice_frame_bytes: Int
    /// Meter CPU of one answer covering one silent neighbour, and each further one.
    public var answer_cpu_ms: Double
    public var answer_cpu_ms_per_extra_silent: Double
    /// One label with ⌊δn⌋ silent on a fully set-up group (nil when the group is larger than
    /// the probe's full-group limit): answers, and the aggregator's CPU for the label.
    public var label_silent: Int?
    public var label_answers: Int?
    public var aggregator_cpu_ms_per_label: Double?
    public var label_exact: Bool?
}

public enum NeighbourSetupProbe {
    /// Runs `body(i)` for i in 0 ..< count on `threads` threads.
    static func parallel(_ count: Int, threads: Int, _ body: @Sendable (Int) -> Void) {
        let chunks = max(1, min(threads, count))
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            var i = c
            while i < count {
                body(i)
                i += chunks
            }
        }
    }

    /// One slot per worker item: threads write only their own slots.
    final class Box<T>: @unchecked Sendable {
        let values: UnsafeMutableBufferPointer<T?>
        init(_ count: Int) {
            values = .allocate(capacity: count)
            values.initialize(repeating: nil)
        }
        deinit {
            _ = values.deinitialize()
            values.deallocate()
        }
    }

    /// Measures a group of `meters` under `plan`: setup on `sample` meters spread over the
    /// ring; the label figures on the whole group when meters ≤ `fullGroupLimit`.
    public static func measure(
        meters n: Int, plan: NeighbourGraphPlan, sample: Int = 8, fullGroupLimit: Int = 1000, threads: Int = 2,
        seed: UInt64 = 1
    ) throws -> NeighbourSetupCost {
        let authority = ProvisioningAuthority(seed: seed)
        let ids = (1...n).map { UInt32($0) }
        let factories = ids.map { authority.manufacture(meter: $0) }
        let made = Box<NeighbourReferenceMeter>(n)
        parallel(n, threads: threads) { i in
            made.values[i] = NeighbourReferenceMeter(factory: factories[i], seed: seed << 32 | UInt64(i))
        }
        let meters = made.values.map { $0! }
        let group: UInt32 = 1
        let epoch = authority.issueEpoch()
        let members = try authority.members(group: group, epoch: epoch, scheme: .lwrPSA, meters: ids)
        let relay = try NeighbourKeySetup(members: members, parameters: .standard, maxReading: 5000)
        for m in meters { try relay.receivePublicKey(m.publicKeyFrame(group: group, epoch: epoch)) }
        let signed = try authority.signNeighbourGroup(
            group: group, epoch: epoch, parameterID: LWRParameters.standard.id, maxReading: 5000,
            enrolments: relay.enrolments, plan: plan)
        try relay.install(signed)

        let full = n <= fullGroupLimit
        let chosen = full ? Array(0..<n) : (0..<min(sample, n)).map { $0 * n / min(sample, n) }
        let frames = try chosen.map { try relay.setupFrames(for: ids[$0]) }
        let cpu = Box<Double>(chosen.count)
        let failures = Box<String>(chosen.count)
        parallel(chosen.count, threads: threads) { c in
            let t0 = threadCPUSeconds()
            do { try meters[chosen[c]].setup(group: group, epoch: epoch, frames: frames[c]) } catch {
                failures.values[c] = "\(error)"
            }
            cpu.values[c] = (threadCPUSeconds() - t0) * 1000
        }
        if let failure = failures.values.compactMap({ $0 }).first {
            throw SimulatorError.setupStalled(meter: 0, detail: failure)
        }
        let sampled = Array(chosen.prefix(sample))
        let times = sampled.indices.map { cpu.values[$0]! }.sorted()
        let downlink = frames.map { $0.reduce(0) { $0 + $1.count } }.sorted()

        let depth = signed.roster.depth
        let statementBytes = frames[0].prefix { (try? Frame.parseHeader($0.span))?.type == .statement }
            .reduce(0) { $0 + $1.count }
        let nOfNEntries = n * Frame.size(payloadLength: Roster.entryBytes(depth: depth))
        let nOfNStatement =
            statementBytes - Frame.size(payloadLength: 2 + NeighbourGroupLayout.bytes)
            + Frame.size(payloadLength: 2 + Statement.groupParametersBytes)
        let enrolBytes = Frame.size(payloadLength: Enrolment.payloadBytes)
        let shareBytes = 16 * Frame.size(payloadLength: 1024)

        // One answer's CPU: one silent neighbour, then t of them.
        let i = meters[sampled[0]]
        let neighbours = signed.neighbours(of: i.id)
        let label: UInt64 = 1
        _ = try i.readingFrame(label: label, reading: 1)
        let intake = FrameIntake(members: members)
        func request(_ silent: [UInt32]) -> [UInt8] {
            var payload: [UInt8] = [UInt8(silent.count), 0, 0, 0]
            for j in silent {
                payload += [UInt8(j >> 24), UInt8(j >> 16 & 0xFF), UInt8(j >> 8 & 0xFF), UInt8(j & 0xFF)]
            }
            return intake.seal(.recoveryRequest, to: i.id, label: label, payload: payload)
        }
        // Median of 5 runs each (the first run of a path pays for cold caches).
        func timed(_ frame: [UInt8]) throws -> (ms: Double, answer: [UInt8]) {
            var runs: [Double] = []
            var answer: [UInt8] = []
            for _ in 0..<5 {
                let t0 = threadCPUSeconds()
                answer = try i.answer(frame, current: label + 1)
                runs.append((threadCPUSeconds() - t0) * 1000)
            }
            return (runs.sorted()[2], answer)
        }
        let one = request([neighbours[0]])
        let (oneCPU, answer) = try timed(one)
        let several = Array(neighbours.prefix(min(signed.terms.maxSilent, 4))).sorted()
        var extra = 0.0
        if several.count >= 2 {
            let (severalCPU, _) = try timed(request(several))
            extra = (severalCPU - oneCPU) / Double(several.count - 1)
        }
        var t0 = 0.0

        var cost = NeighbourSetupCost(
            meters: n, degree: plan.degree, max_silent: signed.terms.maxSilent,
            log2_disconnect: plan.log2Disconnect == -.infinity ? nil : plan.log2Disconnect,
            key_agreements_per_meter: signed.graph.neighbourCount, key_agreements_n_of_n: n - 1,
            downlink_bytes_per_meter: downlink[downlink.count / 2], downlink_bytes_n_of_n: nOfNStatement + nOfNEntries,
            uplink_bytes_per_meter: enrolBytes, uplink_bytes_n_of_n: enrolBytes + shareBytes,
            setup_cpu_ms_median: times[times.count / 2], sampled_meters: sampled.count,
            request_frame_bytes: one.count, answer_frame_bytes: answer.count,
            notice_frame_bytes: 2 * Frame.size(payloadLength: RecoveryPayload.noticeBytes), answer_cpu_ms: oneCPU,
            answer_cpu_ms_per_extra_silent: extra)
        guard full else { return cost }

        // One label on the whole group with ⌊δn⌋ silent members, drawn from the seed.
        var x = XOF(.shake256)
        x.absorb("PM-PROBE-SILENT-v1")
        x.absorb(bigEndian: seed)
        var order = Array(0..<n)
        for k in 0..<n { order.swapAt(k, k + Int(x.squeezeWord() % UInt64(n - k))) }
        let silent = Set(order.prefix(Int((plan.silentFraction * Double(n)).rounded(.down))).map { ids[$0] })
        let agg = try NeighbourAggregator(
            members: members, group: signed, parameters: .standard, silentLimit: silent.count, currentLabel: 2)
        var truth: UInt64 = 0
        var readings: [[UInt8]] = []
        for (k, m) in meters.enumerated() where !silent.contains(m.id) {
            let reading = UInt64(k % 5001)
            truth += reading
            readings.append(try m.readingFrame(label: 2, reading: reading))
        }
        var aggregatorCPU = 0.0
        t0 = threadCPUSeconds()
        for f in readings { _ = try agg.accept(f) }
        let requests = try agg.close(label: 2)
        aggregatorCPU += threadCPUSeconds() - t0
        let byID = Dictionary(uniqueKeysWithValues: meters.map { ($0.id, $0) })
        let answers = try requests.map { try byID[$0.meter]!.answer($0.frame, current: 3) }
        t0 = threadCPUSeconds()
        for a in answers { try agg.acceptRecovery(a) }
        let result = try agg.sum(label: 2)
        aggregatorCPU += threadCPUSeconds() - t0
        cost.label_silent = silent.count
        cost.label_answers = result.recoveryAnswers
        cost.aggregator_cpu_ms_per_label = aggregatorCPU * 1000
        cost.label_exact = result.sum == truth
        return cost
    }
}
