import MeterCrypto

/// A statement of the provisioning authority with its signature, as the aggregator holds
/// and relays it (layout: MeterCrypto/Statement.swift). The aggregator cannot make one; it
/// checks the ones it acts on itself (layouts, tariffs) like a meter does.
public struct SignedStatement: Sendable, Equatable {
    public let body: [UInt8]
    public let signature: [UInt8]

    public init(body: [UInt8], signature: [UInt8]) {
        self.body = body
        self.signature = signature
    }

    public var kind: StatementKind? { body.isEmpty ? nil : StatementKind(rawValue: body[0]) }
    public var epoch: UInt32 { body.count >= 8 ? BigEndian.load32(body.span, at: 4) : 0 }
    public var subject: UInt32 { body.count >= 12 ? BigEndian.load32(body.span, at: 8) : 0 }
    public var group: UInt32 { body.count >= 16 ? BigEndian.load32(body.span, at: 12) : 0 }

    /// True when the signature verifies under the authority's public key.
    public func verifies(authorityKey: [UInt8]) -> Bool {
        SLHDSA.verify(
            parameters: Statement.signatureParameters, publicKey: authorityKey.span, message: body.span,
            signature: signature.span, context: Statement.context)
    }

    /// The statement's header for a body (kind, version, epoch, subject, group).
    public static func header(kind: StatementKind, epoch: UInt32, subject: UInt32, group: UInt32) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: Statement.headerBytes)
        var span = b.mutableSpan
        span[0] = kind.rawValue
        span[1] = Statement.version
        BigEndian.store(epoch, at: 4, in: &span)
        BigEndian.store(subject, at: 8, in: &span)
        BigEndian.store(group, at: 12, in: &span)
        return b
    }

    /// The downlink payloads of the statement, chunk by chunk: body length u16 | body,
    /// then the signature in `Statement.chunkBytes` pieces. Label of chunk c:
    /// `Statement.label(epoch:chunk:)`.
    public var chunkPayloads: [[UInt8]] {
        var chunks: [[UInt8]] = [[UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body]
        var offset = 0
        while offset < signature.count {
            let end = min(offset + Statement.chunkBytes, signature.count)
            chunks.append(Array(signature[offset..<end]))
            offset = end
        }
        return chunks
    }
}

/// A group's roster as the authority signs it: members in increasing id order (n-of-n) or
/// in increasing ring-key order (the neighbour graph, docs/spec/dropout.md) with their DH
/// public keys, the Merkle tree over them, and each member's path.
public struct RosterTree: Sendable {
    public struct Entry: Sendable {
        public let meter: UInt32
        public let publicKey: [UInt8]
        /// The member's ring key (neighbour-graph rosters), nil in an n-of-n roster.
        public let ringKey: UInt64?
    }

    public let entries: [Entry]
    public let depth: Int
    /// levels[0] are the 2^depth leaves, levels[depth] the root.
    let levels: [[[UInt8]]]

    public var root: [UInt8] { levels[depth][0] }

    /// True for a neighbour-graph roster (leaves with ring keys, in ring order).
    public var isGraphRoster: Bool { entries.first?.ringKey != nil }

    /// The n-of-n tree over `publicKeys` (meter → 384-byte big-endian y), ids increasing.
    public init(publicKeys: [UInt32: [UInt8]]) throws(AggregationError) {
        try self.init(publicKeys: publicKeys, ringKeys: nil)
    }

    /// The tree over `publicKeys`; with `ringKeys` (one per member) a neighbour-graph roster:
    /// leaves `Roster.graphLeaf` in increasing (ring key, id) order.
    public init(publicKeys: [UInt32: [UInt8]], ringKeys: [UInt32: UInt64]?) throws(AggregationError) {
        guard publicKeys.count >= 1, publicKeys.count <= 1 << Roster.maxDepth else {
            throw .invalidGroup("a roster holds 1 ... \(1 << Roster.maxDepth) members")
        }
        guard publicKeys.values.allSatisfy({ $0.count == FFDHGroup.byteCount }) else {
            throw .invalidGroup("DH public keys have \(FFDHGroup.byteCount) bytes")
        }
        if let ringKeys {
            guard Set(ringKeys.keys) == Set(publicKeys.keys) else {
                throw .invalidGroup("a graph roster needs one ring key per member")
            }
            entries = publicKeys.keys.sorted { (ringKeys[$0]!, $0) < (ringKeys[$1]!, $1) }.map {
                Entry(meter: $0, publicKey: publicKeys[$0]!, ringKey: ringKeys[$0]!)
            }
        } else {
            entries = publicKeys.keys.sorted().map { Entry(meter: $0, publicKey: publicKeys[$0]!, ringKey: nil) }
        }
        var depth = 1
        while 1 << depth < entries.count { depth += 1 }
        self.depth = depth
        var empty = [UInt8](repeating: 0, count: Roster.hashBytes)
        var emptySpan = empty.mutableSpan
        Roster.emptyLeaf(into: &emptySpan)
        var leaves = [[UInt8]](repeating: empty, count: 1 << depth)
        for (i, entry) in entries.enumerated() {
            var hash = [UInt8](repeating: 0, count: Roster.hashBytes)
            var hashSpan = hash.mutableSpan
            Roster.publicKeyHash(entry.publicKey.span, into: &hashSpan)
            var leaf = [UInt8](repeating: 0, count: Roster.hashBytes)
            var leafSpan = leaf.mutableSpan
            if let ringKey = entry.ringKey {
                Roster.graphLeaf(meter: entry.meter, ringKey: ringKey, publicKeyHash: hash.span, into: &leafSpan)
            } else {
                Roster.leaf(meter: entry.meter, publicKeyHash: hash.span, into: &leafSpan)
            }
            leaves[i] = leaf
        }
        var levels = [leaves]
        for _ in 0..<depth {
            let below = levels.last!
            var above: [[UInt8]] = []
            for i in stride(from: 0, to: below.count, by: 2) {
                let left = below[i]
                let right = below[i + 1]
                var node = [UInt8](repeating: 0, count: Roster.hashBytes)
                var nodeSpan = node.mutableSpan
                Roster.node(left: left.span, right: right.span, into: &nodeSpan)
                above.append(node)
            }
            levels.append(above)
        }
        self.levels = levels
    }

    /// The `rosterEntry` payload of member `index`: index | meter | y | path, or in a
    /// neighbour-graph roster index | meter | ring key | y | path.
    public func entryPayload(_ index: Int) -> [UInt8] {
        let ringKey = entries[index].ringKey
        var payload = [UInt8](repeating: 0, count: ringKey == nil ? 8 : 16)
        var span = payload.mutableSpan
        BigEndian.store(UInt32(index), at: 0, in: &span)
        BigEndian.store(entries[index].meter, at: 4, in: &span)
        if let ringKey { BigEndian.store(ringKey, at: 8, in: &span) }
        payload += entries[index].publicKey
        var position = index
        for level in 0..<depth {
            payload += levels[level][position ^ 1]
            position >>= 1
        }
        return payload
    }
}

/// What the authority signed for one group: the group-parameters statement and the
/// roster behind its root.
public struct SignedGroup: Sendable {
    public let statement: SignedStatement
    public let roster: RosterTree

    public init(statement: SignedStatement, roster: RosterTree) {
        self.statement = statement
        self.roster = roster
    }

    public var parameterID: UInt8 { statement.body[16] }
    public var keyMode: UInt8 { statement.body[17] }
    public var meters: UInt32 { BigEndian.load32(statement.body.span, at: 20) }
    public var maxReading: UInt64 { BigEndian.load64(statement.body.span, at: 24) }
    /// How the members agree on keys (byte 19), nil for a value no meter takes.
    public var keySetup: KeySetupKind? { KeySetupKind(rawValue: statement.body[19]) }

    /// The group-parameters body (Statement.swift) for these values.
    public static func body(
        group: UInt32, epoch: UInt32, parameterID: UInt8, keyMode: UInt8, maxReading: UInt64, roster: RosterTree
    ) -> [UInt8] {
        var body = SignedStatement.header(kind: .groupParameters, epoch: epoch, subject: 0, group: group)
        body += [UInt8](repeating: 0, count: Statement.groupParametersBytes - Statement.headerBytes)
        var span = body.mutableSpan
        span[16] = parameterID
        span[17] = keyMode
        span[18] = UInt8(roster.depth)
        BigEndian.store(UInt32(roster.entries.count), at: 20, in: &span)
        BigEndian.store(maxReading, at: 24, in: &span)
        for (k, b) in roster.root.enumerated() { span[32 + k] = b }
        return body
    }
}

extension FrameIntake {
    /// The `statement` frames that relay `statement` to `meter`: chunk c of
    /// `chunkPayloads` under label `Statement.label(epoch: statement.epoch, chunk: c)`.
    public func statementFrames(_ statement: SignedStatement, to meter: UInt32) -> [[UInt8]] {
        statement.chunkPayloads.enumerated().map { c, payload in
            seal(.statement, to: meter, label: Statement.label(epoch: statement.epoch, chunk: c), payload: payload)
        }
    }
}
