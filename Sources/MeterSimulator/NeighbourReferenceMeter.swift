import Aggregation
import MeterCrypto
import Provisioning

/// Why the reference meter refused a frame.
public enum ReferenceMeterError: Error, Equatable, Sendable {
    /// Layout, tag or type of a downlink frame is wrong.
    case badFrame(String)
    /// The statement does not verify, is not for this meter's group, or its terms are bad.
    case badStatement(String)
    /// A roster entry is not at the place the graph gives, or its path does not verify.
    case badEntry(index: UInt32)
    /// A recovery request the meter's rules refuse (what rule in the payload).
    case recoveryRefused(String)
    /// Key setup has not completed.
    case notReady
}

/// A member of a neighbour-graph group modelled on the host from the shared MeterCrypto code
/// alone (no firmware, no board): the reference the aggregator's tests and the phase-1 cost
/// figures run against (docs/spec/dropout.md). It speaks the real frames: it verifies the
/// statement's SLH-DSA signature and every roster entry's Merkle path, pairs with its
/// neighbours by ffdhe3072, keeps its pairwise seeds, and answers recovery requests with the
/// rules a meter applies (labels it encrypted, within the window, at most t silent neighbours).
/// Not thread-safe: one thread at a time uses an instance (the probe's workers each take their own).
public final class NeighbourReferenceMeter: @unchecked Sendable {
    public let factory: FactoryKeys
    public var id: UInt32 { factory.meter }
    let dhPrivate: FFDHPrivateKey
    /// y, 384 bytes big-endian.
    public let publicKey: [UInt8]
    public let parameters: LWRParameters

    public private(set) var group: UInt32 = 0
    public private(set) var epoch: UInt32 = 0
    public private(set) var terms: NeighbourGroupTerms?
    public private(set) var bounds: LWRGroupBounds?
    var body: [UInt8] = []
    var signature: [UInt8] = []
    var position: UInt32 = 0
    var root: [UInt8] = []
    var depth = 0
    var entriesSeen = 0
    /// neighbour id → (hash of its DH key, pairwise seed).
    var seeds: [UInt32: (keyHash: [UInt8], seed: [UInt8])] = [:]
    var pending: [UInt32: (keyHash: [UInt8], seed: [UInt8])] = [:]
    /// Neighbours in slot order, once set up.
    public private(set) var neighbours: [UInt32] = []
    /// k_i, λ words, once set up.
    public private(set) var key: [UInt64] = []
    /// DH exponentiations of the last key setup (new neighbours only).
    public private(set) var keyAgreements = 0
    /// Downlink bytes taken by the last key setup (statement and roster frames).
    public private(set) var setupDownlinkBytes = 0
    var encrypted: Set<UInt64> = []

    /// A meter with its factory keys and a DH key drawn from `seed`.
    public init(factory: FactoryKeys, seed: UInt64, parameters: LWRParameters = .standard) {
        self.factory = factory
        self.parameters = parameters
        var x = XOF(.shake256)
        x.absorb("PM-REFERENCE-METER-v1")
        x.absorb(bigEndian: seed)
        var random = [UInt8](repeating: 0, count: FFDHPrivateKey.randomByteCount)
        var span = random.mutableSpan
        x.squeeze(into: &span)
        dhPrivate = FFDHPrivateKey(randomBytes: random.span)
        var y = [UInt8](repeating: 0, count: FFDHGroup.byteCount)
        var ySpan = y.mutableSpan
        FFDHGroup.publicKey(for: dhPrivate).bigEndianBytes(into: &ySpan)
        publicKey = y
    }

    func frameKey(group: UInt32, epoch: UInt32) -> [UInt8] {
        var key = [UInt8](repeating: 0, count: Frame.keyBytes)
        var span = key.mutableSpan
        let secret = factory.frameSecret
        FrameKeys.derive(secret: secret.span, group: group, epoch: epoch, into: &span)
        return key
    }

    func seal(
        _ type: FrameType, label: UInt64, payload: [UInt8], group: UInt32? = nil, epoch: UInt32? = nil
    ) -> [UInt8] {
        let group = group ?? self.group
        let header = FrameHeader(
            type: type, scheme: .lwrPSA, group: group, meter: id, label: label, payloadLength: payload.count)
        var out = [UInt8](repeating: 0, count: Frame.size(payloadLength: payload.count))
        out.replaceSubrange(Frame.payloadRange(header), with: payload)
        let key = frameKey(group: group, epoch: epoch ?? self.epoch)
        var span = out.mutableSpan
        _ = Frame.seal(header, key: key.span, frame: &span)
        return out
    }

    func open(_ frame: [UInt8], group: UInt32, epoch: UInt32) throws(ReferenceMeterError) -> (FrameHeader, [UInt8]) {
        let header: FrameHeader
        do { header = try Frame.parseHeader(frame.span) } catch { throw .badFrame("\(error)") }
        let key = frameKey(group: group, epoch: epoch)
        guard header.meter == id, header.group == group, Frame.verify(frame.span, key: key.span) else {
            throw .badFrame("not for this meter, group and epoch")
        }
        return (header, Array(frame[Frame.payloadRange(header)]))
    }

    /// The enrolment of this meter's DH key for (group, epoch): y | tag (what `publicKey` carries).
    public func enrolment(group: UInt32, epoch: UInt32) -> [UInt8] {
        var tag = [UInt8](repeating: 0, count: Enrolment.tagBytes)
        var span = tag.mutableSpan
        let enrolmentKey = factory.enrolmentKey
        let y = publicKey
        Enrolment.tag(
            enrolmentKey: enrolmentKey.span, group: group, epoch: epoch, meter: id, publicKey: y.span, into: &span)
        return publicKey + tag
    }

    /// The `publicKey` frame answering an enrolment request for (group, epoch).
    public func publicKeyFrame(group: UInt32, epoch: UInt32) -> [UInt8] {
        seal(
            .publicKey, label: UInt64(epoch), payload: enrolment(group: group, epoch: epoch), group: group, epoch: epoch
        )
    }

    /// Runs key setup from the relay's frames (statement chunks, own entry, neighbours'
    /// entries) for `group` and `epoch`. Seeds of neighbours whose key is unchanged carry over
    /// (a membership change); the others cost one exponentiation each.
    public func setup(group: UInt32, epoch: UInt32, frames: [[UInt8]]) throws(ReferenceMeterError) {
        setupDownlinkBytes = frames.reduce(0) { $0 + $1.count }
        body = []
        signature = []
        entriesSeen = 0
        pending = [:]
        keyAgreements = 0
        for frame in frames {
            let (header, payload) = try open(frame, group: group, epoch: epoch)
            switch header.type {
            case .statement: try statementChunk(header, payload)
            case .rosterEntry: try entry(payload)
            default: throw .badFrame("\(header.type) during key setup")
            }
        }
        guard let terms, entriesSeen == 1 + terms.graph.neighbourCount else { throw .badStatement("roster incomplete") }
        seeds = pending
        self.group = group
        self.epoch = epoch
        // k_i chunk by chunk from the stored seeds.
        var key: [UInt64] = []
        for c in 0..<(parameters.lambda / NeighbourKeys.chunkWords) {
            var chunk = [UInt64](repeating: 0, count: NeighbourKeys.chunkWords)
            var span = chunk.mutableSpan
            for peer in neighbours {
                let seed = seeds[peer]!.seed
                NeighbourKeys.addEdge(
                    parameters: parameters, pairwiseSeed: seed.span, own: id, peer: peer, chunk: c, to: &span)
            }
            key += chunk
        }
        self.key = key
    }

    func statementChunk(_ header: FrameHeader, _ payload: [UInt8]) throws(ReferenceMeterError) {
        let chunk = header.label & 0xFFFF_FFFF
        if chunk == 0 {
            guard payload.count >= 2, Int(payload[0]) << 8 | Int(payload[1]) == payload.count - 2 else {
                throw .badStatement("chunk 0")
            }
            body = Array(payload[2...])
            return
        }
        signature += payload
        guard signature.count == Statement.signatureParameters.signatureBytes else { return }
        let authorityKey = factory.authorityKey
        let (body, signature) = (self.body, self.signature)
        guard
            SLHDSA.verify(
                parameters: Statement.signatureParameters, publicKey: authorityKey.span, message: body.span,
                signature: signature.span, context: Statement.context)
        else { throw .badStatement("signature") }
        guard let terms = NeighbourGroupTerms(body: body.span), body[0] == StatementKind.groupParameters.rawValue,
            let p = LWRParameters.withID(body[16]), p == parameters, body[17] == 1
        else { throw .badStatement("not a neighbour-graph group of this parameter set") }
        do {
            bounds = try NeighbourKeys.bounds(
                meters: terms.graph.meters, maxReading: BigEndian.load64(body.span, at: 24), parameters: parameters)
        } catch {
            throw .badStatement("capacity")
        }
        self.terms = terms
        depth = Int(body[18])
        root = Array(body[32..<64])
    }

    func entry(_ payload: [UInt8]) throws(ReferenceMeterError) {
        guard let terms, payload.count == Roster.graphEntryBytes(depth: depth) else {
            throw .badStatement("no statement")
        }
        let index = BigEndian.load32(payload.span, at: 0)
        let meter = BigEndian.load32(payload.span, at: 4)
        let ringKey = BigEndian.load64(payload.span, at: 8)
        let y = Array(payload[16..<(16 + FFDHGroup.byteCount)])
        var hash = [UInt8](repeating: 0, count: 32)
        var hashSpan = hash.mutableSpan
        Roster.publicKeyHash(y.span, into: &hashSpan)
        var leaf = [UInt8](repeating: 0, count: 32)
        var leafSpan = leaf.mutableSpan
        Roster.graphLeaf(meter: meter, ringKey: ringKey, publicKeyHash: hash.span, into: &leafSpan)
        let path = Array(payload[(16 + FFDHGroup.byteCount)...])
        guard index < terms.graph.meters,
            Roster.verifyPath(leaf: leaf.span, index: index, depth: depth, path: path.span, root: root.span)
        else { throw .badEntry(index: index) }
        if entriesSeen == 0 {
            // Own entry first: it fixes this meter's place on the ring.
            guard meter == id, y == publicKey else { throw .badEntry(index: index) }
            // A meter new to the group sits where this epoch's seed puts it.
            let body = self.body
            let seed = Array(body[NeighbourGroupLayout.graphSeed..<(NeighbourGroupLayout.graphSeed + 32)])
            let joining = seeds.isEmpty || BigEndian.load32(body.span, at: 12) != group
            if joining {
                guard
                    ringKey
                        == NeighbourGraph.ringKey(
                            seed: seed.span, group: BigEndian.load32(body.span, at: 12), meter: id)
                else { throw .badEntry(index: index) }
            }
            position = index
            neighbours = []
        } else {
            let slot = entriesSeen - 1
            guard index == terms.graph.neighbour(of: position, slot: slot), meter != id else {
                throw .badEntry(index: index)
            }
            neighbours.append(meter)
            if let old = seeds[meter], old.keyHash == hash {
                pending[meter] = old
            } else {
                guard let peer = Limbs3072(bigEndianBytes: y.span),
                    let secret = try? FFDHGroup.sharedSecret(privateKey: dhPrivate, peerPublicKey: peer)
                else { throw .badEntry(index: index) }
                keyAgreements += 1
                var secretBytes = [UInt8](repeating: 0, count: FFDHGroup.byteCount)
                var secretSpan = secretBytes.mutableSpan
                secret.bigEndianBytes(into: &secretSpan)
                var seed = [UInt8](repeating: 0, count: KeySetup.seedBytes)
                var seedSpan = seed.mutableSpan
                let body = self.body
                KeySetup.pairwiseSeed(
                    sharedSecret: secretBytes.span, group: BigEndian.load32(body.span, at: 12), meterA: id,
                    meterB: meter, into: &seedSpan)
                pending[meter] = (hash, seed)
            }
        }
        entriesSeen += 1
    }

    /// The reading frame for `label` (each label once).
    public func readingFrame(label: UInt64, reading: UInt64) throws -> [UInt8] {
        guard let bounds, !key.isEmpty else { throw ReferenceMeterError.notReady }
        guard !encrypted.contains(label) else { throw ReferenceMeterError.recoveryRefused("label encrypted before") }
        let key = self.key
        let pad = try LWRPSA.prf(parameters: parameters, key: key.span, group: group, label: label)
        let c = try LWRPSA.encrypt(reading: reading, pad: pad, bounds: bounds, parameters: parameters)
        encrypted.insert(label)
        return seal(
            .reading, label: label, payload: (0..<8).map { UInt8(truncatingIfNeeded: c >> (56 - 8 * UInt64($0))) })
    }

    /// Answers a recovery request: one frame covering exactly the silent neighbours it names,
    /// for a label this meter encrypted within the last W labels (`current` is its label clock).
    public func answer(_ request: [UInt8], current: UInt64) throws(ReferenceMeterError) -> [UInt8] {
        guard let terms else { throw .notReady }
        let (header, payload) = try open(request, group: group, epoch: epoch)
        guard header.type == .recoveryRequest, payload.count >= 4 else { throw .badFrame("not a recovery request") }
        let count = Int(payload[0])
        guard payload.count == RecoveryPayload.requestBytes(count: count), count >= 1 else {
            throw .badFrame("request size")
        }
        let silent = (0..<count).map { BigEndian.load32(payload.span, at: 4 + 4 * $0) }
        let label = header.label
        guard count <= terms.maxSilent else { throw .recoveryRefused("more than t silent neighbours") }
        guard encrypted.contains(label) else { throw .recoveryRefused("a label this meter did not encrypt") }
        guard label < current, current - label <= UInt64(terms.window) else {
            throw .recoveryRefused("outside the window")
        }
        guard zip(silent, silent.dropFirst()).allSatisfy({ $0 < $1 }), silent.allSatisfy({ seeds[$0] != nil }) else {
            throw .recoveryRefused("not this meter's neighbours")
        }
        var ip = EdgeInnerProduct(parameters: parameters, group: group, label: label)
        for _ in 0..<ip.chunkCount {
            ip.nextChunk()
            for j in silent {
                let seed = seeds[j]!.seed
                ip.addRecoveryTerm(pairwiseSeed: seed.span, own: id, peer: j)
            }
        }
        let r = ip.prf()
        var out = (0..<8).map { UInt8(truncatingIfNeeded: r >> (56 - 8 * UInt64($0))) } + [UInt8(count), 0, 0, 0]
        out += payload[4...]
        return seal(.recovery, label: label, payload: out)
    }

    /// The silence notice to `peer` for `label` (after answering a recovery about it).
    public func notice(to peer: UInt32, label: UInt64) -> [UInt8] {
        var tag = [UInt8](repeating: 0, count: 16)
        var span = tag.mutableSpan
        let seed = seeds[peer]!.seed
        NeighbourKeys.tag(.notice, pairwiseSeed: seed.span, group: group, from: id, to: peer, label: label, into: &span)
        return seal(
            .silenceNotice, label: label,
            payload: [UInt8(peer >> 24), UInt8(peer >> 16 & 0xFF), UInt8(peer >> 8 & 0xFF), UInt8(peer & 0xFF)] + tag)
    }

    /// True when a relayed notice is authentic: a neighbour answered a recovery about this meter.
    public func checkNotice(_ relayed: [UInt8]) throws(ReferenceMeterError) -> (from: UInt32, label: UInt64) {
        let (header, payload) = try open(relayed, group: group, epoch: epoch)
        guard header.type == .noticeRelay, payload.count == RecoveryPayload.noticeBytes else {
            throw .badFrame("not a notice")
        }
        let from = BigEndian.load32(payload.span, at: 0)
        guard let seed = seeds[from]?.seed else { throw .badFrame("not a neighbour") }
        let tag = Array(payload[4...])
        guard
            NeighbourKeys.verify(
                .notice, pairwiseSeed: seed.span, group: group, from: from, to: id, label: header.label, tag: tag.span)
        else { throw .badFrame("notice tag") }
        return (from, header.label)
    }
}
