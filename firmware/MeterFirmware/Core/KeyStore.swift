// The meter's persistent keys and group state on NOR flash (the label counter and the
// encrypted readings live in the outbox, Outbox.swift).
//
// Layout: two sectors used as an append-only journal of 1 KiB slots; each sector is
// formatted (erased, verified, marker with a generation) before use, see FlashFormat.
// A slot holds the whole state as typed records (type, length, value), sealed with a
// checksum and a syndrome that corrects one flipped bit:
//
//   0     magic u32 "PMK2"
//   4     sequence u32         one more than the slot it supersedes
//   8     body length u16
//   10    reserved u16 (0xFFFF)
//   12    body: records  type u8 | length u16 | value[length], in any order
//   ...   0xFF up to the checksum
//   1012  checksum 8           SHAKE128("PM-KS-v2" ‖ bytes 0 ..< 1012)
//   1020  syndrome 3           over bytes 0 ..< 1020
//   1023  commit mark          programmed last, in its own operation
//
// Boot takes the committed, valid slot with the highest sequence. A slot cut while
// being written is never committed and never reused; when the active sector is full
// the other one is formatted and the next slot goes there, while the newest slot stays
// intact in the old sector. A committed slot that fails its checks after correction,
// where it could be the newest state, makes the whole store corrupt: the meter reports
// it and encrypts nothing, rather than fall back to an older state.
//
// Adding a record type: give it a code in `RecordType`, a field in `MeterRecord`,
// a case in `MeterRecord.encode` and `decode` and its size in `bodyBytes`; the body has
// room for 1000 bytes (the LWR-PSA records take 260, the customer key adds 20, the Paillier
// key 407 at 3072 bits: 687). Unknown types are skipped when reading.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

/// What the key store found or could not do.
public enum KeyStoreError: Error, Equatable, Sendable {
    /// No committed slot at all: the meter was never provisioned.
    case empty
    /// Committed data that fails its checks where it may be the newest: never used.
    case corrupt
    /// A flash operation failed while writing.
    case flash(BoardError)
    /// The board's flash is too small for the layout.
    case flashTooSmall
}

/// Where the meter is in its life.
public enum MeterPhase: UInt8, Sendable {
    /// Identity and keys from the factory, no group keys yet.
    case provisioned = 1
    /// Key setup started: DH private key and PSA seed exist, peers are being processed.
    case keySetup = 2
    /// Key setup completed: the meter encrypts readings.
    case ready = 3
}

/// How the meter holds its LWR key.
public enum KeyMode: UInt8, Sendable {
    /// Only the 32-byte seed; the key is re-expanded while computing each PRF.
    case seed = 0
    /// The λ key words stored expanded in flash and streamed from there.
    case expanded = 1
}

/// Type codes of the records in a key-store slot.
enum RecordType: UInt8 {
    /// meter u32 | group u32 | minimum group size u32
    case identity = 0x01
    /// 32 bytes: the secret the per-(group, epoch) frame keys derive from
    case frameSecret = 0x02
    /// 32 bytes: shared with the provisioning authority alone, tags enrolled DH keys
    case enrolmentKey = 0x03
    /// phase u8 | parameter id u8 | key mode u8 | group size u32 | max reading u64
    case group = 0x04
    /// 32 bytes
    case psaSeed = 0x05
    /// 35 bytes; present only while key setup runs
    case dhPrivate = 0x06
    /// next label u64: no label below it is ever encrypted
    case labelFloor = 0x07
    /// Fletcher sums u64 | u64 of the expanded key words (key mode expanded, ready)
    case expandedKeyCheck = 0x08
    /// format u8 (1) | key bits u16 | group count u8 | groups 4 × u32 | N big-endian
    /// (bits/8 bytes): the supplier's Paillier key and the groups the meter reports to
    case paillierKey = 0x09
    /// 32 bytes: the provisioning authority's SLH-DSA public key, written at manufacture
    case authorityKey = 0x0A
    /// group epoch u32 | Paillier epoch u32 | pending group u32 | pending epoch u32: what
    /// the meter last accepted (each only ever increases) and the group and epoch its DH
    /// key is enrolled for
    case epochs = 0x0B
    /// flags u8 (bit 0: the code was shown) | key 16: the customer key, drawn from the
    /// board RNG at provisioning, which seals the customer's detail (CustomerDetail.swift);
    /// absent in a store written before it existed (the meter then seals no detail)
    case customerKey = 0x0C
    /// degree u8 | max silent u8 | budget u8 | window u8 | position u32 | activation label u64:
    /// the neighbour graph of the group (present for key setup 1, docs/spec/dropout.md)
    case neighbourGraph = 0x0D
}

/// The neighbour graph a meter's group was signed with (key setup 1) and its own place.
public struct NeighbourRecord: Sendable, Equatable {
    /// k, t, B, W of the signed terms.
    public var degree: UInt8 = 0
    public var maxSilent: UInt8 = 0
    public var budget: UInt8 = 0
    public var window: UInt8 = 0
    /// The meter's ring position (its roster index).
    public var position: UInt32 = 0
    /// The first label encrypted under the group's keys.
    public var activationLabel: UInt64 = 0

    public init() {}

    static let valueBytes = 16
}

/// The supplier's Paillier public key as the key store keeps it (present when the meter
/// runs in Paillier mode); N² and the randomizers are recomputed in RAM.
public struct PaillierKeyRecord: Sendable, Equatable {
    /// Record format.
    static let format: UInt8 = 1
    /// Bytes before N.
    static let headerBytes = 20
    /// Bits of N: 2048 or 3072.
    public var bits: UInt16 = 0
    /// Groups the meter reports to (1 ... 4); entries from `groupCount` on are 0.
    public var groupCount: UInt8 = 0
    public var groups = InlineArray<4, UInt32>(repeating: 0)
    /// N, big-endian, in the first bits/8 bytes; zeros after.
    public var modulus = InlineArray<384, UInt8>(repeating: 0)

    public init() {}

    /// Bytes of the record's value.
    var valueBytes: Int { Self.headerBytes + Int(bits) / 8 }

    public static func == (a: PaillierKeyRecord, b: PaillierKeyRecord) -> Bool {
        var diff: UInt8 = 0
        for k in 0..<384 { diff |= a.modulus[k] ^ b.modulus[k] }
        for g in 0..<4 where a.groups[g] != b.groups[g] { return false }
        return diff == 0 && a.bits == b.bits && a.groupCount == b.groupCount
    }
}

/// Everything the meter keeps across power cuts, apart from the outbox.
public struct MeterRecord: Sendable {
    public var meter: UInt32 = 0
    public var group: UInt32 = 0
    /// Per-meter secret shared with the provisioning authority: the frame key of each
    /// (group, epoch) derives from it (`FrameKeys.derive`); aggregators get derived keys only.
    public var frameSecret = InlineArray<32, UInt8>(repeating: 0)
    /// Per-meter key shared with the provisioning authority alone: tags the DH public keys
    /// the meter enrols.
    public var enrolmentKey = InlineArray<32, UInt8>(repeating: 0)
    /// The authority's SLH-DSA public key: the meter acts only on statements it signed.
    public var authorityKey = InlineArray<32, UInt8>(repeating: 0)
    /// Epoch of the group parameters the meter accepted last (0: none yet).
    public var groupEpoch: UInt32 = 0
    /// Epoch of the Paillier key statement the meter accepted last (0: none yet).
    public var paillierEpoch: UInt32 = 0
    /// The group and epoch the DH key in `dhPrivate` is enrolled for.
    public var pendingGroup: UInt32 = 0
    public var pendingEpoch: UInt32 = 0
    /// Smallest group the meter agrees to join (a group of one reveals its reading).
    public var minGroupSize: UInt32 = 2
    public var phase: MeterPhase = .provisioned
    public var parameterID: UInt8 = 0
    public var keyMode: KeyMode = .seed
    public var groupSize: UInt32 = 0
    public var maxReading: UInt64 = 0
    public var psaSeed = InlineArray<32, UInt8>(repeating: 0)
    public var dhPrivate = InlineArray<35, UInt8>(repeating: 0)
    /// A floor for the label counter (set at setup and provisioning). The counter
    /// itself is the outbox's newest label + 1 when that is higher (`Meter.nextLabel`).
    public var nextLabel: UInt64 = 0
    /// Fletcher sums of the expanded key words, checked whenever the key is streamed.
    public var expandedKeySums: (UInt64, UInt64) = (0, 0)
    /// The supplier's Paillier key: the meter encrypts under it instead of LWR-PSA.
    public var paillierKey: PaillierKeyRecord? = nil
    /// The key the customer's detail is sealed under (AES-128-GCM), known to the meter and
    /// the customer only: drawn from the board RNG at provisioning, never sent.
    public var customerKey = InlineArray<16, UInt8>(repeating: 0)
    /// Whether `customerKey` is set (a store from before the customer key has none).
    public var hasCustomerKey = false
    /// Whether the customer code was shown (it is shown once, `Meter.revealCustomerCode`).
    public var customerCodeShown = false
    /// The group's neighbour graph (LWR-PSA, key setup 1); nil for the n-of-n setup.
    public var neighbourGraph: NeighbourRecord? = nil

    public init() {}

    /// Body bytes needed for this record.
    public var bodyBytes: Int {
        var n = 3 * 8 + 12 + 32 + 32 + 15 + 32 + 8 + 32 + 16
        if hasDHPrivate { n += 3 + 35 }
        if keyMode == .expanded && phase == .ready { n += 3 + 16 }
        if let key = paillierKey { n += 3 + key.valueBytes }
        if hasCustomerKey { n += 3 + 17 }
        if neighbourGraph != nil { n += 3 + NeighbourRecord.valueBytes }
        return n
    }

    var hasDHPrivate: Bool {
        var any: UInt8 = 0
        for k in 0..<35 { any |= dhPrivate[k] }
        return any != 0
    }

    /// Writes the body at `base`; returns its length.
    func encode(into b: inout MutableSpan<UInt8>, at base: Int) -> Int {
        var i = base
        func header(_ type: RecordType, _ length: Int, _ b: inout MutableSpan<UInt8>, _ i: inout Int) {
            b[i] = type.rawValue
            BigEndian.store(UInt16(length), at: i + 1, in: &b)
            i += 3
        }
        header(.identity, 12, &b, &i)
        BigEndian.store(meter, at: i, in: &b)
        BigEndian.store(group, at: i + 4, in: &b)
        BigEndian.store(minGroupSize, at: i + 8, in: &b)
        i += 12
        header(.frameSecret, 32, &b, &i)
        for k in 0..<32 { b[i + k] = frameSecret[k] }
        i += 32
        header(.enrolmentKey, 32, &b, &i)
        for k in 0..<32 { b[i + k] = enrolmentKey[k] }
        i += 32
        header(.authorityKey, 32, &b, &i)
        for k in 0..<32 { b[i + k] = authorityKey[k] }
        i += 32
        header(.epochs, 16, &b, &i)
        BigEndian.store(groupEpoch, at: i, in: &b)
        BigEndian.store(paillierEpoch, at: i + 4, in: &b)
        BigEndian.store(pendingGroup, at: i + 8, in: &b)
        BigEndian.store(pendingEpoch, at: i + 12, in: &b)
        i += 16
        header(.group, 15, &b, &i)
        b[i] = phase.rawValue
        b[i + 1] = parameterID
        b[i + 2] = keyMode.rawValue
        BigEndian.store(groupSize, at: i + 3, in: &b)
        BigEndian.store(maxReading, at: i + 7, in: &b)
        i += 15
        header(.psaSeed, 32, &b, &i)
        for k in 0..<32 { b[i + k] = psaSeed[k] }
        i += 32
        if hasDHPrivate {
            header(.dhPrivate, 35, &b, &i)
            for k in 0..<35 { b[i + k] = dhPrivate[k] }
            i += 35
        }
        header(.labelFloor, 8, &b, &i)
        BigEndian.store(nextLabel, at: i, in: &b)
        i += 8
        if keyMode == .expanded && phase == .ready {
            header(.expandedKeyCheck, 16, &b, &i)
            BigEndian.store(expandedKeySums.0, at: i, in: &b)
            BigEndian.store(expandedKeySums.1, at: i + 8, in: &b)
            i += 16
        }
        if let key = paillierKey {
            header(.paillierKey, key.valueBytes, &b, &i)
            b[i] = PaillierKeyRecord.format
            BigEndian.store(key.bits, at: i + 1, in: &b)
            b[i + 3] = key.groupCount
            for g in 0..<4 { BigEndian.store(key.groups[g], at: i + 4 + 4 * g, in: &b) }
            for k in 0..<(Int(key.bits) / 8) { b[i + PaillierKeyRecord.headerBytes + k] = key.modulus[k] }
            i += key.valueBytes
        }
        if hasCustomerKey {
            header(.customerKey, 17, &b, &i)
            b[i] = customerCodeShown ? 1 : 0
            for k in 0..<16 { b[i + 1 + k] = customerKey[k] }
            i += 17
        }
        if let graph = neighbourGraph {
            header(.neighbourGraph, NeighbourRecord.valueBytes, &b, &i)
            b[i] = graph.degree
            b[i + 1] = graph.maxSilent
            b[i + 2] = graph.budget
            b[i + 3] = graph.window
            BigEndian.store(graph.position, at: i + 4, in: &b)
            BigEndian.store(graph.activationLabel, at: i + 8, in: &b)
            i += NeighbourRecord.valueBytes
        }
        return i - base
    }

    /// nil when a required record is missing, a length is wrong, or an enumerated field
    /// holds a value this firmware does not know.
    static func decode(_ b: Span<UInt8>, at base: Int, length: Int) -> MeterRecord? {
        var r = MeterRecord()
        var seen: UInt16 = 0
        var i = base
        let end = base + length
        while i < end {
            guard i + 3 <= end else { return nil }
            let code = b[i]
            let n = Int(BigEndian.load16(b, at: i + 1))
            i += 3
            guard i + n <= end else { return nil }
            if let type = RecordType(rawValue: code) {
                guard seen & (1 << UInt16(code)) == 0 else { return nil }
                seen |= 1 << UInt16(code)
                switch type {
                case .identity:
                    guard n == 12 else { return nil }
                    r.meter = BigEndian.load32(b, at: i)
                    r.group = BigEndian.load32(b, at: i + 4)
                    r.minGroupSize = BigEndian.load32(b, at: i + 8)
                case .frameSecret:
                    guard n == 32 else { return nil }
                    for k in 0..<32 { r.frameSecret[k] = b[i + k] }
                case .enrolmentKey:
                    guard n == 32 else { return nil }
                    for k in 0..<32 { r.enrolmentKey[k] = b[i + k] }
                case .authorityKey:
                    guard n == 32 else { return nil }
                    for k in 0..<32 { r.authorityKey[k] = b[i + k] }
                case .epochs:
                    guard n == 16 else { return nil }
                    r.groupEpoch = BigEndian.load32(b, at: i)
                    r.paillierEpoch = BigEndian.load32(b, at: i + 4)
                    r.pendingGroup = BigEndian.load32(b, at: i + 8)
                    r.pendingEpoch = BigEndian.load32(b, at: i + 12)
                case .group:
                    guard n == 15, let phase = MeterPhase(rawValue: b[i]), let mode = KeyMode(rawValue: b[i + 2])
                    else { return nil }
                    r.phase = phase
                    r.parameterID = b[i + 1]
                    r.keyMode = mode
                    r.groupSize = BigEndian.load32(b, at: i + 3)
                    r.maxReading = BigEndian.load64(b, at: i + 7)
                case .psaSeed:
                    guard n == 32 else { return nil }
                    for k in 0..<32 { r.psaSeed[k] = b[i + k] }
                case .dhPrivate:
                    guard n == 35 else { return nil }
                    for k in 0..<35 { r.dhPrivate[k] = b[i + k] }
                case .labelFloor:
                    guard n == 8 else { return nil }
                    r.nextLabel = BigEndian.load64(b, at: i)
                case .expandedKeyCheck:
                    guard n == 16 else { return nil }
                    r.expandedKeySums = (BigEndian.load64(b, at: i), BigEndian.load64(b, at: i + 8))
                case .paillierKey:
                    guard n >= PaillierKeyRecord.headerBytes else { return nil }
                    var key = PaillierKeyRecord()
                    key.bits = BigEndian.load16(b, at: i + 1)
                    key.groupCount = b[i + 3]
                    guard b[i] == PaillierKeyRecord.format,
                        key.bits == 2048 || key.bits == 3072, n == key.valueBytes,
                        key.groupCount >= 1, key.groupCount <= 4
                    else { return nil }
                    for g in 0..<Int(key.groupCount) { key.groups[g] = BigEndian.load32(b, at: i + 4 + 4 * g) }
                    for k in 0..<(Int(key.bits) / 8) { key.modulus[k] = b[i + PaillierKeyRecord.headerBytes + k] }
                    r.paillierKey = key
                case .customerKey:
                    guard n == 17, b[i] <= 1 else { return nil }
                    r.customerCodeShown = b[i] == 1
                    for k in 0..<16 { r.customerKey[k] = b[i + 1 + k] }
                    r.hasCustomerKey = true
                case .neighbourGraph:
                    guard n == NeighbourRecord.valueBytes else { return nil }
                    var graph = NeighbourRecord()
                    graph.degree = b[i]
                    graph.maxSilent = b[i + 1]
                    graph.budget = b[i + 2]
                    graph.window = b[i + 3]
                    graph.position = BigEndian.load32(b, at: i + 4)
                    graph.activationLabel = BigEndian.load64(b, at: i + 8)
                    r.neighbourGraph = graph
                }
            }
            i += n
        }
        let required: UInt16 = 1 << 1 | 1 << 2 | 1 << 3 | 1 << 4 | 1 << 5 | 1 << 7 | 1 << 10 | 1 << 11
        guard seen & required == required else { return nil }
        // Values from flash are never trusted for arithmetic: a group of fewer than 2 (the
        // firmware's own floor) in setup or ready is not a state this firmware wrote.
        guard r.minGroupSize >= 2, r.phase == .provisioned || r.groupSize >= r.minGroupSize else { return nil }
        return r
    }
}

extension MeterRecord: Equatable {
    public static func == (a: MeterRecord, b: MeterRecord) -> Bool {
        var diff: UInt8 = 0
        for k in 0..<32 {
            diff |= a.frameSecret[k] ^ b.frameSecret[k]
            diff |= a.enrolmentKey[k] ^ b.enrolmentKey[k]
            diff |= a.authorityKey[k] ^ b.authorityKey[k]
            diff |= a.psaSeed[k] ^ b.psaSeed[k]
        }
        for k in 0..<35 { diff |= a.dhPrivate[k] ^ b.dhPrivate[k] }
        for k in 0..<16 { diff |= a.customerKey[k] ^ b.customerKey[k] }
        return diff == 0 && a.hasCustomerKey == b.hasCustomerKey && a.customerCodeShown == b.customerCodeShown
            && a.meter == b.meter && a.group == b.group && a.minGroupSize == b.minGroupSize
            && a.phase == b.phase && a.parameterID == b.parameterID && a.keyMode == b.keyMode
            && a.groupSize == b.groupSize && a.maxReading == b.maxReading && a.nextLabel == b.nextLabel
            && a.expandedKeySums.0 == b.expandedKeySums.0 && a.expandedKeySums.1 == b.expandedKeySums.1
            && a.paillierKey == b.paillierKey && a.groupEpoch == b.groupEpoch && a.paillierEpoch == b.paillierEpoch
            && a.pendingGroup == b.pendingGroup
            && a.pendingEpoch == b.pendingEpoch && a.neighbourGraph == b.neighbourGraph
    }
}

/// The journal on flash. Holds no copy of the state: `load` returns it.
public struct KeyStore {
    /// Bytes of one journal slot.
    public static let slotBytes = 1024
    static let magic: UInt32 = 0x504D_4B32  // "PMK2"
    static let markerMagic: UInt32 = 0x504D_4B53  // "PMKS"
    static let bodyOffset = 12
    /// Bytes covered by the syndrome (record and checksum).
    static let protectedBytes = slotBytes - 4
    static let commitOffset = slotBytes - 1
    /// Largest body a slot holds.
    public static let bodyCapacity = protectedBytes - FlashFormat.checksumBytes - bodyOffset

    let board: Board
    /// First of the two journal sectors.
    public let firstSector: UInt32
    var sequence: UInt32 = 0
    var activeSector: UInt32
    var activeFormatted = false
    var generation: UInt32 = 0
    var nextSlot: UInt32 = 0
    /// Flipped bits `load` found and corrected in live data (the newest slot, its commit
    /// mark, sector markers).
    public private(set) var corrected = 0
    /// Whether the newest state was one of them (the meter rewrites it then).
    public private(set) var newestCorrected = false
    /// The newest intact state when `load` found the store corrupt: its identity and
    /// frame key may authenticate a status report, never encrypt.
    public private(set) var lastIntact: MeterRecord? = nil

    public var slotsPerSector: UInt32 { (board.sectorSize - UInt32(FlashFormat.markerBytes)) / UInt32(Self.slotBytes) }

    public init(board: Board, firstSector: UInt32 = 0) throws(KeyStoreError) {
        guard board.sectorCount >= firstSector + 2,
            board.sectorSize >= UInt32(Self.slotBytes + FlashFormat.markerBytes)
        else {
            throw .flashTooSmall
        }
        self.board = board
        self.firstSector = firstSector
        activeSector = firstSector
    }

    /// The newest committed, valid state. Also positions the next write.
    public mutating func load() throws(KeyStoreError) -> MeterRecord {
        corrected = 0
        newestCorrected = false
        lastIntact = nil
        // Sectors with a valid marker, the newer generation first.
        var generations = InlineArray<2, UInt32>(repeating: 0)
        var marked = InlineArray<2, Bool>(repeating: false)
        for s in 0..<2 {
            do throws(BoardError) {
                if let (g, damaged) = try FlashFormat.readMarkerChecked(
                    board, sector: firstSector + UInt32(s), magic: Self.markerMagic)
                {
                    generations[s] = g
                    marked[s] = true
                    if damaged { corrected += 1 }
                }
            } catch {
                throw .flash(error)
            }
        }
        guard marked[0] || marked[1] else {
            activeFormatted = false
            activeSector = firstSector
            nextSlot = 0
            sequence = 0
            generation = 0
            throw .empty
        }
        let newer =
            marked[0] && marked[1] ? (generations[1] &- generations[0] < 0x8000_0000 ? 1 : 0) : (marked[0] ? 0 : 1)

        var best: MeterRecord? = nil
        var bestSequence: UInt32 = 0
        var bestSector = -1
        var bestIndex: UInt32 = 0
        var bestCorrected = false
        var bestDamaged = false
        var sawCommitted = false
        // A committed slot that fails its checks: where it lies decides whether it may
        // be the newest state.
        var invalidInNewer = false
        var lastInvalidInNewer: UInt32 = 0
        var lastUsed = InlineArray<2, Int>(repeating: -1)
        var slot = InlineArray<1024, UInt8>(repeating: 0)
        for s in 0..<2 where marked[s] {
            let sector = firstSector + UInt32(s)
            for i in 0..<Int(slotsPerSector) {  // Int ranges: see Outbox.writeEntry
                let index = UInt32(i)
                var span = slot.mutableSpan
                do throws(BoardError) { try board.read(address(sector, index), into: &span) } catch {
                    throw .flash(error)
                }
                if FlashFormat.isErased(slot.span, count: Self.slotBytes) { continue }
                lastUsed[s] = Int(index)
                guard FlashFormat.isMarked(slot[Self.commitOffset]) else { continue }
                sawCommitted = true
                var check = slot.mutableSpan
                let integrity = FlashFormat.verify(&check, length: Self.protectedBytes, domain: "PM-KS-v2")
                let bytes = slot.span
                let length = Int(BigEndian.load16(bytes, at: 8))
                guard integrity != .invalid, BigEndian.load32(bytes, at: 0) == Self.magic,
                    length <= Self.bodyCapacity,
                    let record = MeterRecord.decode(bytes, at: Self.bodyOffset, length: length)
                else {
                    if s == newer {
                        invalidInNewer = true
                        lastInvalidInNewer = index
                    }
                    continue
                }
                // Damage to a superseded slot needs no report; the newest one's is counted below.
                let damaged = integrity == .corrected || slot[Self.commitOffset] != 0
                if slot[Self.commitOffset] != 0 {
                    // A commit mark cut short or hit by a flip, still read as set: program
                    // it again, so the decision stays.
                    do throws(BoardError) {
                        _ = try FlashFormat.mark(board, address(sector, index) + UInt32(Self.commitOffset))
                    } catch {
                        throw .flash(error)
                    }
                }
                let seq = BigEndian.load32(bytes, at: 4)
                if best == nil || seq &- bestSequence < 0x8000_0000 {
                    best = record
                    bestSequence = seq
                    bestSector = s
                    bestIndex = index
                    bestCorrected = integrity == .corrected
                    bestDamaged = damaged
                }
            }
        }
        guard let found = best else { throw sawCommitted ? .corrupt : .empty }
        if invalidInNewer && (bestSector != newer || lastInvalidInNewer > bestIndex) {
            lastIntact = found
            throw .corrupt
        }
        // Whether the newest state itself was corrected (the meter then rewrites it).
        newestCorrected = bestCorrected
        if bestDamaged { corrected += 1 }
        sequence = bestSequence
        generation = generations[newer]
        activeSector = firstSector + UInt32(newer)
        activeFormatted = true
        // Continue after the last slot that is not erased: a slot cut in the middle of
        // programming, or hit by a flip, is never programmed again.
        nextSlot = UInt32(lastUsed[newer] + 1)
        return found
    }

    /// Formats the store: erases the second journal sector, then formats the first.
    /// For provisioning a meter whose store is empty or corrupt.
    public mutating func format() throws(KeyStoreError) {
        let ok: Bool
        do throws(BoardError) {
            // The second sector first: until the first one carries a new marker, a cut
            // leaves whatever the store held before.
            try board.erase(sector: firstSector + 1)
            ok = try FlashFormat.format(board, sector: firstSector, magic: Self.markerMagic, generation: 1)
        } catch {
            throw .flash(error)
        }
        guard ok else { throw .flash(.wornOut) }
        sequence = 0
        generation = 1
        activeSector = firstSector
        activeFormatted = true
        nextSlot = 0
    }

    /// Appends `record` as the newest state. After a power cut at any point, `load`
    /// returns either this record or the previous one.
    public mutating func save(_ record: MeterRecord) throws(KeyStoreError) {
        precondition(record.bodyBytes <= Self.bodyCapacity, "the key-store records exceed a slot")
        if !activeFormatted { try format() }
        var slot = InlineArray<1024, UInt8>(repeating: 0xFF)
        var span = slot.mutableSpan
        BigEndian.store(Self.magic, at: 0, in: &span)
        BigEndian.store(sequence &+ 1, at: 4, in: &span)
        let length = record.encode(into: &span, at: Self.bodyOffset)
        BigEndian.store(UInt16(length), at: 8, in: &span)
        FlashFormat.seal(&span, length: Self.protectedBytes, domain: "PM-KS-v2")
        // A slot that does not program back exactly (a stuck bit) is left uncommitted.
        for _ in 0..<(2 * Int(slotsPerSector)) {
            if nextSlot >= slotsPerSector { try compact() }
            let at = address(activeSector, nextSlot)
            nextSlot += 1  // a failed slot is not reused: it may hold partial bits
            do throws(BoardError) {
                guard try FlashFormat.programVerified(board, at, slot.span.extracting(0..<Self.commitOffset)) else {
                    continue
                }
                guard try FlashFormat.mark(board, at + UInt32(Self.commitOffset)) else { continue }
            } catch {
                throw .flash(error)
            }
            sequence &+= 1
            return
        }
        throw .flash(.wornOut)
    }

    /// The other sector becomes active. The newest committed slot stays in the current
    /// sector until a newer one is committed in the new one.
    mutating func compact() throws(KeyStoreError) {
        let other = activeSector == firstSector ? firstSector + 1 : firstSector
        do throws(BoardError) {
            guard try FlashFormat.format(board, sector: other, magic: Self.markerMagic, generation: generation &+ 1)
            else { throw .wornOut }
        } catch {
            throw .flash(error)
        }
        generation &+= 1
        activeSector = other
        nextSlot = 0
    }

    func address(_ sector: UInt32, _ index: UInt32) -> UInt32 {
        sector * board.sectorSize + index * UInt32(Self.slotBytes)
    }
}
