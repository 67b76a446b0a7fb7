// The meter's Paillier mode (DESIGN.md, scheme 3): readings encrypted under the
// supplier's public key N, one ciphertext per group the meter reports to, sent to each
// group's independent aggregator.
//
// What the meter keeps for it:
// - the key store's `paillierKey` record (KeyStore.swift): key bits, groups, N. It is
//   written in one key-store save together with the label floor, so a power cut leaves
//   either the old state or the meter in Paillier mode, never a mix. N² is recomputed at
//   boot; randomizers r^N mod N² live in RAM only (a power cut loses them and the meter
//   draws new ones).
// - the wide outbox ring (`MeterFlashLayout.wideOutboxSector`, 16 sectors of 896-byte
//   entries, after the LWR-PSA ring): a 3072-bit reading frame is 808 bytes, and a
//   2048-bit one (552) takes the same entry, so a rotation never changes the ring. A key
//   rotation keeps the ring: readings still unacknowledged under the old key are re-sent as
//   stored, so the supplier rotates once the groups' aggregators acknowledged them.
//
// The label counter is the outbox's: a label is encrypted once, for all groups together;
// all of a label's frames are in the outbox (re-sent byte-identical until each group's
// aggregator acknowledges its own) before any of them leaves the meter.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

/// Paillier's state on the meter: the supplier key and groups from the key store, and one
/// precomputed randomizer per group for the next label. The groups sit outside the
/// optional key so that asking whether the meter is ready reads one integer instead of
/// copying the 1.2 KB key.
public struct PaillierScheme: MeterScheme, Sendable {
    public static var schemeID: SchemeID { .paillier }
    public static var outboxRing: OutboxRing { .wide }

    /// N and N²; nil without a Paillier key.
    var key: PaillierMeterKey? = nil
    var groups = InlineArray<4, UInt32>(repeating: 0)
    /// Groups the meter reports to: 1 ... 4 with a key, 0 without.
    var groupCount = 0
    var randomizers = InlineArray<4, PaillierRandomizer>(repeating: PaillierRandomizer())

    /// No Paillier key.
    public init() {}

    /// The state for `stored`, or nil when its N is not a usable key.
    init?(_ stored: PaillierKeyRecord) {
        let bytes = Int(stored.bits) / 8
        guard let key = try? PaillierMeterKey(modulusBigEndian: stored.modulus.span.extracting(0..<bytes)) else {
            return nil
        }
        self.key = key
        groupCount = Int(stored.groupCount)
        for g in 0..<groupCount { groups[g] = stored.groups[g] }
    }

    public static func boot(_ meter: inout Meter<Self>) { meter.loadPaillier() }
    public static func isReady(_ meter: inout Meter<Self>) -> Bool { meter.scheme.groupCount > 0 }
    public static func isSettingUp(_ meter: borrowing Meter<Self>) -> Bool { false }
    /// No maximum below 2^64: the plaintext space is N.
    public static func readingMaximum(_ meter: inout Meter<Self>) -> UInt64 { .max }
    public static func idle(_ meter: inout Meter<Self>) -> Bool { meter.idlePaillier() }
    public static func isPrecomputed(_ meter: borrowing Meter<Self>) -> Bool {
        meter.paillierFreshRandomizers == meter.scheme.groupCount && meter.scheme.groupCount > 0
    }
    public static func encryptAndSend(_ meter: inout Meter<Self>, label: UInt64, reading: UInt64) throws(MeterError) {
        try meter.encryptAndSendPaillier(label: label, reading: reading)
    }
    public static func downlinkEpoch(_ meter: inout Meter<Self>, group: UInt32) -> UInt32? {
        meter.paillierReportsTo(group: group) ? meter.record.paillierEpoch : nil
    }
    public static func handleDownlink(
        _ meter: inout Meter<Self>, _ header: FrameHeader, epoch: UInt32, _ payload: Span<UInt8>
    ) throws(MeterError) -> MeterEvent? {
        throw .unexpectedDownlink(header.type)
    }
    public static func precheckStatement(
        _ meter: inout Meter<Self>, kind: StatementKind, _ body: Span<UInt8>
    ) throws(MeterError) {
        guard kind == .paillierKey else { throw .statementRejected(.wrongScheme) }
        guard BigEndian.load32(body, at: 8) == meter.record.meter else { throw .statementRejected(.wrongSubject) }
        guard BigEndian.load32(body, at: 4) > meter.record.paillierEpoch else { throw .statementRejected(.staleEpoch) }
    }
    public static func applyStatement(_ meter: inout Meter<Self>, kind: StatementKind) throws(MeterError) -> MeterEvent?
    {
        guard kind == .paillierKey else { throw .statementRejected(.wrongScheme) }
        return try meter.applyPaillierKey()
    }
    /// The first group the meter reports to stores the customer's detail.
    public static func detailGroup(_ meter: inout Meter<Self>) -> UInt32? {
        meter.scheme.groupCount > 0 ? meter.scheme.groups[0] : nil
    }
}

extension Meter where Scheme == PaillierScheme {
    /// Bytes of the Paillier state inside `Meter` (key, N², one randomizer per group).
    public static var paillierStateBytes: Int { MemoryLayout<PaillierScheme>.size }

    /// True when the meter holds a valid supplier key and a valid key store.
    public var paillierReady: Bool { storeState == nil && scheme.groupCount > 0 }

    /// Bits of the supplier's N, or nil without a Paillier key.
    public var paillierKeyBits: Int? { scheme.groupCount > 0 ? scheme.key?.modulusBits : nil }

    /// The number of groups the meter reports to.
    public var paillierGroupCount: Int { scheme.groupCount }

    /// The `index`-th group the meter reports to.
    public func paillierGroup(at index: Int) -> UInt32 {
        precondition(index < paillierGroupCount, "group index out of range")
        return scheme.groups[index]
    }

    /// Randomizers ready for the next label.
    public var paillierFreshRandomizers: Int {
        var count = 0
        for g in 0..<paillierGroupCount where scheme.randomizers[g].isFresh { count += 1 }
        return count
    }

    /// Whether `group` is one the meter sends readings to.
    func paillierReportsTo(group: UInt32) -> Bool {
        for g in 0..<scheme.groupCount where scheme.groups[g] == group { return true }
        return false
    }

    // MARK: - boot

    /// Builds the Paillier state from the key store's record. A record whose N is
    /// not a usable key (never written so by this firmware) makes the store corrupt: it is
    /// reported and nothing is encrypted.
    mutating func loadPaillier() {
        scheme = PaillierScheme()
        guard storeState == nil, let stored = record.paillierKey else { return }
        guard let state = PaillierScheme(stored) else {
            storeState = .corrupt
            bootStatus = .keyStoreCorrupt
            return
        }
        scheme = state
    }

    // MARK: - the supplier's key (a signed statement)

    /// Applies a verified Paillier key statement (body in `statementBody`): checks the key
    /// (size, parity) and the groups, stores key, groups and epoch with the label floor in
    /// one key-store save and answers `setupComplete`.
    mutating func applyPaillierKey() throws(MeterError) -> MeterEvent? {
        let copy = statementBody  // a copy: applying the statement mutates the meter
        let body = copy.span.extracting(0..<statementLength)
        guard statementLength >= 36, BigEndian.load32(body, at: 12) == 0 else { throw .statementRejected(.malformed) }
        let epoch = BigEndian.load32(body, at: 4)
        guard BigEndian.load32(body, at: 8) == record.meter else { throw .statementRejected(.wrongSubject) }
        guard epoch > record.paillierEpoch else { throw .statementRejected(.staleEpoch) }
        let bits = Int(BigEndian.load16(body, at: 16))
        guard bits == 2048 || bits == 3072, statementLength == Statement.paillierKeyBytes(modulusBytes: bits / 8)
        else { throw .paillierKeyRejected }
        let count = Int(body[18])
        guard count >= 1, count <= Statement.paillierMaxGroups, body[19] == 0 else { throw .paillierKeyRejected }
        let start = 36
        let key: PaillierMeterKey
        do { key = try PaillierMeterKey(modulusBigEndian: body.extracting(start..<(start + bits / 8))) } catch {
            throw .paillierKeyRejected
        }
        var stored = PaillierKeyRecord()
        stored.bits = UInt16(bits)
        stored.groupCount = UInt8(count)
        var relayedByMember = false
        for g in 0..<count {
            let group = BigEndian.load32(body, at: 20 + 4 * g)
            guard group != 0 else { throw .paillierKeyRejected }
            for h in 0..<g where stored.groups[h] == group { throw .paillierKeyRejected }
            stored.groups[g] = group
            if group == statementGroup { relayedByMember = true }
        }
        // Relayed by the aggregator of one of the statement's own groups and epoch.
        guard relayedByMember else { throw .statementRejected(.wrongSubject) }
        for k in 0..<(bits / 8) { stored.modulus[k] = body[start + k] }
        guard board.sectorCount >= layout.wideEndSector else { throw .keyStore(.flashTooSmall) }

        // One save: the key, and the label counter carried into the key store (the
        // Paillier ring does not know the labels the LWR-PSA ring used).
        var r = record
        r.paillierKey = stored
        r.paillierEpoch = epoch
        if r.nextLabel < labelFloor { r.nextLabel = labelFloor }
        do { try store.save(r) } catch { throw .keyStore(error) }
        record = r
        scheme = PaillierScheme()
        scheme.key = key
        scheme.groups = stored.groups
        scheme.groupCount = count
        var f = frame.mutableSpan
        BigEndian.store(StatusCode.setupComplete.rawValue, at: Frame.headerBytes, in: &f)
        BigEndian.store(UInt64(bits), at: Frame.headerBytes + 2, in: &f)
        try sendFrame(.status, scheme: .paillier, group: stored.groups[0], label: labelFloor, payloadLength: 10)
        return .statementAccepted(.paillierKey)
    }

    // MARK: - idle and boundary

    /// Precomputes a randomizer r^N mod N^2 for every group that has none (the idle work
    /// of Paillier mode). Returns true if it did work.
    mutating func idlePaillier() -> Bool {
        guard paillierReady, let key = scheme.key else { return false }
        var worked = false
        for g in 0..<scheme.groupCount where !scheme.randomizers[g].isFresh {
            guard drawRandomizer(g, key: key) else { return worked }
            worked = true
        }
        return worked
    }

    /// Draws r from the board RNG until one is a unit below N (fewer than two draws on
    /// average), and stores r^N mod N^2 as group `g`'s randomizer.
    mutating func drawRandomizer(_ g: Int, key: PaillierMeterKey) -> Bool {
        var bytes = InlineArray<384, UInt8>(repeating: 0)
        let count = PaillierRandomizer.randomByteCount(for: key)
        for _ in 0..<64 {
            var span = bytes.mutableSpan
            board.randomBytes(into: &span)  // 384 bytes; a 2048-bit key uses the first 256
            var randomizer = PaillierRandomizer()
            let accepted = randomizer.precompute(key: key, randomBytes: bytes.span.extracting(0..<count))
            for k in 0..<384 { bytes[k] = 0 }  // r is secret: wipe it
            if accepted {
                scheme.randomizers[g] = randomizer
                return true
            }
        }
        return false  // 64 rejections in a row: N is not a valid key (never with a real one)
    }

    /// Encrypts `reading` under `label` once per group with the supplier's key and writes
    /// every frame to the outbox, then sends them. A label is never encrypted twice: its
    /// first frame in the outbox moves the label counter past it. A randomizer not
    /// precomputed while idle is computed here (slower boundary).
    public mutating func encryptAndSendPaillier(label: UInt64, reading: UInt64) throws(MeterError) {
        if let e = storeState { throw e == .corrupt ? .keyStoreCorrupt : .notProvisioned }
        guard scheme.groupCount > 0, let key = scheme.key else { throw .notReady }
        guard label >= labelFloor, label < .max else {
            throw .labelAlreadyEncrypted(label: label, next: labelFloor)
        }
        let groupCount = scheme.groupCount
        for g in 0..<groupCount where !scheme.randomizers[g].isFresh {
            guard drawRandomizer(g, key: key) else { throw .paillierKeyRejected }
        }
        let bytes = key.ciphertextBytes
        var length = 0
        var dropped: UInt64? = nil
        for g in 0..<groupCount {
            var f = frame.mutableSpan
            do {
                try Paillier.encrypt(
                    reading: reading, randomizer: &scheme.randomizers[g], key: key, into: &f,
                    at: Frame.headerBytes)
            } catch {
                throw .notReady  // unreachable: the randomizer is fresh and the buffer sized
            }
            length = sealFrame(scheme: .paillier, group: scheme.groups[g], label: label, payloadLength: bytes)
            do {
                if let d = try outbox.append(label: label, frame: frame.span.extracting(0..<length)) { dropped = d }
            } catch {
                throw .keyStore(error)
            }
            labelFloor = label + 1
        }
        // Every frame of the label is stored: send them. The last is still in `frame`; the
        // others are read back from the outbox.
        do { try board.send(frame.span.extracting(0..<length)) } catch {
            // Stored: the outbox sends it again at the next boundary.
        }
        let lastGroup = scheme.groups[groupCount - 1]
        for i in 0..<outbox.pendingCount where outbox.pendingLabel(i) == label && outbox.pendingGroup(i) != lastGroup {
            var f = frame.mutableSpan
            if let n = try? outbox.pendingFrame(i, into: &f) { try? board.send(frame.span.extracting(0..<n)) }
        }
        if let d = dropped { _ = reportError(.keyStore(.corrupt), detail: d, code: .outboxOverflow) }
    }

    /// Seals the reading payload already in `frame` for `group` under `scheme` (the key of
    /// the Paillier epoch); returns the frame's length.
    mutating func sealFrame(scheme: SchemeID, group: UInt32, label: UInt64, payloadLength: Int) -> Int {
        let header = FrameHeader(
            type: .reading, scheme: scheme, group: group, meter: record.meter, label: label,
            payloadLength: payloadLength)
        return seal(header, epoch: record.paillierEpoch)
    }

    /// Seals and sends the frame in `frame` for `group` under `scheme`.
    mutating func sendFrame(
        _ type: FrameType, scheme: SchemeID, group: UInt32, label: UInt64, payloadLength: Int
    ) throws(MeterError) {
        let header = FrameHeader(
            type: type, scheme: scheme, group: group, meter: record.meter, label: label,
            payloadLength: payloadLength)
        let length = seal(header, epoch: record.paillierEpoch)
        do { try board.send(frame.span.extracting(0..<length)) } catch { throw .board(error) }
    }
}
