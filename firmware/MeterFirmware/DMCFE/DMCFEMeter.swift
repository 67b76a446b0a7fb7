// The meter's DMCFE mode (DESIGN.md, scheme 4), selected by a signed group-parameters statement with the
// parameter byte `DMCFE.parameterID`.
//
// Key setup is the LWR-PSA one up to the pairwise seeds (authenticated ffdhe3072 keys);
// instead of folding the seeds into a masked key share, the meter keeps them in flash,
// because every functional key it is asked for later needs a fresh mask bound to its weight
// vector. Its secret s_i = (s_1, s_2) is derived from the key seed in the key store.
//
// Readings go to the wide outbox ring (`MeterFlashLayout.wideOutboxSector`).
// The peer seeds are in the peer-seed area (GroupSetup.swift, `PeerSeedSlot`).
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
    /// Bytes of a functionalKeyShare payload.
    public static let keySharePayloadBytes = DMCFE.digestBytes + DMCFE.keyShareBytes
}

/// DMCFE's state on the meter: the pad of the next label, the weight vector streaming in,
/// and the key setup's RAM state.
public struct DMCFEScheme: GroupKeyedScheme {
    public static var schemeID: SchemeID { .dmcfe }
    public static var outboxRing: OutboxRing { .wide }

    /// The pad of `padLabel`, computed while idle.
    var pad = Limbs3072.zero
    var padLabel: UInt64 = .max
    var weightDigest = XOF(.shake256)
    var weightsExpected: UInt32 = 0
    var weightsSeen: UInt32 = 0
    var lastWeightMeter: UInt32 = 0
    var ownWeight: Int64 = 0
    var ownWeightSeen = false
    public var setup = GroupSetupState()

    public init() {}

    public static func boot(_ meter: inout Meter<Self>) {}
    public static func isReady(_ meter: inout Meter<Self>) -> Bool { meter.groupReady }
    public static func isSettingUp(_ meter: borrowing Meter<Self>) -> Bool { meter.scheme.setup.dhKey != nil }
    public static func readingMaximum(_ meter: inout Meter<Self>) -> UInt64 { meter.record.maxReading }
    public static func idle(_ meter: inout Meter<Self>) -> Bool { meter.dmcfeIdle() }
    public static func isPrecomputed(_ meter: borrowing Meter<Self>) -> Bool {
        meter.scheme.padLabel == meter.labelFloor
    }
    public static func encryptAndSend(_ meter: inout Meter<Self>, label: UInt64, reading: UInt64) throws(MeterError) {
        guard reading <= meter.record.maxReading else {
            throw .readingAboveMaximum(reading: reading, maximum: meter.record.maxReading)
        }
        let payloadLength = meter.dmcfeEncrypt(label: label, reading: reading)
        try meter.storeAndSendReading(label: label, reading: reading, payloadLength: payloadLength)
    }
    public static func handleDownlink(
        _ meter: inout Meter<Self>, _ header: FrameHeader, epoch: UInt32, _ payload: Span<UInt8>
    ) throws(MeterError) -> MeterEvent? {
        if header.type == .weights { return try meter.handleWeights(payload, chunk: header.label) }
        return try meter.handleSetupDownlink(header, epoch: epoch, payload)
    }

    public static func checkGroupParameters(
        _ meter: inout Meter<Self>, parameterID: UInt8, keyMode: KeyMode, meters: UInt32, maxReading: UInt64
    ) throws(MeterError) {
        guard parameterID == DMCFE.parameterID else { throw .setupRejected(.unknownParameters) }
        guard keyMode == .seed else { throw .setupRejected(.unknownKeyMode) }
        // g^x takes a 64-bit exponent; the aggregator's discrete log bounds the sum.
        guard maxReading < 1 << 48 else { throw .setupRejected(.capacityExceeded) }
    }

    public static func beginSetup(_ meter: inout Meter<Self>) throws(MeterError) {
        meter.scheme.padLabel = .max
    }

    /// DMCFE keeps its seeds (every functional key needs them), becomes ready and reports it.
    public static func finishSetup(_ meter: inout Meter<Self>) throws(MeterError) {
        let peers = meter.scheme.setup.peersProcessed
        try meter.completeSetup()
        var f = meter.frame.mutableSpan
        BigEndian.store(StatusCode.setupComplete.rawValue, at: Frame.headerBytes, in: &f)
        BigEndian.store(UInt64(peers), at: Frame.headerBytes + 2, in: &f)
        try meter.sendFrame(.status, label: meter.labelFloor, payloadLength: 10)
    }
}

extension Meter where Scheme == DMCFEScheme {
    /// The DMCFE secret, derived from the key seed.
    var dmcfeSecret: DMCFESecret { DMCFESecret(seed: record.psaSeed.span) }

    // Not inlined: its exponentiation scratch would enlarge the frames of the LWR-PSA paths
    // that call it (idle(), encryptAndSend()).
    /// Idle work in DMCFE mode: the pad of the next label to encrypt.
    @inline(never)
    mutating func dmcfeIdle() -> Bool {
        guard scheme.padLabel != labelFloor else { return false }
        scheme.pad = DMCFE.pad(secret: dmcfeSecret, group: record.group, label: labelFloor)
        scheme.padLabel = labelFloor
        return true
    }

    // Not inlined: its exponentiation scratch would enlarge the frames of the LWR-PSA paths
    // that call it (idle(), encryptAndSend()).
    /// ct = pad · g^x into the frame's payload; returns the payload length.
    @inline(never)
    mutating func dmcfeEncrypt(label: UInt64, reading: UInt64) -> Int {
        if scheme.padLabel != label {
            scheme.pad = DMCFE.pad(secret: dmcfeSecret, group: record.group, label: label)
        }
        let ct = DMCFE.encrypt(reading: reading, pad: scheme.pad)
        scheme.padLabel = .max
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
        guard record.phase == .ready else { throw .unexpectedDownlink(.weights) }
        var offset = 0
        if chunk == 0 {
            guard payload.count >= 4 else { throw .badDownlink(.badPayloadSize(type: .weights, size: payload.count)) }
            guard BigEndian.load32(payload, at: 0) == record.groupSize else { throw .unexpectedDownlink(.weights) }
            scheme.weightsExpected = BigEndian.load32(payload, at: 0)
            scheme.weightsSeen = 0
            scheme.ownWeightSeen = false
            scheme.weightDigest = DMCFE.weightDigest(entries: scheme.weightsExpected)
            offset = 4
        } else {
            guard scheme.weightsExpected > 0, chunk == UInt64(scheme.weightsSeen) / UInt64(DMCFEPayload.weightsPerFrame)
            else {
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
            let peerIndex = Int(scheme.weightsSeen) - (scheme.ownWeightSeen ? 1 : 0)
            var seed = InlineArray<32, UInt8>(repeating: 0)
            guard scheme.weightsSeen < scheme.weightsExpected, scheme.weightsSeen == 0 || id > scheme.lastWeightMeter,
                weight == 1,
                id == record.meter
                    || (peerIndex < Int(record.groupSize) - 1 && loadPeerSeed(peerIndex, seed: &seed) == id)
            else {
                scheme.weightsExpected = 0
                throw .unexpectedDownlink(.weights)
            }
            scheme.weightDigest.absorb(bigEndian: id)
            scheme.weightDigest.absorb(bigEndian: weight)
            if id == record.meter {
                scheme.ownWeight = Int64(bitPattern: weight)
                scheme.ownWeightSeen = true
            }
            scheme.lastWeightMeter = id
            scheme.weightsSeen += 1
            offset += DMCFEPayload.weightEntryBytes
        }
        guard scheme.weightsSeen == scheme.weightsExpected else { return nil }
        scheme.weightsExpected = 0
        guard scheme.ownWeightSeen else { throw .unexpectedDownlink(.weights) }
        try sendFunctionalKeyShare()
        return .keyShareSent
    }

    /// digest | y_i·s_i + Σ_j ±T(seed_ij, digest), from the stored peer seeds.
    mutating func sendFunctionalKeyShare() throws(MeterError) {
        var digest = InlineArray<32, UInt8>(repeating: 0)
        var digestSpan = digest.mutableSpan
        scheme.weightDigest.squeeze(into: &digestSpan)
        var t1 = DMCFE.Exponent(repeating: 0)
        var t2 = DMCFE.Exponent(repeating: 0)
        var seed = InlineArray<32, UInt8>(repeating: 0)
        for i in 0..<max(Int(record.groupSize) - 1, 0) {  // never trusted for arithmetic
            guard let peer = loadPeerSeed(i, seed: &seed) else { throw .keyStore(.corrupt) }
            DMCFE.addMask(
                pairwiseSeed: seed.span, digest: digest.span, own: record.meter, peer: peer, t1: &t1, t2: &t2)
        }
        var share = InlineArray<64, UInt8>(repeating: 0)
        var shareSpan = share.mutableSpan
        DMCFE.keyShare(secret: dmcfeSecret, weight: scheme.ownWeight, t1: t1, t2: t2, into: &shareSpan)
        var f = frame.mutableSpan
        for k in 0..<32 { f[Frame.headerBytes + k] = digest[k] }
        for k in 0..<64 { f[Frame.headerBytes + 32 + k] = share[k] }
        try sendFrame(.functionalKeyShare, label: 0, payloadLength: DMCFEPayload.keySharePayloadBytes)
    }
}
