// The meter's LWR-PSA mode (DESIGN.md, scheme 1; docs/spec/lwr-psa.md): the default
// scheme. The group key comes from the signed roster (GroupSetup.swift); each reading is
// c = F_k(l) + Δ·x mod p, an 8-byte ciphertext in the narrow outbox ring.
//
// Key modes: `seed` recomputes k_i from its 32-byte seed for every label; `expanded`
// writes k_i once to the expanded-key sectors and reads it back per label, checked
// against Fletcher sums kept in the key store (a flipped bit is repaired from the seed).

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

extension SetupPayload {
    /// Key words per keyShare frame.
    public static let shareWordsPerChunk = KeySetup.shareChunkWords
    /// keyShare: 128 words little-endian.
    public static let shareChunkBytes = shareWordsPerChunk * 8
}

/// LWR-PSA's state on the meter: the pad of the next label, precomputed while idle, and
/// the key setup's RAM state.
public struct LWRScheme: GroupKeyedScheme {
    public static var schemeID: SchemeID { .lwrPSA }
    public static var outboxRing: OutboxRing { .narrow }

    /// The pad F_k(l) for `padLabel`, computed while idle.
    var pad: UInt64 = 0
    var padLabel: UInt64 = .max
    /// The Fletcher sums of the expanded key written at setup (kept in the key store when ready).
    var expandedSums: (UInt64, UInt64) = (0, 0)
    public var setup = GroupSetupState()
    /// The neighbour graph's seed of the statement being set up (NeighbourMeter.swift).
    var graphSeed = InlineArray<32, UInt8>(repeating: 0)
    /// Recovery over the neighbour graph: budgets, labels encrypted since boot, last acks.
    var recovery = RecoveryState()
    /// The signed statistics plan and its slots (LWRStatistics.swift).
    var statistics = StatisticsState()

    public init() {}

    public static func boot(_ meter: inout Meter<Self>) {
        // Which labels from here on are encrypted is known; the ledger is read when needed.
        meter.scheme.recovery.knownFrom = meter.labelFloor
        meter.scheme.recovery.sentBase = meter.labelFloor
    }
    public static func isReady(_ meter: inout Meter<Self>) -> Bool { meter.groupReady }
    public static func isSettingUp(_ meter: borrowing Meter<Self>) -> Bool { meter.scheme.setup.dhKey != nil }
    public static func readingMaximum(_ meter: inout Meter<Self>) -> UInt64 { meter.record.maxReading }
    public static func idle(_ meter: inout Meter<Self>) -> Bool {
        let reading = meter.precomputePad()
        let slots = meter.precomputeStatisticsPads()
        return reading || slots
    }
    public static func isPrecomputed(_ meter: borrowing Meter<Self>) -> Bool {
        meter.scheme.padLabel == meter.labelFloor && meter.statisticsPrecomputed
    }
    public static func resendExtra(_ meter: inout Meter<Self>, before label: UInt64) {
        meter.resendStatistics(before: label)
    }
    // Group parameters as every group-keyed scheme takes them, and statistics plans.
    public static func precheckStatement(
        _ meter: inout Meter<Self>, kind: StatementKind, _ body: Span<UInt8>
    ) throws(MeterError) {
        switch kind {
        case .groupParameters: try meter.precheckGroupParameters(body)
        case .statisticsPlan: try meter.precheckStatisticsPlan(body)
        case .tariff: try meter.precheckTariff(body)
        default: throw .statementRejected(.wrongScheme)
        }
    }
    public static func applyStatement(_ meter: inout Meter<Self>, kind: StatementKind) throws(MeterError) -> MeterEvent?
    {
        switch kind {
        case .groupParameters: return try meter.applyGroupParameters()
        case .statisticsPlan: return try meter.applyStatisticsPlan()
        case .tariff: return try meter.applyTariff()
        default: throw .statementRejected(.wrongScheme)
        }
    }
    public static func encryptAndSend(_ meter: inout Meter<Self>, label: UInt64, reading: UInt64) throws(MeterError) {
        try meter.encryptLWR(label: label, reading: reading)
    }
    public static func handleDownlink(
        _ meter: inout Meter<Self>, _ header: FrameHeader, epoch: UInt32, _ payload: Span<UInt8>
    ) throws(MeterError) -> MeterEvent? {
        switch header.type {
        case .recoveryRequest: return try meter.answerRecovery(label: header.label, payload)
        case .noticeRelay: return try meter.receiveNotice(label: header.label, payload)
        case .confirmationRelay: return try meter.receiveConfirmation(label: header.label, payload)
        default: return try meter.handleSetupDownlink(header, epoch: epoch, payload)
        }
    }

    public static func checkGroupParameters(
        _ meter: inout Meter<Self>, parameterID: UInt8, keyMode: KeyMode, meters: UInt32, maxReading: UInt64
    ) throws(MeterError) {
        guard let parameters = LWRParameters.withID(parameterID) else { throw .setupRejected(.unknownParameters) }
        do { _ = try LWRGroupBounds(meters: meters, maxReading: maxReading, parameters: parameters) } catch {
            throw .setupRejected(.capacityExceeded)
        }
    }

    public static func beginSetup(_ meter: inout Meter<Self>) throws(MeterError) {
        meter.scheme.padLabel = .max
        meter.scheme.expandedSums = (0, 0)
        // The neighbour graph's key comes from its edges, once every seed is in.
        guard meter.record.keyMode == .expanded, meter.record.neighbourGraph == nil,
            let parameters = LWRParameters.withID(meter.record.parameterID)
        else { return }
        meter.scheme.expandedSums = try meter.writeExpandedKey(parameters)
    }

    public static func finishSetup(_ meter: inout Meter<Self>) throws(MeterError) {
        if meter.record.neighbourGraph != nil {
            // No key share: the keys cancel over the group.
            guard let parameters = LWRParameters.withID(meter.record.parameterID) else { throw .notReady }
            meter.scheme.expandedSums = try meter.writeNeighbourKey(parameters)
            try meter.resetLedger()
        } else {
            try meter.sendKeyShare()
        }
        meter.record.expandedKeySums = meter.record.keyMode == .expanded ? meter.scheme.expandedSums : (0, 0)
        try meter.completeSetup()
    }
}

extension Meter where Scheme == LWRScheme {
    /// Flash address of the expanded key: the sectors right after the key store.
    var expandedKeyAddress: UInt32 { layout.expandedKeySector * board.sectorSize }

    /// Idle work: the pad F_k(l) of the next label, so that its boundary is one addition.
    mutating func precomputePad() -> Bool {
        guard scheme.padLabel != labelFloor else { return false }
        guard let p = try? computePad(label: labelFloor) else { return false }
        scheme.pad = p
        scheme.padLabel = labelFloor
        return true
    }

    /// c = F_k(l) + Δ·x mod p into the frame, then stored and sent.
    mutating func encryptLWR(label: UInt64, reading: UInt64) throws(MeterError) {
        guard let parameters = LWRParameters.withID(record.parameterID) else { throw .notReady }
        let bounds: LWRGroupBounds
        do {
            // Δ = 2n over the neighbour graph (recovery answers add rounded terms).
            let terms =
                record.neighbourGraph == nil
                ? UInt64(record.groupSize) : NeighbourKeys.roundedTerms(meters: record.groupSize)
            bounds = try LWRGroupBounds(
                meters: record.groupSize, maxReading: record.maxReading, parameters: parameters, roundedTerms: terms)
        } catch {
            throw .notReady
        }
        let p = scheme.padLabel == label ? scheme.pad : try computePad(label: label)
        let c: UInt64
        do { c = try LWRPSA.encrypt(reading: reading, pad: p, bounds: bounds, parameters: parameters) } catch {
            throw .readingAboveMaximum(reading: reading, maximum: record.maxReading)
        }
        var f = frame.mutableSpan
        BigEndian.store(c, at: Frame.headerBytes, in: &f)
        try storeAndSendReading(label: label, reading: reading, payloadLength: parameters.ciphertextBytes)
        scheme.padLabel = .max
        if record.neighbourGraph != nil { noteEncrypted(label) }
        // The reading is stored (the label counter is past `label`): its statistics slots.
        sendStatistics(label: label, reading: reading)
    }

    // `mutating` only so that `self` is passed by address: as a borrowing method, every
    // call from a mutating one (idle, encryptAndSend) copied the whole Meter (18.8 KB) onto
    // the stack first, twice per reading (`metering cost`, peak stack: 41 KB → 3 KB).
    // `slot` ≥ 1: the pad F_k(l, s) of a statistics slot (LWRStatistics.swift). Not inlined:
    // its callers (the reading's pad, the slots' pads while idle and at the boundary) would
    // each carry a copy of the key's three paths (4 KB of the Embedded image's text).
    @inline(never)
    mutating func computePad(label: UInt64, slot: UInt8 = 0) throws(MeterError) -> UInt64 {
        guard let parameters = LWRParameters.withID(record.parameterID) else { throw .notReady }
        switch record.keyMode {
        case .seed:
            return LWRPSA.prf(
                parameters: parameters, seed: record.psaSeed.span, group: record.group, label: label, slot: slot)
        case .expanded:
            if let pad = try padFromExpandedKey(parameters, label: label, slot: slot) { return pad }
            // The expanded key no longer matches its sums (a flip at rest, a cut rewrite):
            // it is never used. Its source is authoritative: the seed, or the edges' seeds.
            repairs += 1
            repairToReport = true
            if record.neighbourGraph != nil {
                _ = try writeNeighbourKey(parameters)
                guard let pad = try padFromExpandedKey(parameters, label: label, slot: slot) else {
                    throw .keyStoreCorrupt
                }
                return pad
            }
            _ = try writeExpandedKey(parameters)
            return LWRPSA.prf(
                parameters: parameters, seed: record.psaSeed.span, group: record.group, label: label, slot: slot)
        }
    }

    /// F_k(l) streamed from the expanded key in flash, or nil when the key does not match
    /// the Fletcher sums the key store keeps.
    mutating func padFromExpandedKey(_ parameters: LWRParameters, label: UInt64, slot: UInt8 = 0) throws(MeterError)
        -> UInt64?
    {
        var stream = LWRLabelStream(parameters: parameters, group: record.group, label: label, slot: slot)
        // λ is a multiple of 64 for every set: the key is read in whole 512-byte pages.
        var page = InlineArray<512, UInt8>(repeating: 0)
        var address = expandedKeyAddress
        var sums: (UInt64, UInt64) = (0, 0)
        while stream.remainingWords > 0 {
            var pageSpan = page.mutableSpan
            do throws(BoardError) { try board.read(address, into: &pageSpan) } catch {
                throw .board(error)
            }
            // One little-endian load per word, the products and the Fletcher sums in one loop
            // (docs/m4-lwr-bench.md).
            stream.absorb(keyBytes: page.span.bytes, sums: &sums)
            address += 512
        }
        guard sums.0 == record.expandedKeySums.0 && sums.1 == record.expandedKeySums.1 else { return nil }
        return stream.prf()
    }

    /// Writes k_i, expanded from the PSA seed, to the expanded-key sectors; returns the
    /// Fletcher sums of its words, which the ready state keeps to check every use.
    mutating func writeExpandedKey(_ parameters: LWRParameters) throws(MeterError) -> (UInt64, UInt64) {
        try eraseExpandedKey(parameters)
        var key = LWRPSA.keyStream(parameters: parameters, seed: record.psaSeed.span)
        var sums: (UInt64, UInt64) = (0, 0)
        var words = InlineArray<128, UInt64>(repeating: 0)
        for c in 0..<(parameters.lambda / 128) {
            for w in 0..<128 { words[w] = key.squeezeWord() }
            try programKeyChunk(words.span, chunk: c, sums: &sums)
        }
        return sums
    }

    /// Erases the expanded-key sectors for a key of λ words.
    mutating func eraseExpandedKey(_ parameters: LWRParameters) throws(MeterError) {
        let bytes = parameters.lambda * 8
        precondition(bytes <= MeterFlashLayout.expandedKeyBytes, "the expanded-key sectors hold λ ≤ 2048 words")
        let sectorSize = Int(board.sectorSize)
        let firstSector = layout.expandedKeySector
        let sectors = (bytes + sectorSize - 1) / sectorSize
        guard Int(firstSector) + sectors <= Int(board.sectorCount) else {
            throw .keyStore(.flashTooSmall)
        }
        do throws(BoardError) {
            for s in 0..<sectors { try board.erase(sector: firstSector + UInt32(s)) }
        } catch {
            throw .board(error)
        }
    }

    /// Programs chunk `chunk` of the key (128 words, little-endian, 32 per 256-byte program
    /// operation) and adds its words to the Fletcher sums.
    mutating func programKeyChunk(_ words: Span<UInt64>, chunk: Int, sums: inout (UInt64, UInt64)) throws(MeterError) {
        var page = InlineArray<256, UInt8>(repeating: 0)
        do throws(BoardError) {
            for q in 0..<4 {
                for w in 0..<32 {
                    let v = words[32 * q + w]
                    sums.0 &+= v
                    sums.1 &+= sums.0
                    for b in 0..<8 { page[8 * w + b] = UInt8(truncatingIfNeeded: v >> UInt64(8 * b)) }
                }
                try board.program(expandedKeyAddress + UInt32(chunk * 1024 + q * 256), page.span)
            }
        } catch {
            throw .board(error)
        }
    }

    /// Step 4 of key setup: the masked key share k_i + Σ_j σ_ij·Z_ij, one 128-word keyShare
    /// frame at a time, each chunk computed from k_i's stream and the peer seeds in flash.
    mutating func sendKeyShare() throws(MeterError) {
        guard let parameters = LWRParameters.withID(record.parameterID) else { throw .notReady }
        var key = LWRPSA.keyStream(parameters: parameters, seed: record.psaSeed.span)
        var words = InlineArray<128, UInt64>(repeating: 0)
        var seed = InlineArray<32, UInt8>(repeating: 0)
        let peers = Int(scheme.setup.peersProcessed)
        for c in 0..<(parameters.lambda / KeySetup.shareChunkWords) {
            for w in 0..<KeySetup.shareChunkWords { words[w] = key.squeezeWord() }
            for i in 0..<peers {
                // A slot that fails its checksum is never used: no share leaves the meter.
                guard let peer = loadPeerSeed(i, seed: &seed), peer != record.meter else { throw .keyStoreCorrupt }
                var span = words.mutableSpan
                KeySetup.applyZeroShare(
                    parameters: parameters, pairwiseSeed: seed.span, own: record.meter, peer: peer, chunk: c,
                    to: &span)
            }
            var f = frame.mutableSpan
            for w in 0..<KeySetup.shareChunkWords {
                let v = words[w]
                for b in 0..<8 { f[Frame.headerBytes + 8 * w + b] = UInt8(truncatingIfNeeded: v >> UInt64(8 * b)) }
            }
            try sendFrame(.keyShare, label: UInt64(c), payloadLength: SetupPayload.shareChunkBytes)
        }
        for k in 0..<32 { seed[k] = 0 }
    }
}
