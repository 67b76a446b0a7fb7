import MeterCrypto

/// Bounded discrete logarithms in the DMCFE group by baby-step giant-step.
///
/// Finds v with g^v = h for −bound ≤ v ≤ bound. The baby-step table (g^j for
/// 0 ≤ j < m, keyed by the element's low 64 bits) is built once per bound and reused
/// for every label; a solve then takes at most (2·bound)/m + 1 giant steps of one
/// multiplication each. Building the table costs m multiplications and about 40 bytes
/// per entry. At bound 10^10 with the default 2^20 entries, on the project's 2-core
/// machine (release build, thread CPU): 4.7 s to build the table once, then at most
/// 19 074 giant steps, 0.09 s, per solve.
public final class DiscreteLogTable: @unchecked Sendable {
    /// Largest |v| this table solves.
    public let bound: UInt64
    /// Baby steps (table entries).
    public let babySteps: Int
    /// The most giant steps one solve takes.
    public var maxGiantSteps: UInt64 { (2 * bound) / UInt64(babySteps) + 1 }
    let table: [UInt64: UInt32]
    /// g^(−m).
    let giantStep: Limbs3072
    /// g^bound: shifts [−bound, bound] onto [0, 2·bound].
    let shift: Limbs3072

    /// Builds the table for |v| ≤ bound with at most `maxEntries` baby steps (default 2^20,
    /// about 40 MiB); immutable afterwards, so one table serves concurrent solves.
    public init(bound: UInt64, maxEntries: Int = 1 << 20) throws(AggregationError) {
        guard bound < UInt64(1) << 61 else { throw .discreteLogBoundTooLarge(bound) }
        // As many baby steps as allowed (up to the whole range): the table is built once
        // and reused for every label, so a larger table buys faster solves.
        let span = 2 * bound + 1
        let m = Int(max(1, min(UInt64(maxEntries), span)))
        var table: [UInt64: UInt32] = [:]
        table.reserveCapacity(m)
        var element = Limbs3072(1)
        let g = DMCFEGroup.generator
        for j in 0..<m {
            // First j wins on a (negligible) fingerprint collision; `solve` verifies hits.
            if table[UInt64(element.limbs[0])] == nil { table[UInt64(element.limbs[0])] = UInt32(j) }
            element = DMCFE.multiply(element, g)
        }
        self.bound = bound
        babySteps = m
        self.table = table
        giantStep = DMCFE.power(DMCFEGroup.generator, DMCFE.negateExponent(DMCFE.exponent(Int64(m))))
        shift = DMCFE.generatorPower(bound)
    }

    /// v with g^v = h and |v| ≤ bound; `discreteLogOutOfRange` when there is none (never a
    /// wrong number).
    public func solve(_ h: Limbs3072) throws(AggregationError) -> Int64 {
        let target = DMCFE.multiply(h, shift)
        var current = target
        let steps = maxGiantSteps
        var i: UInt64 = 0
        while i < steps {
            if let j = table[UInt64(current.limbs[0])] {
                let k = i * UInt64(babySteps) + UInt64(j)
                if k <= 2 * bound, DMCFE.generatorPower(k) == target {
                    return Int64(k) - Int64(bound)
                }
            }
            current = DMCFE.multiply(current, giantStep)
            i += 1
        }
        throw .discreteLogOutOfRange(bound: bound)
    }
}
