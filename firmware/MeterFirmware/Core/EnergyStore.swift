// The energy register across power cuts: what the meter measured and has not yet put in
// a stored reading, written when the board raises its power-fail warning (meter_hal.h,
// `power_failing`) and read back at boot, so an outage loses no energy.
//
// Layout (docs/spec/flash-format.md): two sectors used as a journal of 64-byte slots,
// each formatted before use (FlashFormat, marker "PMEN"); 63 slots per 4 KiB sector.
//
//   0     magic u32 "PME1"
//   4     sequence u32        one more than the slot it supersedes
//   8     label u64           the label counter when saved: the energy is in no stored
//                             reading, and belongs to the first one stored from this label on
//   16    register u64        energy in mW·ticks not yet counted in whole Wh
//   24    carried u64         whole Wh not yet reported (the interval so far, the carry)
//   32    lost u64            Wh dropped beyond the carry bound (local, never reported)
//   40    ticks/s u32         the clock the register counts in
//   44    0xFF
//   52    checksum 8          SHAKE128("PM-EN-v1" ‖ bytes 0 ..< 52)
//   60    syndrome 3          over bytes 0 ..< 60
//   63    commit mark         programmed last, in its own operation
//
// A save is two program operations (the slot, its commit mark) and never an erase: when
// the active sector is full, the other one is formatted at boot (`prepare`), while the
// newest slot stays intact where it is. After a cut anywhere, `load` returns the newest
// committed valid slot: the new record or the one before, never a mix. A record older
// than the newest is either stale (its label lies below the label counter) or an earlier
// part of the same unreported energy, so falling back to it never counts energy twice.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

/// The meter's energy register as it is saved at a power-fail warning.
public struct EnergyRecord: Equatable, Sendable {
    /// The label counter when saved: the record counts only while no reading of this label
    /// or a later one is stored.
    public var label: UInt64 = 0
    /// Energy not yet counted in whole Wh, in mW·ticks.
    public var registerMilliwattTicks: UInt64 = 0
    /// Whole Wh measured and not yet in a stored reading.
    public var carriedWattHours: UInt64 = 0
    /// Wh dropped beyond the carry bound since manufacture (kept locally, never sent).
    public var lostWattHours: UInt64 = 0
    /// Ticks per second of the clock the register counts in.
    public var ticksPerSecond: UInt32 = 0

    public init() {}
}

/// The journal of energy records on flash.
public struct EnergyStore {
    static let slotBytes = 64
    static let magic: UInt32 = 0x504D_4531  // "PME1"
    static let markerMagic: UInt32 = 0x504D_454E  // "PMEN"
    static let protectedBytes = 60
    static let commitOffset = 63
    static let domain: StaticString = "PM-EN-v1"

    /// Writes through the handle that may spend the power-fail budget.
    let board: Board
    public let firstSector: UInt32
    var sequence: UInt32 = 0
    var active = 0
    var activeFormatted = false
    var generation: UInt32 = 0
    var nextSlot: UInt32 = 0

    var slotsPerSector: UInt32 { (board.sectorSize - UInt32(FlashFormat.markerBytes)) / UInt32(Self.slotBytes) }

    public init(board: Board, firstSector: UInt32) throws(KeyStoreError) {
        guard board.sectorCount >= firstSector + 2,
            board.sectorSize >= UInt32(2 * Self.slotBytes + FlashFormat.markerBytes)
        else { throw .flashTooSmall }
        self.board = board.forPowerFailSave
        self.firstSector = firstSector
    }

    func address(_ sector: Int, _ slot: UInt32) -> UInt32 {
        (firstSector + UInt32(sector)) * board.sectorSize + slot * UInt32(Self.slotBytes)
    }

    /// The newest committed, valid record, or nil (never saved, or nothing intact). Also
    /// positions the next save.
    public mutating func load() throws(KeyStoreError) -> EnergyRecord? {
        var generations = InlineArray<2, UInt32>(repeating: 0)
        var marked = InlineArray<2, Bool>(repeating: false)
        for s in 0..<2 {
            do throws(BoardError) {
                if let g = try FlashFormat.readMarker(board, sector: firstSector + UInt32(s), magic: Self.markerMagic) {
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
        var best: EnergyRecord? = nil
        var bestSequence: UInt32 = 0
        var lastUsed = -1
        var slot = InlineArray<64, UInt8>(repeating: 0)
        for s in 0..<2 where marked[s] {
            for i in 0..<Int(slotsPerSector) {
                var span = slot.mutableSpan
                do throws(BoardError) { try board.read(address(s, UInt32(i)), into: &span) } catch {
                    throw .flash(error)
                }
                if FlashFormat.isErased(slot.span, count: Self.slotBytes) { continue }
                if s == active { lastUsed = i }
                guard FlashFormat.isMarked(slot[Self.commitOffset]) else { continue }
                var check = slot.mutableSpan
                guard FlashFormat.verify(&check, length: Self.protectedBytes, domain: Self.domain) != .invalid,
                    BigEndian.load32(slot.span, at: 0) == Self.magic
                else { continue }
                let seq = BigEndian.load32(slot.span, at: 4)
                if best == nil || seq &- bestSequence < 0x8000_0000 {
                    var r = EnergyRecord()
                    r.label = BigEndian.load64(slot.span, at: 8)
                    r.registerMilliwattTicks = BigEndian.load64(slot.span, at: 16)
                    r.carriedWattHours = BigEndian.load64(slot.span, at: 24)
                    r.lostWattHours = BigEndian.load64(slot.span, at: 32)
                    r.ticksPerSecond = BigEndian.load32(slot.span, at: 40)
                    best = r
                    bestSequence = seq
                }
            }
        }
        sequence = bestSequence
        nextSlot = UInt32(lastUsed + 1)
        return best
    }

    /// Makes the next save two program operations: formats a sector when none is
    /// formatted or the active one is full. Called at boot, never during a warning.
    public mutating func prepare() throws(KeyStoreError) {
        guard !activeFormatted || nextSlot >= slotsPerSector else { return }
        let target = activeFormatted ? 1 - active : 0
        let ok: Bool
        do throws(BoardError) {
            ok = try FlashFormat.format(
                board, sector: firstSector + UInt32(target), magic: Self.markerMagic, generation: generation &+ 1)
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
    public var ready: Bool { activeFormatted && nextSlot < slotsPerSector }

    /// Appends `record` as the newest: the slot, then its commit mark. Throws `wornOut`
    /// when `prepare` left no free slot (it never erases here).
    public mutating func save(_ record: EnergyRecord) throws(KeyStoreError) {
        guard ready else { throw .flash(.wornOut) }
        var slot = InlineArray<64, UInt8>(repeating: 0xFF)
        var span = slot.mutableSpan
        BigEndian.store(Self.magic, at: 0, in: &span)
        BigEndian.store(sequence &+ 1, at: 4, in: &span)
        BigEndian.store(record.label, at: 8, in: &span)
        BigEndian.store(record.registerMilliwattTicks, at: 16, in: &span)
        BigEndian.store(record.carriedWattHours, at: 24, in: &span)
        BigEndian.store(record.lostWattHours, at: 32, in: &span)
        BigEndian.store(record.ticksPerSecond, at: 40, in: &span)
        FlashFormat.seal(&span, length: Self.protectedBytes, domain: Self.domain)
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
}
