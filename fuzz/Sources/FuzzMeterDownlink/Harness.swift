// Harness (a): the meter's downlink, as an aggregator controls it.
//
// One provisioned meter on a simulated board, booted from a snapshot of one phase of one
// scheme (provisioned; LWR-PSA key setup and ready, seed and expanded key; DMCFE key setup
// and ready; Paillier ready), then driven by the input as a sequence of operations:
//   0–3  a valid downlink of that phase (setupBegin, peerKey, ack, weights, paillierKey),
//        mutated, with its length field, its inner tag (peer key, Paillier key) and its
//        frame tag re-sealed unless the input says not to: most inputs are authentic;
//   4    a frame built from fuzzed header fields and payload, sealed with the frame key;
//   5    raw bytes of any length the radio carries (up to its MTU);
//   6    one 15-minute interval (a reading is encrypted and stored);
//   7    a power cycle.
// Invariants checked after every downlink: the radio inbox is empty after one poll (a
// downlink the meter cannot take must not block the ones behind it: finding 9); a rejected
// downlink (no acceptance event) leaves the key-store record, the outbox (labels, groups,
// frames), the label counter, the phase and the flash (no program or erase) as they were;
// only authentic frames are accepted; a downlink never adds a reading; the label counter
// never goes back. After an interval every reading sent is a stored one re-sent or a label
// at or above the counter; a power cycle keeps record, outbox and counter. Nothing traps.

import Aggregation
import BigNum
import FuzzSupport
import MeterCrypto
import MeterHAL
@testable import MeterFirmware  // peersProcessed: a DMCFE peer key is stored as it arrives
@testable import MeterSimulator

/// One phase of one scheme: the meter's flash, RNG and clock, the downlinks that bring it
/// there after boot (RAM state: key setup in progress), and the valid downlinks to mutate.
struct Scenario {
    let name: String
    let flash: [UInt8]
    let rng: [UInt64]
    let ticks: UInt64
    let prelude: [[UInt8]]
    let downlinks: [[UInt8]]
    /// Intervals an input may run (the Paillier and DMCFE encryptions are slow).
    let intervals: Int
}

/// The fuzzed meter's identity: enough to build a board for it again.
struct MeterIdentity {
    let id: UInt32
    let group: UInt32
    let profile: [UInt32]
    let sampleSeconds: UInt64
    let frameKey: [UInt8]
    let provisioningKey: [UInt8]

    init(_ m: SimulatedMeter) {
        id = m.id
        group = m.group
        profile = m.profile
        sampleSeconds = m.timing.sampleTicks / 1000
        frameKey = m.frameKey
        provisioningKey = m.provisioningKey
    }
}

struct DownlinkHarness {
    let meter: MeterIdentity
    let scenarios: [Scenario]
}

/// Runs one 15-minute interval, sample by sample.
func runInterval(_ m: SimulatedMeter) {
    let steps = 900_000 / m.timing.sampleTicks
    for _ in 0..<steps {
        m.advance(ticks: m.timing.sampleTicks)
        _ = m.firmware.poll()
    }
}

func snapshot(
    _ name: String, _ m: SimulatedMeter, prelude: [[UInt8]] = [], downlinks: [[UInt8]], intervals: Int = 2
) -> Scenario {
    Scenario(
        name: name, flash: m.flashSnapshot(), rng: m.rngState, ticks: m.ticks, prelude: prelude, downlinks: downlinks,
        intervals: intervals)
}

/// THE setup of this harness: provisioning, key setup and key delivery for every scheme, and
/// the valid downlinks of each phase. (Provisioning and key setup are changing: adapt here.)
func buildHarness() throws -> DownlinkHarness {
    func fleet(_ scheme: SchemeID, keyMode: KeyMode = .seed) throws -> Fleet {
        var c = FleetConfiguration()
        c.meters = 3
        c.group = 7
        c.maxReading = 1000
        c.seed = 1
        c.sampleSeconds = 60
        c.threads = 1
        c.scheme = scheme
        c.keyMode = keyMode
        return try Fleet(c, labels: 4)
    }
    func pending(_ m: SimulatedMeter, labels: Int) {
        for _ in 0..<labels { runInterval(m) }
        _ = m.takeSent()  // no acks: the readings stay pending
    }

    // LWR-PSA, seed mode. The fuzzed meter is the group's first (id 1).
    let lwr = try fleet(.lwrPSA)
    let m = lwr.meters[0]
    let provisioned = snapshot("provisioned", m, downlinks: [])
    _ = try lwr.runKeySetup()
    let relay = lwr.setup!
    let lwrBegin = relay.beginFrames()[0].frame
    let lwrPeers = try relay.peerKeyFrames(for: m.id)
    let intake = FrameIntake(members: lwr.members)
    let acks = (0..<4).map { intake.acknowledgement(to: m.id, label: UInt64($0)) }
    pending(m, labels: 3)
    let lwrReady = m

    // LWR-PSA, expanded key.
    let expanded = try fleet(.lwrPSA, keyMode: .expanded)
    _ = try expanded.runKeySetup()
    let expandedBegin = expanded.setup!.beginFrames()[0].frame
    pending(expanded.meters[0], labels: 3)

    // DMCFE (its functional key for y = (1, …, 1) is set up too).
    let dmcfe = try fleet(.dmcfe)
    _ = try dmcfe.runKeySetup()
    let dmcfeRelay = dmcfe.setup! as! DMCFEKeySetup
    let dmcfeBegin = dmcfeRelay.beginFrames()[0].frame
    let dmcfePeers = try dmcfeRelay.peerKeyFrames(for: m.id)
    let ones = Dictionary(uniqueKeysWithValues: dmcfe.members.meters.map { ($0, Int64(1)) })
    let weights = try dmcfeRelay.weightFrames(ones, for: m.id)
    pending(dmcfe.meters[0], labels: 2)

    // Paillier: the supplier's key (2048 bits) for groups 7 and 9, delivered to a meter booted
    // from the provisioned snapshot.
    var generator = ReproducibleGenerator(seed: 1)
    let supplier = try PaillierPrivateKey.generate(bits: 2048, using: &generator)
    func keyFrame(groups: [UInt32]) throws -> [UInt8] {
        let members = try GroupMembers(group: 7, scheme: .paillier, frameKeys: [m.id: m.frameKey])
        let payload = PaillierProvisioning.payload(
            publicKey: supplier.publicKey, meter: m.id, groups: groups, provisioningKey: m.provisioningKey)
        return FrameIntake(members: members).seal(.paillierKey, to: m.id, label: 0, payload: payload)
    }
    let paillierKey = try keyFrame(groups: [7, 9])
    let paillierRotation = try keyFrame(groups: [9])
    let identity = MeterIdentity(m)
    let paillier = boot(provisioned, identity)
    let stored = try paillier.handle(paillierKey)
    precondition(stored == .paillierKeyStored, "the Paillier key was not stored: \(stored)")
    pending(paillier, labels: 2)
    var paillierAcks: [[UInt8]] = []
    for g in [UInt32(7), 9, 8] {
        let members = try GroupMembers(group: g, scheme: .paillier, frameKeys: [m.id: m.frameKey])
        for label in 0..<3 {
            paillierAcks.append(FrameIntake(members: members).acknowledgement(to: m.id, label: UInt64(label)))
        }
    }

    let scenarios = [
        snapshot(
            "provisioned", boot(provisioned, identity),
            downlinks: [lwrBegin, expandedBegin, dmcfeBegin, paillierKey, acks[0]]),
        Scenario(
            name: "lwr key setup", flash: provisioned.flash, rng: provisioned.rng, ticks: provisioned.ticks,
            prelude: [lwrBegin], downlinks: lwrPeers + [lwrBegin, acks[0]], intervals: 2),
        snapshot("lwr ready", lwrReady, downlinks: acks + [lwrBegin, paillierKey, weights[0]]),
        snapshot("lwr ready, expanded key", expanded.meters[0], downlinks: acks + [expandedBegin]),
        Scenario(
            name: "dmcfe key setup", flash: provisioned.flash, rng: provisioned.rng, ticks: provisioned.ticks,
            prelude: [dmcfeBegin], downlinks: dmcfePeers + [dmcfeBegin], intervals: 1),
        snapshot("dmcfe ready", dmcfe.meters[0], downlinks: weights + acks + [dmcfeBegin], intervals: 1),
        snapshot(
            "paillier ready", paillier, downlinks: paillierAcks + [paillierKey, paillierRotation, lwrBegin],
            intervals: 1),
    ]
    return DownlinkHarness(meter: identity, scenarios: scenarios)
}

/// A new board with the scenario's flash, RNG and clock, the firmware booted on it (and its
/// boot report and resends taken), then the scenario's prelude.
func boot(_ s: Scenario, _ id: MeterIdentity) -> SimulatedMeter {
    let m = try! SimulatedMeter(
        id: id.id, group: id.group, seed: 0, profile: id.profile, sampleSeconds: id.sampleSeconds,
        frameKey: id.frameKey, provisioningKey: id.provisioningKey, provision: false)
    m.restoreFlash(s.flash)
    m.rngState = s.rng
    m.advance(ticks: s.ticks - m.ticks)
    try! m.reboot()
    _ = m.firmware.poll()
    for frame in s.prelude { _ = try! m.handle(frame) }
    _ = m.takeSent()
    return m
}

/// What a rejected downlink must leave as it was.
struct MeterState: Equatable {
    struct Pending: Equatable {
        let label: UInt64
        let group: UInt32
        let frame: [UInt8]?
    }
    let record: MeterRecord?
    let storeError: KeyStoreError?
    let phase: MeterPhase?
    let nextLabel: UInt64
    let pending: [Pending]
    let paillierBits: Int?
    let paillierGroups: [UInt32]

    /// The frames are read back (and checked) only with `frames`: a rejected downlink is
    /// also checked to program and erase nothing, so the stored frames cannot change.
    init(_ m: SimulatedMeter, frames: Bool = false) {
        record = m.firmware.storedRecord
        storeError = m.firmware.storeError
        phase = m.firmware.phase
        nextLabel = m.firmware.nextLabel
        var buffer = [UInt8](repeating: 0, count: Frame.maxFrameBytes)
        pending = (0..<m.firmware.pendingReadings).map { i in
            var span = buffer.mutableSpan
            let n = frames ? try? m.firmware.pendingFrame(i, into: &span) : nil
            return Pending(
                label: m.firmware.pendingLabel(i), group: m.firmware.pendingGroup(i),
                frame: n.map { Array(buffer[0..<$0]) })
        }
        paillierBits = m.firmware.paillierKeyBits
        paillierGroups = (0..<m.firmware.paillierGroupCount).map { m.firmware.paillierGroup(at: $0) }
    }
}

/// Re-tags what the meter checks under the provisioning key inside a payload: a peer's
/// public key, the Paillier key payload.
func retagInner(_ frame: inout [UInt8], _ id: MeterIdentity) {
    guard frame.count >= FuzzFrames.minimumBytes else { return }
    let start = Frame.headerBytes
    let end = frame.count - Frame.tagBytes
    var payload = Array(frame[start..<end])
    if frame[1] == FrameType.peerKey.rawValue && payload.count == SetupPayload.peerKeyBytes {
        let peer = BigEndian.load32(payload.span, at: 0)
        let key = Array(payload[4..<(4 + FFDHGroup.byteCount)])
        var tag = [UInt8](repeating: 0, count: KeySetup.tagBytes)
        var tagSpan = tag.mutableSpan
        KeySetup.publicKeyTag(
            provisioningKey: id.provisioningKey.span, group: id.group, meter: peer, publicKey: key.span,
            into: &tagSpan)
        payload.replaceSubrange((payload.count - KeySetup.tagBytes)..<payload.count, with: tag)
    } else if frame[1] == FrameType.paillierKey.rawValue && payload.count > PaillierKeyPayload.tagBytes {
        let split = payload.count - PaillierKeyPayload.tagBytes
        let body = Array(payload[0..<split])
        var tag = [UInt8](repeating: 0, count: PaillierKeyPayload.tagBytes)
        var tagSpan = tag.mutableSpan
        PaillierKeyPayload.tag(provisioningKey: id.provisioningKey.span, meter: id.id, body: body.span, into: &tagSpan)
        payload.replaceSubrange(split..<payload.count, with: tag)
    } else {
        return
    }
    frame.replaceSubrange(start..<end, with: payload)
}

/// Operations 0–3: a valid downlink of the phase, mutated and re-sealed (unless the flags say not to).
func mutatedDownlink(_ s: Scenario, _ id: MeterIdentity, _ input: inout FuzzInput) -> [UInt8] {
    let original = s.downlinks[input.below(s.downlinks.count)]
    let flags = input.byte()
    var frame = FuzzFrames.mutate(original, &input)
    if flags & 0x01 == 0 { FuzzFrames.fixLength(&frame) }
    if flags & 0x02 == 0 { retagInner(&frame, id) }
    if flags & 0x04 == 0 { FuzzFrames.seal(&frame, key: id.frameKey) }
    return frame
}

/// Operation 4: header fields and payload from the input, sealed with the frame key.
func fuzzedDownlink(_ id: MeterIdentity, _ input: inout FuzzInput) -> [UInt8] {
    let flags = input.byte()
    let types: [UInt8] = [0x11, 0x12, 0x13, 0x14, 0x15, 0x01, 0x04]
    var frame = [UInt8](repeating: 0, count: Frame.headerBytes)
    frame[0] = flags & 0x01 != 0 ? input.byte() : Frame.version
    frame[1] = flags & 0x02 != 0 ? input.byte() : types[input.below(types.count)]
    frame[2] = input.byte() % 4
    let group = flags & 0x04 != 0 ? input.u32() : [id.group, 9, 8][input.below(3)]
    let meter = flags & 0x08 != 0 ? input.u32() : id.id
    let label = input.interestingU64()
    var span = frame.mutableSpan
    BigEndian.store(group, at: 4, in: &span)
    BigEndian.store(meter, at: 8, in: &span)
    BigEndian.store(label, at: 12, in: &span)
    let length = input.below(Frame.maxPayloadBytes + 64)
    var payload = input.take(length)
    payload += [UInt8](repeating: 0, count: length - payload.count)
    frame += payload + [UInt8](repeating: 0, count: Frame.tagBytes)
    if flags & 0x10 == 0 { FuzzFrames.fixLength(&frame) } else { frame[20] = input.byte(); frame[21] = input.byte() }
    if flags & 0x20 == 0 { retagInner(&frame, id) }
    if flags & 0x40 == 0 { FuzzFrames.seal(&frame, key: id.frameKey) }
    return frame
}

/// Delivers one downlink, polls once and checks the invariants.
func deliver(_ frame: [UInt8], to m: SimulatedMeter, _ id: MeterIdentity) {
    // Finding 9 (a downlink longer than the meter's inbox blocks the radio), while it is known.
    if tolerated(9) && frame.count > Frame.maxFrameBytes { return }
    guard (try? m.deliver(frame)) != nil else { return }  // longer than the radio's MTU
    let before = MeterState(m)
    let operations = m.flashOperations
    let peers = m.firmware.peersProcessed
    let authentic = FuzzFrames.isAuthentic(frame, key: id.frameKey)
    let event = m.firmware.poll()
    fuzzCheck(
        sim_board_radio_inbox_pending(m.board) == 0,
        "a downlink of \(frame.count) bytes still waits in the radio inbox after the poll (blocks every later one): "
            + FuzzFrames.hex(frame))
    _ = m.takeSent()
    let after = MeterState(m)
    fuzzCheck(
        after.nextLabel >= before.nextLabel, "the label counter went back: \(before.nextLabel) → \(after.nextLabel)")
    fuzzCheck(after.pending.count <= before.pending.count, "a downlink added a reading to the outbox")
    switch event {
    case .publicKeySent, .keyShareSent, .acknowledged, .paillierKeyStored:
        fuzzCheck(authentic, "accepted (\(event)) a downlink that is not authentic: \(FuzzFrames.hex(frame))")
        checkAccepted(event, before, after)
    default:
        fuzzCheck(
            after == before,
            "a rejected downlink (\(event)) changed the state:\n  before \(before)\n  after  \(after)\n  frame "
                + FuzzFrames.hex(frame))
        // A DMCFE peer key that is not the last is accepted silently: its seed goes to flash.
        let peerAccepted = m.firmware.peersProcessed == peers + 1
        fuzzCheck(!peerAccepted || authentic, "accepted a peer key that is not authentic: " + FuzzFrames.hex(frame))
        fuzzCheck(
            m.flashOperations == operations || peerAccepted,
            "a rejected downlink (\(event)) programmed or erased flash: " + FuzzFrames.hex(frame))
    }
    checkCounter(after)
}

/// An accepted downlink changed only what it may.
func checkAccepted(_ event: MeterEvent, _ before: MeterState, _ after: MeterState) {
    switch event {
    case .acknowledged(let label):
        fuzzCheck(
            after.pending.count == before.pending.count - 1,
            "an ack released \(before.pending.count - after.pending.count) readings")
        fuzzCheck(
            before.pending.contains { $0.label == label } && after.record == before.record,
            "an ack for label \(label) changed more than the outbox")
    case .publicKeySent:
        fuzzCheck(after.phase == .keySetup, "setupBegin accepted, phase \(String(describing: after.phase))")
    case .keyShareSent:
        fuzzCheck(after.phase == .ready, "key share sent, phase \(String(describing: after.phase))")
        if before.phase == .ready { fuzzCheck(after.record == before.record, "a weight vector changed the key store") }
    case .paillierKeyStored:
        fuzzCheck(after.paillierBits != nil && !after.paillierGroups.isEmpty, "a Paillier key stored but not in use")
    default:
        break
    }
}

/// Every unacknowledged reading lies below the label counter.
func checkCounter(_ s: MeterState) {
    guard s.storeError == nil else { return }
    for p in s.pending {
        fuzzCheck(p.label < s.nextLabel, "pending label \(p.label) at or above the counter \(s.nextLabel)")
    }
}

/// Operation 6: one interval; every reading sent is a stored one re-sent or a fresh label.
func interval(_ m: SimulatedMeter) {
    let before = MeterState(m, frames: true)
    runInterval(m)
    let sent = m.takeSent()
    let after = MeterState(m)
    fuzzCheck(after.nextLabel >= before.nextLabel, "the label counter went back over an interval")
    let stored = Set(before.pending.compactMap(\.frame))
    for frame in sent where frame.count >= FuzzFrames.minimumBytes && frame[1] == FrameType.reading.rawValue {
        let label = BigEndian.load64(frame.span, at: 12)
        fuzzCheck(
            stored.contains(frame) || label >= before.nextLabel,
            "a reading for label \(label) below the counter \(before.nextLabel) that is not a stored one")
    }
    checkCounter(after)
}

/// Operation 7: a power cycle keeps what is on flash.
func powerCycle(_ m: SimulatedMeter) {
    let before = MeterState(m, frames: true)
    try! m.reboot()
    _ = m.firmware.poll()
    _ = m.takeSent()
    let after = MeterState(m, frames: true)
    fuzzCheck(after.record == before.record, "a power cycle changed the key-store record")
    fuzzCheck(after.pending == before.pending, "a power cycle changed the outbox")
    fuzzCheck(after.nextLabel >= before.nextLabel, "a power cycle moved the label counter back")
}

nonisolated(unsafe) var harness: DownlinkHarness? = nil

func fuzzOne(_ bytes: [UInt8]) {
    if harness == nil { harness = try! buildHarness() }
    let h = harness!
    var input = FuzzInput(bytes)
    let scenario = h.scenarios[input.below(h.scenarios.count)]
    let m = boot(scenario, h.meter)
    var intervals = 0
    var operations = 0
    while !input.isEmpty && operations < 12 {
        operations += 1
        switch input.byte() % 8 {
        case 0...3: deliver(mutatedDownlink(scenario, h.meter, &input), to: m, h.meter)
        case 4: deliver(fuzzedDownlink(h.meter, &input), to: m, h.meter)
        case 5:
            let length = input.below(2048 + 128)
            var raw = input.take(length)
            raw += [UInt8](repeating: 0, count: length - raw.count)
            deliver(raw, to: m, h.meter)
        case 6:
            guard intervals < scenario.intervals else { continue }
            intervals += 1
            interval(m)
        default:
            powerCycle(m)
        }
    }
}
