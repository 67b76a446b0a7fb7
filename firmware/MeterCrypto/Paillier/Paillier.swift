// Paillier encryption on the meter, under the supplier's public key N with g = N + 1:
//
//     c = (1 + m·N) · r^N  mod N^2
//
// (g^m = (1 + N)^m = 1 + m·N mod N^2, so no exponentiation by m is needed.) The
// randomizer R = r^N mod N^2 does not depend on the reading: the meter computes it while
// idle during the interval, so the work at the boundary is one multiplication mod N^2.
//
// GMP is reached through MPN.swift only (mpn_* functions on caller-owned, fixed-size
// buffers; no mpz_*, which allocates inside C), and every operation on secret data (r, R,
// the reading) is one of GMP's constant-time mpn_sec_* functions or a fixed-length mpn
// loop (mpn_add_n, mpn_sub_n). Buffers are sized for 3072-bit keys; 2048-bit keys use a
// prefix of them.

/// Why the meter refused a Paillier key or an encryption.
public enum PaillierError: Error, Equatable, Sendable {
    /// N is not 2048 or 3072 bits: its encoding has another length or its top bit is clear.
    case unsupportedModulus(bytes: Int)
    /// N is even, so it is not a product of two odd primes.
    case evenModulus
    /// The randomizer was already used (or never computed): a ciphertext needs a fresh one.
    case randomizerNotFresh
    /// An input or output buffer does not have the size the key asks for.
    case wrongBufferSize(expected: Int, actual: Int)
}

/// The supplier's Paillier public key as the meter holds it: N and N^2 as little-endian
/// limbs (GMP's mpn layout; see `Limb`) in fixed buffers sized for 3072 bits.
///
/// Accepts only N of exactly 2048 or 3072 bits (top bit set) that is odd. Nothing more
/// can be checked about N from the meter; its authenticity is the provisioning tag's job.
public struct PaillierMeterKey: Sendable {
    /// Limbs of N at 3072 bits: the size of the fixed buffers (48 on x86_64, 96 on the M4).
    public static var maxModulusLimbs: Int { LimbArray3072.count }
    /// Bytes of N at 3072 bits.
    public static let maxModulusBytes = 384
    /// Bytes of a ciphertext (an element of Z_{N^2}) at 3072 bits.
    public static let maxCiphertextBytes = 768
    /// The key sizes the meter accepts.
    public static let supportedBits: (Int, Int) = (2048, 3072)

    /// Bits of N: 2048 or 3072.
    public let modulusBits: Int
    /// N, least significant limb first; limbs at and above `limbCount` are zero.
    var modulus: LimbArray3072
    /// N^2, least significant limb first; limbs at and above `2·limbCount` are zero.
    var modulusSquared: LimbArray6144

    /// Limbs of N.
    public var limbCount: Int { modulusBits / Limb.bits }
    /// Bytes of N's big-endian encoding.
    public var modulusBytes: Int { modulusBits / 8 }
    /// Bytes of a ciphertext's big-endian encoding (fixed length, leading zeros kept).
    public var ciphertextBytes: Int { modulusBits / 4 }

    /// Reads N from its big-endian encoding (256 or 384 bytes) and computes N^2.
    public init(modulusBigEndian bytes: Span<UInt8>) throws(PaillierError) {
        guard bytes.count == 256 || bytes.count == 384, bytes[0] & 0x80 != 0 else {
            throw .unsupportedModulus(bytes: bytes.count)
        }
        guard bytes[bytes.count - 1] & 1 == 1 else { throw .evenModulus }
        modulusBits = bytes.count * 8
        modulus = InlineArray(repeating: 0)
        modulusSquared = InlineArray(repeating: 0)
        let n = bytes.count / Limb.bytes
        var m = modulus.mutableSpan
        Limb.read(bigEndian: bytes, into: &m, limbs: n)
        var square = modulusSquared.mutableSpan
        MPN.square(modulus.span.extracting(0..<n), into: &square)
    }

    /// Writes N big-endian into `out`, which must hold exactly `modulusBytes` bytes.
    public func modulusBigEndian(into out: inout MutableSpan<UInt8>) {
        precondition(out.count == modulusBytes, "N needs a buffer of modulusBytes")
        Limb.write(modulus.span, limbs: limbCount, bigEndianInto: &out, at: 0)
    }

    /// Limb-wise equality of N (public values).
    public func sameModulus(as other: PaillierMeterKey) -> Bool {
        guard modulusBits == other.modulusBits else { return false }
        for i in 0..<limbCount where modulus[i] != other.modulus[i] { return false }
        return true
    }
}

/// A precomputed randomizer R = r^N mod N^2 for exactly one ciphertext.
///
/// Computed while the meter is idle (`precompute`); `Paillier.encrypt` uses it and wipes
/// it, so a randomizer can never serve two ciphertexts (two ciphertexts with the same r
/// would reveal the difference of their readings' encodings).
public struct PaillierRandomizer: Sendable {
    /// Scratch limbs for r^N mod N^2 at 3072 bits: GMP 6.2.1 reports
    /// `mpn_sec_powm_itch(48, 3072, 96)` = 6528 on x86_64 (51 KiB, on the stack while
    /// precomputing; 2304 at 2048 bits), 13056 limbs on the M4 (the same 51 KiB). A
    /// precondition stops the meter if the linked GMP needs more.
    public static var powmScratchLimbs: Int { PowerScratchPaillier.count }
    /// Scratch limbs for the coprimality check (`mpn_sec_invert_itch(48)` = 192 in GMP
    /// 6.2.1 on x86_64; 4·96 = 384 on the M4).
    public static var invertScratchLimbs: Int { InvertScratch3072.count }

    /// R, least significant limb first (2·limbCount limbs used).
    var value = LimbArray6144(repeating: 0)
    /// True from a successful `precompute` until the randomizer is used or wiped.
    public private(set) var isFresh = false

    /// An empty randomizer (not fresh).
    public init() {}

    /// Random bytes `precompute` takes for `key`: one candidate r, big-endian.
    public static func randomByteCount(for key: PaillierMeterKey) -> Int { key.modulusBytes }

    /// Computes R = r^N mod N^2 with `mpn_sec_powm` from r read big-endian from
    /// `randomBytes` (`randomByteCount(for:)` bytes from the board RNG).
    ///
    /// Returns false, and stays empty, if r is not in [1, N − 1] or shares a factor with N
    /// (checked in constant time with `mpn_sec_invert`; a shared factor would factor N,
    /// so this never happens with a real key): the caller draws new bytes. Since N has its
    /// top bit set, fewer than two draws are needed on average.
    public mutating func precompute(key: PaillierMeterKey, randomBytes: Span<UInt8>) -> Bool {
        precondition(randomBytes.count == key.modulusBytes, "r needs modulusBytes random bytes")
        let n = key.limbCount
        var r = LimbArray3072(repeating: 0)
        var rSpan = r.mutableSpan
        Limb.read(bigEndian: randomBytes, into: &rSpan, limbs: n)
        defer {
            var wipe = r.mutableSpan
            MPN.wipe(&wipe)
        }
        guard Paillier.isUnit(r, key: key) else { return false }

        precondition(
            MPN.powerScratchLimbs(baseLimbs: n, exponentBits: key.modulusBits, modulusLimbs: 2 * n)
                <= Self.powmScratchLimbs,
            "mpn_sec_powm needs more scratch than PaillierRandomizer.powmScratchLimbs")
        var scratch = PowerScratchPaillier(repeating: 0)
        var out = value.mutableSpan
        var tp = scratch.mutableSpan
        // R = r^N mod N^2 (the scratch, which held powers of r, is wiped by MPN).
        MPN.power(
            r.span.extracting(0..<n), exponent: key.modulus.span.extracting(0..<n), bits: key.modulusBits,
            modulus: key.modulusSquared.span.extracting(0..<(2 * n)), into: &out, scratch: &tp)
        isFresh = true
        return true
    }

    /// Forgets R (zeroes it).
    public mutating func wipe() {
        var v = value.mutableSpan
        MPN.wipe(&v)
        isFresh = false
    }
}

/// The meter's Paillier operations.
public enum Paillier {
    /// Scratch limbs for the boundary step's reduction (`mpn_sec_div_r_itch(145, 96)` = 339
    /// in GMP 6.2.1 on x86_64): `MPN.reduceScratchCapacity`.
    public static var reduceScratchLimbs: Int { MPN.reduceScratchCapacity }

    /// c = (1 + m·N) · R mod N^2, written big-endian (`key.ciphertextBytes` bytes) into
    /// `out` from `offset` on (a frame's payload). Uses and wipes `randomizer`, which must
    /// be fresh.
    ///
    /// m·N is `mpn_sec_mul` by m's limbs (one on x86_64, two on the M4; m < 2^64 ≤ N, so m
    /// is a valid plaintext and 1 + m·N has at most limbCount + that many limbs), + 1 is
    /// `mpn_add_n`; the product with R is `mpn_sec_mul`, the reduction `mpn_sec_div_r`:
    /// constant time in m and R.
    public static func encrypt(
        reading m: UInt64, randomizer: inout PaillierRandomizer, key: PaillierMeterKey,
        into out: inout MutableSpan<UInt8>, at offset: Int = 0
    ) throws(PaillierError) {
        guard randomizer.isFresh else { throw .randomizerNotFresh }
        guard offset >= 0, out.count - offset >= key.ciphertextBytes else {
            throw .wrongBufferSize(expected: offset + key.ciphertextBytes, actual: out.count)
        }
        let n = key.limbCount
        let mLimbs = LimbArray64.count
        let tLimbs = n + mLimbs
        let productLimbs = 2 * n + tLimbs

        // t = 1 + m·N  (n + mLimbs limbs)
        var reading = Limb.limbs(m)
        var t = LimbArray3136(repeating: 0)
        var one = LimbArray3136(repeating: 0)
        one[0] = 1
        var tSpan = t.mutableSpan
        MPN.product(key.modulus.span.extracting(0..<n), reading.span, into: &tSpan)
        // + 1 with full carry propagation through all of t's limbs (mpn_add_n with the
        // constant 1, so the time does not depend on where a carry stops).
        _ = MPN.add(&tSpan, one.span.extracting(0..<tLimbs))
        // c = R · t mod N^2: mpn_sec_mul (3n + mLimbs limbs), then mpn_sec_div_r.
        var c = LimbArray6144(repeating: 0)
        var cSpan = c.mutableSpan
        precondition(productLimbs <= MPN.maxWideLimbs, "the product exceeds MPN's widest operand")
        MPN.multiply(
            randomizer.value.span.extracting(0..<(2 * n)), t.span.extracting(0..<tLimbs),
            modulus: key.modulusSquared.span.extracting(0..<(2 * n)), into: &cSpan)
        Limb.write(cSpan.span, limbs: 2 * n, bigEndianInto: &out, at: offset)
        // t holds m·N, c the ciphertext's limbs and reading m: wipe them and R.
        var tClear = t.mutableSpan
        MPN.wipe(&tClear)
        MPN.wipe(&cSpan)
        var readingClear = reading.mutableSpan
        MPN.wipe(&readingClear)
        randomizer.wipe()
    }

    /// True when 1 ≤ r < N and gcd(r, N) = 1. The range check runs through `mpn_sub_n`
    /// and the gcd through `mpn_sec_invert`, both without branches on r.
    static func isUnit(_ r: LimbArray3072, key: PaillierMeterKey) -> Bool {
        let n = key.limbCount
        var difference = LimbArray3072(repeating: 0)
        var a = r  // mpn_sec_invert destroys its input
        var inverse = LimbArray3072(repeating: 0)
        var scratch = InvertScratch3072(repeating: 0)
        precondition(
            MPN.invertScratchLimbs(modulusLimbs: n) <= PaillierRandomizer.invertScratchLimbs,
            "mpn_sec_invert needs more scratch than PaillierRandomizer.invertScratchLimbs")
        let modulus = key.modulus.span.extracting(0..<n)
        var dSpan = difference.mutableSpan
        // r − N borrows exactly when r < N.
        let borrow = MPN.subtract(r.span.extracting(0..<n), modulus, into: &dSpan)
        MPN.wipe(&dSpan)
        // An inverse mod N exists iff gcd(r, N) = 1 (0 has none).
        var aSpan = a.mutableSpan
        var iSpan = inverse.mutableSpan
        var sSpan = scratch.mutableSpan
        let invertible = MPN.isInvertible(
            &aSpan, modulus: modulus, bits: 2 * key.modulusBits, inverse: &iSpan, scratch: &sSpan)
        MPN.wipe(&aSpan)
        return borrow == 1 && invertible
    }
}
