// A safe Swift wrapper over GMP's mpz integers for the host side (supplier, aggregator,
// tests). The only file that imports CGMPZ, the allocating mpz layer of GMP.
//
// `BigInt` is a value type: it shares one `MPZ` (an owner of an mpz_t that clears it in
// deinit) between copies and copies it before a mutation (copy on write). GMP allocates
// limbs inside C; nothing here runs on the meter.

internal import CGMPZ

/// Owns one initialised mpz_t; clears it when released.
final class MPZ: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<__mpz_struct>

    init() {
        pointer = .allocate(capacity: 1)
        pm_mpz_init(pointer)
    }

    init(copying other: MPZ) {
        pointer = .allocate(capacity: 1)
        pm_mpz_init(pointer)
        pm_mpz_set(pointer, other.pointer)
    }

    deinit {
        pm_mpz_clear(pointer)
        pointer.deallocate()
    }
}

/// An arbitrary-precision signed integer backed by GMP.
///
/// Sendable: the storage is never mutated while shared (copy on write).
public struct BigInt: @unchecked Sendable {
    var storage: MPZ

    init(storage: MPZ) { self.storage = storage }

    /// Zero.
    public init() { storage = MPZ() }

    /// The value of a machine integer.
    public init(_ value: Int) {
        storage = MPZ()
        pm_mpz_set_ui(storage.pointer, value.magnitude)
        if value < 0 { pm_mpz_neg(storage.pointer, storage.pointer) }
    }

    /// The value of an unsigned machine integer.
    public init(_ value: UInt64) {
        storage = MPZ()
        pm_mpz_set_ui(storage.pointer, UInt(value))
    }

    /// Parses a decimal (or `radix`) string with an optional leading minus; nil if malformed.
    public init?(_ text: String, radix: Int = 10) {
        guard !text.isEmpty, (2...62).contains(radix) else { return nil }
        let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        // mpz_set_str also skips white space; accept only plain digits.
        guard !digits.isEmpty, digits.allSatisfy({ $0.isLetter || $0.isNumber }) else { return nil }
        storage = MPZ()
        let status = text.withCString { pm_mpz_set_str(storage.pointer, $0, Int32(radix)) }
        guard status == 0 else { return nil }
    }

    /// The non-negative integer whose big-endian encoding is `bytes`.
    public init(bigEndian bytes: [UInt8]) {
        storage = MPZ()
        bytes.withUnsafeBufferPointer { p in
            if let base = p.baseAddress { pm_mpz_import_be(storage.pointer, base, p.count) }
        }
    }

    /// The non-negative integer whose big-endian encoding is `bytes`.
    public init(bigEndian bytes: Span<UInt8>) {
        storage = MPZ()
        bytes.withUnsafeBufferPointer { p in
            if let base = p.baseAddress { pm_mpz_import_be(storage.pointer, base, p.count) }
        }
    }

    var raw: UnsafePointer<__mpz_struct> { UnsafePointer(storage.pointer) }

    /// Makes `storage` unique before a mutation.
    mutating func unique() -> UnsafeMutablePointer<__mpz_struct> {
        if !isKnownUniquelyReferenced(&storage) { storage = MPZ(copying: storage) }
        return storage.pointer
    }

    /// A fresh integer computed by `body` into a new mpz.
    static func make(_ body: (UnsafeMutablePointer<__mpz_struct>) -> Void) -> BigInt {
        let s = MPZ()
        body(s.pointer)
        return BigInt(storage: s)
    }

    // MARK: - properties

    /// −1, 0 or 1.
    public var signum: Int { Int(pm_mpz_sgn(raw)) }
    public var isZero: Bool { signum == 0 }
    public var isNegative: Bool { signum < 0 }
    public var isOdd: Bool { pm_mpz_tstbit(raw, 0) == 1 && !isZero }
    /// Bits of |self| (0 for zero).
    public var bitWidth: Int { Int(pm_mpz_bitlength(raw)) }
    /// Bit `index` of the two's complement representation.
    public func bit(_ index: Int) -> Bool { pm_mpz_tstbit(raw, mp_bitcnt_t(index)) == 1 }

    /// Sets bit `index` to 1.
    public mutating func setBit(_ index: Int) { pm_mpz_setbit(unique(), mp_bitcnt_t(index)) }

    /// The value as UInt64, if it is in range.
    public var uint64: UInt64? {
        guard signum >= 0, pm_mpz_fits_ulong_p(raw) != 0 else { return nil }
        return UInt64(pm_mpz_get_ui(raw))
    }

    /// Decimal (or `radix`) digits with a leading minus for negative values.
    public func toString(radix: Int = 10) -> String {
        precondition((2...62).contains(radix), "radix outside 2...62")
        guard let text = pm_mpz_get_str(nil, Int32(radix), raw) else {
            preconditionFailure("mpz_get_str failed")
        }
        defer { pm_gmp_free_str(text) }
        return String(cString: text)
    }

    /// |self| as big-endian bytes, left-padded with zeros to `length` bytes (at least as
    /// many as the value needs; nil if it needs more than `length`).
    public func bigEndianBytes(length: Int? = nil) -> [UInt8]? {
        let needed = isZero ? 0 : (bitWidth + 7) / 8
        let total = length ?? max(needed, 1)
        guard needed <= total else { return nil }
        var out = [UInt8](repeating: 0, count: total)
        if needed > 0 {
            out.withUnsafeMutableBufferPointer { p in
                _ = pm_mpz_export_be(p.baseAddress! + (total - needed), raw)
            }
        }
        return out
    }

    // MARK: - arithmetic

    public static func + (a: BigInt, b: BigInt) -> BigInt { make { pm_mpz_add($0, a.raw, b.raw) } }
    public static func - (a: BigInt, b: BigInt) -> BigInt { make { pm_mpz_sub($0, a.raw, b.raw) } }
    public static func * (a: BigInt, b: BigInt) -> BigInt { make { pm_mpz_mul($0, a.raw, b.raw) } }
    public static prefix func - (a: BigInt) -> BigInt { make { pm_mpz_neg($0, a.raw) } }

    public static func + (a: BigInt, b: UInt64) -> BigInt { make { pm_mpz_add_ui($0, a.raw, UInt(b)) } }
    public static func - (a: BigInt, b: UInt64) -> BigInt { make { pm_mpz_sub_ui($0, a.raw, UInt(b)) } }
    public static func * (a: BigInt, b: UInt64) -> BigInt { make { pm_mpz_mul_ui($0, a.raw, UInt(b)) } }

    public static func += (a: inout BigInt, b: BigInt) {
        let p = a.unique()
        pm_mpz_add(p, p, b.raw)
    }
    public static func -= (a: inout BigInt, b: BigInt) {
        let p = a.unique()
        pm_mpz_sub(p, p, b.raw)
    }
    public static func *= (a: inout BigInt, b: BigInt) {
        let p = a.unique()
        pm_mpz_mul(p, p, b.raw)
    }

    /// Truncating division (rounds toward zero, like Swift's Int). Precondition: b ≠ 0.
    public func quotientAndRemainder(dividingBy b: BigInt) -> (quotient: BigInt, remainder: BigInt) {
        precondition(!b.isZero, "division by zero")
        let q = MPZ()
        let r = MPZ()
        pm_mpz_tdiv_qr(q.pointer, r.pointer, raw, b.raw)
        return (BigInt(storage: q), BigInt(storage: r))
    }

    public static func / (a: BigInt, b: BigInt) -> BigInt { a.quotientAndRemainder(dividingBy: b).quotient }

    /// self mod m in [0, |m|). Precondition: m ≠ 0.
    public func modulo(_ m: BigInt) -> BigInt {
        precondition(!m.isZero, "modulo zero")
        return BigInt.make { pm_mpz_mod($0, raw, m.raw) }
    }

    /// self / d when d divides self exactly (faster than division). Precondition: d ≠ 0.
    public func dividedExactly(by d: BigInt) -> BigInt {
        precondition(!d.isZero, "division by zero")
        return BigInt.make { pm_mpz_divexact($0, raw, d.raw) }
    }

    /// self = self · b mod m, in place, reusing this value's storage when it is unique:
    /// the aggregator's inner loop. Precondition: m ≠ 0.
    public mutating func multiply(by b: BigInt, modulo m: BigInt) {
        precondition(!m.isZero, "modulo zero")
        let p = unique()
        pm_mpz_mul(p, p, b.raw)
        pm_mpz_mod(p, p, m.raw)
    }

    /// Π values mod m as a plain GMP loop (`mpz_mul` then `mpz_mod` into one accumulator),
    /// with no Swift in between: the baseline the aggregator's product is benchmarked against.
    public static func plainProduct(of values: [BigInt], modulo m: BigInt) -> BigInt {
        let accumulator = MPZ()
        pm_mpz_set_ui(accumulator.pointer, 1)
        let a = accumulator.pointer
        let modulus = m.raw
        for v in values {
            pm_mpz_mul(a, a, v.raw)
            pm_mpz_mod(a, a, modulus)
        }
        return BigInt(storage: accumulator)
    }

    /// self^e mod m (variable time: public exponents). Preconditions: m ≠ 0, e ≥ 0.
    public func power(_ e: BigInt, modulo m: BigInt) -> BigInt {
        precondition(!m.isZero && e.signum >= 0, "power needs m ≠ 0 and e ≥ 0")
        return BigInt.make { pm_mpz_powm($0, raw, e.raw, m.raw) }
    }

    /// self^e mod m with `mpz_powm_sec`: time and memory access independent of e (secret
    /// exponents). Preconditions: m odd, e > 0.
    public func securePower(_ e: BigInt, modulo m: BigInt) -> BigInt {
        precondition(m.isOdd && e.signum > 0, "securePower needs an odd modulus and e > 0")
        return BigInt.make { pm_mpz_powm_sec($0, raw, e.raw, m.raw) }
    }

    /// The inverse of self mod m, or nil when gcd(self, m) ≠ 1.
    public func inverse(modulo m: BigInt) -> BigInt? {
        precondition(!m.isZero, "modulo zero")
        let r = MPZ()
        guard pm_mpz_invert(r.pointer, raw, m.raw) != 0 else { return nil }
        return BigInt(storage: r)
    }

    /// The exact square root of a perfect square ≥ 0; nil for anything else.
    public func squareRoot() -> BigInt? {
        guard signum >= 0, pm_mpz_perfect_square_p(raw) != 0 else { return nil }
        return BigInt.make { pm_mpz_sqrt($0, raw) }
    }

    /// gcd(a, b) ≥ 0.
    public static func gcd(_ a: BigInt, _ b: BigInt) -> BigInt { make { pm_mpz_gcd($0, a.raw, b.raw) } }

    /// |self|.
    public var magnitude: BigInt { isNegative ? -self : self }

    /// GMP's primality test (trial division, Baillie–PSW, then `reps` − 24 Miller–Rabin
    /// rounds with random bases in GMP 6.2): true for primes and, with probability below
    /// 4^−reps, for composites.
    public func isProbablePrime(rounds reps: Int = 40) -> Bool { pm_mpz_probab_prime_p(raw, Int32(reps)) != 0 }
}

extension BigInt: Equatable, Comparable, Hashable {
    public static func == (a: BigInt, b: BigInt) -> Bool { pm_mpz_cmp(a.raw, b.raw) == 0 }
    public static func < (a: BigInt, b: BigInt) -> Bool { pm_mpz_cmp(a.raw, b.raw) < 0 }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(signum)
        hasher.combine(bigEndianBytes())
    }
}

extension BigInt: CustomStringConvertible, ExpressibleByIntegerLiteral {
    public var description: String { toString() }
    public init(integerLiteral value: Int) { self.init(value) }
}

/// Big integers travel in JSON as decimal strings (so any language reads them exactly).
extension BigInt: Codable {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = BigInt(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "not a decimal integer: \(text.prefix(40))")
        }
        self = value
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(toString())
    }
}
