import MeterCrypto

/// A neighbour-graph group as the authority signed it (docs/spec/dropout.md): the
/// group-parameters statement (key setup 1), its roster in ring order, and the graph over it.
/// The aggregator and the simulator read the graph from here; meters read it from the same
/// statement.
public struct SignedNeighbourGroup: Sendable {
    public let signed: SignedGroup
    public let terms: NeighbourGroupTerms
    /// The graph seed of this epoch (ring keys of the members that joined in it).
    public let graphSeed: [UInt8]
    let positions: [UInt32: Int]

    /// Reads a signed neighbour-graph group; refuses an n-of-n group or inconsistent fields.
    public init(_ signed: SignedGroup) throws(AggregationError) {
        guard signed.statement.kind == .groupParameters, signed.keySetup == .neighbourGraph,
            let terms = NeighbourGroupTerms(body: signed.statement.body.span)
        else { throw .invalidGroup("not a neighbour-graph group-parameters statement") }
        guard signed.roster.isGraphRoster, signed.roster.entries.count == Int(terms.graph.meters) else {
            throw .invalidGroup("the roster is not the signed graph's ring")
        }
        self.signed = signed
        self.terms = terms
        graphSeed = Array(signed.statement.body[NeighbourGroupLayout.graphSeed..<(NeighbourGroupLayout.graphSeed + 32)])
        var positions: [UInt32: Int] = [:]
        for (p, entry) in signed.roster.entries.enumerated() { positions[entry.meter] = p }
        self.positions = positions
    }

    public var graph: NeighbourGraph { terms.graph }
    public var group: UInt32 { signed.statement.group }
    public var epoch: UInt32 { signed.statement.epoch }
    public var roster: RosterTree { signed.roster }

    /// The ring position of `meter`, or nil when it is no member.
    public func position(of meter: UInt32) -> Int? { positions[meter] }

    /// The member at ring position `position`.
    public func meter(at position: Int) -> UInt32 { signed.roster.entries[position].meter }

    /// The neighbours of `meter` in slot order (NeighbourGraph.neighbour(of:slot:)).
    public func neighbours(of meter: UInt32) -> [UInt32] {
        guard let p = positions[meter] else { return [] }
        return (0..<graph.neighbourCount).map { self.meter(at: Int(graph.neighbour(of: UInt32(p), slot: $0))) }
    }

    /// True when the two members share an edge.
    public func areNeighbours(_ a: UInt32, _ b: UInt32) -> Bool {
        guard let p = positions[a], let q = positions[b] else { return false }
        return graph.areNeighbours(UInt32(p), UInt32(q))
    }

    /// The group-parameters body of a neighbour-graph group (Statement.swift, key setup 1).
    public static func body(
        group: UInt32, epoch: UInt32, parameterID: UInt8, keyMode: UInt8, maxReading: UInt64, roster: RosterTree,
        graphSeed: [UInt8], terms: NeighbourGroupTerms
    ) -> [UInt8] {
        precondition(graphSeed.count == 32, "a graph seed has 32 bytes")
        precondition(roster.isGraphRoster && roster.entries.count == Int(terms.graph.meters), "a ring roster of n")
        var body = SignedGroup.body(
            group: group, epoch: epoch, parameterID: parameterID, keyMode: keyMode, maxReading: maxReading,
            roster: roster)
        body += [UInt8](repeating: 0, count: NeighbourGroupLayout.bytes - body.count)
        var span = body.mutableSpan
        span[19] = KeySetupKind.neighbourGraph.rawValue
        for (k, b) in graphSeed.enumerated() { span[NeighbourGroupLayout.graphSeed + k] = b }
        span[NeighbourGroupLayout.degree] = UInt8(terms.graph.degree)
        span[NeighbourGroupLayout.maxSilent] = UInt8(terms.maxSilent)
        span[NeighbourGroupLayout.recoveryBudget] = UInt8(terms.budget)
        span[NeighbourGroupLayout.recoveryWindow] = UInt8(terms.window)
        BigEndian.store(terms.activationLabel, at: NeighbourGroupLayout.activationLabel, in: &span)
        BigEndian.store(terms.previousEpoch, at: NeighbourGroupLayout.previousEpoch, in: &span)
        return body
    }
}
