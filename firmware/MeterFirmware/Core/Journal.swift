// A journal of fixed-size records on two flash sectors, safe across power cuts: the
// energy register (EnergyStore.swift) and the bill totals (Billing.swift) are kept in one.
//
// Slot layout (`Record.slotBytes` bytes; docs/spec/flash-format.md):
//
//   0      magic u32            `Record.magic`
//   4      sequence u32         one more than the slot it supersedes
//   8      the record           `Record.encode` / `Record.init(slot:)`, up to byte S − 12
//   S − 12 checksum 8           SHAKE128(`Record.domain` ‖ bytes 0 ..< S − 12)
//   S − 4  syndrome 3           over bytes 0 ..< S − 4
//   S − 1  commit mark          programmed last, in its own operation
//
// Each sector is formatted before use (FlashFormat, marker `Record.markerMagic`). A save is
// two program operations (the slot, its commit mark) and never an erase: when the active
// sector is full, the other one is formatted by `prepare` (at boot, or by a caller that may
// erase), while the newest slot stays intact where it is. After a cut anywhere, `load`
// returns the newest committed valid slot: the new record or the one before, never a mix.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

/// A record a `Journal` keeps.
protocol JournalRecord {
    /// Bytes of a slot: a multiple of 8, at most `Journal.maxSlotBytes`.
    static var slotBytes: Int { get }
    static var magic: UInt32 { get }
    /// The sector marker's magic.
    static var markerMagic: UInt32 { get }
    /// The checksum's domain tag.
    static var domain: StaticString { get }
    /// True when saves happen during a power-fail warning (they write through the board
    /// handle that may spend its budget, `Board.forPowerFailSave`).
    static var savesAtPowerFail: Bool { get }
    /// Reads the record from a slot that checked out (bytes 8 ..< slotBytes − 12).
    init(slot: Span<UInt8>)
    /// Writes the record into bytes 8 ..< slotBytes − 12 of `slot` (the rest is 0xFF).
    func encode(into slot: inout MutableSpan<UInt8>)
}

/// The journal of one kind of record on two flash sectors.
struct Journal<Record: JournalRecord> {
    static var maxSlotBytes: Int { 192 }
    static var protectedBytes: Int { Record.slotBytes - 4 }
    static var commitOffset: Int { Record.slotBytes - 1 }

    let board: Board
    let firstSector: UInt32
    var sequence: UInt32 = 0
    var active = 0
    var activeFormatted = false
    var generation: UInt32 = 0
    var nextSlot: UInt32 = 0

    var slotsPerSector: UInt32 { (board.sectorSize - UInt32(FlashFormat.markerBytes)) / UInt32(Record.slotBytes) }

    init(board: Board, firstSector: UInt32) throws(KeyStoreError) {
        precondition(
            Record.slotBytes % 8 == 0 && Record.slotBytes >= 32 && Record.slotBytes <= Self.maxSlotBytes,
            "a journal slot of 32 ... 192 bytes")
        guard board.sectorCount >= firstSector + 2,
            board.sectorSize >= UInt32(2 * Record.slotBytes + FlashFormat.markerBytes)
        else { throw .flashTooSmall }
        self.board = Record.savesAtPowerFail ? board.forPowerFailSave : board
        self.firstSector = firstSector
    }

    func address(_ sector: Int, _ slot: UInt32) -> UInt32 {
        (firstSector + UInt32(sector)) * board.sectorSize + slot * UInt32(Record.slotBytes)
    }

    /// The newest committed, valid record, or nil (never saved, or nothing intact). Also
    /// positions the next save.
    mutating func load() throws(KeyStoreError) -> Record? {
        var generations = InlineArray<2, UInt32>(repeating: 0)
        var marked = InlineArray<2, Bool>(repeating: false)
        for s in 0..<2 {
            do throws(BoardError) {
                if let g = try FlashFormat.readMarker(board, sector: firstSector + UInt32(s), magic: Record.markerMagic)
                {
                    generations[s] = g
                    marked[s] = true
                }
            } catch {
                throw .flash(error)
            }
        }
        activeFormatted = marked[0] || marked[1]
        nextSlot = 0
        sequence = 0
        guard activeFormatted else {
            active = 0
            generation = 0
            return nil
        }
        active = marked[0] && marked[1] ? (generations[1] &- generations[0] < 0x8000_0000 ? 1 : 0) : (marked[0] ? 0 : 1)
        generation = generations[active]
        var best: Record? = nil
        var bestSequence: UInt32 = 0
        var lastUsed = -1
        var buffer = InlineArray<192, UInt8>(repeating: 0)
        let bytes = Record.slotBytes
        for s in 0..<2 where marked[s] {
            for i in 0..<Int(slotsPerSector) {
                var slot = buffer.mutableSpan
                do throws(BoardError) { try board.read(address(s, UInt32(i)), into: &slot, count: bytes) } catch {
                    throw .flash(error)
                }
                if FlashFormat.isErased(slot.span, count: bytes) { continue }
                if s == active { lastUsed = i }
                guard FlashFormat.isMarked(slot[Self.commitOffset]) else { continue }
                guard FlashFormat.verify(&slot, length: Self.protectedBytes, domain: Record.domain) != .invalid,
                    BigEndian.load32(slot.span, at: 0) == Record.magic
                else { continue }
                let seq = BigEndian.load32(slot.span, at: 4)
                if best == nil || seq &- bestSequence < 0x8000_0000 {
                    best = Record(slot: slot.span)
                    bestSequence = seq
                }
            }
        }
        sequence = bestSequence
        nextSlot = UInt32(lastUsed + 1)
        return best
    }

    /// Makes the next save two program operations: formats a sector when none is
    /// formatted or the active one is full. Never called during a power-fail warning.
    mutating func prepare() throws(KeyStoreError) {
        guard !activeFormatted || nextSlot >= slotsPerSector else { return }
        let target = activeFormatted ? 1 - active : 0
        let ok: Bool
        do throws(BoardError) {
            ok = try FlashFormat.format(
                board, sector: firstSector + UInt32(target), magic: Record.markerMagic, generation: generation &+ 1)
        } catch {
            throw .flash(error)
        }
        guard ok else { throw .flash(.wornOut) }
        generation &+= 1
        active = target
        activeFormatted = true
        nextSlot = 0
    }

    /// Whether `save` needs no erase.
    var ready: Bool { activeFormatted && nextSlot < slotsPerSector }

    /// Appends `record` as the newest: the slot, then its commit mark. Throws `wornOut`
    /// when `prepare` left no free slot (it never erases here).
    mutating func save(_ record: Record) throws(KeyStoreError) {
        guard ready else { throw .flash(.wornOut) }
        var buffer = InlineArray<192, UInt8>(repeating: 0xFF)
        var slot = buffer.mutableSpan
        BigEndian.store(Record.magic, at: 0, in: &slot)
        BigEndian.store(sequence &+ 1, at: 4, in: &slot)
        record.encode(into: &slot)
        FlashFormat.seal(&slot, length: Self.protectedBytes, domain: Record.domain)
        let at = address(active, nextSlot)
        nextSlot += 1  // a failed slot is never reused
        do throws(BoardError) {
            guard try FlashFormat.programVerified(board, at, slot.span.extracting(0..<Self.commitOffset)),
                try FlashFormat.mark(board, at + UInt32(Self.commitOffset))
            else { throw .wornOut }
        } catch {
            throw .flash(error)
        }
        sequence &+= 1
    }

    /// Erases both sectors' markers' worth: the journal holds nothing after it (a new
    /// identity at provisioning). The next save formats a sector first (`prepare`).
    mutating func clear() throws(KeyStoreError) {
        do throws(BoardError) {
            for s in 0..<2 { try board.erase(sector: firstSector + UInt32(s)) }
        } catch {
            throw .flash(error)
        }
        activeFormatted = false
        active = 0
        generation = 0
        nextSlot = 0
        sequence = 0
    }
}
