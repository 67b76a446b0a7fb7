// Harness (c): the aggregator's frame intake.
//
// A group of three real meters per scheme (LWR-PSA, Paillier at 2048 bits, DMCFE) after key
// setup, their reading frames for two labels kept as templates; the aggregator's state is
// reset before every input. The input picks a target (the LWR-PSA, Paillier or DMCFE
// pipeline, or LWR-PSA key setup) and a sequence of operations:
//   0–3  a valid frame mutated, its length field fixed and its tag re-sealed with the key of
//        the meter its (mutated) header names, unless the input says not to;
//   4    a frame from fuzzed header fields and payload, sealed with a member's key;
//   5    raw bytes;
//   6    the window moved to a fuzzed label;
//   7    a label's sum asked for.
// Invariants: nothing traps; a frame that is rejected (throws), or acknowledged as a
// duplicate or as too old, changes nothing (window, labels, meters per label, partial
// aggregates; key setup: public keys, chunks, the key sum); an accepted frame is authentic
// under the key of the meter it names and adds exactly that meter to exactly its label.

import BigNum
import FuzzSupport
import MeterCrypto
import MeterFirmware
import Provisioning

@testable import Aggregation
@testable import MeterSimulator

/// One scheme's aggregator, its pipeline and the frames to mutate.
struct Target {
    let name: String
    let members: GroupMembers
    let pipeline: GroupSumPipeline
    let reset: () -> Void
    let state: () -> [String]
    let templates: [[UInt8]]
    let payloadBytes: Int
}

/// LWR-PSA key setup's intake, started again for every input.
struct SetupTarget {
    let members: GroupMembers
    let maxReading: UInt64
    let publicKeys: [[UInt8]]
    let keyShares: [[UInt8]]
}

struct IntakeHarness {
    let targets: [Target]
    let setup: SetupTarget
}

/// The window and every label's meters and partial aggregate, as comparable strings.
func describe<P>(_ labels: LabelCollection<P>, _ partial: (P) -> String) -> [String] {
    ["current \(labels.current)"]
        + labels.slots.keys.sorted().map { label in
            let slot = labels.slots[label]!
            return "\(label): \(slot.reported.sorted()) \(partial(slot.partial))"
        }
}

/// THE setup of this harness: every scheme's group set up by the simulator, and the meters'
/// reading frames. (Provisioning and key setup are changing: adapt here.)
func buildHarness() throws -> IntakeHarness {
    func readings(_ f: Fleet) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        for _ in 0..<2 {
            for m in f.meters {
                runInterval(m)
                frames += m.takeSent().filter { $0.count > 1 && $0[1] == FrameType.reading.rawValue }
            }
        }
        return frames
    }

    let lwr = try fuzzFleet(.lwrPSA, seed: 3)
    _ = try lwr.runKeySetup()
    let lwrAggregator = lwr.aggregator!
    let paillier = try fuzzFleet(.paillier, seed: 3)
    _ = try paillier.runKeySetup()
    let paillierAggregator = paillier.paillierAggregator!
    let dmcfe = try fuzzFleet(.dmcfe, seed: 3)
    _ = try dmcfe.runKeySetup()
    let dmcfeAggregator = dmcfe.dmcfeAggregator!
    let targets = [
        Target(
            name: "lwr", members: lwr.members, pipeline: lwr.pipeline!,
            reset: { lwrAggregator.labels = LabelCollection(current: 0) },
            state: { describe(lwrAggregator.labels) { "\($0)" } }, templates: readings(lwr), payloadBytes: 8),
        Target(
            name: "paillier", members: paillier.members, pipeline: paillier.pipeline!,
            reset: {
                paillierAggregator.labels = LabelCollection(current: 0)
                paillierAggregator.ledger = [:]
            },
            state: {
                describe(paillierAggregator.labels) { "\($0)" } + [
                    "ledger \(paillierAggregator.ledger.mapValues(\.count))"
                ]
            },
            templates: readings(paillier), payloadBytes: 512),
        Target(
            name: "dmcfe", members: dmcfe.members, pipeline: dmcfe.pipeline!,
            reset: { dmcfeAggregator.labels = LabelCollection(current: 0) },
            state: { describe(dmcfeAggregator.labels) { "\($0.limbs[0]) \($0.limbs[47])" } },
            templates: readings(dmcfe), payloadBytes: DMCFE.ciphertextBytes),
    ]

    // LWR-PSA key setup, run by hand to keep the meters' public keys and key shares.
    let keyed = try fuzzFleet(.lwrPSA, seed: 3)
    let relay = keyed.setup as! LWRKeySetup
    var publicKeys: [[UInt8]] = []
    for (i, request) in relay.enrolFrames().enumerated() {
        _ = try keyed.meters[i].handle(request.frame)
        publicKeys += keyed.meters[i].takeSent().filter { $0[1] == FrameType.publicKey.rawValue }
    }
    for frame in publicKeys { try relay.receivePublicKey(frame) }
    let signed = try keyed.authority.signGroup(
        group: relay.members.group, epoch: relay.epoch, parameterID: relay.parameterByte, keyMode: relay.keyMode,
        maxReading: relay.maxReading, enrolments: relay.enrolments)
    try relay.install(signed)
    let keyShares = try SignedSetup.distribute(meters: keyed.meters, relay: relay).flatMap { $0 }.filter {
        $0[1] == FrameType.keyShare.rawValue
    }
    let setup = SetupTarget(
        members: keyed.members, maxReading: keyed.configuration.maxReading, publicKeys: publicKeys, keyShares: keyShares
    )
    return IntakeHarness(targets: targets, setup: setup)
}

// MARK: - frames from the input

/// Re-seals with the key of the meter the header names (a member), else with `fallback`.
func reseal(_ frame: inout [UInt8], _ members: GroupMembers, fallback: UInt32) {
    guard frame.count >= FuzzFrames.minimumBytes else { return }
    let named = BigEndian.load32(frame.span, at: 8)
    guard let key = members.frameKey(of: named) ?? members.frameKey(of: fallback) else { return }
    FuzzFrames.seal(&frame, key: key)
}

func frameFromInput(_ templates: [[UInt8]], _ members: GroupMembers, payloadBytes: Int, _ input: inout FuzzInput)
    -> [UInt8]
{
    let op = input.byte() % 6
    switch op {
    case 0...3:
        let original = templates[input.below(templates.count)]
        let flags = input.byte()
        var frame = FuzzFrames.mutate(original, &input)
        if flags & 0x01 == 0 { FuzzFrames.fixLength(&frame) }
        if flags & 0x02 == 0 { reseal(&frame, members, fallback: BigEndian.load32(original.span, at: 8)) }
        return frame
    case 4:
        let flags = input.byte()
        var frame = [UInt8](repeating: 0, count: Frame.headerBytes)
        frame[0] = flags & 0x01 != 0 ? input.byte() : Frame.version
        frame[1] = flags & 0x02 != 0 ? input.byte() : [0x01, 0x02, 0x03, 0x04, 0x05, 0x13][input.below(6)]
        frame[2] = flags & 0x04 != 0 ? input.byte() : members.scheme.rawValue
        var span = frame.mutableSpan
        BigEndian.store(flags & 0x08 != 0 ? input.u32() : members.group, at: 4, in: &span)
        let meter = flags & 0x10 != 0 ? input.u32() : members.meters[input.below(members.count)]
        BigEndian.store(meter, at: 8, in: &span)
        BigEndian.store(input.interestingU64(), at: 12, in: &span)
        let length = input.byte() < 192 ? payloadBytes : input.below(Frame.maxPayloadBytes + 32)
        var payload = input.take(length)
        payload += [UInt8](repeating: 0, count: length - payload.count)
        frame += payload + [UInt8](repeating: 0, count: Frame.tagBytes)
        FuzzFrames.fixLength(&frame)
        if flags & 0x20 == 0 { reseal(&frame, members, fallback: members.meters[0]) }
        return frame
    default:
        let length = input.below(Frame.maxFrameBytes + 64)
        var raw = input.take(length)
        raw += [UInt8](repeating: 0, count: length - raw.count)
        return raw
    }
}

func isAuthentic(_ frame: [UInt8], _ members: GroupMembers) -> Bool {
    guard frame.count >= FuzzFrames.minimumBytes, let key = members.frameKey(of: BigEndian.load32(frame.span, at: 8))
    else { return false }
    return FuzzFrames.isAuthentic(frame, key: key)
}

// MARK: - targets

func fuzzPipeline(_ t: Target, _ input: inout FuzzInput) {
    t.reset()
    var operations = 0
    while !input.isEmpty && operations < 16 {
        operations += 1
        let before = t.state()
        switch input.byte() % 8 {
        case 0...5:
            let frame = frameFromInput(t.templates, t.members, payloadBytes: t.payloadBytes, &input)
            let receipt = try? t.pipeline.acceptAndAcknowledge(frame)
            let after = t.state()
            if let reported = receipt?.reported {
                fuzzCheck(
                    isAuthentic(frame, t.members), "accepted a frame that is not authentic: " + FuzzFrames.hex(frame))
                let header = try! Frame.parseHeader(frame.span)
                fuzzCheck(
                    after.count == before.count || after.count == before.count + 1,
                    "an accepted frame changed more than one label")
                fuzzCheck(reported >= 1 && reported <= t.members.count, "\(reported) meters reported a label")
                fuzzCheck(
                    t.pipeline.members.meters.contains(header.meter), "accepted a frame of meter \(header.meter)")
            } else {
                fuzzCheck(
                    after == before,
                    "a rejected or repeated frame changed the aggregator:\n  before \(before)\n  after  \(after)\n  frame "
                        + FuzzFrames.hex(frame))
            }
        case 6:
            let label = input.byte() < 160 ? UInt64(input.byte()) : input.interestingU64()
            // Finding 10 (advance(to: 2^64 − 1) inverts the window's range), while it is known.
            if tolerated(10) && label > UInt64.max - 2 { continue }
            _ = try? t.pipeline.advance(to: label)  // past 2^64 − 1 − lookahead: a typed refusal
        default:
            _ = try? t.pipeline.sum(label: UInt64(input.byte() % 4))
            fuzzCheck(t.state() == before, "asking for a sum changed the aggregator")
        }
    }
}

func fuzzKeySetup(_ s: SetupTarget, _ input: inout FuzzInput) {
    let relay = try! LWRKeySetup(members: s.members, parameters: .standard, maxReading: s.maxReading)
    func state() -> [String] {
        relay.publicKeys.keys.sorted().map { "\($0): \(relay.publicKeys[$0]!.count)" }
            + relay.chunksReceived.keys.sorted().map { "\($0): \(relay.chunksReceived[$0]!.sorted())" }
            + ["\(relay.sum.reduce(0, &+)) \(relay.sum.first ?? 0)"]
    }
    var operations = 0
    while !input.isEmpty && operations < 12 {
        operations += 1
        let keys = input.byte() & 1 == 0
        let frame = frameFromInput(
            keys ? s.publicKeys : s.keyShares, s.members, payloadBytes: keys ? 400 : 1024, &input)
        let before = state()
        let accepted: Bool
        do {
            if keys { try relay.receivePublicKey(frame) } else { try relay.receiveKeyShare(frame) }
            accepted = true
        } catch {
            accepted = false
        }
        if accepted {
            fuzzCheck(isAuthentic(frame, s.members), "key setup accepted a frame that is not authentic")
        } else {
            fuzzCheck(state() == before, "a rejected key-setup frame changed the setup: " + FuzzFrames.hex(frame))
        }
        _ = relay.enrolments
        if relay.isComplete { _ = try? relay.aggregateKey() }
    }
}

nonisolated(unsafe) var harness: IntakeHarness? = nil

func fuzzOne(_ bytes: [UInt8]) {
    if harness == nil { harness = try! buildHarness() }
    let h = harness!
    var input = FuzzInput(bytes)
    let target = input.below(h.targets.count + 1)
    if target < h.targets.count {
        fuzzPipeline(h.targets[target], &input)
    } else {
        fuzzKeySetup(h.setup, &input)
    }
}
