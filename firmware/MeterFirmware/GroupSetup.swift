// Joining a group (LWR-PSA and DMCFE), driven only by what the provisioning authority
// signed (docs/spec/key-setup.md):
//
// 1. `enrolRequest` (group g, epoch e > the meter's group epoch): the meter draws a fresh
//    DH key, keeps it in the key store as enrolled for (g, e), and sends its public key
//    tagged under its enrolment key, which only the authority can check. Nothing else
//    changes: a ready meter keeps encrypting for its current group.
// 2. A signed group-parameters statement for (g, e) (Statements.swift): scheme, parameter
//    set, n, maximum reading and the roster root. Only then does the meter enter key setup.
// 3. `rosterEntry` × n, in index order: each member's id and DH public key with its Merkle
//    path to the signed root, this meter's own entry included. A key counts only if the
//    signed roster lists its hash; n is the signed n.
// 4. After the last entry, LWR-PSA sends the masked key share; DMCFE keeps the seeds.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

extension Meter {
    /// Ticks between two fresh enrolments (one a day: each writes the key store).
    var enrolmentSpacingTicks: UInt64 { timing.intervalTicks * 96 }

    /// The DH public key g^x of `privateKey`, big-endian (what enrolment sends and the
    /// roster lists the hash of).
    static func publicKeyBytes(_ privateKey: FFDHPrivateKey) -> InlineArray<384, UInt8> {
        var bytes = InlineArray<384, UInt8>(repeating: 0)
        var span = bytes.mutableSpan
        FFDHGroup.publicKey(for: privateKey).bigEndianBytes(into: &span)
        return bytes
    }

    /// Flash address of the expanded key: the sectors right after the key store.
    var expandedKeyAddress: UInt32 { layout.expandedKeySector * board.sectorSize }

    /// Step 1: enrols a fresh DH key for (`group`, `epoch`), or sends the enrolled one again
    /// (framed for `scheme`, the request's: the aggregator's group runs it).
    mutating func enrol(group: UInt32, epoch: UInt32, scheme: SchemeID) throws(MeterError) {
        let again = record.hasDHPrivate && record.pendingGroup == group && record.pendingEpoch == epoch
        if !again {
            guard epoch > record.groupEpoch else { throw .statementRejected(.staleEpoch) }
            if let last = lastEnrolmentTick, board.ticks &- last < enrolmentSpacingTicks {
                throw .statementRejected(.enrolmentTooSoon)
            }
            var r = record
            var dh = r.dhPrivate.mutableSpan
            board.randomBytes(into: &dh)
            r.pendingGroup = group
            r.pendingEpoch = epoch
            do { try store.save(r) } catch { throw .keyStore(error) }
            record = r
            lastEnrolmentTick = board.ticks
        }
        let yBytes = Self.publicKeyBytes(FFDHPrivateKey(randomBytes: record.dhPrivate.span))
        var tag = InlineArray<16, UInt8>(repeating: 0)
        var tagSpan = tag.mutableSpan
        Enrolment.tag(
            enrolmentKey: record.enrolmentKey.span, group: group, epoch: epoch, meter: record.meter,
            publicKey: yBytes.span, into: &tagSpan)
        var f = frame.mutableSpan
        for k in 0..<FFDHGroup.byteCount { f[Frame.headerBytes + k] = yBytes[k] }
        for k in 0..<Enrolment.tagBytes { f[Frame.headerBytes + FFDHGroup.byteCount + k] = tag[k] }
        let header = FrameHeader(
            type: .publicKey, scheme: scheme, group: group,
            meter: record.meter, label: UInt64(epoch), payloadLength: SetupPayload.publicKeyBytes)
        let length = seal(header, epoch: epoch)
        do { try board.send(frame.span.extracting(0..<length)) } catch { throw .board(error) }
    }

    /// Step 2: a verified group-parameters statement (body in `statementBody`). Starts key
    /// setup for its group and epoch with the DH key enrolled for them, or resumes it after
    /// a reboot (the same statement again: same key, same seed, same share).
    mutating func applyGroupParameters() throws(MeterError) -> MeterEvent? {
        let copy = statementBody  // a copy: applying the statement mutates the meter
        let body = copy.span.extracting(0..<statementLength)
        guard statementLength == Statement.groupParametersBytes, BigEndian.load32(body, at: 8) == 0 else {
            throw .statementRejected(.malformed)
        }
        let epoch = BigEndian.load32(body, at: 4)
        let group = BigEndian.load32(body, at: 12)
        guard group == statementGroup, record.hasDHPrivate, record.pendingGroup == group, record.pendingEpoch == epoch
        else { throw .statementRejected(.wrongSubject) }
        let resume = epoch == record.groupEpoch && group == record.group && record.phase == .keySetup
        guard epoch > record.groupEpoch || resume else { throw .statementRejected(.staleEpoch) }
        let parameterID = body[16]
        let dmcfe = parameterID == DMCFE.parameterID
        let lwr = LWRParameters.withID(parameterID)
        guard dmcfe || lwr != nil else { throw .setupRejected(.unknownParameters) }
        guard let mode = KeyMode(rawValue: body[17]), !dmcfe || mode == .seed else {
            throw .setupRejected(.unknownKeyMode)
        }
        let depth = Int(body[18])
        let n = BigEndian.load32(body, at: 20)
        let maxReading = BigEndian.load64(body, at: 24)
        guard body[19] == 0, depth >= 1, depth <= Roster.maxDepth, UInt64(n) <= UInt64(1) << UInt64(depth) else {
            throw .setupRejected(.malformed)
        }
        guard n >= record.minGroupSize else { throw .setupRejected(.groupTooSmall) }
        if let parameters = lwr {
            do { _ = try LWRGroupBounds(meters: n, maxReading: maxReading, parameters: parameters) } catch {
                throw .setupRejected(.capacityExceeded)
            }
        } else {
            // g^x takes a 64-bit exponent; the aggregator's discrete log bounds the sum.
            guard maxReading < 1 << 48 else { throw .setupRejected(.capacityExceeded) }
            try prepareSeedArea(peers: Int(n) - 1)
        }

        var r = record
        r.phase = .keySetup
        r.group = group
        r.groupEpoch = epoch
        r.parameterID = parameterID
        r.keyMode = mode
        r.groupSize = n
        r.maxReading = maxReading
        r.expandedKeySums = (0, 0)  // they describe the old key; set again when setup finishes
        if !resume {
            var seed = r.psaSeed.mutableSpan
            board.randomBytes(into: &seed)
        }
        do { try store.save(r) } catch { throw .keyStore(error) }
        record = r
        frameKeyCacheValid = false
        padLabel = .max
        dmcfePadLabel = .max
        selectOutboxRing()  // DMCFE frames go to the wide ring, LWR-PSA's to the narrow one
        if let parameters = lwr {
            // share = k_i; peers' zero shares are added as their entries arrive.
            var key = LWRPSA.keyStream(parameters: parameters, seed: record.psaSeed.span)
            for j in 0..<parameters.lambda { share[j] = key.squeezeWord() }
            if mode == .expanded { expandedSums = try writeExpandedKey(parameters) }
        }
        for k in 0..<Roster.hashBytes { rosterRoot[k] = body[32 + k] }
        rosterDepth = depth
        rosterNext = 0
        ownEntrySeen = false
        peersProcessed = 0
        lastPeer = 0
        let privateKey = FFDHPrivateKey(randomBytes: record.dhPrivate.span)
        dhKey = privateKey
        let yBytes = Self.publicKeyBytes(privateKey)
        var own = ownKeyHash.mutableSpan
        Roster.publicKeyHash(yBytes.span, into: &own)
        return .statementAccepted(.groupParameters)
    }

    /// Writes k_i, expanded from the PSA seed, to the expanded-key sectors; returns the
    /// Fletcher sums of its words, which the ready state keeps to check every use.
    mutating func writeExpandedKey(_ parameters: LWRParameters) throws(MeterError) -> (UInt64, UInt64) {
        let bytes = parameters.lambda * 8
        let sectorSize = Int(board.sectorSize)
        let firstSector = layout.expandedKeySector
        let sectors = (bytes + sectorSize - 1) / sectorSize
        guard Int(firstSector) + sectors <= Int(board.sectorCount) else {
            throw .keyStore(.flashTooSmall)
        }
        var key = LWRPSA.keyStream(parameters: parameters, seed: record.psaSeed.span)
        var s1: UInt64 = 0
        var s2: UInt64 = 0
        do throws(BoardError) {
            for s in 0..<sectors { try board.erase(sector: firstSector + UInt32(s)) }
            // Little-endian words, 32 per 256-byte program operation.
            var page = InlineArray<256, UInt8>(repeating: 0)
            var offset = 0
            while offset < bytes {
                for w in 0..<32 {
                    let v = key.squeezeWord()
                    s1 &+= v
                    s2 &+= s1
                    for b in 0..<8 { page[8 * w + b] = UInt8(truncatingIfNeeded: v >> UInt64(8 * b)) }
                }
                try board.program(expandedKeyAddress + UInt32(offset), page.span)
                offset += 256
            }
        } catch {
            throw .board(error)
        }
        return (s1, s2)
    }

    /// Step 3: one roster entry. A rejected entry changes nothing: the aggregator may send
    /// the right one next.
    mutating func processRosterEntry(_ payload: Span<UInt8>) throws(MeterError) {
        let parameters = LWRParameters.withID(record.parameterID)
        guard record.phase == .keySetup, let privateKey = dhKey, rosterDepth > 0, parameters != nil || isDMCFE else {
            throw .unexpectedDownlink(.rosterEntry)
        }
        guard payload.count == Roster.entryBytes(depth: rosterDepth) else {
            throw .badDownlink(.badPayloadSize(type: .rosterEntry, size: payload.count))
        }
        let index = BigEndian.load32(payload, at: 0)
        let peer = BigEndian.load32(payload, at: 4)
        // Entries arrive in index order, ids increasing, each once: n entries in all.
        guard index == rosterNext, index < record.groupSize, rosterNext == 0 || peer > lastPeer else {
            throw .peerKeyRejected(peer: peer)
        }
        let yBytes = payload.extracting(8..<(8 + FFDHGroup.byteCount))
        var hash = InlineArray<32, UInt8>(repeating: 0)
        var hashSpan = hash.mutableSpan
        Roster.publicKeyHash(yBytes, into: &hashSpan)
        var leaf = InlineArray<32, UInt8>(repeating: 0)
        var leafSpan = leaf.mutableSpan
        Roster.leaf(meter: peer, publicKeyHash: hash.span, into: &leafSpan)
        guard
            Roster.verifyPath(
                leaf: leaf.span, index: index, depth: rosterDepth,
                path: payload.extracting((8 + FFDHGroup.byteCount)..<payload.count), root: rosterRoot.span)
        else { throw .peerKeyRejected(peer: peer) }
        if peer == record.meter {
            // The roster must list this meter's own enrolled key, or the group's masks
            // would not cancel (and someone else would hold this meter's place).
            var diff: UInt8 = 0
            for k in 0..<32 { diff |= hash[k] ^ ownKeyHash[k] }
            guard diff == 0 else { throw .peerKeyRejected(peer: peer) }
            ownEntrySeen = true
        } else {
            guard let y = Limbs3072(bigEndianBytes: yBytes) else { throw .peerKeyRejected(peer: peer) }
            let secret: Limbs3072
            do { secret = try FFDHGroup.sharedSecret(privateKey: privateKey, peerPublicKey: y) } catch {
                throw .peerKeyRejected(peer: peer)
            }
            var secretBytes = InlineArray<384, UInt8>(repeating: 0)
            var secretSpan = secretBytes.mutableSpan
            secret.bigEndianBytes(into: &secretSpan)
            var seed = InlineArray<32, UInt8>(repeating: 0)
            var seedSpan = seed.mutableSpan
            KeySetup.pairwiseSeed(
                sharedSecret: secretBytes.span, group: record.group, meterA: record.meter, meterB: peer,
                into: &seedSpan)
            if let parameters {
                var words = share.mutableSpan  // λ = LWRParameters.maxLambda for every set
                KeySetup.applyZeroShare(
                    parameters: parameters, pairwiseSeed: seed.span, own: record.meter, peer: peer, to: &words)
            } else {
                try storePeerSeed(seed.span, peer: peer, index: Int(peersProcessed))
            }
            peersProcessed += 1
        }
        rosterNext += 1
        lastPeer = peer
        if rosterNext == record.groupSize {
            guard ownEntrySeen else { throw .peerKeyRejected(peer: record.meter) }
            try finishSetup(parameters)
        }
    }

    /// Step 4: LWR-PSA sends the masked key share; DMCFE keeps its seeds and reports completion.
    mutating func finishSetup(_ parameters: LWRParameters?) throws(MeterError) {
        let chunks = (parameters?.lambda ?? 0) / SetupPayload.shareWordsPerChunk
        for c in 0..<chunks {
            var f = frame.mutableSpan
            for w in 0..<SetupPayload.shareWordsPerChunk {
                let v = share[c * SetupPayload.shareWordsPerChunk + w]
                for b in 0..<8 {
                    f[Frame.headerBytes + 8 * w + b] = UInt8(truncatingIfNeeded: v >> UInt64(8 * b))
                }
            }
            try sendFrame(.keyShare, label: UInt64(c), payloadLength: SetupPayload.shareChunkBytes)
        }
        var r = record
        r.phase = .ready
        r.dhPrivate = InlineArray(repeating: 0)  // no longer needed: do not keep it
        r.expandedKeySums = r.keyMode == .expanded ? expandedSums : (0, 0)
        // The first label is the first interval that starts at or after now.
        let now = board.ticks
        let first = (now + timing.intervalTicks - 1) / timing.intervalTicks
        r.nextLabel = max(labelFloor, first)
        do { try store.save(r) } catch { throw .keyStore(error) }
        record = r
        labelFloor = r.nextLabel
        dhKey = nil
        rosterDepth = 0
        for j in 0..<share.count { share[j] = 0 }
        if parameters == nil {
            var f = frame.mutableSpan
            BigEndian.store(StatusCode.setupComplete.rawValue, at: Frame.headerBytes, in: &f)
            BigEndian.store(UInt64(peersProcessed), at: Frame.headerBytes + 2, in: &f)
            try sendFrame(.status, label: labelFloor, payloadLength: 10)
        }
    }
}
