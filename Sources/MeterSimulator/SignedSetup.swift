import Aggregation
import MeterCrypto
import MeterFirmware
import Provisioning
import Synchronization

/// Key setup and key delivery over the meters' radios as the real parties run them
/// (docs/spec/key-setup.md): the aggregator asks each meter to enrol, forwards the enrolled
/// keys to the authority, relays the signed group parameters and the roster; the meters act
/// only on what verifies. Shared by the fleet, the fault bench, the cost probes, the attacks
/// and the tests (through `SimulatedGroup`, or on meters of their own).
///
/// Every step runs the meters on a `ParallelRunner` (sequential by default) and, when
/// given a `MeterCPU`, adds each meter's thread CPU time to it.
public enum SignedSetup {
    /// Step 1 and 2: enrolment requests over the radio, public keys into `relay`, the
    /// authority's signature over the group, installed in `relay`. Returns it.
    @discardableResult
    public static func enrolAndSign(
        meters: [SimulatedMeter], relay: KeySetupRelay, authority: ProvisioningAuthority,
        runner: ParallelRunner = .sequential, cpu: MeterCPU? = nil
    ) throws -> SignedGroup {
        try collectEnrolments(meters: meters, relay: relay, runner: runner, cpu: cpu)
        let signed = try authority.signGroup(
            group: relay.members.group, epoch: relay.epoch, parameterID: relay.parameterByte, keyMode: relay.keyMode,
            maxReading: relay.maxReading, enrolments: relay.enrolments)
        try relay.install(signed)
        return signed
    }

    /// Steps 1 and 2 of the neighbour-graph setup (docs/spec/dropout.md): enrolments as for
    /// n-of-n, then the authority places the members on the ring and signs the group with
    /// `plan`'s k and t; installed in `relay`.
    @discardableResult
    public static func enrolAndSignNeighbourGroup(
        meters: [SimulatedMeter], relay: NeighbourKeySetup, authority: ProvisioningAuthority, plan: NeighbourGraphPlan,
        runner: ParallelRunner = .sequential, cpu: MeterCPU? = nil
    ) throws -> SignedNeighbourGroup {
        try collectEnrolments(meters: meters, relay: relay, runner: runner, cpu: cpu)
        let signed = try authority.signNeighbourGroup(
            group: relay.members.group, epoch: relay.epoch, parameterID: relay.parameterByte,
            maxReading: relay.maxReading, enrolments: relay.enrolments, plan: plan)
        try relay.install(signed)
        return signed
    }

    /// Step 1: enrolment requests over the radio, the public keys into `relay`.
    static func collectEnrolments(
        meters: [SimulatedMeter], relay: KeySetupRelay, runner: ParallelRunner, cpu: MeterCPU?
    ) throws {
        let requests = relay.enrolFrames()
        let sent = try answers(meters: meters, frames: requests.map { [$0.frame] }, runner: runner, cpu: cpu)
        for (meter, frames) in zip(meters, sent) {
            let keys = frames.filter {
                (try? Frame.parseHeader($0.span)).map { $0.type == .publicKey && $0.label == UInt64(relay.epoch) }
                    ?? false
            }
            guard keys.count == 1 else { throw SimulatorError.setupStalled(meter: meter.id, detail: "no public key") }
            try relay.receivePublicKey(keys[0])
        }
    }

    /// Step 3: the statement and the roster to every meter. Returns what each meter sent
    /// (LWR-PSA: its key share chunks; DMCFE: its setupComplete status).
    public static func distribute(
        meters: [SimulatedMeter], relay: KeySetupRelay, runner: ParallelRunner = .sequential, cpu: MeterCPU? = nil,
        progress: ParallelRunner.Progress? = nil
    ) throws -> [[[UInt8]]] {
        let frames = try meters.map { try relay.setupFrames(for: $0.id) }
        return try answers(meters: meters, frames: frames, runner: runner, cpu: cpu, progress: progress)
    }

    /// LWR-PSA after `enrolAndSign`: step 3, every meter ready, its key shares into `setup`;
    /// the aggregator that holds K.
    public static func completeLWR(
        meters: [SimulatedMeter], setup: LWRKeySetup, currentLabel: UInt64 = 0, runner: ParallelRunner = .sequential,
        cpu: MeterCPU? = nil, progress: ParallelRunner.Progress? = nil
    ) throws -> LWRAggregator {
        let sent = try distribute(meters: meters, relay: setup, runner: runner, cpu: cpu, progress: progress)
        try requireReady(meters)
        return try lwrAggregator(setup: setup, keyShares: sent, currentLabel: currentLabel)
    }

    /// The aggregator's part of LWR-PSA step 3: every meter's key-share chunks into
    /// `setup`, then the aggregator with K = Σ k_i.
    public static func lwrAggregator(
        setup: LWRKeySetup, keyShares sent: [[[UInt8]]], currentLabel: UInt64 = 0
    ) throws -> LWRAggregator {
        for frames in sent {
            for frame in frames { try setup.receiveKeyShare(frame) }
        }
        return try LWRAggregator(
            members: setup.members, parameters: setup.parameters, bounds: setup.bounds,
            aggregateKey: setup.aggregateKey(), currentLabel: currentLabel)
    }

    /// DMCFE after `enrolAndSign`: step 3, every meter's setupComplete status into `setup`.
    public static func completeDMCFE(
        meters: [SimulatedMeter], setup: DMCFEKeySetup, runner: ParallelRunner = .sequential, cpu: MeterCPU? = nil,
        progress: ParallelRunner.Progress? = nil
    ) throws {
        let sent = try distribute(meters: meters, relay: setup, runner: runner, cpu: cpu, progress: progress)
        try requireReady(meters)
        for (meter, frames) in zip(meters, sent) {
            guard !frames.isEmpty else {
                throw SimulatorError.setupStalled(meter: meter.id, detail: "no setupComplete status")
            }
            for frame in frames { try setup.receiveSetupComplete(frame) }
        }
    }

    /// DMCFE: the weight vector `weights` to every meter; each must answer with its
    /// functional-key share. Returns the share frames, one per meter in order.
    public static func functionalKeyShares(
        meters: [SimulatedMeter], setup: DMCFEKeySetup, weights: [UInt32: Int64], runner: ParallelRunner = .sequential,
        cpu: MeterCPU? = nil
    ) throws -> [[UInt8]] {
        let frames = try meters.map { try setup.weightFrames(weights, for: $0.id) }
        let sent = try answers(meters: meters, frames: frames, runner: runner, cpu: cpu)
        return try zip(meters, sent).map { meter, frames in
            let shares = frames.filter { $0.count > 1 && $0[1] == FrameType.functionalKeyShare.rawValue }
            guard shares.count == 1 else {
                throw SimulatorError.setupStalled(
                    meter: meter.id, detail: "the weight vector was answered with \(shares.count) key shares")
            }
            return shares[0]
        }
    }

    /// Paillier: the authority signs `publicKey` for every meter (under the layout of
    /// `layoutEpoch`), the aggregator relays each statement in chunks; every meter must
    /// accept it. What the meters sent back (their setupComplete status) is taken.
    public static func deliverPaillierKey(
        meters: [SimulatedMeter], publicKey: PaillierPublicKey, aggregator: PaillierAggregator,
        authority: ProvisioningAuthority, layoutEpoch: UInt32, runner: ParallelRunner = .sequential,
        cpu: MeterCPU? = nil, progress: ParallelRunner.Progress? = nil
    ) throws {
        let frames = try meters.map { meter in
            aggregator.keyStatementFrames(
                try authority.signPaillierKey(meter: meter.id, publicKey: publicKey, layoutEpoch: layoutEpoch),
                meter: meter.id)
        }
        try runner.forEach(meters.count, progress: progress) { i throws(SimulatorError) in
            let meter = meters[i]
            let event = try measure(cpu, i) { () throws(SimulatorError) -> MeterEvent in
                var event = MeterEvent.none
                do {
                    for frame in frames[i] { event = try meter.handle(frame) }
                } catch {
                    throw .setupStalled(meter: meter.id, detail: "\(error)")
                }
                return event
            }
            _ = meter.takeSent()
            guard event == .statementAccepted(.paillierKey) else {
                throw .setupStalled(meter: meter.id, detail: "the key statement answered \(event)")
            }
        }
    }

    /// Throws unless every meter finished key setup.
    static func requireReady(_ meters: [SimulatedMeter]) throws(SimulatorError) {
        for meter in meters where meter.firmware.phase != .ready {
            throw .setupStalled(meter: meter.id, detail: "not ready after the roster")
        }
    }

    /// Delivers `frames[i]` to meter i, one poll each; returns what each meter sent. A
    /// meter that answers with a status (a complaint) stops the step.
    static func answers(
        meters: [SimulatedMeter], frames: [[[UInt8]]], runner: ParallelRunner, cpu: MeterCPU?,
        progress: ParallelRunner.Progress? = nil
    ) throws(SimulatorError) -> [[[UInt8]]] {
        try runner.map(meters.count, progress: progress) { i throws(SimulatorError) in
            let meter = meters[i]
            try measure(cpu, i) { () throws(SimulatorError) in
                do {
                    for frame in frames[i] {
                        if case .statusSent(let code) = try meter.handle(frame) {
                            throw SimulatorError.setupStalled(meter: meter.id, detail: "answered with status \(code)")
                        }
                    }
                } catch let error as SimulatorError {
                    throw error
                } catch {
                    throw .setupStalled(meter: meter.id, detail: "\(error)")
                }
            }
            return meter.takeSent()
        }
    }

    static func measure<T>(
        _ cpu: MeterCPU?, _ index: Int, _ body: () throws(SimulatorError) -> T
    ) throws(SimulatorError) -> T {
        guard let cpu else { return try body() }
        return try cpu.measure(meter: index, body)
    }
}

/// Thread CPU seconds per meter, summed over the steps it is given to (key setup, key
/// delivery, functional keys). Safe to use from the runner's workers.
public final class MeterCPU: Sendable {
    private let seconds: Mutex<[Double]>

    public init(meters: Int) { seconds = Mutex([Double](repeating: 0, count: meters)) }

    /// Seconds per meter so far.
    public var perMeter: [Double] { seconds.withLock { $0 } }

    /// Adds `value` seconds to meter `index`.
    public func add(_ value: Double, meter index: Int) { seconds.withLock { $0[index] += value } }

    /// Runs `body` and adds its thread CPU time to meter `index`.
    public func measure<T, E: Error>(meter index: Int, _ body: () throws(E) -> T) throws(E) -> T {
        let start = threadCPUSeconds()
        defer { add(threadCPUSeconds() - start, meter: index) }
        return try body()
    }
}
