// Harness (a): the meter's downlink, as an aggregator controls it.
//
// One provisioned meter on a simulated board, booted from a snapshot of one phase of one
// scheme (provisioned; LWR-PSA enrolled, key setup and ready, seed and expanded key; DMCFE
// key setup and ready; Paillier ready), then driven by the input as a sequence of operations:
//   0–2  a valid downlink of that phase (enrolRequest, statement chunk, rosterEntry, ack,
//        weights), mutated, its length field fixed and its tag re-sealed with the frame key
//        of the (meter, group, epoch) its header names, unless the input says not to:
//        most inputs are authentic;
//   3    a signed statement of that phase (group parameters, Paillier key) with up to three
//        fields set to edge values (epoch, subject, group, kind, parameter set, key mode,
//        roster depth and root, n, maximum, key size, groups, N), signed again with the
//        test authority's key (or keeping the old signature), sent in its chunks;
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
import Provisioning

@testable import MeterFirmware  // peersProcessed: a DMCFE peer key is stored as it arrives
@testable import MeterSimulator

/// One phase of one scheme: the meter's flash, RNG and clock, the downlinks that bring it
/// there after boot (RAM state: key setup in progress), and the valid downlinks to mutate.
struct Scenario {
    let name: String
    let snapshot: MeterSnapshot
    let prelude: [[UInt8]]
    let downlinks: [[UInt8]]
    /// Signed statements (body) the input may mutate, re-sign and send in chunks.
    let statements: [[UInt8]]
    /// Intervals an input may run (the Paillier and DMCFE encryptions are slow).
    let intervals: Int
}

/// The fuzzed meter's identity: enough to build a board for it again, and its factory keys
/// (the harness derives the frame key of any group and epoch, as the authority does).
struct MeterIdentity {
    let factory: FactoryKeys
    let profile: [UInt32]
    let sampleSeconds: UInt64
    var id: UInt32 { factory.meter }

    init(_ m: SimulatedMeter) {
        factory = m.factory
        profile = m.profile
        sampleSeconds = m.timing.sampleTicks / 1000
    }
}

struct DownlinkHarness {
    let meter: MeterIdentity
    let scenarios: [Scenario]
    /// The test authority: mutated statements are signed again with its key.
    let authority: ProvisioningAuthority
}

func snapshot(
    _ name: String, _ m: SimulatedMeter, prelude: [[UInt8]] = [], downlinks: [[UInt8]], statements: [[UInt8]] = [],
    intervals: Int = 2
) -> Scenario {
    Scenario(
        name: name, snapshot: MeterSnapshot(m), prelude: prelude, downlinks: downlinks,
        statements: statements, intervals: intervals)
}

/// THE setup of this harness: provisioning, enrolment, signed group parameters, roster and
/// signed Paillier keys for every scheme, and the valid downlinks of each phase, through the
/// simulator's signed setup (SignedSetup, as the tests run it).
func buildHarness() throws -> DownlinkHarness {
    func pending(_ m: SimulatedMeter, labels: Int) {
        for _ in 0..<labels { runInterval(m) }
        _ = m.takeSent()  // no acks: the readings stay pending
    }

    // LWR-PSA, seed mode. The fuzzed meter is the group's first (id 1). Every fleet has the
    // same seed, so the same authority and factory keys: one provisioned snapshot for all.
    let lwr = try fuzzFleet(.lwrPSA, seed: 1)
    let m = lwr.meters[0]
    let identity = MeterIdentity(m)
    let provisioned = snapshot("provisioned", m, downlinks: [])
    _ = try lwr.runKeySetup()
    let relay = lwr.setup!
    let enrol = relay.enrolFrames()[0].frame
    let statement = try relay.statementFrames(for: m.id)
    let roster = try relay.rosterFrames(for: m.id)
    let groupBody = relay.signedGroup!.statement.body
    let intake = FrameIntake(members: lwr.members)
    let acks = (0..<4).map { intake.acknowledgement(to: m.id, label: UInt64($0)) }
    pending(m, labels: 3)
    let nextEnrol = sealDownlink(.enrolRequest, group: 7, epoch: 2, label: 2, payload: [], identity)

    // LWR-PSA, expanded key.
    let expanded = try fuzzFleet(.lwrPSA, keyMode: .expanded, seed: 1)
    _ = try expanded.runKeySetup()
    pending(expanded.meters[0], labels: 3)
    let expandedBody = expanded.setup!.signedGroup!.statement.body

    // DMCFE (its functional key for y = (1, …, 1) is set up too).
    let dmcfe = try fuzzFleet(.dmcfe, seed: 1)
    // Each scheme's image boots only its own kind of state: the DMCFE and Paillier scenarios
    // start from a meter provisioned with their image (same authority, same identity).
    let dmcfeProvisioned = snapshot("dmcfe provisioned", dmcfe.meters[0], downlinks: [])
    _ = try dmcfe.runKeySetup()
    let dmcfeRelay = dmcfe.setup! as! DMCFEKeySetup
    let dmcfeStatement = try dmcfeRelay.statementFrames(for: m.id)
    let dmcfeRoster = try dmcfeRelay.rosterFrames(for: m.id)
    let dmcfeBody = dmcfeRelay.signedGroup!.statement.body
    let ones = Dictionary(uniqueKeysWithValues: dmcfe.members.meters.map { ($0, Int64(1)) })
    let weights = try dmcfeRelay.weightFrames(ones, for: m.id)
    pending(dmcfe.meters[0], labels: 2)

    // Paillier: the supplier's key (2048 bits) for groups 7 and 9, signed by the authority,
    // delivered to a meter booted from the provisioned snapshot.
    var generator = SeededGenerator(seed: 1)
    let supplier = try PaillierPrivateKey.generate(bits: 2048, using: &generator)
    func keyStatement(groups: [UInt32], epoch: UInt32) -> (body: [UInt8], frames: [[UInt8]]) {
        // Signed directly (the test authority's key), whatever layout policy would allow.
        let signed = lwr.authority.sign(
            PaillierKeyStatement.body(publicKey: supplier.publicKey, meter: m.id, groups: groups, epoch: epoch))
        let frames = signed.chunkPayloads.enumerated().map { c, payload in
            sealDownlink(
                .statement, group: groups[0], epoch: epoch, label: Statement.label(epoch: epoch, chunk: c),
                payload: payload, identity)
        }
        return (signed.body, frames)
    }
    let paillierKey = keyStatement(groups: [7, 9], epoch: 1)
    let rotation = keyStatement(groups: [9], epoch: 2)
    let paillierProvisioned = snapshot(
        "paillier provisioned", try fuzzFleet(.paillier, seed: 1).meters[0], downlinks: [])
    let paillier = boot(paillierProvisioned, identity)
    var event = MeterEvent.none
    for frame in paillierKey.frames { event = try paillier.handle(frame) }
    precondition(event == .statementAccepted(.paillierKey), "the Paillier key was not stored: \(event)")
    pending(paillier, labels: 2)
    var paillierAcks: [[UInt8]] = []
    for g in [UInt32(7), 9, 8] {
        for label in 0..<3 {
            paillierAcks.append(sealDownlink(.ack, group: g, epoch: 1, label: UInt64(label), payload: [], identity))
        }
    }

    let scenarios = [
        snapshot("provisioned", boot(provisioned, identity), downlinks: [enrol, acks[0]] + paillierKey.frames),
        Scenario(
            name: "lwr enrolled", snapshot: provisioned.snapshot,
            prelude: [enrol], downlinks: statement + [enrol], statements: [groupBody, paillierKey.body],
            intervals: 1),
        Scenario(
            name: "lwr key setup", snapshot: provisioned.snapshot,
            prelude: [enrol] + statement, downlinks: roster + [statement[0], enrol, acks[0]], statements: [groupBody],
            intervals: 1),
        snapshot(
            "lwr ready", m, downlinks: acks + [nextEnrol, weights[0]], statements: [groupBody, paillierKey.body]
        ),
        snapshot("lwr ready, expanded key", expanded.meters[0], downlinks: acks, statements: [expandedBody]),
        Scenario(
            name: "dmcfe key setup", snapshot: dmcfeProvisioned.snapshot,
            prelude: [enrol] + dmcfeStatement, downlinks: dmcfeRoster + [dmcfeStatement[0]], statements: [dmcfeBody],
            intervals: 1),
        snapshot(
            "dmcfe ready", dmcfe.meters[0], downlinks: weights + acks + [nextEnrol], statements: [dmcfeBody],
            intervals: 1),
        snapshot(
            "paillier ready", paillier, downlinks: paillierAcks + rotation.frames,
            statements: [paillierKey.body, rotation.body], intervals: 1),
    ]
    return DownlinkHarness(meter: identity, scenarios: scenarios, authority: lwr.authority)
}

/// Seals a downlink with the frame key of (meter, group, epoch), as an aggregator holding it does.
func sealDownlink(
    _ type: FrameType, group: UInt32, epoch: UInt32, label: UInt64, payload: [UInt8], _ id: MeterIdentity
) -> [UInt8] {
    var frame = [UInt8](repeating: 0, count: Frame.headerBytes)
    frame[0] = Frame.version
    frame[1] = type.rawValue
    frame[2] = SchemeID.lwrPSA.rawValue
    var span = frame.mutableSpan
    BigEndian.store(group, at: 4, in: &span)
    BigEndian.store(id.id, at: 8, in: &span)
    BigEndian.store(label, at: 12, in: &span)
    frame += payload + [UInt8](repeating: 0, count: Frame.tagBytes)
    FuzzFrames.fixLength(&frame)
    FuzzFrames.seal(&frame, key: frameKey(group: group, epoch: epoch, id))
    return frame
}

func frameKey(group: UInt32, epoch: UInt32, _ id: MeterIdentity) -> [UInt8] {
    var key = [UInt8](repeating: 0, count: Frame.keyBytes)
    var span = key.mutableSpan
    FrameKeys.derive(secret: id.factory.frameSecret.span, group: group, epoch: epoch, into: &span)
    return key
}

/// The key a downlink's header asks the meter to check it under (its epoch as the firmware
/// reads it: the label of an enrolment request or statement chunk, else the meter's epoch
/// for that group), or nil when the header names none.
func downlinkKey(_ frame: [UInt8], _ m: SimulatedMeter, _ id: MeterIdentity) -> [UInt8]? {
    guard frame.count >= FuzzFrames.minimumBytes, let type = FrameType(rawValue: frame[1]),
        let scheme = SchemeID(rawValue: frame[2])
    else { return nil }
    let header = FrameHeader(
        type: type, scheme: scheme, group: BigEndian.load32(frame.span, at: 4), meter: id.id,
        label: BigEndian.load64(frame.span, at: 12), payloadLength: frame.count - FuzzFrames.minimumBytes)
    let epoch = m.firmware.downlinkEpoch(header) ?? 1
    return frameKey(group: header.group, epoch: epoch, id)
}

/// A new board with the scenario's flash, RNG and clock, the firmware booted on it (and its
/// boot report and resends taken), then the scenario's prelude.
func boot(_ s: Scenario, _ id: MeterIdentity) -> SimulatedMeter {
    let m = s.snapshot.boot(factory: id.factory, profile: id.profile, sampleSeconds: id.sampleSeconds)
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

/// Operations 0–2: a valid downlink of the phase, mutated, its length field fixed and its
/// tag re-sealed with the key its (mutated) header asks for, unless the flags say not to.
func mutatedDownlink(_ s: Scenario, _ m: SimulatedMeter, _ id: MeterIdentity, _ input: inout FuzzInput) -> [UInt8] {
    let original = s.downlinks[input.below(s.downlinks.count)]
    let flags = input.byte()
    var frame = FuzzFrames.mutate(original, &input)
    if flags & 0x01 == 0 { FuzzFrames.fixLength(&frame) }
    if flags & 0x04 == 0, let key = downlinkKey(frame, m, id) { FuzzFrames.seal(&frame, key: key) }
    return frame
}

/// Operation 4: header fields and payload from the input, sealed with the key the header asks for.
func fuzzedDownlink(_ m: SimulatedMeter, _ id: MeterIdentity, _ input: inout FuzzInput) -> [UInt8] {
    let flags = input.byte()
    let types: [UInt8] = [0x11, 0x12, 0x13, 0x14, 0x16, 0x01, 0x04]
    var frame = [UInt8](repeating: 0, count: Frame.headerBytes)
    frame[0] = flags & 0x01 != 0 ? input.byte() : Frame.version
    frame[1] = flags & 0x02 != 0 ? input.byte() : types[input.below(types.count)]
    frame[2] = input.byte() % 4
    let group = flags & 0x04 != 0 ? input.u32() : [UInt32(7), 9, 8][input.below(3)]
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
    if flags & 0x10 == 0 {
        FuzzFrames.fixLength(&frame)
    } else {
        frame[20] = input.byte()
        frame[21] = input.byte()
    }
    if flags & 0x40 == 0, let key = downlinkKey(frame, m, id) { FuzzFrames.seal(&frame, key: key) }
    return frame
}

/// Signatures of mutated statement bodies (signing takes tens of milliseconds; the
/// mutations draw from small value sets, so bodies repeat).
nonisolated(unsafe) var signatures: [[UInt8]: SignedStatement] = [:]

/// Operation 3: a statement of the phase with up to three fields set to edge values, signed
/// again by the test authority (unless the flags say not to: then the old signature is
/// kept), sent in chunks under the frame key of its group and epoch.
func signedStatement(_ s: Scenario, _ h: DownlinkHarness, _ input: inout FuzzInput) -> [[UInt8]] {
    guard !s.statements.isEmpty else { return [] }
    let original = s.statements[input.below(s.statements.count)]
    var body = original
    let flags = input.byte()
    for _ in 0..<Int(flags & 3) {
        let count = body.count
        var resize = 0
        let epoch = BigEndian.load32(original.span, at: 4)
        var span = body.mutableSpan
        switch input.byte() % 12 {
        case 0: BigEndian.store([epoch &- 1, epoch + 1, 0, .max, epoch &+ 2][input.below(5)], at: 4, in: &span)
        case 1: BigEndian.store([UInt32(0), h.meter.id, h.meter.id + 1, .max][input.below(4)], at: 8, in: &span)
        case 2: BigEndian.store([UInt32(0), 7, 8, 9, .max][input.below(5)], at: 12, in: &span)
        case 3: span[0] = [1, 2, 3, 4, 0, 255][input.below(6)]
        case 4: span[1] = [0, 1, 2][input.below(3)]
        case 5 where count >= 64:
            // group parameters: parameter id, key mode, roster depth
            span[16] = [1, 2, DMCFE.parameterID, 0, 3, 255][input.below(6)]
            span[17] = [0, 1, 2][input.below(3)]
        case 6 where count >= 64:
            span[18] = [0, 1, 2, 3, 16, 17, 255][input.below(7)]
            span[19] = input.byte() & 1
        case 7 where count >= 64:
            BigEndian.store([UInt32(0), 1, 2, 3, 4, 5, 1 << 16, .max][input.below(8)], at: 20, in: &span)
        case 8 where count >= 64:
            BigEndian.store([UInt64(0), 1, 1000, 1 << 20, 1 << 47, 1 << 48, .max][input.below(7)], at: 24, in: &span)
        case 9 where count >= 64:
            span[32 + input.below(32)] ^= 1
        case 5, 6, 7, 8, 9:
            // Paillier key: bits, group count, groups, a byte of N (a body cut short by an
            // earlier mutation has fewer of them: only bytes inside it are touched).
            switch input.byte() % 4 {
            case 0 where count >= 18:
                BigEndian.store([UInt16(2048), 3072, 0, 2047, 4096][input.below(5)], at: 16, in: &span)
            case 1 where count >= 19: span[18] = [0, 1, 2, 3, 4, 5, 255][input.below(7)]
            case 2 where count >= 36:
                BigEndian.store([UInt32(0), 7, 8, 9, .max][input.below(5)], at: 20 + 4 * input.below(4), in: &span)
            case 3:
                let i = 36 + [0, 1, 127, 255][input.below(4)]
                if i < count { span[i] ^= [1, 0x80, 0xFF][input.below(3)] }
            default: break
            }
        case 10:
            resize = -[1, 8, 16][input.below(3)]
        default:
            resize = 4
        }
        _ = consume span
        if resize < 0 {
            body.removeLast(min(-resize, body.count))
        } else if resize > 0 {
            body += [UInt8](repeating: 0, count: resize)
        }
    }
    let statement: SignedStatement
    if flags & 0x80 != 0 {
        statement = SignedStatement(body: body, signature: h.authority.sign(original).signature)
    } else if let cached = signatures[body] {
        statement = cached
    } else {
        statement = h.authority.sign(body)
        if signatures.count < 4096 { signatures[body] = statement }
    }
    let epoch = statement.epoch
    let group = body.count >= 16 && statement.group != 0 ? statement.group : 7
    return statement.chunkPayloads.enumerated().map { c, payload in
        sealDownlink(
            .statement, group: group, epoch: epoch, label: Statement.label(epoch: epoch, chunk: c), payload: payload,
            h.meter)
    }
}

/// Delivers one downlink, polls once and checks the invariants.
func deliver(_ frame: [UInt8], to m: SimulatedMeter, _ id: MeterIdentity) {
    // Finding 9 (a downlink longer than the meter's inbox blocks the radio), while it is known.
    if tolerated(9) && frame.count > Frame.maxFrameBytes { return }
    let authentic = downlinkKey(frame, m, id).map { FuzzFrames.isAuthentic(frame, key: $0) } ?? false
    guard (try? m.deliver(frame)) != nil else { return }  // longer than the radio's MTU
    let before = MeterState(m)
    let operations = m.board.flashOperations
    let peers = m.firmware.peersProcessed
    let event = m.firmware.poll()
    trace("downlink type \(frame.count > 1 ? frame[1] : 0), \(frame.count) bytes, authentic \(authentic): \(event)")
    fuzzCheck(
        m.board.inboxPending == 0,
        "a downlink of \(frame.count) bytes still waits in the radio inbox after the poll (blocks every later one): "
            + FuzzFrames.hex(frame))
    _ = m.takeSent()
    let after = MeterState(m)
    fuzzCheck(
        after.nextLabel >= before.nextLabel, "the label counter went back: \(before.nextLabel) → \(after.nextLabel)")
    fuzzCheck(after.pending.count <= before.pending.count, "a downlink added a reading to the outbox")
    switch event {
    case .publicKeySent, .statementAccepted, .keyShareSent, .acknowledged:
        fuzzCheck(authentic, "accepted (\(event)) a downlink that is not authentic: \(FuzzFrames.hex(frame))")
        checkAccepted(event, before, after)
    default:
        fuzzCheck(
            after == before,
            "a rejected downlink (\(event)) changed the state:\n  before \(before)\n  after  \(after)\n  frame "
                + FuzzFrames.hex(frame))
        // A DMCFE roster entry that is not the last is accepted silently: its seed goes to flash.
        let peerAccepted = m.firmware.peersProcessed == peers + 1
        fuzzCheck(!peerAccepted || authentic, "accepted a roster entry that is not authentic: " + FuzzFrames.hex(frame))
        fuzzCheck(
            m.board.flashOperations == operations || peerAccepted,
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
        fuzzCheck(after.phase == before.phase, "an enrolment changed the phase")
    case .statementAccepted(.groupParameters):
        fuzzCheck(after.phase == .keySetup, "group parameters accepted, phase \(String(describing: after.phase))")
        fuzzCheck(
            (after.record?.groupEpoch ?? 0) >= (before.record?.groupEpoch ?? 0), "group parameters moved the epoch back"
        )
    case .statementAccepted(.paillierKey):
        fuzzCheck(after.paillierBits != nil && !after.paillierGroups.isEmpty, "a Paillier key stored but not in use")
        fuzzCheck(
            (after.record?.paillierEpoch ?? 0) > (before.record?.paillierEpoch ?? 0),
            "a Paillier key statement did not move the epoch forward")
    case .keyShareSent:
        fuzzCheck(after.phase == .ready, "key share sent, phase \(String(describing: after.phase))")
        if before.phase == .ready { fuzzCheck(after.record == before.record, "a weight vector changed the key store") }
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
    var statements = 0
    while !input.isEmpty && operations < 24 {
        operations += 1
        switch input.byte() % 8 {
        case 0...2: deliver(mutatedDownlink(scenario, m, h.meter, &input), to: m, h.meter)
        case 3:
            // A statement is 18 frames and an SLH-DSA verification: at most two per input.
            guard statements < 2 else { continue }
            statements += 1
            for frame in signedStatement(scenario, h, &input) { deliver(frame, to: m, h.meter) }
        case 4: deliver(fuzzedDownlink(m, h.meter, &input), to: m, h.meter)
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
