// The meter's Paillier mode (DESIGN.md, scheme 3): readings encrypted under the
// supplier's public key N, one ciphertext per group the meter reports to, sent to each
// group's independent aggregator.
//
// What the meter keeps for it, in its own flash sector (the last one of the flash, outside
// the key store and the LWR expanded key), with an 8-byte SHAKE128 checksum:
//   magic u32 "PMPA" | format u8 (1) | group count u8 | key bits u16 | groups 4 × u32 |
//   N big-endian (bits/8 bytes, then zeros up to 384) | checksum 8        = 416 bytes
// The label counter is the key store's `nextLabel`, shared with LWR-PSA: a label is
// encrypted once, for all groups together, and the counter is on flash before any of the
// label's frames leaves the meter. Randomizers r^N mod N^2 live in RAM only; a power cut
// loses them and the meter draws new ones.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

/// The supplier key and the groups the meter reports to.
struct PaillierConfiguration: Sendable {
    var key: PaillierMeterKey
    var groups = InlineArray<4, UInt32>(repeating: 0)
    var groupCount = 0
}

/// The meter's Paillier state: the configuration read from flash, and one precomputed
/// randomizer per group for the next label.
struct PaillierState: Sendable {
    var configuration: PaillierConfiguration? = nil
    /// The Paillier sector holds data that fails its checksum: never used.
    var sectorCorrupt = false
    var randomizers = InlineArray<4, PaillierRandomizer>(repeating: PaillierRandomizer())
}

/// The Paillier sector's record layout.
enum PaillierRecord {
    static let magic: UInt32 = 0x504D_5041  // "PMPA"
    static let format: UInt8 = 1
    static let modulusOffset = 24
    static let checksumOffset = modulusOffset + PaillierMeterKey.maxModulusBytes
    static let checksumBytes = 8
    /// Bytes written to (and read from) the sector.
    static let bytes = checksumOffset + checksumBytes

    static func checksum(_ record: Span<UInt8>, into out: inout MutableSpan<UInt8>) {
        var x = XOF(.shake128)
        x.absorb("PM-PAILLIER-STORE-v1")
        x.absorb(record.extracting(0..<checksumOffset))
        x.squeeze(into: &out)
    }

    static func checksumValid(_ record: Span<UInt8>) -> Bool {
        var sum = InlineArray<8, UInt8>(repeating: 0)
        var sumSpan = sum.mutableSpan
        checksum(record, into: &sumSpan)
        var diff: UInt8 = 0
        for k in 0..<checksumBytes { diff |= sum[k] ^ record[checksumOffset + k] }
        return diff == 0
    }
}

extension Meter {
    /// Flash sector that holds the supplier's Paillier key: the last sector.
    public var paillierSector: UInt32 { board.sectorCount - 1 }

    /// True when the last sector lies beyond the key store and the LWR expanded key
    /// (λ = 2048 words), so the Paillier key overwrites neither.
    var paillierSectorAvailable: Bool {
        let expandedKeySectors = (UInt32(LWRParameters.maxLambda * 8) + board.sectorSize - 1) / board.sectorSize
        return board.sectorCount > store.firstSector + 2 + expandedKeySectors
    }

    /// True when the meter holds a valid supplier key and a valid key store: it encrypts
    /// its readings with Paillier (this takes precedence over LWR-PSA).
    public var paillierReady: Bool { storeState == nil && paillier.configuration != nil }

    /// Bits of the supplier's N, or nil without a Paillier key.
    public var paillierKeyBits: Int? { paillier.configuration?.key.modulusBits }

    /// The number of groups the meter reports to in Paillier mode.
    public var paillierGroupCount: Int { paillier.configuration?.groupCount ?? 0 }

    /// The `index`-th group the meter reports to in Paillier mode.
    public func paillierGroup(at index: Int) -> UInt32 {
        precondition(index < paillierGroupCount, "group index out of range")
        return paillier.configuration!.groups[index]
    }

    /// True when the Paillier sector was found corrupt at boot (the key is not used).
    public var paillierSectorCorrupt: Bool { paillier.sectorCorrupt }

    /// Randomizers ready for the next label.
    public var paillierFreshRandomizers: Int {
        var count = 0
        for g in 0..<paillierGroupCount where paillier.randomizers[g].isFresh { count += 1 }
        return count
    }

    // MARK: - boot

    /// Reads the Paillier sector: an erased sector means no key; a record that fails its
    /// checksum or layout is reported (`paillierSectorCorrupt`) and never used.
    mutating func loadPaillier() {
        paillier = PaillierState()
        guard paillierSectorAvailable else { return }
        var record = InlineArray<416, UInt8>(repeating: 0)  // 416 = PaillierRecord.bytes
        var span = record.mutableSpan
        do throws(BoardError) {
            try board.read(paillierSector * board.sectorSize, into: &span)
        } catch {
            paillier.sectorCorrupt = true
            return
        }
        let bytes = record.span
        var erased: UInt8 = 0xFF
        for k in 0..<PaillierRecord.bytes { erased &= bytes[k] }
        if erased == 0xFF { return }
        guard BigEndian.load32(bytes, at: 0) == PaillierRecord.magic, bytes[4] == PaillierRecord.format,
            PaillierRecord.checksumValid(bytes),
            let configuration = Self.decodePaillierRecord(bytes)
        else {
            paillier.sectorCorrupt = true
            return
        }
        paillier.configuration = configuration
    }

    static func decodePaillierRecord(_ bytes: Span<UInt8>) -> PaillierConfiguration? {
        let count = Int(bytes[5])
        let bits = Int(BigEndian.load16(bytes, at: 6))
        guard count >= 1, count <= PaillierKeyPayload.maxGroups, bits == 2048 || bits == 3072 else { return nil }
        let start = PaillierRecord.modulusOffset
        guard let key = try? PaillierMeterKey(modulusBigEndian: bytes.extracting(start..<(start + bits / 8))) else {
            return nil
        }
        var configuration = PaillierConfiguration(key: key)
        configuration.groupCount = count
        for g in 0..<count { configuration.groups[g] = BigEndian.load32(bytes, at: 8 + 4 * g) }
        return configuration
    }

    // MARK: - provisioning (downlink `paillierKey`)

    /// Checks a `paillierKey` payload (tag under the provisioning key, key size, parity,
    /// groups), writes the key to the Paillier sector and answers `setupComplete`.
    mutating func receivePaillierKey(_ payload: Span<UInt8>) throws(MeterError) {
        let bits = PaillierKeyPayload.declaredBits(payload)
        guard bits == 2048 || bits == 3072, payload.count == PaillierKeyPayload.size(modulusBytes: bits / 8),
            PaillierKeyPayload.verify(
                provisioningKey: record.provisioningKey.span, meter: record.meter, payload: payload)
        else { throw .paillierKeyRejected }
        let count = Int(payload[2])
        guard count >= 1, count <= PaillierKeyPayload.maxGroups, payload[3] == 0 else { throw .paillierKeyRejected }
        let start = PaillierKeyPayload.headerBytes
        let key: PaillierMeterKey
        do { key = try PaillierMeterKey(modulusBigEndian: payload.extracting(start..<(start + bits / 8))) } catch {
            throw .paillierKeyRejected
        }
        var configuration = PaillierConfiguration(key: key)
        configuration.groupCount = count
        for g in 0..<count {
            let group = BigEndian.load32(payload, at: 4 + 4 * g)
            for h in 0..<g where configuration.groups[h] == group { throw .paillierKeyRejected }
            configuration.groups[g] = group
        }
        try storePaillier(configuration, modulus: payload.extracting(start..<(start + bits / 8)))
        paillier = PaillierState()
        paillier.configuration = configuration
        var f = frame.mutableSpan
        BigEndian.store(StatusCode.setupComplete.rawValue, at: Frame.headerBytes, in: &f)
        BigEndian.store(UInt64(bits), at: Frame.headerBytes + 2, in: &f)
        try sendFrame(.status, scheme: .paillier, group: record.group, label: record.nextLabel, payloadLength: 10)
    }

    /// Erases the Paillier sector and programs the new record (checksum last in the same
    /// operation: a cut leaves a record that fails its checksum, reported and not used).
    mutating func storePaillier(_ configuration: PaillierConfiguration, modulus: Span<UInt8>) throws(MeterError) {
        guard paillierSectorAvailable else { throw .keyStore(.flashTooSmall) }
        var record = InlineArray<416, UInt8>(repeating: 0)  // 416 = PaillierRecord.bytes
        var span = record.mutableSpan
        BigEndian.store(PaillierRecord.magic, at: 0, in: &span)
        span[4] = PaillierRecord.format
        span[5] = UInt8(configuration.groupCount)
        BigEndian.store(UInt16(configuration.key.modulusBits), at: 6, in: &span)
        for g in 0..<configuration.groupCount { BigEndian.store(configuration.groups[g], at: 8 + 4 * g, in: &span) }
        for k in 0..<modulus.count { span[PaillierRecord.modulusOffset + k] = modulus[k] }
        var sum = InlineArray<8, UInt8>(repeating: 0)
        var sumSpan = sum.mutableSpan
        PaillierRecord.checksum(span.span, into: &sumSpan)
        for k in 0..<PaillierRecord.checksumBytes { span[PaillierRecord.checksumOffset + k] = sum[k] }
        do throws(BoardError) {
            try board.erase(sector: paillierSector)
            try board.program(paillierSector * board.sectorSize, record.span)
        } catch {
            throw .board(error)
        }
    }

    // MARK: - idle and boundary

    /// Precomputes a randomizer r^N mod N^2 for every group that has none (the idle work
    /// of Paillier mode). Returns true if it did work.
    mutating func idlePaillier() -> Bool {
        guard paillierReady, let configuration = paillier.configuration else { return false }
        var worked = false
        for g in 0..<configuration.groupCount where !paillier.randomizers[g].isFresh {
            guard drawRandomizer(g, key: configuration.key) else { return worked }
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
                paillier.randomizers[g] = randomizer
                return true
            }
        }
        return false  // 64 rejections in a row: N is not a valid key (never with a real one)
    }

    /// Encrypts `reading` under `label` once per group with the supplier's key, persists
    /// the label counter, then sends one `reading` frame per group. A randomizer not
    /// precomputed while idle is computed here (slower boundary).
    public mutating func encryptAndSendPaillier(label: UInt64, reading: UInt64) throws(MeterError) {
        if let e = storeState { throw e == .corrupt ? .keyStoreCorrupt : .notProvisioned }
        guard let configuration = paillier.configuration else { throw .notReady }
        guard label >= record.nextLabel else {
            throw .labelAlreadyEncrypted(label: label, next: record.nextLabel)
        }
        let key = configuration.key
        for g in 0..<configuration.groupCount where !paillier.randomizers[g].isFresh {
            guard drawRandomizer(g, key: key) else { throw .paillierKeyRejected }
        }
        var updated = record
        updated.nextLabel = label + 1
        do { try store.save(updated) } catch { throw .keyStore(error) }
        record = updated

        let bytes = key.ciphertextBytes
        for g in 0..<configuration.groupCount {
            var f = frame.mutableSpan
            do {
                try Paillier.encrypt(
                    reading: reading, randomizer: &paillier.randomizers[g], key: key, into: &f,
                    at: Frame.headerBytes)
            } catch {
                throw .notReady  // unreachable: the randomizer is fresh and the buffer sized
            }
            try sendFrame(
                .reading, scheme: .paillier, group: configuration.groups[g], label: label, payloadLength: bytes)
        }
    }

    /// Seals and sends the frame in `frame` for `group` under `scheme`.
    mutating func sendFrame(
        _ type: FrameType, scheme: SchemeID, group: UInt32, label: UInt64, payloadLength: Int
    ) throws(MeterError) {
        let header = FrameHeader(
            type: type, scheme: scheme, group: group, meter: record.meter, label: label,
            payloadLength: payloadLength)
        var f = frame.mutableSpan
        let length = Frame.seal(header, key: record.frameKey.span, frame: &f)
        do { try board.send(frame.span.extracting(0..<length)) } catch { throw .board(error) }
    }
}

extension Meter {
    /// The boundary in Paillier mode: encrypt for every group, or report the failure.
    mutating func closePaillierInterval(_ label: UInt64, reading: UInt64) -> MeterEvent? {
        do {
            try encryptAndSendPaillier(label: label, reading: reading)
            return .readingSent(label: label, reading: reading)
        } catch {
            return reportError(error, detail: reading)
        }
    }
}
