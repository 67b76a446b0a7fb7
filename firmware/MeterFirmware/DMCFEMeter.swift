// The meter's DMCFE mode (DESIGN.md, scheme 4), selected by a signed group-parameters statement with the
// parameter byte `DMCFE.parameterID`.
//
// Key setup is the LWR-PSA one up to the pairwise seeds (authenticated ffdhe3072 keys);
// instead of folding the seeds into a masked key share, the meter keeps them in flash,
// because every functional key it is asked for later needs a fresh mask bound to its weight
// vector. Its secret s_i = (s_1, s_2) is derived from the key seed in the key store.
//
// Readings go to the wide outbox ring (`MeterFlashLayout.wideOutboxSector`).
// Peer-seed area: the sectors after the wide ring, 48-byte slots
//   peer u32 | seed 32 | checksum 8 (SHAKE128) | 0xFF × 4
// written once at key setup, checked on every use.
//
// Weight vectors arrive as `weights` frames (chunk index in the label field): chunk 0
// starts with the number of entries (u32), then (meter id u32, weight i64) entries in
// increasing id order, 80 per frame. The meter hashes them as they stream in, picks its
// own weight, and answers with one `functionalKeyShare` frame: digest (32) | y_i·s_i + t_i (64).

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

/// Layout of the DMCFE downlink and uplink payloads.
public enum DMCFEPayload {
    /// Entries in one `weights` frame.
    public static let weightsPerFrame = 80
    /// Bytes of one (meter id, weight) entry.
    public static let weightEntryBytes = 12
    /// Bytes of one peer-seed slot in flash.
    public static let seedSlotBytes = 48
    /// Bytes of a functionalKeyShare payload.
    public static let keySharePayloadBytes = DMCFE.digestBytes + DMCFE.keyShareBytes
}

extension Meter {
    /// True when the meter's group runs DMCFE.
    public var isDMCFE: Bool { record.parameterID == DMCFE.parameterID }

    /// First sector of the peer-seed area: right after the wide outbox ring.
    var peerSeedSector: UInt32 { layout.wideEndSector }

    /// Peer seeds the flash can hold.
    public var peerSeedCapacity: Int {
        guard board.sectorCount > peerSeedSector else { return 0 }
        return Int(board.sectorCount - peerSeedSector) * (Int(board.sectorSize) / DMCFEPayload.seedSlotBytes)
    }

    func seedSlotAddress(_ index: Int) -> UInt32 {
        let perSector = Int(board.sectorSize) / DMCFEPayload.seedSlotBytes
        let sector = peerSeedSector + UInt32(index / perSector)
        return sector * board.sectorSize + UInt32((index % perSector) * DMCFEPayload.seedSlotBytes)
    }

    /// Erases the sectors that will hold `peers` seeds.
    mutating func prepareSeedArea(peers: Int) throws(MeterError) {
        guard peers <= peerSeedCapacity else { throw .setupRejected(.groupTooLarge) }
        let perSector = Int(board.sectorSize) / DMCFEPayload.seedSlotBytes
        let sectors = (peers + perSector - 1) / perSector
        do throws(BoardError) {
            for s in 0..<sectors { try board.erase(sector: peerSeedSector + UInt32(s)) }
        } catch {
            throw .board(error)
        }
    }

    static func seedChecksum(_ slot: Span<UInt8>, into out: inout MutableSpan<UInt8>) {
        var x = XOF(.shake128)
        x.absorb("PM-DMCFE-SEED-v1")
        x.absorb(slot.extracting(0..<36))
        x.squeeze(into: &out)
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
        Self.seedChecksum(slot.span, into: &sumSpan)
        for k in 0..<8 { slot[36 + k] = sum[k] }
        do throws(BoardError) { try board.program(seedSlotAddress(index), slot.span) } catch {
            throw .board(error)
        }
    }

    /// The `index`-th stored peer seed; nil when its slot fails its checksum.
    func loadPeerSeed(_ index: Int, seed: inout InlineArray<32, UInt8>) -> UInt32? {
        var slot = InlineArray<48, UInt8>(repeating: 0)
        var span = slot.mutableSpan
        do throws(BoardError) { try board.read(seedSlotAddress(index), into: &span) } catch { return nil }
        var sum = InlineArray<8, UInt8>(repeating: 0)
        var sumSpan = sum.mutableSpan
        Self.seedChecksum(slot.span, into: &sumSpan)
        var diff: UInt8 = 0
        for k in 0..<8 { diff |= sum[k] ^ slot[36 + k] }
        guard diff == 0 else { return nil }
        for k in 0..<32 { seed[k] = slot[4 + k] }
        return BigEndian.load32(slot.span, at: 0)
    }

    /// The DMCFE secret, derived from the key seed.
    var dmcfeSecret: DMCFESecret { DMCFESecret(seed: record.psaSeed.span) }

    // Not inlined: its exponentiation scratch would enlarge the frames of the LWR-PSA paths
    // that call it (idle(), encryptAndSend()).
    /// Idle work in DMCFE mode: the pad of the next label to encrypt.
    @inline(never)
    mutating func dmcfeIdle() -> Bool {
        guard dmcfePadLabel != labelFloor else { return false }
        dmcfePad = DMCFE.pad(secret: dmcfeSecret, group: record.group, label: labelFloor)
        dmcfePadLabel = labelFloor
        return true
    }

    // Not inlined: its exponentiation scratch would enlarge the frames of the LWR-PSA paths
    // that call it (idle(), encryptAndSend()).
    /// ct = pad · g^x into the frame's payload; returns the payload length.
    @inline(never)
    mutating func dmcfeEncrypt(label: UInt64, reading: UInt64) -> Int {
        if dmcfePadLabel != label {
            dmcfePad = DMCFE.pad(secret: dmcfeSecret, group: record.group, label: label)
        }
        let ct = DMCFE.encrypt(reading: reading, pad: dmcfePad)
        dmcfePadLabel = .max
        var bytes = InlineArray<384, UInt8>(repeating: 0)
        var span = bytes.mutableSpan
        ct.bigEndianBytes(into: &span)
        var f = frame.mutableSpan
        for k in 0..<DMCFE.ciphertextBytes { f[Frame.headerBytes + k] = bytes[k] }
        return DMCFE.ciphertextBytes
    }

    /// One chunk of a weight vector; after the last one, the functional-key share is sent.
    /// The only vector the meter answers is the signed policy: y = (1, …, 1) over the
    /// signed roster (every member, in id order, weight 1). Any other vector would let the
    /// aggregator solve for single secrets; the one allowed vector always gets the same
    /// share, so an epoch yields one functional key however often it is asked.
    mutating func handleWeights(_ payload: Span<UInt8>, chunk: UInt64) throws(MeterError) -> MeterEvent? {
        guard isDMCFE, record.phase == .ready else { throw .unexpectedDownlink(.weights) }
        var offset = 0
        if chunk == 0 {
            guard payload.count >= 4 else { throw .badDownlink(.badPayloadSize(type: .weights, size: payload.count)) }
            guard BigEndian.load32(payload, at: 0) == record.groupSize else { throw .unexpectedDownlink(.weights) }
            weightsExpected = BigEndian.load32(payload, at: 0)
            weightsSeen = 0
            ownWeightSeen = false
            weightDigest = DMCFE.weightDigest(entries: weightsExpected)
            offset = 4
        } else {
            guard weightsExpected > 0, chunk == UInt64(weightsSeen) / UInt64(DMCFEPayload.weightsPerFrame) else {
                throw .unexpectedDownlink(.weights)
            }
        }
        guard (payload.count - offset) % DMCFEPayload.weightEntryBytes == 0 else {
            throw .badDownlink(.badPayloadSize(type: .weights, size: payload.count))
        }
        while offset < payload.count {
            let id = BigEndian.load32(payload, at: offset)
            let weight = BigEndian.load64(payload, at: offset + 4)
            // Strictly increasing ids: every meter hashes the same vector, each entry once;
            // weight 1 for every member of the roster, and no one else.
            let peerIndex = Int(weightsSeen) - (ownWeightSeen ? 1 : 0)
            var seed = InlineArray<32, UInt8>(repeating: 0)
            guard weightsSeen < weightsExpected, weightsSeen == 0 || id > lastWeightMeter, weight == 1,
                id == record.meter
                    || (peerIndex < Int(record.groupSize) - 1 && loadPeerSeed(peerIndex, seed: &seed) == id)
            else {
                weightsExpected = 0
                throw .unexpectedDownlink(.weights)
            }
            weightDigest.absorb(bigEndian: id)
            weightDigest.absorb(bigEndian: weight)
            if id == record.meter {
                ownWeight = Int64(bitPattern: weight)
                ownWeightSeen = true
            }
            lastWeightMeter = id
            weightsSeen += 1
            offset += DMCFEPayload.weightEntryBytes
        }
        guard weightsSeen == weightsExpected else { return nil }
        weightsExpected = 0
        guard ownWeightSeen else { throw .unexpectedDownlink(.weights) }
        try sendFunctionalKeyShare()
        return .keyShareSent
    }

    /// digest | y_i·s_i + Σ_j ±T(seed_ij, digest), from the stored peer seeds.
    mutating func sendFunctionalKeyShare() throws(MeterError) {
        var digest = InlineArray<32, UInt8>(repeating: 0)
        var digestSpan = digest.mutableSpan
        weightDigest.squeeze(into: &digestSpan)
        var t1 = InlineArray<4, UInt>(repeating: 0)
        var t2 = InlineArray<4, UInt>(repeating: 0)
        var seed = InlineArray<32, UInt8>(repeating: 0)
        for i in 0..<max(Int(record.groupSize) - 1, 0) {  // never trusted for arithmetic
            guard let peer = loadPeerSeed(i, seed: &seed) else { throw .keyStore(.corrupt) }
            DMCFE.addMask(
                pairwiseSeed: seed.span, digest: digest.span, own: record.meter, peer: peer, t1: &t1, t2: &t2)
        }
        var share = InlineArray<64, UInt8>(repeating: 0)
        var shareSpan = share.mutableSpan
        DMCFE.keyShare(secret: dmcfeSecret, weight: ownWeight, t1: t1, t2: t2, into: &shareSpan)
        var f = frame.mutableSpan
        for k in 0..<32 { f[Frame.headerBytes + k] = digest[k] }
        for k in 0..<64 { f[Frame.headerBytes + 32 + k] = share[k] }
        try sendFrame(.functionalKeyShare, label: 0, payloadLength: DMCFEPayload.keySharePayloadBytes)
    }
}
