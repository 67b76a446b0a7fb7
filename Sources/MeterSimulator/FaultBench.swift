import Aggregation
import BigNum
import Foundation
import MeterCrypto
import MeterFirmware
import Provisioning

/// A small group (the meter under test, id 1, and one peer) on simulated boards with a
/// small flash, and the ground truth the fault campaigns compare the firmware against.
///
/// Ground truth is what the harness itself asked for and saw: the state the firmware
/// held in RAM right after a fault-free operation (its intent, never re-read from
/// flash), the frames that left the meter, and every ciphertext recomputed here from
/// the truth's PSA seed (LWR-PSA) or decrypted with the supplier's private key that
/// matches the truth's N (Paillier, where encryption is randomized).
final class FaultBench {
    static let group: UInt32 = 7
    static let maxReading: UInt64 = 1000
    let seed: UInt64
    let keyMode: KeyMode
    /// The scheme the meter under test runs: LWR-PSA (key setup) or Paillier (key delivery).
    let scheme: SchemeID
    /// Paillier: the supplier's keys, the first delivered at setup, the second at rotation.
    let paillierKeys: [PaillierPrivateKey]
    /// The authority (one per seed, so replays see the same keys and signatures).
    let authority: ProvisioningAuthority
    let factories: [UInt32: FactoryKeys]
    /// Epochs of the first setup and of the rotation; a rejoin after a lost enrolment
    /// uses `rejoinEpoch`.
    static let setupEpoch: UInt32 = 1
    static let rotationEpoch: UInt32 = 2
    static let rejoinEpoch: UInt32 = 3
    /// The aggregator's view in the first epoch (`intake(epoch:)` for the others).
    let members: GroupMembers
    let intake: FrameIntake
    let layout: MeterFlashLayout
    let bounds: LWRGroupBounds

    init(seed: UInt64, keyMode: KeyMode = .seed, scheme: SchemeID = .lwrPSA, paillierBits: Int = 2048) throws {
        self.seed = seed
        self.keyMode = keyMode
        self.scheme = scheme
        paillierKeys = scheme == .paillier ? try Self.paillierKeys(bits: paillierBits, seed: seed) : []
        (authority, factories) = Self.authority(seed: seed)
        members = try authority.members(group: Self.group, epoch: Self.setupEpoch, scheme: scheme, meters: [1, 2])
        intake = FrameIntake(members: members)
        layout = MeterFlashLayout(sectorSize: 4096)
        bounds = try LWRGroupBounds(meters: 2, maxReading: Self.maxReading, parameters: .standard)
    }

    /// A fresh board for `meter` (same RNG seed every time, so key generation replays),
    /// booted on erased flash; provisioned when asked.
    func makeMeter(_ meter: UInt32, provision: Bool) throws -> SimulatedMeter {
        try SimulatedMeter(
            factory: factories[meter]!, seed: seed &* 31 &+ UInt64(meter), profile: [1_000_000], sampleSeconds: 60,
            flashSectors: endSector, scheme: scheme, provision: provision)
    }

    /// The authority and the two meters' factory keys for `seed`, made once per process.
    static func authority(seed: UInt64) -> (ProvisioningAuthority, [UInt32: FactoryKeys]) {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let made = authorityCache[seed] { return made }
        let authority = ProvisioningAuthority(seed: seed ^ 0x5EED_FA17)
        let made: (ProvisioningAuthority, [UInt32: FactoryKeys]) = (
            authority, [1: authority.manufacture(meter: 1), 2: authority.manufacture(meter: 2)]
        )
        authorityCache[seed] = made
        return made
    }
    nonisolated(unsafe) static var authorityCache: [UInt64: (ProvisioningAuthority, [UInt32: FactoryKeys])] = [:]

    /// The group (meters 1 and 2) at `epoch`, under the bench's scheme unless told otherwise.
    func members(epoch: UInt32, scheme: SchemeID? = nil) throws -> GroupMembers {
        try authority.members(group: Self.group, epoch: epoch, scheme: scheme ?? self.scheme, meters: [1, 2])
    }

    /// The aggregator's frame intake for `epoch`.
    func intake(epoch: UInt32) throws -> FrameIntake { FrameIntake(members: try members(epoch: epoch)) }

    /// The epoch a meter's frames and acks use now.
    func epoch(of meter: SimulatedMeter) -> UInt32 {
        guard let record = meter.firmware.storedRecord else { return Self.setupEpoch }
        return max(Self.setupEpoch, scheme == .paillier ? record.paillierEpoch : record.groupEpoch)
    }

    /// One past the last flash sector the meter under test uses (the board's size).
    var endSector: UInt32 { scheme == .paillier ? layout.detailEndSector : layout.peerSeedSector + 1 }
    /// The outbox ring of the scheme.
    var outboxSectors: Range<UInt32> {
        scheme == .paillier
            ? layout.wideOutboxSector..<layout.wideEndSector : layout.outboxSector..<layout.endSector
    }

    /// Paillier keys from the seed, made once per process for each (bits, seed).
    static func paillierKeys(bits: Int, seed: UInt64) throws -> [PaillierPrivateKey] {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let keys = keyCache["\(bits)/\(seed)"] { return keys }
        let keys = try (0..<2).map { i in
            var generator = SeededGenerator(seed: seed &* 7919 &+ UInt64(bits) &+ UInt64(i))
            return try PaillierPrivateKey.generate(bits: bits, using: &generator)
        }
        keyCache["\(bits)/\(seed)"] = keys
        return keys
    }
    nonisolated(unsafe) static var keyCache: [String: [PaillierPrivateKey]] = [:]
    static let cacheLock = NSLock()

    /// The statement frames that give `meter` Paillier key `index` (0 at setup, 1 at
    /// rotation, each its own epoch), signed by the authority, relayed by the aggregator.
    func paillierKeyFrames(meter: UInt32, index: Int) throws -> [[UInt8]] {
        let epoch = index == 0 ? Self.setupEpoch : Self.rotationEpoch
        let layout = try GroupLayout(
            signed: authority.signLayout(groups: [Self.group: [1, 2]], epoch: epoch), authorityKey: authority.publicKey)
        let statement = try authority.signPaillierKey(
            meter: meter, publicKey: paillierKeys[index].publicKey, layoutEpoch: epoch)
        let aggregator = try PaillierAggregator(
            members: try members(epoch: epoch, scheme: .paillier),
            publicKey: paillierKeys[index].publicKey, layout: layout, currentLabel: 0)
        return aggregator.keyStatementFrames(statement, meter: meter)
    }

    /// Whether the meter encrypts readings (key setup done, or a Paillier key held).
    func ready(_ meter: SimulatedMeter) -> Bool {
        scheme == .paillier ? meter.firmware.paillierReady : meter.firmware.phase == .ready
    }

    /// Whether `record` is a state that encrypts readings.
    func ready(_ record: MeterRecord) -> Bool {
        scheme == .paillier ? record.paillierKey != nil : record.phase == .ready
    }

    /// Whether two states encrypt under the same keys (then frames under one are the other's).
    func sameKeys(_ a: MeterRecord, _ b: MeterRecord) -> Bool {
        scheme == .paillier ? a.paillierKey == b.paillierKey : a.psaSeed.span.elementsEqual(b.psaSeed.span)
    }

    /// Whether `frame` is a reading frame the truth allows for `label`: under LWR-PSA one of
    /// the frames recomputed from `record` for `readings`; under Paillier an authentic frame
    /// from meter 1 for the label and group, whose ciphertext the private key matching
    /// `record`'s N decrypts to one of `readings`.
    func allows(_ frame: [UInt8], record: MeterRecord, label: UInt64, readings: [UInt64]) -> Bool {
        guard scheme == .paillier else {
            return readings.contains { expectedFrame(record: record, label: label, reading: $0) == frame }
        }
        guard let stored = record.paillierKey,
            let key = paillierKeys.first(where: { k in
                k.publicKey.n.bigEndianBytes(length: Int(stored.bits) / 8)
                    == (0..<(Int(stored.bits) / 8)).map { stored.modulus[$0] }
            }),
            let opened = try? intake(epoch: record.paillierEpoch).open(frame, expecting: .reading),
            opened.header.label == label,
            opened.header.meter == 1,
            let c = try? key.publicKey.ciphertext(bigEndian: opened.payload),
            let m = try? key.decrypt(c).uint64
        else { return false }
        return readings.contains(m)
    }

    /// Starts a key setup (or a rotation) of the group for `epoch`: the aggregator's side.
    func newSetup(epoch: UInt32) throws -> LWRKeySetup {
        try LWRKeySetup(
            members: try members(epoch: epoch, scheme: .lwrPSA),
            parameters: .standard, maxReading: Self.maxReading, keyMode: keyMode.rawValue)
    }

    /// The ack of `label` from the aggregator of meter 1's current epoch.
    func ack(label: UInt64, for meter: SimulatedMeter) -> [UInt8] {
        (try? intake(epoch: epoch(of: meter)))!.acknowledgement(to: 1, label: label)
    }

    /// Joins `dut` and a fresh peer into the group at `epoch` over the radio, fault-free.
    func joinFresh(dut: SimulatedMeter, epoch: UInt32) throws {
        let peer = try makeMeter(2, provision: true)
        let setup = try newSetup(epoch: epoch)
        try SignedSetup.enrolAndSign(meters: [dut, peer], relay: setup, authority: authority)
        _ = try SignedSetup.distribute(meters: [dut, peer], relay: setup)
    }

    /// Runs a key setup (or rotation) of both meters to completion, fault-free; under
    /// Paillier delivers the first key (`rotation`: the second) to both.
    func runSetup(dut: SimulatedMeter, peer: SimulatedMeter, rotation: Bool = false) throws {
        if scheme == .paillier {
            for meter in [dut, peer] {
                for frame in try paillierKeyFrames(meter: meter.id, index: rotation ? 1 : 0) {
                    _ = try meter.handle(frame)
                }
                _ = meter.takeSent()
                guard meter.firmware.paillierReady else { throw FaultCampaignError.referenceRun("key delivery failed") }
            }
            return
        }
        let setup = try newSetup(epoch: rotation ? Self.rotationEpoch : Self.setupEpoch)
        for meter in [dut, peer] {
            _ = meter.takeSent()
            // Enrolments are at most one a day.
            if rotation { meter.advance(ticks: 86_400_000) }
        }
        try SignedSetup.enrolAndSign(meters: [dut, peer], relay: setup, authority: authority)
        _ = try SignedSetup.distribute(meters: [dut, peer], relay: setup)
        guard dut.firmware.phase == .ready, peer.firmware.phase == .ready else {
            throw FaultCampaignError.referenceRun("key setup did not finish")
        }
    }

    /// A fault-free life of the meter under test: provisioning, key setup, `readings`
    /// readings with acks two labels late (and one label's ack held back), a key
    /// rotation, four more readings. Leaves unacknowledged readings and superseded
    /// key-store slots on flash. Returns the meter and the frames it sent.
    func referenceLife(readings: Int) throws -> (meter: SimulatedMeter, log: RadioLog) {
        let dut = try makeMeter(1, provision: true)
        let peer = try makeMeter(2, provision: true)
        var log = RadioLog()
        try runSetup(dut: dut, peer: peer)
        func run(_ count: Int, holdBack: UInt64?) throws {
            let first = dut.firmware.nextLabel
            for i in 0..<UInt64(count) {
                let label = first + i
                try dut.firmware.encryptAndSend(label: label, reading: (label &* 37 &+ 11) % Self.maxReading)
                log.collect(dut)
                if i >= 2 && label - 2 != holdBack { _ = try dut.handle(ack(label: label - 2, for: dut)) }
            }
        }
        try run(readings, holdBack: dut.firmware.nextLabel + 1)
        try runSetup(dut: dut, peer: peer, rotation: true)
        try run(4, holdBack: nil)
        log.collect(dut)
        return (dut, log)
    }

    /// The reading an LWR-PSA frame of meter 1 carries under `record` (decrypted with the
    /// truth's seed: c − F_k(l) = Δ·x mod p), if the frame is exactly the one the truth
    /// gives for it.
    func reading(of frame: [UInt8], record: MeterRecord) -> UInt64? {
        guard let opened = try? intake.open(frame, expecting: .reading), opened.payload.count == 8 else { return nil }
        var seed = [UInt8](repeating: 0, count: 32)
        for k in 0..<32 { seed[k] = record.psaSeed[k] }
        let parameters = LWRParameters.withID(record.parameterID) ?? .standard
        let label = opened.header.label
        let pad = LWRPSA.prf(parameters: parameters, seed: seed.span, group: record.group, label: label)
        let c = opened.payload.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let x = ((c &- pad) & parameters.plaintextMask) / bounds.delta
        return expectedFrame(record: record, label: label, reading: x) == frame ? x : nil
    }

    /// The reading frame the meter must send for `label` and `reading` under `record`,
    /// computed here, from the truth, without the firmware's key store.
    func expectedFrame(record: MeterRecord, label: UInt64, reading: UInt64) -> [UInt8] {
        var seed = [UInt8](repeating: 0, count: 32)
        for k in 0..<32 { seed[k] = record.psaSeed[k] }
        let parameters = LWRParameters.withID(record.parameterID) ?? .standard
        let pad = LWRPSA.prf(parameters: parameters, seed: seed.span, group: record.group, label: label)
        let c = (try? LWRPSA.encrypt(reading: reading, pad: pad, bounds: bounds, parameters: parameters)) ?? 0
        var payload = [UInt8](repeating: 0, count: 8)
        var span = payload.mutableSpan
        BigEndian.store(c, at: 0, in: &span)
        return (try? intake(epoch: record.groupEpoch))!.seal(.reading, to: 1, label: label, payload: payload)
    }
}

/// What the harness expects the meter to hold on flash.
struct StoreTruth: Equatable {
    /// nil: never provisioned (an empty store).
    var record: MeterRecord?
    var nextLabel: UInt64
    /// Unacknowledged readings: label → frame bytes.
    var pending: [UInt64: [UInt8]]

    static let empty = StoreTruth(record: nil, nextLabel: 0, pending: [:])

    /// The truth as the firmware holds it in RAM after a fault-free operation.
    static func intent(of meter: SimulatedMeter) throws -> StoreTruth {
        guard let record = meter.firmware.storedRecord else { return .empty }
        var pending: [UInt64: [UInt8]] = [:]
        for (label, frame) in try meter.pendingFrames() { pending[label] = frame }
        return StoreTruth(record: record, nextLabel: meter.firmware.nextLabel, pending: pending)
    }

    func matches(_ other: StoreTruth) -> Bool {
        if record == nil || other.record == nil { return record == nil && other.record == nil }
        return self == other
    }
}

/// How the meter came back after a fault.
enum Observation {
    /// It booted this state.
    case state(StoreTruth)
    /// It found its store corrupt, reported it and refuses to encrypt.
    case corrupt
    /// Booting failed in a way the firmware did not report (a harness-level failure).
    case unreadable(String)

    init(_ meter: SimulatedMeter) {
        switch meter.firmware.storeError {
        case .corrupt?: self = .corrupt
        case .empty?: self = .state(.empty)
        case nil:
            do { self = .state(try StoreTruth.intent(of: meter)) } catch { self = .unreadable("\(error)") }
        case let e?: self = .unreadable("\(e)")
        }
    }
}

extension MeterRecord {
    func describe() -> String {
        "meter \(meter) group \(group) phase \(phase) params \(parameterID) mode \(keyMode) n \(groupSize) floor \(nextLabel)"
    }
}

extension StoreTruth {
    /// The fields in which `other` differs from this truth.
    func differences(_ other: StoreTruth) -> [String] {
        var d: [String] = []
        if nextLabel != other.nextLabel { d.append("next label \(other.nextLabel) instead of \(nextLabel)") }
        if pending.keys.sorted() != other.pending.keys.sorted() {
            d.append("pending \(other.pending.keys.sorted()) instead of \(pending.keys.sorted())")
        } else if pending != other.pending {
            d.append("pending frames differ")
        }
        guard let a = record, let b = other.record else {
            if (record == nil) != (other.record == nil) { d.append("store empty/provisioned differs") }
            return d
        }
        if a.meter != b.meter || a.group != b.group || a.minGroupSize != b.minGroupSize { d.append("identity") }
        if !a.frameSecret.span.elementsEqual(b.frameSecret.span) { d.append("frame secret") }
        if !a.enrolmentKey.span.elementsEqual(b.enrolmentKey.span) { d.append("enrolment key") }
        if !a.authorityKey.span.elementsEqual(b.authorityKey.span) { d.append("authority key") }
        if a.groupEpoch != b.groupEpoch || a.paillierEpoch != b.paillierEpoch || a.pendingGroup != b.pendingGroup
            || a.pendingEpoch != b.pendingEpoch
        {
            d.append("epochs")
        }
        if a.phase != b.phase || a.parameterID != b.parameterID || a.keyMode != b.keyMode || a.groupSize != b.groupSize
            || a.maxReading != b.maxReading
        {
            d.append("group parameters")
        }
        if !a.psaSeed.span.elementsEqual(b.psaSeed.span) { d.append("PSA seed") }
        if !a.dhPrivate.span.elementsEqual(b.dhPrivate.span) { d.append("DH private key") }
        if a.nextLabel != b.nextLabel { d.append("label floor") }
        if a.expandedKeySums != b.expandedKeySums { d.append("expanded key sums") }
        return d
    }

    func describe() -> String {
        guard let record else { return "empty store" }
        return "\(record.describe()), next label \(nextLabel), pending \(pending.keys.sorted())"
    }
}
