// The project's one seeded generator for simulation and test inputs.

/// SeededGenerator (Steele, Lea and Flood, 2014): a small, fast generator whose whole output
/// follows from its seed, so simulations, fault campaigns, cost probes, benchmarks and
/// tests replay exactly. Load profiles, fault positions, board seeds, random frame keys
/// and the reproducible Paillier keys of demos and tests all come from it.
///
/// NOT a cryptographic generator: anyone who knows the seed knows every output. Real keys
/// come from `SystemRandomNumberGenerator` (the supplier) or the board's TRNG (a meter).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The low byte of each of the next `count` outputs.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }
}
