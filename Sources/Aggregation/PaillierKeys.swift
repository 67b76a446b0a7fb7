// The supplier's Paillier keys on the host (DESIGN.md, scheme 3), g = N + 1.
//
// Public key: N (and N^2). Private key: p, q with N = p·q; decryption with the Chinese
// remainder theorem: m_p = L_p(c^(p−1) mod p^2)·h_p mod p, the same mod q, combined, where
// L_p(x) = (x − 1)/p and h_p = L_p(g^(p−1) mod p^2)^(−1) mod p = (−q)^(−1) mod p.
// Keys and ciphertexts export and import as JSON with big integers as decimal strings:
// public {"n", "g"}; private {"n", "g", "p", "q", "lambda", "mu"} (λ = lcm(p−1, q−1),
// μ = λ^(−1) mod N); a private key imports from p/q or, without them, from lambda/mu.

import BigNum
import Foundation
import MeterCrypto

/// Why a Paillier key or its JSON was refused.
public enum PaillierKeyError: Error, Equatable, Sendable {
    /// N is not 2048 or 3072 bits long (the sizes the meters take).
    case unsupportedSize(bits: Int)
    /// N is even, or p·q ≠ N, or p or q is not prime, or p = q.
    case invalidKey(String)
    /// g is not N + 1: only that generator is supported.
    case unsupportedGenerator
    /// The JSON lacks a field, or a field is not a decimal integer.
    case malformedJSON(String)
}

/// A stable 64-bit identifier of a public key (SHAKE256 over N), carried by ciphertexts so
/// a party can refuse one made under another key.
public struct PaillierKeyID: Hashable, Sendable, CustomStringConvertible {
    public let value: UInt64
    public var description: String { String(format: "%016llx", value) }

    init(n: BigInt) {
        var x = XOF(.shake256)
        x.absorb("PM-PAILLIER-KEYID-v1")
        let bytes = n.bigEndianBytes()!
        x.absorb(bytes.span)
        value = x.squeezeWord()
    }
}

/// A Paillier ciphertext: an element of Z*_{N^2}, tagged with the key it belongs to.
public struct PaillierCiphertext: Sendable, Equatable {
    public let value: BigInt
    public let key: PaillierKeyID

    init(value: BigInt, key: PaillierKeyID) {
        self.value = value
        self.key = key
    }
}

/// A ciphertext with its key's N, as JSON: `{"n": "<decimal>", "c": "<decimal>"}`. Decoding
/// checks the key (`PaillierKeyError`) and 0 < c < N^2 (`AggregationError`); the decoded
/// ciphertext carries the id of that N, so a party holding another key refuses it
/// (`wrongKey`).
public struct PaillierCiphertextJSON: Codable, Sendable {
    public let publicKey: PaillierPublicKey
    public let ciphertext: PaillierCiphertext

    public init(publicKey: PaillierPublicKey, ciphertext: PaillierCiphertext) throws(AggregationError) {
        try publicKey.check(ciphertext)
        self.publicKey = publicKey
        self.ciphertext = ciphertext
    }

    enum CodingKeys: String, CodingKey { case n, c }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        publicKey = try PaillierPublicKey(n: container.decode(BigInt.self, forKey: .n))
        ciphertext = try publicKey.ciphertext(container.decode(BigInt.self, forKey: .c))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(publicKey.n, forKey: .n)
        try container.encode(ciphertext.value, forKey: .c)
    }
}

/// The supplier's public key N with g = N + 1: what meters encrypt under and what the
/// aggregator multiplies ciphertexts with (mod N^2). Holds no secret.
public struct PaillierPublicKey: Sendable, Equatable, Codable {
    public let n: BigInt
    public let nSquared: BigInt
    public let id: PaillierKeyID

    /// The key sizes meters accept.
    public static let supportedBits = [2048, 3072]

    /// Checks that N has a supported size and is odd.
    public init(n: BigInt) throws(PaillierKeyError) {
        guard Self.supportedBits.contains(n.bitWidth) else { throw .unsupportedSize(bits: n.bitWidth) }
        guard n.isOdd else { throw .invalidKey("N is even") }
        self.n = n
        nSquared = n * n
        id = PaillierKeyID(n: n)
    }

    /// Bits of N.
    public var bits: Int { n.bitWidth }
    /// g = N + 1.
    public var g: BigInt { n + 1 }
    /// Bytes of N's big-endian encoding.
    public var modulusBytes: Int { bits / 8 }
    /// Bytes of a ciphertext on the wire (fixed length, big-endian).
    public var ciphertextBytes: Int { bits / 4 }

    public static func == (a: PaillierPublicKey, b: PaillierPublicKey) -> Bool { a.n == b.n }

    // MARK: JSON

    enum CodingKeys: String, CodingKey { case n, g }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let n = try c.decode(BigInt.self, forKey: .n)
        if let g = try c.decodeIfPresent(BigInt.self, forKey: .g), g != n + 1 {
            throw PaillierKeyError.unsupportedGenerator
        }
        try self.init(n: n)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(n, forKey: .n)
        try c.encode(g, forKey: .g)
    }

    // MARK: ciphertexts

    /// Accepts `value` as a ciphertext under this key if 0 < value < N^2.
    public func ciphertext(_ value: BigInt) throws(AggregationError) -> PaillierCiphertext {
        guard !value.isZero else { throw .zeroCiphertext }
        guard !value.isNegative, value < nSquared else { throw .ciphertextOutOfRange }
        return PaillierCiphertext(value: value, key: id)
    }

    /// Accepts a wire ciphertext: exactly `ciphertextBytes` big-endian bytes, 0 < c < N^2.
    public func ciphertext(bigEndian bytes: [UInt8]) throws(AggregationError) -> PaillierCiphertext {
        guard bytes.count == ciphertextBytes else { throw .badPayload(type: .reading, size: bytes.count) }
        return try ciphertext(BigInt(bigEndian: bytes))
    }

    /// Refuses a ciphertext made under another key.
    func check(_ c: PaillierCiphertext) throws(AggregationError) {
        guard c.key == id else { throw .wrongKey(expected: id.description, actual: c.key.description) }
    }

    /// Enc(m; r) = (1 + m·N) · r^N mod N^2, textbook, on the host (tests, tools). Requires
    /// 0 ≤ m < N and 0 < r < N with gcd(r, N) = 1.
    public func encrypt(_ m: BigInt, randomizer r: BigInt) -> PaillierCiphertext {
        precondition(m.signum >= 0 && m < n, "a plaintext lies in [0, N)")
        precondition(r.signum > 0 && r < n, "r lies in (0, N)")
        let gm = (m * n + 1).modulo(nSquared)
        let rn = r.securePower(n, modulo: nSquared)
        return PaillierCiphertext(value: (gm * rn).modulo(nSquared), key: id)
    }

    /// Enc(m) with r drawn from `generator`.
    public func encrypt<G: RandomNumberGenerator>(_ m: BigInt, using generator: inout G) -> PaillierCiphertext {
        var r = BigInt.random(below: n, using: &generator)
        while BigInt.gcd(r, n) != BigInt(1) { r = BigInt.random(below: n, using: &generator) }
        return encrypt(m, randomizer: r)
    }

    /// (1 + m·N) mod N^2: an encryption of m with r = 1, for public constants (a fee).
    public func trivialEncryption(_ m: BigInt) -> PaillierCiphertext {
        precondition(m.signum >= 0 && m < n, "a plaintext lies in [0, N)")
        return PaillierCiphertext(value: (m * n + 1).modulo(nSquared), key: id)
    }

    /// Enc(a + b) = a·b mod N^2.
    public func add(_ a: PaillierCiphertext, _ b: PaillierCiphertext) throws(AggregationError) -> PaillierCiphertext {
        try check(a)
        try check(b)
        return PaillierCiphertext(value: (a.value * b.value).modulo(nSquared), key: id)
    }

    /// Enc(k·a) = a^k mod N^2 for a public k ≥ 0.
    public func multiply(_ a: PaillierCiphertext, by k: BigInt) throws(AggregationError) -> PaillierCiphertext {
        try check(a)
        precondition(k.signum >= 0, "a scalar is non-negative")
        return PaillierCiphertext(value: a.value.power(k, modulo: nSquared), key: id)
    }
}

/// The supplier's private key: p and q, with the CRT constants for decryption.
public struct PaillierPrivateKey: Sendable, Codable {
    public let publicKey: PaillierPublicKey
    public let p: BigInt
    public let q: BigInt
    /// λ = lcm(p − 1, q − 1).
    public let lambda: BigInt
    /// μ = λ^(−1) mod N (for g = N + 1).
    public let mu: BigInt
    let pSquared: BigInt
    let qSquared: BigInt
    let hp: BigInt
    let hq: BigInt
    /// p^(−1) mod q, for recombination.
    let pInverse: BigInt

    /// A key from its primes; checks N = p·q, p ≠ q, both prime, gcd(N, φ(N)) = 1.
    public init(p: BigInt, q: BigInt) throws(PaillierKeyError) {
        guard p != q else { throw .invalidKey("p = q") }
        guard p.isProbablePrime(rounds: 30), q.isProbablePrime(rounds: 30) else {
            throw .invalidKey("p or q is not prime")
        }
        let n = p * q
        let publicKey = try PaillierPublicKey(n: n)
        let phi = (p - 1) * (q - 1)
        guard BigInt.gcd(n, phi) == BigInt(1) else { throw .invalidKey("gcd(N, φ(N)) ≠ 1") }
        self.publicKey = publicKey
        self.p = p
        self.q = q
        lambda = phi / BigInt.gcd(p - 1, q - 1)
        mu = lambda.inverse(modulo: n)!
        pSquared = p * p
        qSquared = q * q
        hp = (-q).modulo(p).inverse(modulo: p)!
        hq = (-p).modulo(q).inverse(modulo: q)!
        pInverse = p.inverse(modulo: q)!
    }

    /// A fresh key: two random primes of bits/2 bits with their top two bits set, so N has
    /// exactly `bits` bits. Use `SystemRandomNumberGenerator` (the OS CSPRNG) for real keys;
    /// a seeded generator (MeterSimulator's `SeededGenerator`) only for tests and demos.
    public static func generate<G: RandomNumberGenerator>(bits: Int = 3072, using generator: inout G)
        throws(PaillierKeyError) -> PaillierPrivateKey
    {
        guard PaillierPublicKey.supportedBits.contains(bits) else { throw .unsupportedSize(bits: bits) }
        while true {
            let p = BigInt.randomPrime(bits: bits / 2, using: &generator)
            let q = BigInt.randomPrime(bits: bits / 2, using: &generator)
            if p != q { return try PaillierPrivateKey(p: p, q: q) }
        }
    }

    /// A fresh key from the operating system's CSPRNG.
    public static func generate(bits: Int = 3072) throws(PaillierKeyError) -> PaillierPrivateKey {
        var system = SystemRandomNumberGenerator()
        return try generate(bits: bits, using: &system)
    }

    /// The plaintext of `c` in [0, N), with CRT. Refuses ciphertexts of another key and
    /// values outside (0, N^2) or not coprime to N.
    public func decrypt(_ c: PaillierCiphertext) throws(AggregationError) -> BigInt {
        try publicKey.check(c)
        let value = c.value
        guard !value.isZero else { throw .zeroCiphertext }
        guard !value.isNegative, value < publicKey.nSquared else { throw .ciphertextOutOfRange }
        guard BigInt.gcd(value, publicKey.n) == BigInt(1) else { throw .ciphertextNotInvertible }
        // The exponents p − 1 and q − 1 are secret: mpz_powm_sec.
        let xp = value.modulo(pSquared).securePower(p - 1, modulo: pSquared)
        let mp = ((xp - 1).dividedExactly(by: p) * hp).modulo(p)
        let xq = value.modulo(qSquared).securePower(q - 1, modulo: qSquared)
        let mq = ((xq - 1).dividedExactly(by: q) * hq).modulo(q)
        // m = mp + p · ((mq − mp) · p^(−1) mod q)
        return mp + p * ((mq - mp) * pInverse).modulo(q)
    }

    /// Textbook decryption m = L(c^λ mod N^2) · μ mod N, without CRT (tests compare both).
    public func decryptTextbook(_ c: PaillierCiphertext) throws(AggregationError) -> BigInt {
        try publicKey.check(c)
        let n = publicKey.n
        let x = c.value.power(lambda, modulo: publicKey.nSquared)
        return ((x - 1).dividedExactly(by: n) * mu).modulo(n)
    }

    // MARK: JSON

    enum CodingKeys: String, CodingKey { case n, g, p, q, lambda, mu }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let publicKey = try PaillierPublicKey(from: decoder)
        if let p = try c.decodeIfPresent(BigInt.self, forKey: .p),
            let q = try c.decodeIfPresent(BigInt.self, forKey: .q)
        {
            guard p * q == publicKey.n else { throw PaillierKeyError.invalidKey("p·q ≠ n") }
            try self.init(p: p, q: q)
            return
        }
        // Only λ and μ: recover p and q from N and λ (φ(N) is a multiple of λ; for keys
        // whose primes have equal size, φ = λ·gcd(p − 1, q − 1) with a small gcd).
        guard let lambda = try c.decodeIfPresent(BigInt.self, forKey: .lambda) else {
            throw PaillierKeyError.malformedJSON("a private key needs p and q, or lambda and mu")
        }
        if let mu = try c.decodeIfPresent(BigInt.self, forKey: .mu), mu != lambda.inverse(modulo: publicKey.n) {
            throw PaillierKeyError.invalidKey("mu is not lambda^-1 mod n")
        }
        guard let (p, q) = Self.factor(n: publicKey.n, lambda: lambda) else {
            throw PaillierKeyError.invalidKey("lambda does not match n")
        }
        try self.init(p: p, q: q)
    }

    public func encode(to encoder: Encoder) throws {
        try publicKey.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(p, forKey: .p)
        try c.encode(q, forKey: .q)
        try c.encode(lambda, forKey: .lambda)
        try c.encode(mu, forKey: .mu)
    }

    /// p and q from N and λ = lcm(p − 1, q − 1): try φ = λ·k for small k; then
    /// p + q = N − φ + 1 and p, q are the roots of x^2 − (p + q)x + N.
    static func factor(n: BigInt, lambda: BigInt) -> (BigInt, BigInt)? {
        for k in 1...100_000 {
            let phi = lambda * UInt64(k)
            guard phi < n else { return nil }
            let s = n - phi + 1
            let d = s * s - n * 4
            guard d.signum >= 0, let root = d.squareRoot() else { continue }
            let p = (s - root).dividedExactly(by: 2)
            let q = (s + root).dividedExactly(by: 2)
            if p * q == n, p > BigInt(1) { return (p, q) }
        }
        return nil
    }
}
