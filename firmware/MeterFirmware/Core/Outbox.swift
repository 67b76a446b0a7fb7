// The outbox: every encrypted reading is written to flash before it is sent, and sent
// again, byte for byte, until the aggregator acknowledges it. It is also the label
// counter: the newest label in the outbox is the last one ever encrypted, so the meter
// never encrypts a label twice, across power cuts, and the counter costs no extra write.
//
// Layout: a ring of sectors (4 by default), each formatted before use (FlashFormat);
// the newest generation is the active sector. Entries are fixed-size slots, the smallest
// multiple of 64 bytes that holds the frame and 29 bytes of bookkeeping (128 bytes for an
// LWR-PSA reading frame of 48 bytes, 896 for a Paillier frame of 808 at 3072 bits):
//
//   0       kind u8 (0x52 reading) | flags u8 (0xFF written at encryption, 0xFE copy)
//   2       frame length u16
//   4       sequence u32          one more than the previous entry
//   8       label u64
//   16      frame                 exactly the bytes sent on the radio
//   ...     0xFF
//   E − 13  checksum 8            SHAKE128("PM-OB-v1" ‖ bytes 0 ..< E − 13)
//   E − 5   syndrome 3
//   E − 2   commit mark           programmed after the entry
//   E − 1   acknowledged mark     programmed when the aggregator's ack arrives
//
// Entries are told apart by label and group: a meter in Paillier mode sends one frame
// per group it reports to for each label, and the frame's own header names the group
// (frame bytes 4 ..< 8). The ring's marker magic depends on the entry size, so a ring
// written with another entry size reads as unformatted, never as entries.
//
// Appending writes one entry and its commit mark; an acknowledgement programs one
// mark byte. A sector is erased only when the ring comes round to it: before that,
// the entries in it that are still unacknowledged are copied into the active sector
// (as "copy" entries with the same frame), so nothing unacknowledged is ever erased.
// With one 128-byte entry per reading, a 4 KiB sector holds 31, and at 96 readings a
// day each sector of a 4-sector ring is erased about 283 times a year.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

/// The flash outbox of encrypted readings, and the label counter.
public struct Outbox {
    /// Unacknowledged readings kept at most; when full, the oldest is dropped (and reported).
    public static let capacity = 16
    /// Largest ring.
    public static let maxSectors = 16
    static let maxEntryBytes = 1024
    static let markerMagic: UInt32 = 0x504D_4F42  // "PMOB"
    static let kindReading: UInt8 = 0x52
    static let flagsOriginal: UInt8 = 0xFF
    static let flagsCopy: UInt8 = 0xFE
    static let headerBytes = 16

    let board: Board
    public let firstSector: UInt32
    public let sectorCount: UInt32
    /// Bytes of one entry slot (a multiple of 64, at least the frame plus 29).
    public let entryBytes: Int
    /// The sector marker's magic for this entry size.
    let magic: UInt32

    var generations = InlineArray<16, UInt32>(repeating: 0)
    var formatted = InlineArray<16, Bool>(repeating: false)
    var bad = InlineArray<16, Bool>(repeating: false)
    var active = -1
    var nextSlot: UInt32 = 0
    var sequence: UInt32 = 0
    var newestGeneration: UInt32 = 0
    var hasLabel = false
    var lastLabel: UInt64 = 0

    var pendingLabels = InlineArray<16, UInt64>(repeating: 0)
    var pendingGroups = InlineArray<16, UInt32>(repeating: 0)
    var pendingAddresses = InlineArray<16, UInt32>(repeating: 0)
    /// Unacknowledged readings, oldest label first.
    public private(set) var pendingCount = 0
    /// Entries whose flipped bit `load` corrected.
    public private(set) var corrected = 0
    /// Unacknowledged entries a rotation had to drop since boot (no sector's entries fit).
    public private(set) var droppedByRotation = 0
    /// Unacknowledged entries dropped since boot: by a rotation, or because the outbox
    /// was full.
    public var droppedEntries: Int { droppedByRotation + droppedWhenFull }
    var droppedWhenFull = 0
    /// The oldest label dropped by a rotation and not yet reported (`append` returns it).
    var lastDropped: UInt64? = nil

    /// Bytes of an entry's protected part (header, frame, padding, checksum).
    var protectedBytes: Int { entryBytes - 5 }
    var commitOffset: Int { entryBytes - 2 }
    var ackOffset: Int { entryBytes - 1 }
    /// The largest frame an entry holds.
    public var frameCapacity: Int { entryBytes - 5 - FlashFormat.checksumBytes - Self.headerBytes }
    public var slotsPerSector: UInt32 { (board.sectorSize - UInt32(FlashFormat.markerBytes)) / UInt32(entryBytes) }

    /// Whether the ring has a formatted sector (`load` found one, or it was formatted).
    public var isFormatted: Bool { active >= 0 }

    /// The newest label ever put in the outbox (acknowledged or not), if any.
    public var newestLabel: UInt64? { hasLabel ? lastLabel : nil }

    /// The entry slot for frames up to `frameBytes`.
    public static func entryBytes(forFrame frameBytes: Int) -> Int {
        let need = frameBytes + 5 + FlashFormat.checksumBytes + headerBytes
        return max(64, (need + 63) / 64 * 64)
    }

    /// The ring marker's magic for entries of `entryBytes` (64 ... 1024): "PMOB" for the
    /// 128-byte entries of LWR-PSA, otherwise "PMOB" with whole bytes inverted, one per
    /// bit in which (entryBytes / 64 − 1) differs from 1. Two sizes' magics differ in 8
    /// bits or more, and from the key store's "PMKS" in 5 or more: never within the 2
    /// flipped bits a marker read tolerates.
    static func markerMagic(entryBytes: Int) -> UInt32 {
        let x = (entryBytes / 64 - 1) ^ 1
        var spread: UInt32 = 0
        for j in 0..<4 where (x >> j) & 1 == 1 { spread |= 0xFF << UInt32(8 * j) }
        return markerMagic ^ spread
    }

    public init(board: Board, firstSector: UInt32, sectorCount: UInt32 = 4, maxFrameBytes: Int = 48)
        throws(KeyStoreError)
    {
        let entry = Self.entryBytes(forFrame: maxFrameBytes)
        guard sectorCount >= 2, sectorCount <= UInt32(Self.maxSectors), entry <= Self.maxEntryBytes,
            board.sectorCount >= firstSector + sectorCount,
            board.sectorSize >= UInt32(2 * entry + FlashFormat.markerBytes)
        else { throw .flashTooSmall }
        self.board = board
        self.firstSector = firstSector
        self.sectorCount = sectorCount
        entryBytes = entry
        magic = Self.markerMagic(entryBytes: entry)
    }

    /// Ring sectors found worn (they no longer erase or program clean) since boot.
    public var retiredSectors: Int {
        var n = 0
        for i in 0..<Int(sectorCount) where bad[i] { n += 1 }
        return n
    }

    /// The label of the i-th unacknowledged reading (oldest first).
    public func pendingLabel(_ i: Int) -> UInt64 { pendingLabels[i] }

    /// The group of the i-th unacknowledged reading.
    public func pendingGroup(_ i: Int) -> UInt32 { pendingGroups[i] }

    /// The group named in the header of the frame stored in `entry`.
    static func frameGroup(_ entry: Span<UInt8>) -> UInt32 { BigEndian.load32(entry, at: headerBytes + 4) }

    func sectorOf(_ address: UInt32) -> Int { Int(address / board.sectorSize - firstSector) }

    func address(_ ring: Int, _ slot: UInt32) -> UInt32 {
        (firstSector + UInt32(ring)) * board.sectorSize + slot * UInt32(entryBytes)
    }

    func pendingIn(_ ring: Int) -> Int {
        var n = 0
        for i in 0..<pendingCount where sectorOf(pendingAddresses[i]) == ring { n += 1 }
        return n
    }

    // MARK: - boot

    /// Rebuilds the pending list and the label counter from flash. Throws `.corrupt` when
    /// committed data fails its checks and may be an unacknowledged reading or the newest
    /// label: then the counter cannot be trusted and the meter must not encrypt.
    public mutating func load() throws(KeyStoreError) {
        active = -1
        nextSlot = 0
        sequence = 0
        newestGeneration = 0
        hasLabel = false
        lastLabel = 0
        pendingCount = 0
        corrected = 0
        lastDropped = nil
        // Formatted sectors in generation order.
        var order = InlineArray<16, Int>(repeating: 0)  // 16 = maxSectors
        var count = 0
        for i in 0..<Int(sectorCount) {
            bad[i] = false
            let marker: (generation: UInt32, damaged: Bool)?
            do throws(BoardError) {
                marker = try FlashFormat.readMarkerChecked(
                    board, sector: firstSector + UInt32(i), magic: magic)
            } catch {
                throw .flash(error)
            }
            formatted[i] = marker != nil
            generations[i] = marker?.generation ?? 0
            guard let marker else { continue }
            if marker.damaged { corrected += 1 }
            var j = count
            while j > 0 && generations[order[j - 1]] &- generations[i] < 0x8000_0000
                && generations[order[j - 1]] != generations[i]
            {
                order[j] = order[j - 1]
                j -= 1
            }
            order[j] = i
            count += 1
        }
        guard count > 0 else { return }

        var lastOriginal = -1  // position (order index · 1024 + slot) of the newest valid original
        var lastInvalid = -1
        var pendingLost = false
        var lastUsed = -1
        var newestDamaged = false
        var entry = InlineArray<1024, UInt8>(repeating: 0)
        for position in 0..<count {
            let ring = order[position]
            lastUsed = -1
            for i in 0..<Int(slotsPerSector) {
                let slot = UInt32(i)
                let at = address(ring, slot)
                var span = entry.mutableSpan
                do throws(BoardError) { try board.read(at, into: &span, count: entryBytes) } catch {
                    throw .flash(error)
                }
                if FlashFormat.isErased(entry.span, count: entryBytes) { continue }
                lastUsed = Int(slot)
                guard FlashFormat.isMarked(entry[commitOffset]) else { continue }
                let acknowledged = FlashFormat.isMarked(entry[ackOffset])
                var check = entry.mutableSpan
                let integrity = FlashFormat.verify(&check, length: protectedBytes, domain: "PM-OB-v1")
                let bytes = entry.span
                let length = Int(BigEndian.load16(bytes, at: 2))
                // Label 2^64 − 1 has no successor for the counter: never written by this firmware.
                guard integrity != .invalid, bytes[0] == Self.kindReading, length <= frameCapacity,
                    length >= Frame.headerBytes, bytes[1] == Self.flagsOriginal || bytes[1] == Self.flagsCopy,
                    BigEndian.load64(bytes, at: 8) != .max
                else {
                    lastInvalid = position * 1024 + Int(slot)
                    if !acknowledged { pendingLost = true }
                    continue
                }
                var damaged = integrity == .corrected
                // Marks still read as set but hit by a flip (or cut short): program them
                // again so the decision stays.
                for k in 0..<2 {
                    let offset = k == 0 ? commitOffset : ackOffset
                    guard FlashFormat.isMarked(entry[offset]) && entry[offset] != 0 else { continue }
                    damaged = true
                    do throws(BoardError) { _ = try FlashFormat.mark(board, at + UInt32(offset)) } catch {
                        throw .flash(error)
                    }
                }
                // Still unacknowledged, but a bit of the mark reads 0: a flip.
                if !acknowledged && entry[ackOffset] != 0xFF { damaged = true }
                let seq = BigEndian.load32(bytes, at: 4)
                let label = BigEndian.load64(bytes, at: 8)
                if seq &- sequence < 0x8000_0000 { sequence = seq }
                if bytes[1] == Self.flagsOriginal { lastOriginal = position * 1024 + Int(slot) }
                if !hasLabel || label >= lastLabel {
                    lastLabel = label
                    hasLabel = true
                    newestDamaged = damaged
                }
                // Damage is reported where it is live: an unacknowledged entry, the newest label.
                let group = Self.frameGroup(bytes)
                if acknowledged {
                    removePending(label, group)
                } else {
                    if damaged { corrected += 1 }
                    insertPending(label, group, at)
                }
            }
        }
        if pendingLost || lastInvalid > lastOriginal { throw .corrupt }
        if newestDamaged && !isPending(label: lastLabel) { corrected += 1 }
        active = order[count - 1]
        newestGeneration = generations[active]
        nextSlot = UInt32(lastUsed + 1)
    }

    mutating func insertPending(_ label: UInt64, _ group: UInt32, _ address: UInt32) {
        if let i = pendingIndex(label, group) {
            pendingAddresses[i] = address  // a newer copy of the same entry
            return
        }
        if pendingCount == Self.capacity {
            // More than the outbox keeps: forget the oldest (it stays on flash unacknowledged).
            for i in 1..<pendingCount {
                pendingLabels[i - 1] = pendingLabels[i]
                pendingGroups[i - 1] = pendingGroups[i]
                pendingAddresses[i - 1] = pendingAddresses[i]
            }
            pendingCount -= 1
        }
        // Oldest label first; a label's entries in the order they were written.
        var i = pendingCount
        while i > 0 && pendingLabels[i - 1] > label {
            pendingLabels[i] = pendingLabels[i - 1]
            pendingGroups[i] = pendingGroups[i - 1]
            pendingAddresses[i] = pendingAddresses[i - 1]
            i -= 1
        }
        pendingLabels[i] = label
        pendingGroups[i] = group
        pendingAddresses[i] = address
        pendingCount += 1
    }

    func pendingIndex(_ label: UInt64, _ group: UInt32) -> Int? {
        for i in 0..<pendingCount where pendingLabels[i] == label && pendingGroups[i] == group { return i }
        return nil
    }

    func isPending(label: UInt64) -> Bool {
        for i in 0..<pendingCount where pendingLabels[i] == label { return true }
        return false
    }

    mutating func removePending(_ label: UInt64, _ group: UInt32) {
        guard let found = pendingIndex(label, group) else { return }
        for i in (found + 1)..<pendingCount {
            pendingLabels[i - 1] = pendingLabels[i]
            pendingGroups[i - 1] = pendingGroups[i]
            pendingAddresses[i - 1] = pendingAddresses[i]
        }
        pendingCount -= 1
    }

    /// Erases the ring: the other sectors first, then formats the first one.
    public mutating func format() throws(KeyStoreError) {
        let ok: Bool
        do throws(BoardError) {
            for i in 1..<Int(sectorCount) { try board.erase(sector: firstSector + UInt32(i)) }
            ok = try FlashFormat.format(board, sector: firstSector, magic: magic, generation: 1)
        } catch {
            throw .flash(error)
        }
        guard ok else { throw .flash(.wornOut) }
        for i in 0..<Int(sectorCount) {
            formatted[i] = i == 0
            generations[i] = i == 0 ? 1 : 0
            bad[i] = false
        }
        active = 0
        newestGeneration = 1
        nextSlot = 0
        pendingCount = 0
    }

    // MARK: - writing

    /// Writes `frame` for `label` as a committed entry (the frame's header names its
    /// group). Returns the label of the oldest unacknowledged reading if one had to be
    /// dropped to make room (the outbox was full, or a rotation found no sector whose
    /// entries fit).
    public mutating func append(label: UInt64, frame: Span<UInt8>) throws(KeyStoreError) -> UInt64? {
        precondition(frame.count <= frameCapacity && frame.count >= 8, "frame larger than an outbox entry")
        var dropped: UInt64? = nil
        if pendingCount == Self.capacity {
            dropped = pendingLabels[0]
            droppedWhenFull += 1
            _ = try acknowledge(label: pendingLabels[0], group: pendingGroups[0])
        }
        var entry = InlineArray<1024, UInt8>(repeating: 0xFF)
        var span = entry.mutableSpan
        span[0] = Self.kindReading
        span[1] = Self.flagsOriginal
        BigEndian.store(UInt16(frame.count), at: 2, in: &span)
        BigEndian.store(label, at: 8, in: &span)
        for k in 0..<frame.count { span[Self.headerBytes + k] = frame[k] }
        let at = try writeEntry(&span)
        lastLabel = label
        hasLabel = true
        insertPending(label, Self.frameGroup(entry.span), at)
        if let d = lastDropped {
            lastDropped = nil
            return min(d, dropped ?? d)
        }
        return dropped
    }

    /// Stamps the next sequence number, seals and writes an entry; returns its address.
    mutating func writeEntry(_ entry: inout MutableSpan<UInt8>) throws(KeyStoreError) -> UInt32 {
        // Loops run over Int ranges: a UInt32 range iterates through unspecialised generic
        // code in debug (host) builds, one heap allocation per loop.
        for _ in 0..<(2 * Int(slotsPerSector)) {
            try ensureRoom()  // may copy entries forward, which takes sequence numbers
            BigEndian.store(sequence &+ 1, at: 4, in: &entry)
            FlashFormat.seal(&entry, length: protectedBytes, domain: "PM-OB-v1")
            let at = address(active, nextSlot)
            nextSlot += 1  // a failed slot is never reused
            do throws(BoardError) {
                guard try FlashFormat.programVerified(board, at, entry.span.extracting(0..<commitOffset)) else {
                    continue
                }
                guard try FlashFormat.mark(board, at + UInt32(commitOffset)) else { continue }
            } catch {
                throw .flash(error)
            }
            sequence &+= 1
            return at
        }
        throw .flash(.wornOut)
    }

    /// Makes sure the active sector has a free slot beyond what the next sector's
    /// unacknowledged entries will need when it is erased; rotates otherwise.
    mutating func ensureRoom() throws(KeyStoreError) {
        if active < 0 {
            try format()
            return
        }
        let free = Int(slotsPerSector) - Int(nextSlot)
        if free >= 1 + pendingIn(nextRing(after: active)) + copySlack { return }
        try rotate()
    }

    /// Slots kept free beyond what the next sector's unacknowledged entries need: a cut
    /// during copy-forward wastes the slot it was writing (written, never committed, never
    /// reused), and the copies must still fit. 2 for the 31-slot sectors of LWR-PSA, 0 for
    /// the 4-slot sectors of the wide ring (where `rotate` drops instead).
    var copySlack: Int { Int(slotsPerSector) / 12 }

    func nextRing(after ring: Int) -> Int {
        var r = ring
        for _ in 0..<Int(sectorCount) {
            r = (r + 1) % Int(sectorCount)
            if !bad[r] { return r }
        }
        return (ring + 1) % Int(sectorCount)
    }

    /// Moves to the next sector of the ring: copies its unacknowledged entries into the
    /// active sector, then formats it. A sector that no longer erases clean is skipped, and
    /// so is one whose unacknowledged entries do not fit into the active sector (cuts during
    /// copy-forward wasted the slots `ensureRoom` reserved). When no sector's entries fit,
    /// the nearest sector's oldest entries are dropped until the rest fit (counted in
    /// `droppedByRotation`, the oldest label in `lastDropped`): a full ring never stops the
    /// outbox storing the next reading.
    mutating func rotate() throws(KeyStoreError) {
        for pass in 0..<2 {
            var candidate = active
            for _ in 1..<Int(sectorCount) {
                candidate = (candidate + 1) % Int(sectorCount)
                if bad[candidate] || candidate == active { continue }
                let room = Int(slotsPerSector) - Int(nextSlot)
                if pendingIn(candidate) > room {
                    guard pass == 1 else { continue }  // another sector may fit without loss
                    dropOldest(in: candidate, keeping: room)
                }
                try carry(from: candidate)
                let ok: Bool
                do throws(BoardError) {
                    ok = try FlashFormat.format(
                        board, sector: firstSector + UInt32(candidate), magic: magic,
                        generation: newestGeneration &+ 1)
                } catch {
                    throw .flash(error)
                }
                formatted[candidate] = ok
                guard ok else {
                    bad[candidate] = true
                    continue
                }
                newestGeneration &+= 1
                generations[candidate] = newestGeneration
                active = candidate
                nextSlot = 0
                return
            }
        }
        throw .flash(.wornOut)
    }

    /// Forgets the oldest unacknowledged entries of `ring` until `keeping` are left (they
    /// go with the sector's erase; until then a reboot finds them pending again).
    mutating func dropOldest(in ring: Int, keeping: Int) {
        var excess = pendingIn(ring) - max(keeping, 0)
        var i = 0
        while excess > 0 && i < pendingCount {
            guard sectorOf(pendingAddresses[i]) == ring else {
                i += 1
                continue
            }
            lastDropped = min(lastDropped ?? .max, pendingLabels[i])
            droppedByRotation += 1
            removePending(pendingLabels[i], pendingGroups[i])
            excess -= 1
        }
    }

    /// Copies the unacknowledged entries that live in `ring` into the active sector.
    mutating func carry(from ring: Int) throws(KeyStoreError) {
        var i = 0
        while i < pendingCount {
            if sectorOf(pendingAddresses[i]) == ring {
                guard Int(slotsPerSector) - Int(nextSlot) >= 1 else { throw .flash(.wornOut) }
                var entry = InlineArray<1024, UInt8>(repeating: 0xFF)
                var span = entry.mutableSpan
                try readEntry(pendingAddresses[i], into: &span)
                span[1] = Self.flagsCopy
                // Copies never rotate: the room was reserved by ensureRoom.
                BigEndian.store(sequence &+ 1, at: 4, in: &span)
                FlashFormat.seal(&span, length: protectedBytes, domain: "PM-OB-v1")
                var written = false
                while !written && nextSlot < slotsPerSector {
                    let at = address(active, nextSlot)
                    nextSlot += 1
                    do throws(BoardError) {
                        guard try FlashFormat.programVerified(board, at, entry.span.extracting(0..<commitOffset))
                        else { continue }
                        guard try FlashFormat.mark(board, at + UInt32(commitOffset)) else { continue }
                    } catch {
                        throw .flash(error)
                    }
                    sequence &+= 1
                    pendingAddresses[i] = at
                    written = true
                }
                guard written else { throw .flash(.wornOut) }
            }
            i += 1
        }
    }

    /// Reads and checks the entry at `address` (correcting one flipped bit); the
    /// protected part and the marks are in `entry` afterwards.
    func readEntry(_ address: UInt32, into entry: inout MutableSpan<UInt8>) throws(KeyStoreError) {
        do throws(BoardError) { try board.read(address, into: &entry, count: entryBytes) } catch {
            throw .flash(error)
        }
        for k in entryBytes..<entry.count { entry[k] = 0xFF }
        guard FlashFormat.verify(&entry, length: protectedBytes, domain: "PM-OB-v1") != .invalid,
            Int(BigEndian.load16(entry.span, at: 2)) <= frameCapacity
        else { throw .corrupt }
    }

    /// Marks the reading for `label` sent to `group` acknowledged. False when it is not
    /// pending (a duplicate or late acknowledgement).
    public mutating func acknowledge(label: UInt64, group: UInt32) throws(KeyStoreError) -> Bool {
        guard let found = pendingIndex(label, group) else { return false }
        do throws(BoardError) {
            _ = try FlashFormat.mark(board, pendingAddresses[found] + UInt32(ackOffset))
        } catch {
            throw .flash(error)
        }
        removePending(label, group)
        return true
    }

    /// Lets the i-th unacknowledged reading go without touching flash (its entry no longer
    /// checks out; a reboot finds it invalid, never as a reading).
    public mutating func forget(_ i: Int) {
        guard i >= 0 && i < pendingCount else { return }
        removePending(pendingLabels[i], pendingGroups[i])
    }

    /// Copies the frame of the i-th unacknowledged reading into `out`; returns its length.
    /// Throws `.corrupt` when the entry no longer checks out.
    public func pendingFrame(_ i: Int, into out: inout MutableSpan<UInt8>) throws(KeyStoreError) -> Int {
        var entry = InlineArray<1024, UInt8>(repeating: 0xFF)
        var span = entry.mutableSpan
        try readEntry(pendingAddresses[i], into: &span)
        let length = Int(BigEndian.load16(entry.span, at: 2))
        precondition(out.count >= length, "frame buffer too small")
        for k in 0..<length { out[k] = entry[Self.headerBytes + k] }
        return length
    }
}
