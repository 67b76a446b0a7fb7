// Harness (b): the meter booting from arbitrary flash.
//
// The input picks a valid flash image (empty; provisioned; enrolled; key setup cut short
// after the signed group parameters; LWR-PSA ready with seed or expanded key; DMCFE ready;
// Paillier ready, each with readings in the outbox) and changes it:
//   - raw writes anywhere in the key store, expanded key, both outbox rings and the DMCFE
//     peer seeds;
//   - a key-store slot holding a record built from fuzzed fields (group size 0, label floor
//     2^64 − 1, epochs at their edges, unknown parameter sets, a Paillier modulus of
//     garbage, ...);
//   - an outbox entry with fuzzed header fields (label, length, sequence, flags, marks);
//   - then, unless the input says not to, every committed record is re-sealed (checksum,
//     syndrome; peer-seed checksums), so the values pass their checks and reach the
//     arithmetic behind them. Without re-sealing, a single changed bit is corrected.
// The meter then boots and runs a few steps from the input: intervals, idle work, acks
// for its pending readings, a weight vector naming it (DMCFE), a fuzzed authentic downlink,
// power cycles. Invariants: nothing traps; a meter whose store is empty or corrupt sends no
// reading, key or key share; a (label, group) is never sent with two different frames (a
// label is never encrypted twice); a new reading's label is at or above the counter; a
// power cycle keeps the record and moves the counter only forward.

import Aggregation
import BigNum
import FuzzSupport
import MeterCrypto
import Provisioning

@testable import MeterFirmware
@testable import MeterSimulator

/// A flash image of the fuzzed meter with the RNG and clock it was taken with.
struct Image {
    let name: String
    let snapshot: MeterSnapshot
}

struct BootHarness {
    let factory: FactoryKeys
    let id: UInt32
    let group: UInt32
    let profile: [UInt32]
    let sampleSeconds: UInt64
    let images: [Image]
    let layout: MeterFlashLayout
    /// A real Paillier modulus (2048 bits), for records that should pass the key checks.
    let modulus: [UInt8]
    /// The authority's public key the meters hold.
    let authorityKey: [UInt8]
}

/// THE setup of this harness: meters provisioned and set up with every scheme, their flash
/// taken as images. (Provisioning and key setup are changing: adapt here.)
func buildHarness() throws -> BootHarness {
    func image(_ name: String, _ m: SimulatedMeter) -> Image {
        Image(name: name, snapshot: MeterSnapshot(m))
    }
    /// Readings for `labels` intervals, the first `acked` acknowledged.
    func readings(_ f: Fleet, labels: Int, acked: Int) throws {
        let m = f.meters[0]
        for label in 0..<labels {
            runInterval(m)
            _ = m.takeSent()
            if label < acked {
                for i in 0..<m.firmware.pendingReadings where m.firmware.pendingLabel(i) == UInt64(label) {
                    let group = m.firmware.pendingGroup(i)
                    let members = try f.authority.members(
                        group: group, epoch: f.epoch, scheme: f.members.scheme, meters: [m.id])
                    _ = try m.handle(FrameIntake(members: members).acknowledgement(to: m.id, label: UInt64(label)))
                    break
                }
            }
        }
        _ = m.takeSent()
    }

    var images: [Image] = []
    let lwr = try fuzzFleet(.lwrPSA, seed: 2)
    let m = lwr.meters[0]
    images.append(image("provisioned", m))
    // Enrolled (the record holds the DH private key), and key setup cut short after the
    // signed group parameters (the record is in phase key setup).
    let cut = try fuzzFleet(.lwrPSA, seed: 2)
    let relay = cut.setup!
    try SignedSetup.enrolAndSign(meters: cut.meters, relay: relay, authority: cut.authority)
    images.append(image("enrolled", cut.meters[0]))
    for frame in try relay.statementFrames(for: cut.meters[0].id) { _ = try cut.meters[0].handle(frame) }
    images.append(image("key setup", cut.meters[0]))
    _ = try lwr.runKeySetup()
    try readings(lwr, labels: 4, acked: 2)
    images.append(image("lwr ready", m))
    let expanded = try fuzzFleet(.lwrPSA, keyMode: .expanded, seed: 2)
    _ = try expanded.runKeySetup()
    try readings(expanded, labels: 3, acked: 1)
    images.append(image("lwr ready, expanded key", expanded.meters[0]))
    let dmcfe = try fuzzFleet(.dmcfe, seed: 2)
    _ = try dmcfe.runKeySetup()
    try readings(dmcfe, labels: 2, acked: 1)
    images.append(image("dmcfe ready", dmcfe.meters[0]))
    let paillier = try fuzzFleet(.paillier, seed: 2)
    _ = try paillier.runKeySetup()
    try readings(paillier, labels: 2, acked: 1)
    images.append(image("paillier ready", paillier.meters[0]))
    let first = images[0].snapshot
    let empty = Image(
        name: "empty",
        snapshot: MeterSnapshot(
            flash: [UInt8](repeating: 0xFF, count: first.flash.count), rng: first.rng, ticks: first.ticks))
    images.append(empty)
    let n = paillier.paillierAggregator!.publicKey
    return BootHarness(
        factory: m.factory, id: m.id, group: 7, profile: m.profile, sampleSeconds: m.timing.sampleTicks / 1000,
        images: images,
        layout: m.firmware.layout, modulus: n.n.bigEndianBytes(length: n.modulusBytes)!,
        authorityKey: lwr.authority.publicKey)
}

// MARK: - the flash regions and re-sealing

/// Byte ranges of the regions the firmware reads at boot and after.
func regions(_ h: BootHarness) -> [Range<Int>] {
    let s = Int(h.layout.sectorSize)
    let l = h.layout
    return [
        Int(l.keyStoreSector) * s..<Int(l.keyStoreSector + 2) * s,
        Int(l.expandedKeySector) * s..<Int(l.expandedKeySector + l.expandedKeySectors) * s,
        Int(l.outboxSector) * s..<Int(l.endSector) * s,
        Int(l.wideOutboxSector) * s..<Int(l.wideEndSector) * s,
        Int(l.peerSeedSector) * s..<Int(l.peerSeedSector + 1) * s,  // peer seeds (LWR-PSA, DMCFE)
    ]
}

/// Seals `length` bytes at `at` (checksum and syndrome) as the firmware does.
func seal(_ flash: inout [UInt8], at: Int, length: Int, domain: StaticString) {
    var record = Array(flash[at..<(at + length + FlashFormat.eccBytes)])
    var span = record.mutableSpan
    FlashFormat.seal(&span, length: length, domain: domain)
    flash.replaceSubrange(at..<(at + record.count), with: record)
}

/// Outbox rings: first byte, sectors, entry bytes.
func rings(_ h: BootHarness) -> [(start: Int, sectors: Int, entry: Int)] {
    let s = Int(h.layout.sectorSize)
    return [
        (Int(h.layout.outboxSector) * s, Int(h.layout.outboxSectors), Outbox.entryBytes(forFrame: 48)),
        (
            Int(h.layout.wideOutboxSector) * s, Int(h.layout.wideOutboxSectors),
            Outbox.entryBytes(forFrame: MeterFlashLayout.wideFrameBytes)
        ),
    ]
}

/// Re-seals every committed key-store slot and outbox entry and every peer-seed slot.
func resealAll(_ flash: inout [UInt8], _ h: BootHarness) {
    let s = Int(h.layout.sectorSize)
    let slots = (s - FlashFormat.markerBytes) / KeyStore.slotBytes
    for sector in 0..<2 {
        for i in 0..<slots {
            let at = (Int(h.layout.keyStoreSector) + sector) * s + i * KeyStore.slotBytes
            guard FlashFormat.isMarked(flash[at + KeyStore.commitOffset]) else { continue }
            seal(&flash, at: at, length: KeyStore.protectedBytes, domain: "PM-KS-v2")
        }
    }
    for ring in rings(h) {
        let perSector = (s - FlashFormat.markerBytes) / ring.entry
        for sector in 0..<ring.sectors {
            for i in 0..<perSector {
                let at = ring.start + sector * s + i * ring.entry
                guard FlashFormat.isMarked(flash[at + ring.entry - 2]) else { continue }
                seal(&flash, at: at, length: ring.entry - 5, domain: "PM-OB-v1")
            }
        }
    }
    let seeds = Int(h.layout.peerSeedSector) * s
    for i in 0..<(s / MeterFlashLayout.peerSeedSlotBytes) {
        let at = seeds + i * MeterFlashLayout.peerSeedSlotBytes
        var slot = Array(flash[at..<(at + MeterFlashLayout.peerSeedSlotBytes)])
        guard slot[0..<36].contains(where: { $0 != 0xFF }) else { continue }
        var sum = [UInt8](repeating: 0, count: 8)
        var sumSpan = sum.mutableSpan
        PeerSeedSlot.checksum(slot.span, into: &sumSpan)
        slot.replaceSubrange(36..<44, with: sum)
        flash.replaceSubrange(at..<(at + slot.count), with: slot)
    }
}

// MARK: - edits from the input

func rawWrites(_ flash: inout [UInt8], _ h: BootHarness, _ input: inout FuzzInput) {
    for _ in 0..<(Int(input.byte() % 4) + 1) {
        let region = regions(h)[input.below(5)]
        let at = region.lowerBound + Int(input.u32() % UInt32(region.count))
        let bytes = input.take(Int(input.byte() % 32) + 1)
        for (k, b) in bytes.enumerated() where at + k < region.upperBound { flash[at + k] = b }
    }
}

/// A key-store slot with a record from fuzzed fields.
func recordSlot(_ flash: inout [UInt8], _ h: BootHarness, _ input: inout FuzzInput) {
    var r = MeterRecord()
    r.meter = input.byte() < 224 ? h.id : input.u32()
    r.group = input.byte() < 224 ? h.group : input.u32()
    r.frameSecret = InlineArray(repeating: input.byte())
    r.enrolmentKey = InlineArray(repeating: input.byte())
    for k in 0..<32 { r.authorityKey[k] = h.authorityKey[k] }
    r.groupEpoch = UInt32(truncatingIfNeeded: input.interestingU64())
    r.paillierEpoch = UInt32(truncatingIfNeeded: input.interestingU64())
    r.pendingGroup = input.byte() < 128 ? r.group : input.u32()
    r.pendingEpoch = UInt32(truncatingIfNeeded: input.interestingU64())
    r.minGroupSize = UInt32(truncatingIfNeeded: input.interestingU64())
    r.phase = MeterPhase(rawValue: input.byte() % 3 + 1)!
    let parameters: [UInt8] = [1, 2, DMCFE.parameterID, 0, 3]
    r.parameterID = parameters[input.below(parameters.count)]
    r.keyMode = input.byte() & 1 == 0 ? .seed : .expanded
    r.groupSize = UInt32(truncatingIfNeeded: input.interestingU64())
    r.maxReading = input.interestingU64()
    for k in 0..<32 { r.psaSeed[k] = input.byte() }
    if input.byte() & 1 == 1 { for k in 0..<35 { r.dhPrivate[k] = input.byte() | 1 } }
    r.nextLabel = input.interestingU64()
    r.expandedKeySums = (input.u64(), input.u64())
    if input.byte() & 3 == 1 {
        var key = PaillierKeyRecord()
        key.bits = input.byte() & 1 == 0 ? 2048 : 3072
        key.groupCount = input.byte() % 4 + 1
        for g in 0..<Int(key.groupCount) { key.groups[g] = g == 0 ? r.group : input.u32() }
        let real = input.byte() & 1 == 0
        for k in 0..<(Int(key.bits) / 8) { key.modulus[k] = real && k < h.modulus.count ? h.modulus[k] : input.byte() }
        r.paillierKey = key
    }
    guard r.bodyBytes <= KeyStore.bodyCapacity else { return }
    var slot = [UInt8](repeating: 0xFF, count: KeyStore.slotBytes)
    var span = slot.mutableSpan
    BigEndian.store(KeyStore.magic, at: 0, in: &span)
    BigEndian.store(input.byte() < 200 ? 0x4000_0000 : input.u32(), at: 4, in: &span)
    let length = r.encode(into: &span, at: KeyStore.bodyOffset)
    BigEndian.store(UInt16(length), at: 8, in: &span)
    FlashFormat.seal(&span, length: KeyStore.protectedBytes, domain: "PM-KS-v2")
    slot[KeyStore.commitOffset] = 0
    let s = Int(h.layout.sectorSize)
    let slots = (s - FlashFormat.markerBytes) / KeyStore.slotBytes
    let index = input.below(2 * slots)
    let at = (Int(h.layout.keyStoreSector) + index / slots) * s + (index % slots) * KeyStore.slotBytes
    flash.replaceSubrange(at..<(at + slot.count), with: slot)
}

/// An outbox entry with fuzzed header fields, in either ring.
func outboxEntry(_ flash: inout [UInt8], _ h: BootHarness, _ input: inout FuzzInput) {
    let ring = rings(h)[input.below(2)]
    let s = Int(h.layout.sectorSize)
    let perSector = (s - FlashFormat.markerBytes) / ring.entry
    let at = ring.start + input.below(ring.sectors) * s + input.below(perSector) * ring.entry
    var entry = [UInt8](repeating: 0xFF, count: ring.entry)
    let capacity = ring.entry - 5 - FlashFormat.checksumBytes - Outbox.headerBytes
    let frameLength = input.byte() < 200 ? min(capacity, 48) : input.below(capacity + 8)
    var frame = [UInt8](repeating: 0, count: min(frameLength, capacity))
    for k in 0..<frame.count { frame[k] = input.byte() }
    if frame.count >= 8 { frame[0] = Frame.version; frame[1] = FrameType.reading.rawValue }
    if frame.count >= 12 { for k in 0..<4 { frame[4 + k] = UInt8(truncatingIfNeeded: h.group >> UInt32(24 - 8 * k)) } }
    entry[0] = input.byte() < 240 ? Outbox.kindReading : input.byte()
    entry[1] = input.byte() < 128 ? Outbox.flagsOriginal : Outbox.flagsCopy
    var span = entry.mutableSpan
    BigEndian.store(UInt16(truncatingIfNeeded: frameLength), at: 2, in: &span)
    BigEndian.store(input.byte() < 200 ? 0x4000_0000 : input.u32(), at: 4, in: &span)
    BigEndian.store(input.interestingU64(), at: 8, in: &span)
    for (k, b) in frame.enumerated() { span[Outbox.headerBytes + k] = b }
    FlashFormat.seal(&span, length: ring.entry - 5, domain: "PM-OB-v1")
    entry[ring.entry - 2] = 0
    if input.byte() & 1 == 1 { entry[ring.entry - 1] = 0 }
    flash.replaceSubrange(at..<(at + entry.count), with: entry)
}

/// Finding 10 while it is known: steer around checksum-valid values that trap at boot or in
/// the steps after it (a label near 2^64 − 1 in the outbox or the record, a DMCFE group of 0).
func hitsFinding10(_ flash: [UInt8], _ h: BootHarness) -> Bool {
    let s = Int(h.layout.sectorSize)
    for ring in rings(h) {
        let perSector = (s - FlashFormat.markerBytes) / ring.entry
        for sector in 0..<ring.sectors {
            for i in 0..<perSector {
                let at = ring.start + sector * s + i * ring.entry
                if BigEndian.load64(flash.span, at: at + 8) >= 1 << 62 && flash[at] != 0xFF { return true }
            }
        }
    }
    let slots = (s - FlashFormat.markerBytes) / KeyStore.slotBytes
    for index in 0..<(2 * slots) {
        let at = (Int(h.layout.keyStoreSector) + index / slots) * s + (index % slots) * KeyStore.slotBytes
        let length = Int(BigEndian.load16(flash.span, at: at + 8))
        guard length <= KeyStore.bodyCapacity,
            let r = MeterRecord.decode(flash.span.extracting(at..<(at + KeyStore.slotBytes)), at: 12, length: length)
        else { continue }
        if r.nextLabel >= 1 << 62 { return true }
        if r.groupSize == 0 && r.parameterID == DMCFE.parameterID && r.phase == .ready { return true }
    }
    return false
}

// MARK: - after boot

/// Frame types a meter with an unusable store must never send.
let secretTypes: Set<UInt8> = [
    FrameType.reading.rawValue, FrameType.publicKey.rawValue, FrameType.keyShare.rawValue,
    FrameType.functionalKeyShare.rawValue,
]

/// Checks what the meter sent; remembers each (label, group)'s reading frame.
func checkSent(_ m: SimulatedMeter, unusable: Bool, seen: inout [String: [UInt8]]) {
    checkFrames(m.takeSent(), unusable: unusable, seen: &seen)
}

func checkFrames(_ frames: [[UInt8]], unusable: Bool, seen: inout [String: [UInt8]]) {
    for frame in frames where frame.count >= FuzzFrames.minimumBytes {
        fuzzCheck(
            !unusable || !secretTypes.contains(frame[1]),
            "a meter with an empty or corrupt store sent frame type \(frame[1]): " + FuzzFrames.hex(frame))
        // Only a frame the group's aggregator would take counts as an encryption: a stored
        // entry whose bytes were written by whoever wrote the flash is re-sent as stored,
        // and garbage under no frame key of this meter's is no reading of it.
        guard frame[1] == FrameType.reading.rawValue, authentic(frame) else { continue }
        let label = BigEndian.load64(frame.span, at: 12)
        let key = "\(label)/\(BigEndian.load32(frame.span, at: 4))"
        if let earlier = seen[key] {
            fuzzCheck(
                earlier == frame,
                "label \(label) encrypted twice (two different frames for \(key)): " + FuzzFrames.hex(earlier) + " vs "
                    + FuzzFrames.hex(frame))
        } else {
            seen[key] = frame
        }
    }
}

/// Whether `frame` parses and verifies under the factory frame secret for its group and some
/// epoch the images use (0 ... 8): a frame an aggregator of that group would accept.
func authentic(_ frame: [UInt8]) -> Bool {
    guard let h = harness, let header = try? Frame.parseHeader(frame.span), header.meter == h.id else { return false }
    var key = [UInt8](repeating: 0, count: Frame.keyBytes)
    for epoch in UInt32(0)...8 {
        var keySpan = key.mutableSpan
        FrameKeys.derive(secret: h.factory.frameSecret.span, group: header.group, epoch: epoch, into: &keySpan)
        if Frame.verify(frame.span, key: key.span) { return true }
    }
    return false
}

/// A downlink tagged under the frame key the booted meter checks it under (the epoch it
/// reads from the header: the label for an enrolment request or statement chunk, else its
/// group's or Paillier epoch).
func sealFor(_ m: SimulatedMeter, _ type: FrameType, group: UInt32, label: UInt64, payload: [UInt8]) -> [UInt8]? {
    guard let r = m.firmware.storedRecord else { return nil }
    let secret = (0..<32).map { r.frameSecret[$0] }
    var key = [UInt8](repeating: 0, count: Frame.keyBytes)
    var keySpan = key.mutableSpan
    let header = FrameHeader(
        type: type, scheme: .lwrPSA, group: group, meter: r.meter, label: label, payloadLength: payload.count)
    let epoch = m.firmware.downlinkEpoch(header) ?? r.groupEpoch
    FrameKeys.derive(secret: secret.span, group: group, epoch: epoch, into: &keySpan)
    var frame = [UInt8](repeating: 0, count: Frame.size(payloadLength: payload.count))
    frame.replaceSubrange(Frame.payloadRange(header), with: payload)
    var span = frame.mutableSpan
    _ = Frame.seal(header, key: key.span, frame: &span)
    return frame
}

nonisolated(unsafe) var harness: BootHarness? = nil

func fuzzOne(_ bytes: [UInt8]) {
    if harness == nil { harness = try! buildHarness() }
    let h = harness!
    var input = FuzzInput(bytes)
    let image = h.images[input.below(h.images.count)]
    var flash = image.snapshot.flash
    let mode = input.byte()
    if mode & 0x01 != 0 { rawWrites(&flash, h, &input) }
    if mode & 0x02 != 0 { recordSlot(&flash, h, &input) }
    if mode & 0x04 != 0 { outboxEntry(&flash, h, &input) }
    if mode & 0x08 == 0 { resealAll(&flash, h) }
    if tolerated(10) && hitsFinding10(flash, h) { return }

    let m = image.snapshot.boot(factory: h.factory, profile: h.profile, sampleSeconds: h.sampleSeconds, flash: flash)
    var seen: [String: [UInt8]] = [:]
    var unusable = m.firmware.storeError != nil
    _ = m.firmware.poll()
    checkSent(m, unusable: unusable, seen: &seen)

    var intervals = 0
    var steps = 0
    while !input.isEmpty && steps < 8 {
        steps += 1
        unusable = m.firmware.storeError != nil
        let counter = m.firmware.nextLabel
        let stored = (0..<m.firmware.pendingReadings).map { m.firmware.pendingLabel($0) }
        switch input.byte() % 6 {
        case 0:
            let slow = m.firmware.paillierReady || m.firmware.isDMCFE
            guard intervals < (slow ? 1 : 2) else { continue }
            intervals += 1
            runInterval(m)
            let sent = m.takeSent()
            // Authentic frames only (see `checkFrames`): stored bytes are re-sent as stored.
            for frame in sent
            where frame.count >= FuzzFrames.minimumBytes && frame[1] == FrameType.reading.rawValue && authentic(frame) {
                let label = BigEndian.load64(frame.span, at: 12)
                fuzzCheck(
                    label >= counter || stored.contains(label),
                    "a new reading for label \(label) below the counter \(counter): " + FuzzFrames.hex(frame))
            }
            checkFrames(sent, unusable: unusable, seen: &seen)
        case 1:
            m.firmware.idle()
        case 2:
            guard m.firmware.pendingReadings > 0 else { continue }
            let i = input.below(m.firmware.pendingReadings)
            if let ack = sealFor(
                m, .ack, group: m.firmware.pendingGroup(i), label: m.firmware.pendingLabel(i), payload: [])
            {
                _ = try? m.handle(ack)
            }
            checkSent(m, unusable: unusable, seen: &seen)
        case 3:
            guard let r = m.firmware.storedRecord else { continue }
            // One entry, the meter itself with weight 1: (count u32 | id u32 | weight i64).
            var payload = [UInt8](repeating: 0, count: 16)
            var span = payload.mutableSpan
            BigEndian.store(UInt32(1), at: 0, in: &span)
            BigEndian.store(r.meter, at: 4, in: &span)
            BigEndian.store(UInt64(1), at: 8, in: &span)
            if let frame = sealFor(m, .weights, group: r.group, label: 0, payload: payload) { _ = try? m.handle(frame) }
            checkSent(m, unusable: unusable, seen: &seen)
        case 4:
            let record = m.firmware.storedRecord
            try! m.reboot()
            fuzzCheck(m.firmware.storedRecord == record, "a power cycle changed the key-store record")
            fuzzCheck(m.firmware.nextLabel >= counter, "a power cycle moved the label counter back")
            _ = m.firmware.poll()
            checkSent(m, unusable: m.firmware.storeError != nil, seen: &seen)
        default:
            let types: [FrameType] = [.enrolRequest, .rosterEntry, .ack, .weights, .statement]
            let type = types[input.below(types.count)]
            let payload = input.take(input.below(600))
            guard let r = m.firmware.storedRecord,
                let frame = sealFor(m, type, group: r.group, label: input.interestingU64(), payload: payload)
            else { continue }
            _ = try? m.handle(frame)
            checkSent(m, unusable: unusable, seen: &seen)
        }
    }
}
