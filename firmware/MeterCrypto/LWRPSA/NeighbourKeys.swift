// Keys and recovery of LWR-PSA over the neighbour graph (docs/spec/dropout.md), shared by
// the meter and the host.
//
// Meter i's key is the signed sum of its edges' pairwise vectors,
//     k_i = Σ_{j ∈ N(i)} σ_ij·G(s_ij),   σ_ij = +1 if id_i < id_j, −1 otherwise,
// so the keys of the whole group sum to zero and no key reaches the aggregator. The sum of
// the reporting meters' keys is what their edges to silent meters leave over; for label l a
// reporting meter i whose neighbours S are silent answers r_i = F_{v_i}(l) with
// v_i = −Σ_{j ∈ S} σ_ij·G(s_ij), and Σ c_i + Σ r_i = Δ·Σ x_i − e with 0 ≤ e < Δ = 2n.
//
// G(s) is λ words in chunks of 128, chunk c from its own XOF stream, so a meter computes its
// key or a recovery answer chunk by chunk from seeds in flash, with one 128-word buffer.

/// Derivations and wire layouts of the neighbour-graph key setup and its recovery.
public enum NeighbourKeys {
    /// Words per chunk of a pairwise vector (and of a key written to flash).
    public static let chunkWords = 128

    /// Δ of a neighbour-graph group of n members: 2n (each of the at most n reporting
    /// meters adds one ciphertext and at most one recovery answer to a label's sum).
    public static func roundedTerms(meters: UInt32) -> UInt64 { 2 * UInt64(meters) }

    /// The bounds of a neighbour-graph group: Δ = 2n, capacity 2n·(n·x_max + 1) < p.
    public static func bounds(meters: UInt32, maxReading: UInt64, parameters: LWRParameters) throws(LWRError)
        -> LWRGroupBounds
    {
        try LWRGroupBounds(
            meters: meters, maxReading: maxReading, parameters: parameters,
            roundedTerms: roundedTerms(meters: meters))
    }

    /// The XOF stream of chunk `chunk` of the pairwise vector G(s):
    /// words(`"PM-EDGE-v1"` ‖ u8(id) ‖ s ‖ u8(chunk), 128).
    public static func edgeChunkStream(parameters: LWRParameters, pairwiseSeed: Span<UInt8>, chunk: Int) -> XOF {
        precondition(pairwiseSeed.count == KeySetup.seedBytes, "a pairwise seed has 32 bytes")
        precondition(chunk >= 0 && chunk < parameters.lambda / chunkWords, "no such chunk")
        var x = parameters.makeXOF()
        x.absorb("PM-EDGE-v1")
        x.absorb(parameters.id)
        x.absorb(pairwiseSeed)
        x.absorb(UInt8(truncatingIfNeeded: chunk))
        return x
    }

    /// Adds σ·G(s)[chunk] into `words` (128 words): σ = +1 when `own` < `peer`, −1 otherwise.
    /// Over all neighbours and chunks this builds k_own.
    public static func addEdge(
        parameters: LWRParameters, pairwiseSeed: Span<UInt8>, own: UInt32, peer: UInt32, chunk: Int,
        to words: inout MutableSpan<UInt64>
    ) {
        precondition(own != peer, "a meter shares no edge with itself")
        precondition(words.count == chunkWords, "a chunk has 128 words")
        var g = edgeChunkStream(parameters: parameters, pairwiseSeed: pairwiseSeed, chunk: chunk)
        if own < peer {
            for w in 0..<chunkWords { words[w] &+= g.squeezeWord() }
        } else {
            for w in 0..<chunkWords { words[w] &-= g.squeezeWord() }
        }
    }

    /// The two pairwise messages about a recovery (docs/spec/dropout.md, "Recovery"). A struct,
    /// not an enum: an enum's synthesised Hashable pulls the randomly seeded Hasher into the
    /// Embedded image (arc4random_buf).
    public struct SilenceMessage: Sendable, Equatable {
        let confirms: Bool
        /// `from` tells its neighbour `to` that the aggregator asked it to recover `to` for the
        /// label: KMAC128(s, "PM-SILENT-v1", group ‖ from ‖ to ‖ label).
        public static let notice = SilenceMessage(confirms: false)
        /// `from` confirms to its neighbour `to` that it did not encrypt the label (the
        /// recovery cost it nothing): KMAC128(s, "PM-SILENT-OK-v1", group ‖ from ‖ to ‖ label).
        public static let confirmation = SilenceMessage(confirms: true)
    }

    /// The 16-byte tag of a notice or confirmation: only the two neighbours can make or check it.
    public static func tag(
        _ message: SilenceMessage, pairwiseSeed: Span<UInt8>, group: UInt32, from: UInt32, to: UInt32, label: UInt64,
        into out: inout MutableSpan<UInt8>
    ) {
        precondition(out.count == tagBytes, "a silence tag has 16 bytes")
        pairMAC(message, pairwiseSeed, group, from, to, label).finalize(into: &out)
    }

    /// Checks a notice or confirmation tag in constant time.
    public static func verify(
        _ message: SilenceMessage, pairwiseSeed: Span<UInt8>, group: UInt32, from: UInt32, to: UInt32, label: UInt64,
        tag: Span<UInt8>
    ) -> Bool {
        tag.count == tagBytes && pairMAC(message, pairwiseSeed, group, from, to, label).verify(tag)
    }

    /// Bytes of a notice or confirmation tag.
    public static let tagBytes = 16

    static func pairMAC(
        _ message: SilenceMessage, _ seed: Span<UInt8>, _ group: UInt32, _ a: UInt32, _ b: UInt32, _ label: UInt64
    ) -> KMAC128 {
        precondition(seed.count == KeySetup.seedBytes, "a pairwise seed has 32 bytes")
        var mac =
            message.confirms
            ? KMAC128(key: seed, customization: "PM-SILENT-OK-v1") : KMAC128(key: seed, customization: "PM-SILENT-v1")
        mac.absorb(bigEndian: group)
        mac.absorb(bigEndian: a)
        mac.absorb(bigEndian: b)
        mac.absorb(bigEndian: label)
        return mac
    }
}

/// The inner product <a_l, v> for a vector v given as a signed sum of pairwise vectors,
/// chunk by chunk: load a chunk of a_l, add the same chunk of each pairwise vector, move on.
/// One 128-word buffer, whatever the number of vectors. A meter's recovery answer is its
/// `prf()` after every chunk of every silent neighbour's edge.
public struct EdgeInnerProduct: Sendable {
    @usableFromInline var labelVector: XOF
    @usableFromInline var chunk = InlineArray<128, UInt64>(repeating: 0)
    @usableFromInline var accumulator: UInt64 = 0
    /// The chunk loaded, or −1 before the first.
    public private(set) var chunkIndex = -1
    let parameters: LWRParameters

    /// Starts the expansion of a_l for (group, label).
    public init(parameters: LWRParameters, group: UInt32, label: UInt64) {
        labelVector = LWRPSA.labelExpansion(parameters: parameters, group: group, label: label)
        self.parameters = parameters
    }

    /// Chunks of a λ-word vector.
    public var chunkCount: Int { parameters.lambda / NeighbourKeys.chunkWords }

    /// Loads the next 128 words of a_l.
    public mutating func nextChunk() {
        precondition(chunkIndex + 1 < chunkCount, "more chunks than the dimension")
        for w in 0..<NeighbourKeys.chunkWords { chunk[w] = labelVector.squeezeWord() }
        chunkIndex += 1
    }

    /// Adds <a_l[chunk], s·G(seed)[chunk]> for the loaded chunk, where s = −σ(own, peer):
    /// the term of a recovery answer for the silent neighbour `peer` of `own`.
    public mutating func addRecoveryTerm(pairwiseSeed: Span<UInt8>, own: UInt32, peer: UInt32) {
        precondition(chunkIndex >= 0, "no chunk loaded")
        precondition(own != peer, "a meter shares no edge with itself")
        var g = NeighbourKeys.edgeChunkStream(parameters: parameters, pairwiseSeed: pairwiseSeed, chunk: chunkIndex)
        var dot: UInt64 = 0
        for w in 0..<NeighbourKeys.chunkWords { dot &+= chunk[w] &* g.squeezeWord() }
        // v = −σ·G: −G when own < peer, +G otherwise.
        accumulator = own < peer ? accumulator &- dot : accumulator &+ dot
    }

    /// Adds <a_l[chunk], key chunk> for key words held in memory (a key written chunk by chunk).
    public mutating func addKeyChunk(_ words: Span<UInt64>) {
        precondition(chunkIndex >= 0 && words.count == NeighbourKeys.chunkWords, "a chunk has 128 words")
        var dot: UInt64 = 0
        for w in 0..<NeighbourKeys.chunkWords { dot &+= chunk[w] &* words[w] }
        accumulator &+= dot
    }

    /// floor(<a_l, v> / 2^(64−P)) once every chunk was loaded and added.
    public func prf() -> UInt64 {
        precondition(chunkIndex == chunkCount - 1, "inner product finished before the last chunk")
        return accumulator >> UInt64(64 - parameters.plaintextBits)
    }
}

/// Payload layouts of the recovery frames (docs/spec/dropout.md, "Frames").
public enum RecoveryPayload {
    /// recoveryRequest (downlink, label = l): count u8 | 3 reserved | count × meter id u32,
    /// ids increasing: the silent neighbours the answer must cover.
    public static func requestBytes(count: Int) -> Int { 4 + 4 * count }
    /// recovery (uplink, label = l): r u64 | count u8 | 3 reserved | count × meter id u32
    /// (the request's ids, echoed).
    public static func answerBytes(count: Int) -> Int { 12 + 4 * count }
    /// silenceNotice and silenceConfirm, both directions: the other meter's id u32 | tag (16).
    public static let noticeBytes = 4 + NeighbourKeys.tagBytes
    /// silenceAlarm (uplink, label = l): the neighbour whose notice it was u32 | the notice's
    /// inner tag (16) | the tag of the notice's downlink frame (16) | the tag of the plain
    /// ack frame of l (16): two frames of the aggregator under this meter's frame key.
    public static let alarmBytes = 4 + 3 * 16
    /// ack payload of a reading that arrived after its label was recovered without it:
    /// acknowledged (the outbox lets it go) and in no sum.
    public static let lateAck: UInt8 = 1
}
