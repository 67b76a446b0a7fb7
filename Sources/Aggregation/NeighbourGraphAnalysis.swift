import Foundation
import MeterCrypto

/// The degree k of a neighbour-graph group and the recovery terms that go with it, from n,
/// the corruption bound γ, the dropout bound δ and the failure probability 2^−σ per label
/// (docs/spec/dropout.md, "Choosing k"; the same computation with exact integers is
/// scripts/dropout_degree.py, and the tests check both choose the same k).
///
/// The honest, reporting members stay connected unless two runs of ≥ k/2 consecutive ring
/// positions are all corrupted or silent; with m = ⌊γn⌋ + ⌊δn⌋ such members placed
/// uniformly on the ring, P ≤ n(n − k − 1)/2 · C(n − k − 2, m − k)/C(n, m).
public struct NeighbourGraphPlan: Sendable, Equatable {
    public let meters: UInt32
    /// γ: the fraction of members that may collude with the aggregator.
    public let corruptFraction: Double
    /// δ: the fraction of members that may be silent at one label.
    public let silentFraction: Double
    /// σ: the graph disconnects the honest reporting members with probability ≤ 2^−σ per label.
    public let securityBits: Int
    /// m = ⌊γn⌋ + ⌊δn⌋, the removed members the bound is computed for.
    public let removed: Int
    /// k, even; k ≥ n − 1 is the complete graph.
    public let degree: Int
    /// log2 of the bound on the probability that the honest reporting members disconnect at
    /// one label; −∞ when it is 0 (fewer than k removed members, or the complete graph).
    public let log2Disconnect: Double
    /// t: the most silent neighbours one recovery answer covers (at most k).
    public let maxSilent: Int
    /// log2 of the bound on the probability that some reporting member has more than t silent
    /// neighbours at one label (that label's recovery is refused): −∞ when 0.
    public let log2Overflow: Double

    /// True when the graph is complete.
    public var isComplete: Bool { degree >= Int(meters) - 1 }
    /// Neighbours of each member (DH exponentiations of its key setup).
    public var neighbourCount: Int { min(degree, Int(meters) - 1) }

    /// The same plan with another k and t (an operator's choice, or a test's): the bounds are
    /// computed again for them.
    public func with(degree: Int, maxSilent: Int? = nil) -> NeighbourGraphPlan {
        let n = Int(meters)
        let bound =
            degree >= n - 1
            ? -Double.infinity : NeighbourGraphAnalysis.log2Bound(meters: n, removed: removed, half: degree / 2)
        let t = min(maxSilent ?? degree, min(degree, n - 1))
        let silent = Int((silentFraction * Double(n)).rounded(.down))
        return NeighbourGraphPlan(
            meters: meters, corruptFraction: corruptFraction, silentFraction: silentFraction,
            securityBits: securityBits, removed: removed, degree: degree, log2Disconnect: bound, maxSilent: t,
            log2Overflow: NeighbourGraphAnalysis.log2Overflow(meters: n, degree: degree, silent: silent, maxSilent: t))
    }
}

public enum NeighbourGraphAnalysis {
    /// The defaults: a fifth of the group colluding, 5 % silent per label, 2^−40 per label.
    public static let defaultCorruptFraction = 0.2
    public static let defaultSilentFraction = 0.05
    public static let defaultSecurityBits = 40
    /// The label-recovery failure the choice of t aims below: 2^−20 per label.
    public static let overflowBits = 20

    /// log2 of C(a, b).
    static func log2Binomial(_ a: Int, _ b: Int) -> Double {
        (lgamma(Double(a) + 1) - lgamma(Double(b) + 1) - lgamma(Double(a - b) + 1)) / M_LN2
    }

    /// log2 of the union bound on P(disconnected) for H(n, 2h) with m removed members; −∞ when 0.
    public static func log2Bound(meters n: Int, removed m: Int, half h: Int) -> Double {
        guard n > 2 * h + 1, m >= 2 * h, n - m >= 2 else { return -.infinity }
        let pairs = Double(n) * Double(n - 2 * h - 1) / 2
        return log2(pairs) + log2Binomial(n - 2 * h - 2, m - 2 * h) - log2Binomial(n, m)
    }

    /// m = ⌊γn⌋ + ⌊δn⌋.
    public static func removed(meters n: Int, corruptFraction: Double, silentFraction: Double) -> Int {
        Int((corruptFraction * Double(n)).rounded(.down)) + Int((silentFraction * Double(n)).rounded(.down))
    }

    /// log2 of n·P(Hypergeometric(n − 1 others, s silent, k draws) > t): a reporting member
    /// with more than t silent neighbours, somewhere in the group.
    public static func log2Overflow(meters n: Int, degree k: Int, silent s: Int, maxSilent t: Int) -> Double {
        let draws = min(k, n - 1)
        guard t < min(draws, s) else { return -.infinity }
        var total = 0.0
        for x in (t + 1)...min(draws, s) {
            total += exp2(
                log2Binomial(s, x) + log2Binomial(n - 1 - s, draws - x) - log2Binomial(n - 1, draws))
        }
        return log2(Double(n)) + log2(total)
    }

    /// The plan for a group of `meters`: the smallest even k whose bound is ≤ 2^−σ (the
    /// complete graph when none below n − 1 is), and the smallest t whose overflow bound is
    /// ≤ 2^−20.
    public static func plan(
        meters: UInt32, corruptFraction: Double = defaultCorruptFraction,
        silentFraction: Double = defaultSilentFraction, securityBits: Int = defaultSecurityBits
    ) -> NeighbourGraphPlan {
        let n = Int(meters)
        let m = removed(meters: n, corruptFraction: corruptFraction, silentFraction: silentFraction)
        var degree = (n - 1) % 2 == 0 ? n - 1 : n
        var bound = -Double.infinity
        var h = 1
        while 2 * h <= n - 2 {
            let b = log2Bound(meters: n, removed: m, half: h)
            if b <= -Double(securityBits) {
                degree = 2 * h
                bound = b
                break
            }
            h += 1
        }
        degree = max(degree, 2)
        let silent = Int((silentFraction * Double(n)).rounded(.down))
        let neighbours = min(degree, n - 1)
        var t = 1
        while t < neighbours
            && log2Overflow(meters: n, degree: degree, silent: silent, maxSilent: t) > -Double(overflowBits)
        {
            t += 1
        }
        return NeighbourGraphPlan(
            meters: meters, corruptFraction: corruptFraction, silentFraction: silentFraction,
            securityBits: securityBits, removed: m, degree: degree, log2Disconnect: bound, maxSilent: t,
            log2Overflow: log2Overflow(meters: n, degree: degree, silent: silent, maxSilent: t))
    }
}
