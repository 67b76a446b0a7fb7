// Joining a group (LWR-PSA and DMCFE), driven only by what the provisioning authority
// signed (docs/spec/key-setup.md):
//
// 1. `enrolRequest` (group g, epoch e > the meter's group epoch): the meter draws a fresh
//    DH key, keeps it in the key store as enrolled for (g, e), and sends its public key
//    tagged under its enrolment key, which only the authority can check. Nothing else
//    changes: a ready meter keeps encrypting for its current group.
// 2. A signed group-parameters statement for (g, e) (Statements.swift): scheme, parameter
//    set, n, maximum reading and the roster root. Only then does the meter enter key setup.
// 3. `rosterEntry` × n, in index order: each member's id and DH public key with its Merkle
//    path to the signed root, this meter's own entry included. A key counts only if the
//    signed roster lists its hash; n is the signed n.
// 4. Each peer's pairwise seed goes to the peer-seed area in flash as its entry arrives
//    (nothing of size n stays in RAM). After the last entry, LWR-PSA computes its masked
//    key share chunk by chunk from the stored seeds and sends it; DMCFE keeps the seeds.
//
// The schemes that join groups this way conform to `GroupKeyedScheme`; this file is their
// common part, each scheme's file the rest.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

/// Key-setup payload layouts (uplink publicKey; the downlink rosterEntry is
/// `Roster.entryBytes`; LWR-PSA's keyShare in LWRMeter.swift).
public enum SetupPayload {
    /// publicKey: y (384 big-endian) | enrolment tag (16)
    public static let publicKeyBytes = Enrolment.payloadBytes
}

/// What a key setup keeps in RAM while the roster streams in: the enrolled DH key, the
/// signed roster's root and depth, the next entry expected and this meter's own public-key
/// hash (its own entry must list exactly that). Small: the pairwise seeds go to flash.
public struct GroupSetupState: Sendable {
    var peersProcessed: UInt32 = 0
    var lastPeer: UInt32 = 0
    var dhKey: FFDHPrivateKey? = nil
    var rosterRoot = InlineArray<32, UInt8>(repeating: 0)
    var rosterDepth = 0
    var rosterNext: UInt32 = 0
    var ownKeyHash = InlineArray<32, UInt8>(repeating: 0)
    var ownEntrySeen = false
    /// Tick of the last fresh enrolment since boot (at most one a day: each is a key-store write).
    var lastEnrolmentTick: UInt64? = nil

    public init() {}
}

/// A scheme whose group key comes from the signed roster's pairwise Diffie–Hellman seeds
/// (LWR-PSA, DMCFE).
public protocol GroupKeyedScheme: MeterScheme, ~Copyable {
    /// The key setup's RAM state.
    var setup: GroupSetupState { get set }
    /// The scheme's own checks of signed group parameters (parameter set, key mode, capacity).
    static func checkGroupParameters(
        _ meter: inout Meter<Self>, parameterID: UInt8, keyMode: KeyMode, meters: UInt32, maxReading: UInt64
    ) throws(MeterError)
    /// Key setup starts: the record (saved) names the new group, the peer-seed area is erased.
    static func beginSetup(_ meter: inout Meter<Self>) throws(MeterError)
    /// Every roster entry is processed and every peer seed stored: the scheme's last step
    /// (LWR-PSA sends its masked key share; DMCFE reports completion), which calls
    /// `completeSetup()` to move the record to `.ready`.
    static func finishSetup(_ meter: inout Meter<Self>) throws(MeterError)
    /// A group-parameters statement of another key setup than n-of-n (byte 19 ≠ 0, the
    /// neighbour graph of docs/spec/dropout.md): the scheme checks the body and returns the
    /// graph the record keeps, or throws. By default refused.
    static func acceptNeighbourGraph(_ meter: inout Meter<Self>, body: Span<UInt8>) throws(MeterError)
        -> NeighbourRecord
    /// One roster entry of a neighbour-graph setup (own entry first, then the neighbours').
    static func processNeighbourEntry(_ meter: inout Meter<Self>, _ payload: Span<UInt8>) throws(MeterError)
}

extension GroupKeyedScheme where Self: ~Copyable {
    public static func acceptNeighbourGraph(_ meter: inout Meter<Self>, body: Span<UInt8>) throws(MeterError)
        -> NeighbourRecord
    {
        throw .setupRejected(.malformed)
    }
    public static func processNeighbourEntry(_ meter: inout Meter<Self>, _ payload: Span<UInt8>) throws(MeterError) {
        throw .unexpectedDownlink(.rosterEntry)
    }
}

// What every group-keyed scheme does the same way: its downlinks' epoch is the group's, its
// statements are the group parameters and tariffs, and it bills on the meter.
extension GroupKeyedScheme {
    public static func downlinkEpoch(_ meter: inout Meter<Self>, group: UInt32) -> UInt32? {
        meter.groupDownlinkEpoch(group: group)
    }
    public static var billsOnMeter: Bool { true }
    public static func precheckStatement(
        _ meter: inout Meter<Self>, kind: StatementKind, _ body: Span<UInt8>
    ) throws(MeterError) {
        switch kind {
        case .groupParameters: try meter.precheckGroupParameters(body)
        case .tariff: try meter.precheckTariff(body)
        default: throw .statementRejected(.wrongScheme)
        }
    }
    public static func applyStatement(_ meter: inout Meter<Self>, kind: StatementKind) throws(MeterError) -> MeterEvent?
    {
        switch kind {
        case .groupParameters: return try meter.applyGroupParameters()
        case .tariff: return try meter.applyTariff()
        default: throw .statementRejected(.wrongScheme)
        }
    }
}

extension Meter where Scheme: GroupKeyedScheme {
    /// The downlinks of key setup: enrolment requests and roster entries.
    mutating func handleSetupDownlink(
        _ header: FrameHeader, epoch: UInt32, _ payload: Span<UInt8>
    ) throws(MeterError) -> MeterEvent? {
        switch header.type {
        case .enrolRequest:
            guard payload.count == 0 else {
                throw .badDownlink(.badPayloadSize(type: .enrolRequest, size: payload.count))
            }
            try enrol(group: header.group, epoch: epoch, scheme: header.scheme)
            return .publicKeySent
        case .rosterEntry:
            guard header.group == record.group, epoch == record.groupEpoch else {
                throw .unexpectedDownlink(.rosterEntry)
            }
            try processRosterEntry(payload)
            return record.phase == .ready ? .keyShareSent : nil
        default:
            throw .unexpectedDownlink(header.type)
        }
    }

    /// The epoch of the meter's own group (its accepted group epoch), or nil.
    func groupDownlinkEpoch(group: UInt32) -> UInt32? {
        group == record.group && record.groupEpoch > 0 ? record.groupEpoch : nil
    }

    /// True when the group's key setup finished.
    var groupReady: Bool { record.phase == .ready }

    /// The header checks of a group-parameters statement, before its signature.
    mutating func precheckGroupParameters(_ body: Span<UInt8>) throws(MeterError) {
        let epoch = BigEndian.load32(body, at: 4)
        let subject = BigEndian.load32(body, at: 8)
        let group = BigEndian.load32(body, at: 12)
        guard subject == 0, record.hasDHPrivate, record.pendingGroup == group, record.pendingEpoch == epoch else {
            throw .statementRejected(.wrongSubject)
        }
        let resume = epoch == record.groupEpoch && record.phase == .keySetup
        guard epoch > record.groupEpoch || resume else { throw .statementRejected(.staleEpoch) }
    }

    /// Ticks between two fresh enrolments (one a day: each writes the key store).
    var enrolmentSpacingTicks: UInt64 { timing.intervalTicks * 96 }

    /// The DH public key g^x of `privateKey`, big-endian (what enrolment sends and the
    /// roster lists the hash of).
    static func publicKeyBytes(_ privateKey: FFDHPrivateKey) -> InlineArray<384, UInt8> {
        var bytes = InlineArray<384, UInt8>(repeating: 0)
        var span = bytes.mutableSpan
        FFDHGroup.publicKey(for: privateKey).bigEndianBytes(into: &span)
        return bytes
    }

    /// Step 1: enrols a fresh DH key for (`group`, `epoch`), or sends the enrolled one again
    /// (framed for `scheme`, the request's: the aggregator's group runs it).
    mutating func enrol(group: UInt32, epoch: UInt32, scheme: SchemeID) throws(MeterError) {
        let again = record.hasDHPrivate && record.pendingGroup == group && record.pendingEpoch == epoch
        if !again {
            guard epoch > record.groupEpoch else { throw .statementRejected(.staleEpoch) }
            if let last = self.scheme.setup.lastEnrolmentTick, board.ticks &- last < enrolmentSpacingTicks {
                throw .statementRejected(.enrolmentTooSoon)
            }
            var r = record
            var dh = r.dhPrivate.mutableSpan
            board.randomBytes(into: &dh)
            r.pendingGroup = group
            r.pendingEpoch = epoch
            do { try store.save(r) } catch { throw .keyStore(error) }
            record = r
            self.scheme.setup.lastEnrolmentTick = board.ticks
        }
        let yBytes = Self.publicKeyBytes(FFDHPrivateKey(randomBytes: record.dhPrivate.span))
        var tag = InlineArray<16, UInt8>(repeating: 0)
        var tagSpan = tag.mutableSpan
        Enrolment.tag(
            enrolmentKey: record.enrolmentKey.span, group: group, epoch: epoch, meter: record.meter,
            publicKey: yBytes.span, into: &tagSpan)
        var f = frame.mutableSpan
        for k in 0..<FFDHGroup.byteCount { f[Frame.headerBytes + k] = yBytes[k] }
        for k in 0..<Enrolment.tagBytes { f[Frame.headerBytes + FFDHGroup.byteCount + k] = tag[k] }
        let header = FrameHeader(
            type: .publicKey, scheme: scheme, group: group,
            meter: record.meter, label: UInt64(epoch), payloadLength: SetupPayload.publicKeyBytes)
        let length = seal(header, epoch: epoch)
        do { try board.send(frame.span.extracting(0..<length)) } catch { throw .board(error) }
    }

    /// Step 2: a verified group-parameters statement (body in `statementBody`). Starts key
    /// setup for its group and epoch with the DH key enrolled for them, or resumes it after
    /// a reboot (the same statement again: same key, same seed, same share).
    mutating func applyGroupParameters() throws(MeterError) -> MeterEvent? {
        let copy = statementBody  // a copy: applying the statement mutates the meter
        let body = copy.span.extracting(0..<statementLength)
        guard statementLength >= Statement.groupParametersBytes, BigEndian.load32(body, at: 8) == 0 else {
            throw .statementRejected(.malformed)
        }
        let epoch = BigEndian.load32(body, at: 4)
        let group = BigEndian.load32(body, at: 12)
        guard group == statementGroup, record.hasDHPrivate, record.pendingGroup == group, record.pendingEpoch == epoch
        else { throw .statementRejected(.wrongSubject) }
        let resume = epoch == record.groupEpoch && group == record.group && record.phase == .keySetup
        guard epoch > record.groupEpoch || resume else { throw .statementRejected(.staleEpoch) }
        let parameterID = body[16]
        guard let mode = KeyMode(rawValue: body[17]) else { throw .setupRejected(.unknownKeyMode) }
        let depth = Int(body[18])
        let n = BigEndian.load32(body, at: 20)
        let maxReading = BigEndian.load64(body, at: 24)
        guard depth >= 1, depth <= Roster.maxDepth, UInt64(n) <= UInt64(1) << UInt64(depth) else {
            throw .setupRejected(.malformed)
        }
        try Scheme.checkGroupParameters(
            &self, parameterID: parameterID, keyMode: mode, meters: n, maxReading: maxReading)
        guard n >= record.minGroupSize else { throw .setupRejected(.groupTooSmall) }
        // n-of-n: every other member is a peer. The neighbour graph: the scheme's own checks,
        // and only the neighbours are.
        var graph: NeighbourRecord? = nil
        if body[19] != 0 {
            graph = try Scheme.acceptNeighbourGraph(&self, body: body)
        } else {
            guard statementLength == Statement.groupParametersBytes else { throw .statementRejected(.malformed) }
        }
        let peers = graph.map { min(Int($0.degree), Int(n) - 1) } ?? Int(n) - 1
        guard peers <= peerSeedCapacity else { throw .setupRejected(.groupTooLarge) }

        var r = record
        r.phase = .keySetup
        r.group = group
        r.groupEpoch = epoch
        r.parameterID = parameterID
        r.keyMode = mode
        r.groupSize = n
        r.maxReading = maxReading
        r.expandedKeySums = (0, 0)  // they describe the old key; set again when setup finishes
        r.neighbourGraph = graph
        if !resume {
            var seed = r.psaSeed.mutableSpan
            board.randomBytes(into: &seed)
        }
        do { try store.save(r) } catch { throw .keyStore(error) }
        record = r
        frameMacCache = nil
        try prepareSeedArea(peers: peers)
        try Scheme.beginSetup(&self)
        var state = GroupSetupState()
        state.lastEnrolmentTick = scheme.setup.lastEnrolmentTick
        for k in 0..<Roster.hashBytes { state.rosterRoot[k] = body[32 + k] }
        state.rosterDepth = depth
        let privateKey = FFDHPrivateKey(randomBytes: record.dhPrivate.span)
        state.dhKey = privateKey
        let yBytes = Self.publicKeyBytes(privateKey)
        var own = state.ownKeyHash.mutableSpan
        Roster.publicKeyHash(yBytes.span, into: &own)
        scheme.setup = state
        return .statementAccepted(.groupParameters)
    }

    /// Step 3: one roster entry. A rejected entry changes nothing: the aggregator may send
    /// the right one next.
    mutating func processRosterEntry(_ payload: Span<UInt8>) throws(MeterError) {
        if record.neighbourGraph != nil { return try Scheme.processNeighbourEntry(&self, payload) }
        let setup = scheme.setup
        guard record.phase == .keySetup, let privateKey = setup.dhKey, setup.rosterDepth > 0 else {
            throw .unexpectedDownlink(.rosterEntry)
        }
        guard payload.count == Roster.entryBytes(depth: setup.rosterDepth) else {
            throw .badDownlink(.badPayloadSize(type: .rosterEntry, size: payload.count))
        }
        let index = BigEndian.load32(payload, at: 0)
        let peer = BigEndian.load32(payload, at: 4)
        // Entries arrive in index order, ids increasing, each once: n entries in all.
        guard index == setup.rosterNext, index < record.groupSize, setup.rosterNext == 0 || peer > setup.lastPeer
        else {
            throw .peerKeyRejected(peer: peer)
        }
        let yBytes = payload.extracting(8..<(8 + FFDHGroup.byteCount))
        var hash = InlineArray<32, UInt8>(repeating: 0)
        var hashSpan = hash.mutableSpan
        Roster.publicKeyHash(yBytes, into: &hashSpan)
        var leaf = InlineArray<32, UInt8>(repeating: 0)
        var leafSpan = leaf.mutableSpan
        Roster.leaf(meter: peer, publicKeyHash: hash.span, into: &leafSpan)
        guard
            Roster.verifyPath(
                leaf: leaf.span, index: index, depth: setup.rosterDepth,
                path: payload.extracting((8 + FFDHGroup.byteCount)..<payload.count), root: setup.rosterRoot.span)
        else { throw .peerKeyRejected(peer: peer) }
        if peer == record.meter {
            // The roster must list this meter's own enrolled key, or the group's masks
            // would not cancel (and someone else would hold this meter's place).
            var diff: UInt8 = 0
            for k in 0..<32 { diff |= hash[k] ^ setup.ownKeyHash[k] }
            guard diff == 0 else { throw .peerKeyRejected(peer: peer) }
            scheme.setup.ownEntrySeen = true
        } else {
            let seed = try pairwiseSeed(privateKey: privateKey, peer: peer, publicKey: yBytes)
            try storePeerSeed(seed.span, peer: peer, index: Int(setup.peersProcessed))
            scheme.setup.peersProcessed += 1
        }
        scheme.setup.rosterNext += 1
        scheme.setup.lastPeer = peer
        if scheme.setup.rosterNext == record.groupSize {
            guard scheme.setup.ownEntrySeen else { throw .peerKeyRejected(peer: record.meter) }
            try Scheme.finishSetup(&self)
        }
    }

    /// The pairwise seed shared with `peer` whose DH public key is `publicKey` (384 bytes
    /// big-endian): one exponentiation. Refuses a key that is not a valid group element.
    func pairwiseSeed(privateKey: FFDHPrivateKey, peer: UInt32, publicKey: Span<UInt8>) throws(MeterError)
        -> InlineArray<32, UInt8>
    {
        guard let y = Limbs3072(bigEndianBytes: publicKey) else { throw .peerKeyRejected(peer: peer) }
        let secret: Limbs3072
        do { secret = try FFDHGroup.sharedSecret(privateKey: privateKey, peerPublicKey: y) } catch {
            throw .peerKeyRejected(peer: peer)
        }
        var secretBytes = InlineArray<384, UInt8>(repeating: 0)
        var secretSpan = secretBytes.mutableSpan
        secret.bigEndianBytes(into: &secretSpan)
        var seed = InlineArray<32, UInt8>(repeating: 0)
        var seedSpan = seed.mutableSpan
        KeySetup.pairwiseSeed(
            sharedSecret: secretBytes.span, group: record.group, meterA: record.meter, meterB: peer, into: &seedSpan)
        return seed
    }

    /// Step 4's common end: the record moves to `.ready` (the DH key is not kept) with the
    /// first label at or after now; the setup state is dropped.
    mutating func completeSetup() throws(MeterError) {
        var r = record
        r.phase = .ready
        r.dhPrivate = InlineArray(repeating: 0)  // no longer needed: do not keep it
        // The first label is the first interval that starts at or after now.
        let now = board.ticks
        let first = (now + timing.intervalTicks - 1) / timing.intervalTicks
        r.nextLabel = max(max(labelFloor, first), r.neighbourGraph?.activationLabel ?? 0)
        do { try store.save(r) } catch { throw .keyStore(error) }
        record = r
        labelFloor = r.nextLabel
        let lastEnrolment = scheme.setup.lastEnrolmentTick
        scheme.setup = GroupSetupState()
        scheme.setup.lastEnrolmentTick = lastEnrolment
    }

    /// Peers whose seeds the key setup in progress (or the last one) stored.
    public var peersProcessed: Int { Int(scheme.setup.peersProcessed) }

    // MARK: - the peer-seed area (flash)

    /// Peer seeds the flash can hold.
    public var peerSeedCapacity: Int {
        guard board.sectorCount > layout.peerSeedSector else { return 0 }
        return Int(board.sectorCount - layout.peerSeedSector)
            * (Int(board.sectorSize) / MeterFlashLayout.peerSeedSlotBytes)
    }

    func seedSlotAddress(_ index: Int) -> UInt32 {
        let perSector = Int(board.sectorSize) / MeterFlashLayout.peerSeedSlotBytes
        let sector = layout.peerSeedSector + UInt32(index / perSector)
        return sector * board.sectorSize + UInt32((index % perSector) * MeterFlashLayout.peerSeedSlotBytes)
    }

    /// Erases the sectors that will hold `peers` seeds.
    mutating func prepareSeedArea(peers: Int) throws(MeterError) {
        guard peers <= peerSeedCapacity else { throw .setupRejected(.groupTooLarge) }
        let perSector = Int(board.sectorSize) / MeterFlashLayout.peerSeedSlotBytes
        let sectors = (peers + perSector - 1) / perSector
        do throws(BoardError) {
            for s in 0..<sectors { try board.erase(sector: layout.peerSeedSector + UInt32(s)) }
        } catch {
            throw .board(error)
        }
    }

    /// Stores the pairwise seed shared with `peer` as the `index`-th slot.
    mutating func storePeerSeed(_ seed: Span<UInt8>, peer: UInt32, index: Int) throws(MeterError) {
        var slot = InlineArray<48, UInt8>(repeating: 0xFF)
        do {
            var span = slot.mutableSpan
            BigEndian.store(peer, at: 0, in: &span)
            for k in 0..<32 { span[4 + k] = seed[k] }
        }
        var sum = InlineArray<8, UInt8>(repeating: 0)
        var sumSpan = sum.mutableSpan
        PeerSeedSlot.checksum(slot.span, into: &sumSpan)
        for k in 0..<8 { slot[36 + k] = sum[k] }
        do throws(BoardError) { try board.program(seedSlotAddress(index), slot.span) } catch {
            throw .board(error)
        }
    }

    /// The `index`-th stored peer seed and its peer; nil when its slot fails its checksum.
    func loadPeerSeed(_ index: Int, seed: inout InlineArray<32, UInt8>) -> UInt32? {
        var slot = InlineArray<48, UInt8>(repeating: 0)
        var span = slot.mutableSpan
        do throws(BoardError) { try board.read(seedSlotAddress(index), into: &span) } catch { return nil }
        var sum = InlineArray<8, UInt8>(repeating: 0)
        var sumSpan = sum.mutableSpan
        PeerSeedSlot.checksum(slot.span, into: &sumSpan)
        var diff: UInt8 = 0
        for k in 0..<8 { diff |= sum[k] ^ slot[36 + k] }
        guard diff == 0 else { return nil }
        for k in 0..<32 { seed[k] = slot[4 + k] }
        return BigEndian.load32(slot.span, at: 0)
    }
}

/// A peer-seed slot in flash: peer u32 | seed 32 | checksum 8 (SHAKE128) | 0xFF × 4,
/// written once at key setup, checked on every use (docs/spec/flash-format.md).
public enum PeerSeedSlot {
    /// The checksum over the slot's first 36 bytes.
    public static func checksum(_ slot: Span<UInt8>, into out: inout MutableSpan<UInt8>) {
        var x = XOF(.shake128)
        x.absorb("PM-PEER-SEED-v1")
        x.absorb(slot.extracting(0..<36))
        x.squeeze(into: &out)
    }
}
