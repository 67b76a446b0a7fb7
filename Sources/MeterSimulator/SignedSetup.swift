import Aggregation
import MeterCrypto
import MeterFirmware
import Provisioning

/// Key setup over the meters' radios as the real parties run it (docs/spec/key-setup.md):
/// the aggregator asks each meter to enrol, forwards the enrolled keys to the authority,
/// relays the signed group parameters and the roster; the meters act only on what
/// verifies. Shared by the fleet, the fault bench, the cost probes and the tests.
public enum SignedSetup {
    /// Runs `body(i)` for each meter index; the default runs them in order.
    public typealias Runner = (_ count: Int, _ body: (Int) -> Void) -> Void

    public static func sequential(_ count: Int, _ body: (Int) -> Void) {
        for i in 0..<count { body(i) }
    }

    /// Step 1 and 2: enrolment requests over the radio, public keys into `relay`, the
    /// authority's signature over the group, installed in `relay`. Returns it.
    @discardableResult
    public static func enrolAndSign(
        meters: [SimulatedMeter], relay: KeySetupRelay, authority: ProvisioningAuthority,
        runner: Runner = sequential
    ) throws -> SignedGroup {
        try collectEnrolments(meters: meters, relay: relay, runner: runner)
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
        runner: Runner = sequential
    ) throws -> SignedNeighbourGroup {
        try collectEnrolments(meters: meters, relay: relay, runner: runner)
        let signed = try authority.signNeighbourGroup(
            group: relay.members.group, epoch: relay.epoch, parameterID: relay.parameterByte,
            maxReading: relay.maxReading, enrolments: relay.enrolments, plan: plan)
        try relay.install(signed)
        return signed
    }

    /// Step 1: enrolment requests over the radio, the public keys into `relay`.
    static func collectEnrolments(meters: [SimulatedMeter], relay: KeySetupRelay, runner: Runner) throws {
        let requests = relay.enrolFrames()
        let sent = try answers(meters: meters, runner: runner, frames: requests.map { [$0.frame] })
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
        meters: [SimulatedMeter], relay: KeySetupRelay, runner: Runner = sequential
    ) throws -> [[[UInt8]]] {
        let frames = try meters.map { try relay.setupFrames(for: $0.id) }
        return try answers(meters: meters, runner: runner, frames: frames)
    }

    /// Delivers `frames[i]` to meter i, one poll each; returns what each meter sent. Every
    /// frame must be taken (no status report).
    static func answers(
        meters: [SimulatedMeter], runner: Runner, frames: [[[UInt8]]]
    ) throws -> [[[UInt8]]] {
        let count = meters.count
        let sent = UnsafeMutableBufferPointer<[[UInt8]]>.allocate(capacity: count)
        defer { sent.deallocate() }
        sent.initialize(repeating: [])
        let failures = UnsafeMutableBufferPointer<String?>.allocate(capacity: count)
        defer { failures.deallocate() }
        failures.initialize(repeating: nil)
        runner(count) { i in
            var last = MeterEvent.none
            do {
                for frame in frames[i] {
                    last = try meters[i].handle(frame)
                    if case .statusSent(let code) = last {
                        failures[i] = "answered with status \(code)"
                        break
                    }
                }
            } catch {
                failures[i] = "\(error)"
            }
            sent[i] = meters[i].takeSent()
        }
        for i in 0..<count {
            if let failure = failures[i] { throw SimulatorError.setupStalled(meter: meters[i].id, detail: failure) }
        }
        return Array(sent)
    }
}
