import BigNum
import Foundation
import MeterSimulator
import TestSupport
import Testing

@Suite("BigInt (GMP mpz wrapper)")
struct BigIntTests {
    @Test("decimal and big-endian round trips, including zero and negatives")
    func roundTrips() throws {
        for text in ["0", "1", "-1", "18446744073709551616", "-340282366920938463463374607431768211457"] {
            let x = try #require(BigInt(text))
            #expect(x.description == text)
        }
        #expect(BigInt("12a") == nil)
        #expect(BigInt("") == nil)
        #expect(BigInt(" 12") == nil)
        #expect(BigInt("ff", radix: 16) == BigInt(255))
        let bytes: [UInt8] = [0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
        #expect(BigInt(bigEndian: bytes).description == "18446744073709551616")
        #expect(BigInt(bigEndian: bytes).bigEndianBytes() == bytes)
        #expect(BigInt(5).bigEndianBytes(length: 4) == [0, 0, 0, 5])
        #expect(BigInt(65536).bigEndianBytes(length: 2) == nil)
        #expect(BigInt().bigEndianBytes() == [0])
    }

    @Test("arithmetic agrees with machine integers on random inputs")
    func arithmetic() {
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<500 {
            let a = Int.random(in: -1_000_000_000...1_000_000_000, using: &rng)
            let b = Int.random(in: 1...1_000_000, using: &rng) * (Bool.random(using: &rng) ? 1 : -1)
            #expect(BigInt(a) + BigInt(b) == BigInt(a + b))
            #expect(BigInt(a) - BigInt(b) == BigInt(a - b))
            #expect(BigInt(a) * BigInt(b) == BigInt(a * b))
            #expect(BigInt(a) / BigInt(b) == BigInt(a / b))
            #expect(BigInt(a).quotientAndRemainder(dividingBy: BigInt(b)).remainder == BigInt(a % b))
            let m = abs(b)
            #expect(BigInt(a).modulo(BigInt(b)) == BigInt(((a % m) + m) % m))
            #expect((BigInt(a) < BigInt(b)) == (a < b))
        }
    }

    @Test("copies are independent (copy on write)")
    func copyOnWrite() {
        let a = BigInt(10)
        var b = a
        b += BigInt(5)
        b.multiply(by: BigInt(3), modulo: BigInt(7))
        #expect(a == BigInt(10))
        #expect(b == BigInt(45 % 7))
    }

    @Test("modular arithmetic: power, secure power, inverse, gcd")
    func modular() throws {
        let p = try #require(BigInt("170141183460469231731687303715884105727"))  // 2^127 − 1
        let a = BigInt(123_456_789)
        // Fermat: a^(p−1) = 1 mod p.
        #expect(a.power(p - 1, modulo: p) == BigInt(1))
        #expect(a.securePower(p - 1, modulo: p) == BigInt(1))
        let inv = try #require(a.inverse(modulo: p))
        #expect((a * inv).modulo(p) == BigInt(1))
        #expect(BigInt(6).inverse(modulo: BigInt(9)) == nil)
        #expect(BigInt.gcd(BigInt(84), BigInt(-36)) == BigInt(12))
        #expect(p.isProbablePrime())
        #expect(!(p * BigInt(3)).isProbablePrime())
    }

    @Test("random primes have exactly the requested size and the top two bits set")
    func randomPrime() {
        var rng = SeededGenerator(seed: 11)
        for bits in [64, 256, 512] {
            let p = BigInt.randomPrime(bits: bits, using: &rng)
            #expect(p.bitWidth == bits)
            #expect(p.bit(bits - 2))
            #expect(p.isProbablePrime())
        }
        let bound = BigInt(1000)
        for _ in 0..<200 {
            let r = BigInt.random(below: bound, using: &rng)
            #expect(r > BigInt(0) && r < bound)
        }
    }

    @Test("JSON carries big integers as decimal strings")
    func json() throws {
        let x = try #require(BigInt("-98765432109876543210987654321"))
        let data = try JSONEncoder().encode([x])
        #expect(String(decoding: data, as: UTF8.self) == "[\"-98765432109876543210987654321\"]")
        #expect(try JSONDecoder().decode([BigInt].self, from: data) == [x])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([BigInt].self, from: Data("[\"1x\"]".utf8)) }
    }
}
