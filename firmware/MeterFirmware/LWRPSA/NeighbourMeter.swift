// LWR-PSA over the neighbour graph on the meter (docs/spec/dropout.md): key setup 1 of the
// group parameters. The meter pairs with its k neighbours only, keeps their seeds in the
// peer-seed area, writes k_i = Σ σ·G(s_ij) to the expanded-key sectors chunk by chunk and
// sends nothing back; then it answers recovery requests within its bounds:
//
// - only for labels it encrypted itself since boot, within the signed window W,
// - at most t silent neighbours per answer, each a neighbour with budget left (at most B
//   answers about it that it has not confirmed), one answer per label;
// - each answer is journalled in the recovery ledger (two sectors after the seeds) before it
//   is sent, so a reboot never gives budget back; a neighbour's confirmation does.
//
// A meter told by a neighbour that it was declared silent confirms when it did not encrypt
// the label, and raises an alarm with the aggregator's plain ack as evidence when it did.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

/// What the meter keeps in RAM for recovery (the ledger on flash is authoritative for the
/// budgets; the rest is rebuilt from boot on).
public struct RecoveryState: Sendable {
    /// Labels answered about each neighbour slot and not yet confirmed: slot·4 + i, .max empty.
    var pending = InlineArray<256, UInt64>(repeating: .max)
    /// The ledger: active sector (0 or 1 after the seed sector), generation, next entry.
    var ledgerSector: UInt32 = 0
    var ledgerGeneration: UInt32 = 0
    var ledgerNext = 0
    var ledgerLoaded = false
    var ledgerDamaged = false
    /// Labels encrypted since boot: bit i is label sentBase + i.
    var sentBase: UInt64 = 0
    var sentMask: UInt64 = 0
    /// The label counter at boot: which labels from it on were encrypted is known.
    var knownFrom: UInt64 = .max
    /// Labels answered (one answer per label).
    var answered = InlineArray<8, UInt64>(repeating: .max)
    var answeredNext = 0
    /// The last acks of this meter's readings: label, plain (no payload), the frame's tag.
    var ackLabels = InlineArray<8, UInt64>(repeating: .max)
    var ackPlain = InlineArray<8, Bool>(repeating: false)
    var ackTags = InlineArray<128, UInt8>(repeating: 0)
    var ackNext = 0

    public init() {}
}

/// The recovery ledger's entries (32 bytes: kind u8 | slot u8 | 0xFF × 6 | label u64 |
/// checksum 8 | syndrome 3 | 0xFF × 5), docs/spec/flash-format.md.
enum LedgerEntry: UInt8 {
    /// A sector's copy of the pending answers is complete: from here on it is the ledger.
    case checkpoint = 1
    /// An answer about the slot's neighbour for the label, written before it is sent.
    case answered = 2
    /// The neighbour confirmed the label: the budget unit comes back.
    case confirmed = 3

    static let bytes = 32
    static let sealed = 24
    static let magic: UInt32 = 0x504D_524C  // "PMRL"
    static let domain: StaticString = "PM-LEDGER-v1"
}

extension LWRScheme {
    /// The largest budget B the firmware keeps (`NeighbourGroupTerms.maxBudget`).
    static var budgetSlots: Int { NeighbourGroupTerms.maxBudget }

    public static func acceptNeighbourGraph(_ meter: inout Meter<Self>, body: Span<UInt8>) throws(MeterError)
        -> NeighbourRecord
    {
        guard let terms = NeighbourGroupTerms(body: body) else { throw .setupRejected(.malformed) }
        // The key is the sum of the edges' vectors: it has no seed, it lives in flash.
        guard body[17] == KeyMode.expanded.rawValue else { throw .setupRejected(.unknownKeyMode) }
        guard let parameters = LWRParameters.withID(body[16]) else { throw .setupRejected(.unknownParameters) }
        do {
            _ = try NeighbourKeys.bounds(
                meters: terms.graph.meters, maxReading: BigEndian.load64(body, at: 24), parameters: parameters)
        } catch {
            throw .setupRejected(.capacityExceeded)
        }
        // The seeds fit one sector; the ledger's two sectors follow it.
        guard terms.graph.neighbourCount * MeterFlashLayout.peerSeedSlotBytes <= Int(meter.board.sectorSize),
            meter.board.sectorCount >= meter.layout.peerSeedSector + 3
        else { throw .setupRejected(.groupTooLarge) }
        for k in 0..<32 { meter.scheme.graphSeed[k] = body[NeighbourGroupLayout.graphSeed + k] }
        var graph = NeighbourRecord()
        graph.degree = UInt8(terms.graph.degree)
        graph.maxSilent = UInt8(terms.maxSilent)
        graph.budget = UInt8(terms.budget)
        graph.window = UInt8(terms.window)
        graph.activationLabel = terms.activationLabel
        return graph
    }

    public static func processNeighbourEntry(_ meter: inout Meter<Self>, _ payload: Span<UInt8>) throws(MeterError) {
        try meter.processNeighbourEntry(payload)
    }

    public static func acknowledged(_ meter: inout Meter<Self>, _ header: FrameHeader, frame: Span<UInt8>) {
        meter.statisticsAcknowledged(header)
        guard meter.record.neighbourGraph != nil, header.group == meter.record.group else { return }
        let i = meter.scheme.recovery.ackNext
        meter.scheme.recovery.ackLabels[i] = header.label
        meter.scheme.recovery.ackPlain[i] = header.payloadLength == 0
        for k in 0..<16 { meter.scheme.recovery.ackTags[16 * i + k] = frame[frame.count - 16 + k] }
        meter.scheme.recovery.ackNext = (i + 1) % 8
    }
}

extension Meter where Scheme == LWRScheme {
    /// The neighbour graph of the meter's group, or nil (n-of-n).
    var neighbourGraph: NeighbourGraph? {
        guard let r = record.neighbourGraph else { return nil }
        return try? NeighbourGraph(meters: record.groupSize, degree: Int(r.degree))
    }

    /// Step 3 of the neighbour-graph setup: the own entry (its ring place), then the k
    /// neighbours' entries in slot order, each checked against the signed root.
    mutating func processNeighbourEntry(_ payload: Span<UInt8>) throws(MeterError) {
        let setup = scheme.setup
        guard record.phase == .keySetup, let privateKey = setup.dhKey, setup.rosterDepth > 0,
            var place = record.neighbourGraph, let graph = neighbourGraph
        else { throw .unexpectedDownlink(.rosterEntry) }
        guard payload.count == Roster.graphEntryBytes(depth: setup.rosterDepth) else {
            throw .badDownlink(.badPayloadSize(type: .rosterEntry, size: payload.count))
        }
        let index = BigEndian.load32(payload, at: 0)
        let peer = BigEndian.load32(payload, at: 4)
        let ringKey = BigEndian.load64(payload, at: 8)
        let yBytes = payload.extracting(16..<(16 + Roster.publicKeyBytes))
        var hash = InlineArray<32, UInt8>(repeating: 0)
        var hashSpan = hash.mutableSpan
        Roster.publicKeyHash(yBytes, into: &hashSpan)
        var leaf = InlineArray<32, UInt8>(repeating: 0)
        var leafSpan = leaf.mutableSpan
        Roster.graphLeaf(meter: peer, ringKey: ringKey, publicKeyHash: hash.span, into: &leafSpan)
        guard index < record.groupSize,
            Roster.verifyPath(
                leaf: leaf.span, index: index, depth: setup.rosterDepth,
                path: payload.extracting((16 + Roster.publicKeyBytes)..<payload.count), root: setup.rosterRoot.span)
        else { throw .peerKeyRejected(peer: peer) }
        if setup.rosterNext == 0 {
            // Own entry first: this meter's own key, at the place this epoch's seed gives it.
            var diff: UInt8 = 0
            for k in 0..<32 { diff |= hash[k] ^ setup.ownKeyHash[k] }
            let seed = scheme.graphSeed
            guard peer == record.meter, diff == 0,
                ringKey == NeighbourGraph.ringKey(seed: seed.span, group: record.group, meter: peer)
            else { throw .peerKeyRejected(peer: peer) }
            place.position = index
            record.neighbourGraph = place
            scheme.setup.ownEntrySeen = true
        } else {
            let slot = Int(setup.rosterNext) - 1
            guard index == graph.neighbour(of: place.position, slot: slot), peer != record.meter else {
                throw .peerKeyRejected(peer: peer)
            }
            let seed = try pairwiseSeed(privateKey: privateKey, peer: peer, publicKey: yBytes)
            try storePeerSeed(seed.span, peer: peer, index: slot)
            scheme.setup.peersProcessed += 1
        }
        scheme.setup.rosterNext += 1
        if Int(scheme.setup.rosterNext) == 1 + graph.neighbourCount { try LWRScheme.finishSetup(&self) }
    }

    /// The neighbour-graph key written to the expanded-key sectors from the stored seeds,
    /// chunk by chunk; returns its Fletcher sums.
    mutating func writeNeighbourKey(_ parameters: LWRParameters) throws(MeterError) -> (UInt64, UInt64) {
        try eraseExpandedKey(parameters)
        var sums: (UInt64, UInt64) = (0, 0)
        var words = InlineArray<128, UInt64>(repeating: 0)
        var seed = InlineArray<32, UInt8>(repeating: 0)
        let peers = neighbourGraph?.neighbourCount ?? 0
        for c in 0..<(parameters.lambda / NeighbourKeys.chunkWords) {
            for w in 0..<NeighbourKeys.chunkWords { words[w] = 0 }
            for i in 0..<peers {
                // A slot that fails its checksum is never used.
                guard let peer = loadPeerSeed(i, seed: &seed), peer != record.meter else { throw .keyStoreCorrupt }
                var span = words.mutableSpan
                NeighbourKeys.addEdge(
                    parameters: parameters, pairwiseSeed: seed.span, own: record.meter, peer: peer, chunk: c, to: &span)
            }
            try programKeyChunk(words.span, chunk: c, sums: &sums)
        }
        for k in 0..<32 { seed[k] = 0 }
        return sums
    }

    /// The seed slot of neighbour `peer`, or nil when it is none of the meter's neighbours.
    func neighbourSlot(_ peer: UInt32, seed: inout InlineArray<32, UInt8>) -> Int? {
        let peers = neighbourGraph?.neighbourCount ?? 0
        for i in 0..<peers where loadPeerSeed(i, seed: &seed) == peer { return i }
        return nil
    }

    // MARK: - labels encrypted since boot

    /// Notes that `label` was encrypted (called with every reading).
    mutating func noteEncrypted(_ label: UInt64) {
        var r = scheme.recovery
        if r.knownFrom == .max {
            r.knownFrom = label
            r.sentBase = label
        }
        if label >= r.sentBase &+ 64 {
            let shift = label - r.sentBase - 63
            r.sentMask = shift >= 64 ? 0 : r.sentMask >> shift
            r.sentBase += shift
        }
        if label >= r.sentBase { r.sentMask |= 1 << (label - r.sentBase) }
        scheme.recovery = r
    }

    /// True when this meter encrypted `label` since boot.
    func encryptedSinceBoot(_ label: UInt64) -> Bool {
        let r = scheme.recovery
        return label >= r.sentBase && label < r.sentBase &+ 64 && r.sentMask & (1 << (label - r.sentBase)) != 0
    }

    /// True when this meter knows it did not encrypt `label` and never will: the label lies
    /// below its counter, at or after its boot, and is not among those it encrypted.
    func skipped(_ label: UInt64) -> Bool {
        let r = scheme.recovery
        guard label < labelFloor, r.knownFrom != .max, label >= r.knownFrom else { return false }
        return label >= r.sentBase && !encryptedSinceBoot(label)
    }

    // MARK: - recovery

    /// A recovery request for `label`: one answer covering the silent neighbours named, if
    /// every bound allows, journalled before it is sent; then a notice to each of them.
    mutating func answerRecovery(label: UInt64, _ payload: Span<UInt8>) throws(MeterError) -> MeterEvent? {
        guard record.phase == .ready, let place = record.neighbourGraph,
            let parameters = LWRParameters.withID(record.parameterID)
        else { throw .unexpectedDownlink(.recoveryRequest) }
        guard payload.count >= 4 else { throw .recoveryRefused(.malformed) }
        let count = Int(payload[0])
        guard count >= 1, payload.count == RecoveryPayload.requestBytes(count: count), payload[1] == 0, payload[2] == 0,
            payload[3] == 0
        else { throw .recoveryRefused(.malformed) }
        guard count <= Int(place.maxSilent) else { throw .recoveryRefused(.tooManySilent) }
        try loadLedger()
        guard !scheme.recovery.ledgerDamaged else { throw .recoveryRefused(.ledgerDamaged) }
        guard encryptedSinceBoot(label) else { throw .recoveryRefused(.notEncrypted) }
        let current = currentLabel
        guard label < current, current - label <= UInt64(place.window) else { throw .recoveryRefused(.outsideWindow) }
        for i in 0..<8 where scheme.recovery.answered[i] == label { throw .recoveryRefused(.answeredBefore) }
        // Every id a neighbour with budget left, ids increasing.
        var slots = InlineArray<64, UInt8>(repeating: 0)
        var seed = InlineArray<32, UInt8>(repeating: 0)
        var last: UInt32 = 0
        for n in 0..<count {
            let peer = BigEndian.load32(payload, at: 4 + 4 * n)
            guard n == 0 || peer > last, let slot = neighbourSlot(peer, seed: &seed) else {
                throw .recoveryRefused(.malformed)
            }
            guard pendingCount(slot) < Int(place.budget) else { throw .recoveryRefused(.budgetExhausted) }
            slots[n] = UInt8(slot)
            last = peer
        }
        // Journalled first: a cut after this sends nothing, and a reboot gives nothing back.
        for n in 0..<count {
            try appendLedger(.answered, slot: Int(slots[n]), label: label)
            addPending(Int(slots[n]), label)
        }
        scheme.recovery.answered[scheme.recovery.answeredNext] = label
        scheme.recovery.answeredNext = (scheme.recovery.answeredNext + 1) % 8
        var ip = EdgeInnerProduct(parameters: parameters, group: record.group, label: label)
        for _ in 0..<ip.chunkCount {
            ip.nextChunk()
            for n in 0..<count {
                guard let peer = loadPeerSeed(Int(slots[n]), seed: &seed) else { throw .keyStoreCorrupt }
                ip.addRecoveryTerm(pairwiseSeed: seed.span, own: record.meter, peer: peer)
            }
        }
        let r = ip.prf()
        var f = frame.mutableSpan
        BigEndian.store(r, at: Frame.headerBytes, in: &f)
        f[Frame.headerBytes + 8] = UInt8(count)
        for k in 9..<12 { f[Frame.headerBytes + k] = 0 }
        for k in 0..<(4 * count) { f[Frame.headerBytes + 12 + k] = payload[4 + k] }
        try sendFrame(.recovery, label: label, payloadLength: RecoveryPayload.answerBytes(count: count))
        for n in 0..<count {
            let peer = BigEndian.load32(payload, at: 4 + 4 * n)
            guard loadPeerSeed(Int(slots[n]), seed: &seed) == peer else { throw .keyStoreCorrupt }
            try sendSilenceMessage(.notice, .silenceNotice, peer: peer, label: label, seed: seed)
        }
        for k in 0..<32 { seed[k] = 0 }
        return .recoveryAnswered(label: label)
    }

    /// A neighbour's notice that it answered a recovery about this meter: confirmed when
    /// this meter skipped the label, an alarm with evidence when the aggregator had acked it.
    mutating func receiveNotice(label: UInt64, _ payload: Span<UInt8>) throws(MeterError) -> MeterEvent? {
        guard record.phase == .ready, record.neighbourGraph != nil, payload.count == RecoveryPayload.noticeBytes
        else { throw .unexpectedDownlink(.noticeRelay) }
        let from = BigEndian.load32(payload, at: 0)
        var seed = InlineArray<32, UInt8>(repeating: 0)
        guard neighbourSlot(from, seed: &seed) != nil,
            NeighbourKeys.verify(
                .notice, pairwiseSeed: seed.span, group: record.group, from: from, to: record.meter, label: label,
                tag: payload.extracting(4..<20))
        else { throw .badDownlink(.badTag) }
        if skipped(label) {
            try sendSilenceMessage(.confirmation, .silenceConfirm, peer: from, label: label, seed: seed)
            return nil
        }
        for i in 0..<8 where scheme.recovery.ackLabels[i] == label && scheme.recovery.ackPlain[i] {
            // The aggregator acked this reading and still had it declared silent: the two
            // frames' tags are the evidence (the notice's own tag is in the relayed frame).
            let noticeFrameTag = Frame.headerBytes + RecoveryPayload.noticeBytes
            let message = inbox
            var f = frame.mutableSpan
            for k in 0..<RecoveryPayload.noticeBytes { f[Frame.headerBytes + k] = payload[k] }
            for k in 0..<16 { f[Frame.headerBytes + 20 + k] = message[noticeFrameTag + k] }
            for k in 0..<16 { f[Frame.headerBytes + 36 + k] = scheme.recovery.ackTags[16 * i + k] }
            try sendFrame(.silenceAlarm, label: label, payloadLength: RecoveryPayload.alarmBytes)
            return .statusSent(.falseDropoutAlarm)
        }
        // Encrypted (or not known to be skipped) and never seen acked: reported, no proof.
        var f = frame.mutableSpan
        BigEndian.store(StatusCode.declaredSilent.rawValue, at: Frame.headerBytes, in: &f)
        BigEndian.store(label, at: Frame.headerBytes + 2, in: &f)
        try sendFrame(.status, label: labelFloor, payloadLength: 10)
        return .statusSent(.declaredSilent)
    }

    /// A neighbour's confirmation that it skipped `label`: the budget unit comes back.
    mutating func receiveConfirmation(label: UInt64, _ payload: Span<UInt8>) throws(MeterError) -> MeterEvent? {
        guard record.phase == .ready, record.neighbourGraph != nil, payload.count == RecoveryPayload.noticeBytes
        else { throw .unexpectedDownlink(.confirmationRelay) }
        let from = BigEndian.load32(payload, at: 0)
        var seed = InlineArray<32, UInt8>(repeating: 0)
        guard let slot = neighbourSlot(from, seed: &seed),
            NeighbourKeys.verify(
                .confirmation, pairwiseSeed: seed.span, group: record.group, from: from, to: record.meter,
                label: label, tag: payload.extracting(4..<20))
        else { throw .badDownlink(.badTag) }
        try loadLedger()
        for i in 0..<LWRScheme.budgetSlots where scheme.recovery.pending[slot * LWRScheme.budgetSlots + i] == label {
            try appendLedger(.confirmed, slot: slot, label: label)
            scheme.recovery.pending[slot * LWRScheme.budgetSlots + i] = .max
        }
        return nil
    }

    /// Sends a notice or confirmation to `peer` about `label` (its id and the pairwise tag).
    mutating func sendSilenceMessage(
        _ message: NeighbourKeys.SilenceMessage, _ type: FrameType, peer: UInt32, label: UInt64,
        seed: InlineArray<32, UInt8>
    ) throws(MeterError) {
        var tag = InlineArray<16, UInt8>(repeating: 0)
        var tagSpan = tag.mutableSpan
        NeighbourKeys.tag(
            message, pairwiseSeed: seed.span, group: record.group, from: record.meter, to: peer, label: label,
            into: &tagSpan)
        var f = frame.mutableSpan
        BigEndian.store(peer, at: Frame.headerBytes, in: &f)
        for k in 0..<16 { f[Frame.headerBytes + 4 + k] = tag[k] }
        try sendFrame(type, label: label, payloadLength: RecoveryPayload.noticeBytes)
    }

    func pendingCount(_ slot: Int) -> Int {
        var n = 0
        for i in 0..<LWRScheme.budgetSlots where scheme.recovery.pending[slot * LWRScheme.budgetSlots + i] != .max {
            n += 1
        }
        return n
    }

    mutating func addPending(_ slot: Int, _ label: UInt64) {
        for i in 0..<LWRScheme.budgetSlots where scheme.recovery.pending[slot * LWRScheme.budgetSlots + i] == .max {
            scheme.recovery.pending[slot * LWRScheme.budgetSlots + i] = label
            return
        }
    }

    // MARK: - the recovery ledger (flash)

    func ledgerSectorNumber(_ which: UInt32) -> UInt32 { layout.peerSeedSector + 1 + which }
    var ledgerCapacity: Int { (Int(board.sectorSize) - FlashFormat.markerBytes) / LedgerEntry.bytes }

    /// A fresh ledger for a new key setup: the other sector formatted, a checkpoint, no answers.
    mutating func resetLedger() throws(MeterError) {
        var generation: UInt32 = 0
        for which in 0..<UInt32(2) {
            if let g = try? FlashFormat.readMarker(board, sector: ledgerSectorNumber(which), magic: LedgerEntry.magic) {
                generation = max(generation, g)
            }
        }
        scheme.recovery.pending = InlineArray(repeating: .max)
        scheme.recovery.answered = InlineArray(repeating: .max)
        scheme.recovery.ledgerDamaged = false
        try startLedgerSector(which: 0, generation: generation &+ 1)
        scheme.recovery.ledgerLoaded = true
    }

    /// Formats ledger sector `which`, copies the pending answers into it, then the checkpoint.
    mutating func startLedgerSector(which: UInt32, generation: UInt32) throws(MeterError) {
        do throws(BoardError) {
            guard
                try FlashFormat.format(
                    board, sector: ledgerSectorNumber(which), magic: LedgerEntry.magic, generation: generation)
            else { throw .wornOut }
        } catch {
            throw .board(error)
        }
        scheme.recovery.ledgerSector = which
        scheme.recovery.ledgerGeneration = generation
        scheme.recovery.ledgerNext = 0
        for p in 0..<256 where scheme.recovery.pending[p] != .max {
            try programLedger(.answered, slot: p / LWRScheme.budgetSlots, label: scheme.recovery.pending[p])
        }
        try programLedger(.checkpoint, slot: 0, label: 0)
    }

    /// Appends one entry, moving to the other sector when this one is full.
    mutating func appendLedger(_ kind: LedgerEntry, slot: Int, label: UInt64) throws(MeterError) {
        if scheme.recovery.ledgerNext >= ledgerCapacity {
            try startLedgerSector(
                which: 1 - scheme.recovery.ledgerSector, generation: scheme.recovery.ledgerGeneration &+ 1)
        }
        try programLedger(kind, slot: slot, label: label)
    }

    mutating func programLedger(_ kind: LedgerEntry, slot: Int, label: UInt64) throws(MeterError) {
        var entry = InlineArray<32, UInt8>(repeating: 0xFF)
        var span = entry.mutableSpan
        span[0] = kind.rawValue
        span[1] = UInt8(slot)
        BigEndian.store(label, at: 8, in: &span)
        FlashFormat.seal(&span, length: LedgerEntry.sealed, domain: LedgerEntry.domain)
        let address =
            ledgerSectorNumber(scheme.recovery.ledgerSector) * board.sectorSize
            + UInt32(scheme.recovery.ledgerNext * LedgerEntry.bytes)
        do throws(BoardError) {
            guard try FlashFormat.programVerified(board, address, entry.span) else { throw .wornOut }
        } catch {
            throw .board(error)
        }
        scheme.recovery.ledgerNext += 1
    }

    /// Reads the ledger once after boot: the newest sector that holds a checkpoint; its
    /// answers not confirmed are the pending ones. A damaged entry before the last stops all
    /// answers (a lost answer entry would give budget back).
    mutating func loadLedger() throws(MeterError) {
        guard !scheme.recovery.ledgerLoaded else { return }
        var order = InlineArray<2, UInt32>(repeating: 0)
        var generations = InlineArray<2, UInt32>(repeating: 0)
        var found = 0
        for which in 0..<UInt32(2) {
            let g: UInt32?
            do throws(BoardError) {
                g = try FlashFormat.readMarker(board, sector: ledgerSectorNumber(which), magic: LedgerEntry.magic)
            } catch {
                throw .board(error)
            }
            if let g {
                order[found] = which
                generations[found] = g
                found += 1
            }
        }
        if found == 2 && generations[1] > generations[0] {
            order.swapAt(0, 1)
            generations.swapAt(0, 1)
        }
        scheme.recovery.ledgerLoaded = true
        for candidate in 0..<found {
            let replay = try replayLedger(which: order[candidate], generation: generations[candidate])
            if replay == .complete { return }
            if replay == .damaged {
                // Never fall back to an older copy: it may hold fewer answers.
                scheme.recovery.ledgerDamaged = true
                return
            }
        }
        scheme.recovery.ledgerDamaged = true
    }

    /// The outcome of replaying one ledger sector (a struct: see `NeighbourKeys.SilenceMessage`).
    struct LedgerReplay: Equatable {
        let code: UInt8
        static let complete = LedgerReplay(code: 0)
        static let damaged = LedgerReplay(code: 1)
        static let noCheckpoint = LedgerReplay(code: 2)
    }

    /// Replays one ledger sector: `noCheckpoint` when its copy was cut short (the older
    /// sector is still whole), `damaged` when an entry before the last fails its checks.
    mutating func replayLedger(which: UInt32, generation: UInt32) throws(MeterError) -> LedgerReplay {
        var pending = InlineArray<256, UInt64>(repeating: .max)
        var checkpoint = false
        var damaged = false
        var next = 0
        var entry = InlineArray<32, UInt8>(repeating: 0)
        let base = ledgerSectorNumber(which) * board.sectorSize
        while next < ledgerCapacity {
            var span = entry.mutableSpan
            do throws(BoardError) { try board.read(base + UInt32(next * LedgerEntry.bytes), into: &span) } catch {
                throw .board(error)
            }
            if FlashFormat.isErased(entry.span, count: LedgerEntry.bytes) { break }
            var check = entry.mutableSpan
            let integrity = FlashFormat.verify(&check, length: LedgerEntry.sealed, domain: LedgerEntry.domain)
            next += 1
            guard integrity != .invalid, let kind = LedgerEntry(rawValue: entry[0]) else {
                // A torn last write sent nothing; anything after it means real damage.
                damaged = true
                continue
            }
            if damaged { return .damaged }
            let slot = Int(entry[1])
            let label = BigEndian.load64(entry.span, at: 8)
            guard slot < 64 else { return .damaged }
            switch kind {
            case .checkpoint: checkpoint = true
            case .answered:
                for i in 0..<LWRScheme.budgetSlots where pending[slot * LWRScheme.budgetSlots + i] == .max {
                    pending[slot * LWRScheme.budgetSlots + i] = label
                    break
                }
            case .confirmed:
                for i in 0..<LWRScheme.budgetSlots where pending[slot * LWRScheme.budgetSlots + i] == label {
                    pending[slot * LWRScheme.budgetSlots + i] = .max
                }
            }
        }
        guard checkpoint else { return .noCheckpoint }
        scheme.recovery.pending = pending
        scheme.recovery.ledgerSector = which
        scheme.recovery.ledgerGeneration = generation
        // A torn last entry's place is not reused: the next entry goes after it.
        scheme.recovery.ledgerNext = next
        return .complete
    }
}
