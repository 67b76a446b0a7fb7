// The neighbour graph of LWR-PSA with dropout recovery (docs/spec/dropout.md), shared by the
// meter (which pairs only with its neighbours) and the host (the authority that places the
// members, the aggregator that asks neighbours of silent meters for recovery).
//
// The members of a group sit on a ring in increasing order of their ring keys, which the
// signed roster lists (a member's ring key is SHAKE256 over the graph seed of the epoch it
// joined in, the group and its id). Ring position p is roster leaf p. The graph is the
// Harary graph H(n, k) over the ring positions (SecAgg+, Bell et al., CCS 2020): position p
// neighbours p ± 1, …, p ± k/2 mod n. With k ≥ n − 1 every member neighbours every other.
//
// Pure and allocation-free: a member's neighbours follow from n, k and its own position.

/// Why neighbour-graph parameters were refused.
public enum NeighbourGraphError: Error, Equatable, Sendable {
    /// k is odd, below 2 or above `NeighbourGraph.maxDegree`.
    case badDegree(Int)
    /// A group of fewer than 2 or more than 2^Roster.maxDepth members.
    case badSize(UInt32)
    /// t, B or W outside the ranges of `NeighbourGroupTerms`.
    case badRecoveryTerms
}

/// H(n, k) over ring positions 0 ..< n.
public struct NeighbourGraph: Sendable, Equatable {
    /// The largest k a meter takes (its neighbour table has this many slots).
    public static let maxDegree = 64

    /// n, the members on the ring.
    public let meters: UInt32
    /// k, even: the neighbours of each member when n > k + 1.
    public let degree: Int

    public init(meters: UInt32, degree: Int) throws(NeighbourGraphError) {
        guard degree >= 2, degree <= Self.maxDegree, degree % 2 == 0 else { throw .badDegree(degree) }
        guard meters >= 2, UInt64(meters) <= UInt64(1) << UInt64(Roster.maxDepth) else { throw .badSize(meters) }
        self.meters = meters
        self.degree = degree
    }

    /// True when every member neighbours every other (k ≥ n − 1).
    public var isComplete: Bool { degree >= Int(meters) - 1 }

    /// Neighbours of each member: k, or n − 1 for a complete graph.
    public var neighbourCount: Int { isComplete ? Int(meters) - 1 : degree }

    var half: UInt32 { UInt32(degree / 2) }

    /// The ring position of neighbour `slot` (0 ..< neighbourCount) of the member at
    /// `position`. Slots run in window order p − k/2, …, p − 1, p + 1, …, p + k/2 (mod n); in
    /// a complete graph, positions 0 … n − 1 without p.
    public func neighbour(of position: UInt32, slot: Int) -> UInt32 {
        precondition(position < meters && slot >= 0 && slot < neighbourCount, "no such neighbour slot")
        let s = UInt32(slot)
        if isComplete { return s < position ? s : s + 1 }
        let h = half
        if s < h {
            let d = h - s
            return position >= d ? position - d : position + (meters - d)
        }
        let q = position + (s - h + 1)  // below 2^17: no overflow
        return q >= meters ? q - meters : q
    }

    /// The slot of the member at `other` among the neighbours of `position`, or nil when the
    /// two are not neighbours (or are the same member).
    public func slot(of other: UInt32, around position: UInt32) -> Int? {
        guard other < meters, position < meters, other != position else { return nil }
        if isComplete { return Int(other < position ? other : other - 1) }
        let forward = other > position ? other - position : other + (meters - position)
        if forward <= half { return Int(half + forward - 1) }
        let backward = meters - forward
        if backward <= half { return Int(half - backward) }
        return nil
    }

    /// True when the members at positions `a` and `b` share an edge.
    public func areNeighbours(_ a: UInt32, _ b: UInt32) -> Bool { slot(of: b, around: a) != nil }

    /// The ring key of `meter` in `group` under the graph seed of the epoch it joined in:
    /// SHAKE256("PM-RING-v1" ‖ seed ‖ group u32 ‖ meter u32), first 8 bytes big-endian.
    public static func ringKey(seed: Span<UInt8>, group: UInt32, meter: UInt32) -> UInt64 {
        precondition(seed.count == 32, "a graph seed has 32 bytes")
        var x = XOF(.shake256)
        x.absorb("PM-RING-v1")
        x.absorb(seed)
        x.absorb(bigEndian: group)
        x.absorb(bigEndian: meter)
        var out = InlineArray<8, UInt8>(repeating: 0)
        var span = out.mutableSpan
        x.squeeze(into: &span)
        return BigEndian.load64(out.span, at: 0)
    }
}

/// The recovery terms a neighbour-graph group is signed with (NeighbourGroupLayout): what
/// a meter answers for, and how much (docs/spec/dropout.md, "What a meter answers").
public struct NeighbourGroupTerms: Sendable, Equatable {
    /// The largest recovery budget B a meter takes.
    public static let maxBudget = 4
    /// The largest recovery window W, in labels (one day).
    public static let maxWindow = 96

    /// The graph (n, k).
    public let graph: NeighbourGraph
    /// t: the most silent neighbours one recovery answer covers.
    public let maxSilent: Int
    /// B: recovery answers per neighbour that neighbour has not yet confirmed.
    public let budget: Int
    /// W: a recovery may ask for labels current − W … current − 1 only.
    public let window: Int
    /// The first label encrypted under this epoch's keys.
    public let activationLabel: UInt64
    /// The epoch whose pairwise seeds carry over (a membership change), 0 for a new group.
    public let previousEpoch: UInt32

    public init(
        graph: NeighbourGraph, maxSilent: Int, budget: Int, window: Int, activationLabel: UInt64,
        previousEpoch: UInt32
    ) throws(NeighbourGraphError) {
        guard maxSilent >= 1, maxSilent <= graph.neighbourCount, budget >= 1, budget <= Self.maxBudget, window >= 1,
            window <= Self.maxWindow
        else { throw .badRecoveryTerms }
        self.graph = graph
        self.maxSilent = maxSilent
        self.budget = budget
        self.window = window
        self.activationLabel = activationLabel
        self.previousEpoch = previousEpoch
    }

    /// The terms of a neighbour-graph group-parameters body (key setup 1, 128 bytes): nil
    /// when the body is not one or its fields are out of range.
    public init?(body: Span<UInt8>) {
        guard body.count == NeighbourGroupLayout.bytes, body[19] == KeySetupKind.neighbourGraph.rawValue else {
            return nil
        }
        for k in NeighbourGroupLayout.reserved..<NeighbourGroupLayout.bytes where body[k] != 0 { return nil }
        do throws(NeighbourGraphError) {
            let graph = try NeighbourGraph(
                meters: BigEndian.load32(body, at: 20), degree: Int(body[NeighbourGroupLayout.degree]))
            try self.init(
                graph: graph, maxSilent: Int(body[NeighbourGroupLayout.maxSilent]),
                budget: Int(body[NeighbourGroupLayout.recoveryBudget]),
                window: Int(body[NeighbourGroupLayout.recoveryWindow]),
                activationLabel: BigEndian.load64(body, at: NeighbourGroupLayout.activationLabel),
                previousEpoch: BigEndian.load32(body, at: NeighbourGroupLayout.previousEpoch))
        } catch {
            return nil
        }
    }
}
