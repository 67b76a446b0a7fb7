// Building blocks shared by the key store and the outbox: how a record on NOR flash
// is protected, committed and found again after power cuts, bit flips and wear.
//
// - Every record ends with a checksum (8 bytes of SHAKE128 over a domain tag and the
//   record) and a Hamming syndrome over record and checksum (3 bytes). The syndrome
//   locates and corrects one flipped bit; the checksum decides whether what is left
//   is the record that was written. More flips than one are detected, not corrected.
// - Mark bytes (commit, acknowledged) are programmed from 0xFF to 0x00 in their own
//   operation, after what they vouch for. A mark counts as set when at most 3 of its
//   8 bits still read 1: one flipped bit never changes the decision, and a cut in the
//   middle of programming a mark is read one way or the other, both of them valid.
// - A sector is used only after it was erased, read back as all 0xFF, and given a
//   marker in its last 16 bytes: magic (programmed last) and three copies of a
//   generation number (two must agree). A cut erase leaves no valid marker, so a
//   half-erased sector's garbage is never read as records.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

/// How a record read back from flash checked out.
enum RecordIntegrity: UInt8, Equatable {
    /// Checksum and syndrome agree with the bytes.
    case clean
    /// One flipped bit was found and corrected in the buffer (or the syndrome itself was hit).
    case corrected
    /// The record is not what was written: never to be used.
    case invalid
}

enum FlashFormat {
    static let checksumBytes = 8
    static let eccBytes = 3
    static let markerBytes = 16

    /// A mark byte (commit, acknowledged) is set when at most 3 bits read 1.
    @inline(__always) static func isMarked(_ b: UInt8) -> Bool { b.nonzeroBitCount <= 3 }

    /// True when every byte of `bytes` reads 0xFF.
    static func isErased(_ bytes: Span<UInt8>, count: Int) -> Bool {
        var all: UInt8 = 0xFF
        for i in 0..<count { all &= bytes[i] }
        return all == 0xFF
    }

    // MARK: - checksum and error correction

    /// Syndrome of bytes 0..<count: XOR of the 1-based positions of the 1 bits (bit b of
    /// byte i is position 8i + b + 1), and the parity of their number.
    ///
    /// Bits 0–6 of byte i sit at 8i | (b + 1) (b + 1 fits below 8): they give 8i when their
    /// count is odd, and the XOR of their b + 1, which is linear in the byte, so it is taken
    /// once from the XOR of all bytes. Bit 7 sits at 8(i + 1). No table and no branch on the
    /// data (key store slots hold keys): the same instructions for every byte.
    static func syndrome(_ bytes: Span<UInt8>, count: Int) -> (UInt16, UInt8) {
        precondition(count >= 0 && count <= bytes.count, "FlashFormat: syndrome past the record")
        var all: UInt32 = 0
        var high: UInt32 = 0
        bytes.withUnsafeBufferPointer { record in
            let r = record.baseAddress.unsafelyUnwrapped
            var i: UInt32 = 0
            for k in 0..<count {
                let b = UInt32(r[k])
                all ^= b
                high ^= (0 &- oddParity(b & 0x7F)) & i
                i &+= 1
                high ^= (0 &- (b &>> 7)) & i
            }
        }
        // XOR of b + 1 over the set bits b < 7 of `all`: bit k of b + 1 is set for b in the mask.
        let low = oddParity(all & 0x55) | oddParity(all & 0x66) &<< 1 | oddParity(all & 0x78) &<< 2
        let s = high &<< 3 ^ low
        return (UInt16(truncatingIfNeeded: s), UInt8(truncatingIfNeeded: oddParity(all)))
    }

    /// 1 when the byte `v` (0...255) has an odd number of 1 bits, else 0; branch-free.
    @inline(__always) static func oddParity(_ v: UInt32) -> UInt32 {
        var p = v ^ v &>> 4
        p ^= p &>> 2
        p ^= p &>> 1
        return p & 1
    }

    /// SHAKE128(domain ‖ bytes 0..<count) truncated to 8 bytes, written at `count`.
    static func checksum(_ bytes: Span<UInt8>, count: Int, domain: StaticString, into out: inout MutableSpan<UInt8>) {
        var x = XOF(.shake128)
        x.absorb(domain)
        x.absorb(bytes.extracting(0..<count))
        x.squeeze(into: &out)
    }

    /// Seals a record of `length` bytes (checksum included): writes the checksum at
    /// length − 8 and the syndrome at length ..< length + 3.
    static func seal(_ record: inout MutableSpan<UInt8>, length: Int, domain: StaticString) {
        var sum = InlineArray<8, UInt8>(repeating: 0)
        var sumSpan = sum.mutableSpan
        checksum(record.span, count: length - checksumBytes, domain: domain, into: &sumSpan)
        for k in 0..<checksumBytes { record[length - checksumBytes + k] = sum[k] }
        let (s, p) = syndrome(record.span, count: length)
        record[length] = UInt8(truncatingIfNeeded: s >> 8)
        record[length + 1] = UInt8(truncatingIfNeeded: s)
        record[length + 2] = p
    }

    static func checksumMatches(_ record: Span<UInt8>, length: Int, domain: StaticString) -> Bool {
        var sum = InlineArray<8, UInt8>(repeating: 0)
        var sumSpan = sum.mutableSpan
        checksum(record, count: length - checksumBytes, domain: domain, into: &sumSpan)
        var diff: UInt8 = 0
        for k in 0..<checksumBytes { diff |= sum[k] ^ record[length - checksumBytes + k] }
        return diff == 0
    }

    /// Checks a record sealed by `seal`, correcting one flipped bit in place.
    static func verify(_ record: inout MutableSpan<UInt8>, length: Int, domain: StaticString) -> RecordIntegrity {
        let (s, p) = syndrome(record.span, count: length)
        let storedS = UInt16(record[length]) << 8 | UInt16(record[length + 1])
        let storedP = record[length + 2] & 1
        if s == storedS && p == storedP {
            guard checksumMatches(record.span, length: length, domain: domain) else { return .invalid }
            // The parity byte holds 0 or 1: another bit set there is a flip in the code itself.
            return record[length + 2] > 1 ? .corrected : .clean
        }
        if p != storedP {
            // An odd number of flips in the record: if one, s ^ storedS is its position.
            let position = Int(s ^ storedS)
            if position >= 1 && position <= length * 8 {
                let byte = (position - 1) / 8
                let bit = UInt8(1) << UInt8((position - 1) % 8)
                record[byte] ^= bit
                if checksumMatches(record.span, length: length, domain: domain) { return .corrected }
                record[byte] ^= bit
            }
        }
        // The syndrome bytes themselves may be the ones hit.
        return checksumMatches(record.span, length: length, domain: domain) ? .corrected : .invalid
    }

    // MARK: - sector markers

    /// The generation in a sector's marker, or nil when the sector carries no valid
    /// marker for `magic` (never formatted, erase cut short, or a foreign layout).
    static func readMarker(_ board: Board, sector: UInt32, magic: UInt32) throws(BoardError) -> UInt32? {
        try readMarkerChecked(board, sector: sector, magic: magic)?.generation
    }

    /// As `readMarker`, and whether the marker shows a flipped bit (it still reads).
    static func readMarkerChecked(_ board: Board, sector: UInt32, magic: UInt32) throws(BoardError) -> (
        generation: UInt32, damaged: Bool
    )? {
        var marker = InlineArray<16, UInt8>(repeating: 0)
        var span = marker.mutableSpan
        try board.read((sector + 1) * board.sectorSize - UInt32(markerBytes), into: &span)
        let bytes = marker.span
        let found = BigEndian.load32(bytes, at: 0)
        guard (found ^ magic).nonzeroBitCount <= 2 else { return nil }
        // Two of the three copies must agree exactly: one flipped bit is outvoted, and the
        // garbage of a cut erase or a cut marker program almost never agrees with itself.
        let a = BigEndian.load32(bytes, at: 4)
        let b = BigEndian.load32(bytes, at: 8)
        let c = BigEndian.load32(bytes, at: 12)
        let g = a == b || a == c ? a : (b == c ? b : UInt32.max)
        guard g != UInt32.max else { return nil }
        return (g, found != magic || a != b || b != c)
    }

    /// Erases `sector`, checks that it reads back erased, and writes its marker
    /// (generations first, magic last). False when the sector did not erase clean or
    /// the marker did not program: a worn sector. Power loss is thrown.
    static func format(_ board: Board, sector: UInt32, magic: UInt32, generation: UInt32) throws(BoardError) -> Bool {
        do { try board.erase(sector: sector) } catch {
            if error == .wornOut { return false }
            throw error
        }
        var chunk = InlineArray<256, UInt8>(repeating: 0)
        let size = Int(board.sectorSize)
        var offset = 0
        while offset < size {
            let n = min(256, size - offset)
            var span = chunk.mutableSpan
            try board.read(sector * board.sectorSize + UInt32(offset), into: &span, count: n)
            if !isErased(chunk.span, count: n) { return false }
            offset += n
        }
        let base = (sector + 1) * board.sectorSize - UInt32(markerBytes)
        var marker = InlineArray<16, UInt8>(repeating: 0xFF)
        var m = marker.mutableSpan
        BigEndian.store(generation, at: 4, in: &m)
        BigEndian.store(generation, at: 8, in: &m)
        BigEndian.store(generation, at: 12, in: &m)
        guard try programVerified(board, base + 4, marker.span.extracting(4..<16)) else { return false }
        var m2 = marker.mutableSpan
        BigEndian.store(magic, at: 0, in: &m2)
        return try programVerified(board, base, marker.span.extracting(0..<4))
    }

    // MARK: - verified writes

    /// Programs `data` and reads it back: false when a bit did not take (a stuck bit).
    static func programVerified(_ board: Board, _ address: UInt32, _ data: Span<UInt8>) throws(BoardError) -> Bool {
        try board.program(address, data)
        var chunk = InlineArray<256, UInt8>(repeating: 0)
        var offset = 0
        while offset < data.count {
            let n = min(256, data.count - offset)
            var span = chunk.mutableSpan
            try board.read(address + UInt32(offset), into: &span, count: n)
            for k in 0..<n where chunk[k] != data[offset + k] { return false }
            offset += n
        }
        return true
    }

    /// Programs one mark byte to 0x00; true when it reads back as set.
    static func mark(_ board: Board, _ address: UInt32) throws(BoardError) -> Bool {
        let zero = InlineArray<1, UInt8>(repeating: 0)
        try board.program(address, zero.span)
        var back = InlineArray<1, UInt8>(repeating: 0xFF)
        var span = back.mutableSpan
        try board.read(address, into: &span)
        return isMarked(back[0])
    }
}
