// Random integers and primes from a caller-supplied generator.

extension BigInt {
    /// A uniformly random integer in [0, 2^bits) from `generator`.
    public static func random<G: RandomNumberGenerator>(bits: Int, using generator: inout G) -> BigInt {
        precondition(bits >= 0, "negative bit count")
        let byteCount = (bits + 7) / 8
        var bytes = [UInt8](repeating: 0, count: byteCount)
        var i = 0
        while i < byteCount {
            var word = generator.next()
            for _ in 0..<8 where i < byteCount {
                bytes[i] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                i += 1
            }
        }
        let excess = byteCount * 8 - bits
        if excess > 0 { bytes[0] &= UInt8(0xFF) >> UInt8(excess) }
        return BigInt(bigEndian: bytes)
    }

    /// A uniformly random integer in [1, bound − 1] (rejection sampling).
    public static func random<G: RandomNumberGenerator>(below bound: BigInt, using generator: inout G) -> BigInt {
        precondition(bound > BigInt(1), "the bound must exceed 1")
        while true {
            let candidate = random(bits: bound.bitWidth, using: &generator)
            if !candidate.isZero && candidate < bound { return candidate }
        }
    }

    /// A random prime of exactly `bits` bits whose two top bits are set (so the product of
    /// two such primes has exactly 2·bits bits), drawn as random odd candidates tested
    /// with `isProbablePrime(rounds:)`: uniform over such primes.
    public static func randomPrime<G: RandomNumberGenerator>(
        bits: Int, rounds: Int = 40, using generator: inout G
    ) -> BigInt {
        precondition(bits >= 16, "primes this small are not what this is for")
        while true {
            var candidate = random(bits: bits, using: &generator)
            candidate.setBit(bits - 1)
            candidate.setBit(bits - 2)
            candidate.setBit(0)
            if candidate.isProbablePrime(rounds: rounds) { return candidate }
        }
    }
}
