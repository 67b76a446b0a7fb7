// The meter's persistent state on NOR flash: keys, group parameters, key-setup
// state and the label counter.
//
// Layout: two sectors used as an append-only journal of fixed-size slots. A write
// appends the whole state as a new slot with the next sequence number: body and
// checksum first, then a commit byte (0xFF → 0x00) in a separate program operation.
// Boot takes the committed slot with a valid checksum and the highest sequence
// number. When the active sector is full, the other one is erased and the next
// slot goes there; the newest committed slot stays intact until a newer one is
// committed. Erases happen only to compact.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

/// What the key store found or could not do.
public enum KeyStoreError: Error, Equatable, Sendable {
    /// No committed slot at all: the meter was never provisioned.
    case empty
    /// Slots exist but none has a valid checksum: state is corrupt and is not used.
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

/// Everything the meter keeps across power cuts.
public struct MeterRecord: Sendable {
    public var meter: UInt32 = 0
    public var group: UInt32 = 0
    /// Per-meter key shared with the aggregator: authenticates frames both ways.
    public var frameKey = InlineArray<32, UInt8>(repeating: 0)
    /// Group-wide key shared with the provisioning authority (not the aggregator):
    /// authenticates DH public keys.
    public var provisioningKey = InlineArray<32, UInt8>(repeating: 0)
    /// Smallest group the meter agrees to join (a group of one reveals its reading).
    public var minGroupSize: UInt32 = 2
    public var phase: MeterPhase = .provisioned
    public var parameterID: UInt8 = 0
    public var keyMode: KeyMode = .seed
    public var groupSize: UInt32 = 0
    public var maxReading: UInt64 = 0
    public var psaSeed = InlineArray<32, UInt8>(repeating: 0)
    public var dhPrivate = InlineArray<35, UInt8>(repeating: 0)
    /// The first label not yet encrypted. Only grows.
    public var nextLabel: UInt64 = 0

    public init() {}

    static let bodyBytes = 4 + 4 + 32 + 32 + 4 + 1 + 1 + 1 + 4 + 8 + 32 + 35 + 8

    func encode(into b: inout MutableSpan<UInt8>, at base: Int) {
        var i = base
        BigEndian.store(meter, at: i, in: &b)
        BigEndian.store(group, at: i + 4, in: &b)
        i += 8
        for k in 0..<32 { b[i + k] = frameKey[k] }
        i += 32
        for k in 0..<32 { b[i + k] = provisioningKey[k] }
        i += 32
        BigEndian.store(minGroupSize, at: i, in: &b)
        b[i + 4] = phase.rawValue
        b[i + 5] = parameterID
        b[i + 6] = keyMode.rawValue
        i += 7
        BigEndian.store(groupSize, at: i, in: &b)
        BigEndian.store(maxReading, at: i + 4, in: &b)
        i += 12
        for k in 0..<32 { b[i + k] = psaSeed[k] }
        i += 32
        for k in 0..<35 { b[i + k] = dhPrivate[k] }
        i += 35
        BigEndian.store(nextLabel, at: i, in: &b)
    }

    /// nil when an enumerated field holds a value this firmware does not know.
    static func decode(_ b: Span<UInt8>, at base: Int) -> MeterRecord? {
        var r = MeterRecord()
        var i = base
        r.meter = BigEndian.load32(b, at: i)
        r.group = BigEndian.load32(b, at: i + 4)
        i += 8
        for k in 0..<32 { r.frameKey[k] = b[i + k] }
        i += 32
        for k in 0..<32 { r.provisioningKey[k] = b[i + k] }
        i += 32
        r.minGroupSize = BigEndian.load32(b, at: i)
        guard let phase = MeterPhase(rawValue: b[i + 4]), let mode = KeyMode(rawValue: b[i + 6]) else {
            return nil
        }
        r.phase = phase
        r.parameterID = b[i + 5]
        r.keyMode = mode
        i += 7
        r.groupSize = BigEndian.load32(b, at: i)
        r.maxReading = BigEndian.load64(b, at: i + 4)
        i += 12
        for k in 0..<32 { r.psaSeed[k] = b[i + k] }
        i += 32
        for k in 0..<35 { r.dhPrivate[k] = b[i + k] }
        i += 35
        r.nextLabel = BigEndian.load64(b, at: i)
        return r
    }
}

/// The journal on flash. Holds no copy of the state: `load` returns it.
public struct KeyStore {
    /// Bytes of one journal slot.
    public static let slotBytes = 256
    static let magic: UInt32 = 0x504D_4B53  // "PMKS"
    static let checksumBytes = 8
    // slot: magic u32 | sequence u32 | body | checksum 8 | ... | commit byte (last)
    static let bodyOffset = 8
    static let checksumOffset = bodyOffset + MeterRecord.bodyBytes
    static let commitOffset = slotBytes - 1

    let board: Board
    /// First of the two journal sectors.
    public let firstSector: UInt32
    var sequence: UInt32 = 0
    var activeSector: UInt32
    var nextSlot: UInt32 = 0

    public var slotsPerSector: UInt32 { board.sectorSize / UInt32(Self.slotBytes) }

    public init(board: Board, firstSector: UInt32 = 0) throws(KeyStoreError) {
        guard board.sectorCount >= firstSector + 2, board.sectorSize >= UInt32(Self.slotBytes) else {
            throw .flashTooSmall
        }
        self.board = board
        self.firstSector = firstSector
        activeSector = firstSector
    }

    /// The newest committed, valid state. Also positions the next write.
    public mutating func load() throws(KeyStoreError) -> MeterRecord {
        var best: MeterRecord? = nil
        var bestSequence: UInt32 = 0
        var sawCommitted = false
        var slot = InlineArray<256, UInt8>(repeating: 0)
        for s in 0..<UInt32(2) {
            let sector = firstSector + s
            for index in 0..<slotsPerSector {
                var span = slot.mutableSpan
                do throws(BoardError) {
                    try board.read(address(sector, index), into: &span)
                } catch {
                    continue
                }
                let bytes = slot.span
                guard bytes[Self.commitOffset] == 0x00 else { continue }
                sawCommitted = true
                guard BigEndian.load32(bytes, at: 0) == Self.magic, Self.checksumValid(bytes),
                    let record = MeterRecord.decode(bytes, at: Self.bodyOffset)
                else { continue }
                let seq = BigEndian.load32(bytes, at: 4)
                if best == nil || seq > bestSequence {
                    best = record
                    bestSequence = seq
                    activeSector = sector
                    nextSlot = index + 1
                }
            }
        }
        guard let found = best else { throw sawCommitted ? .corrupt : .empty }
        sequence = bestSequence
        // Continue after the newest slot, at the first slot that is fully erased: a
        // slot cut in the middle of programming is never programmed again.
        while nextSlot < slotsPerSector && !slotErased(activeSector, nextSlot) { nextSlot += 1 }
        return found
    }

    /// Erases both journal sectors: for provisioning a meter whose store is empty or corrupt.
    public mutating func format() throws(KeyStoreError) {
        do throws(BoardError) {
            try board.erase(sector: firstSector)
            try board.erase(sector: firstSector + 1)
        } catch {
            throw .flash(error)
        }
        sequence = 0
        activeSector = firstSector
        nextSlot = 0
    }

    func slotErased(_ sector: UInt32, _ index: UInt32) -> Bool {
        var slot = InlineArray<256, UInt8>(repeating: 0)
        var span = slot.mutableSpan
        do throws(BoardError) { try board.read(address(sector, index), into: &span) } catch { return false }
        var all: UInt8 = 0xFF
        for k in 0..<Self.slotBytes { all &= slot[k] }
        return all == 0xFF
    }

    /// Appends `record` as the newest state. After a power cut at any point, `load`
    /// returns either this record or the previous one.
    public mutating func save(_ record: MeterRecord) throws(KeyStoreError) {
        if nextSlot >= slotsPerSector {
            // Compact: the other sector becomes active. The newest committed slot
            // stays in the current sector until the new one is committed.
            let other = activeSector == firstSector ? firstSector + 1 : firstSector
            do throws(BoardError) { try board.erase(sector: other) } catch { throw .flash(error) }
            activeSector = other
            nextSlot = 0
        }
        var slot = InlineArray<256, UInt8>(repeating: 0xFF)
        var span = slot.mutableSpan
        BigEndian.store(Self.magic, at: 0, in: &span)
        BigEndian.store(sequence &+ 1, at: 4, in: &span)
        record.encode(into: &span, at: Self.bodyOffset)
        Self.writeChecksum(&span)
        let at = address(activeSector, nextSlot)
        nextSlot += 1  // a failed slot is not reused: it may hold partial bits
        do throws(BoardError) {
            try board.program(at, slot.span.extracting(0..<Self.commitOffset))
            let commit = InlineArray<1, UInt8>(repeating: 0x00)
            try board.program(at + UInt32(Self.commitOffset), commit.span)
        } catch {
            throw .flash(error)
        }
        sequence &+= 1
    }

    func address(_ sector: UInt32, _ index: UInt32) -> UInt32 {
        sector * board.sectorSize + index * UInt32(Self.slotBytes)
    }

    static func checksum(_ bytes: Span<UInt8>, into out: inout MutableSpan<UInt8>) {
        var x = XOF(.shake128)
        x.absorb("PM-KS-v1")
        x.absorb(bytes.extracting(0..<checksumOffset))
        x.squeeze(into: &out)
    }

    static func writeChecksum(_ slot: inout MutableSpan<UInt8>) {
        var sum = InlineArray<8, UInt8>(repeating: 0)
        var sumSpan = sum.mutableSpan
        checksum(slot.span, into: &sumSpan)
        for k in 0..<checksumBytes { slot[checksumOffset + k] = sum[k] }
    }

    static func checksumValid(_ slot: Span<UInt8>) -> Bool {
        var sum = InlineArray<8, UInt8>(repeating: 0)
        var sumSpan = sum.mutableSpan
        checksum(slot, into: &sumSpan)
        var diff: UInt8 = 0
        for k in 0..<checksumBytes { diff |= sum[k] ^ slot[checksumOffset + k] }
        return diff == 0
    }
}
