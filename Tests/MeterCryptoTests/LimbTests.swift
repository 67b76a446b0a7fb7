import Foundation
import MeterCrypto
import MeterSimulator
import TestSupport
import Testing

/// The limbs of the big-endian number `bytes` at width L, least significant first,
/// computed here without `Limb` (the reference the conversions are checked against).
func referenceLimbs<L: FixedWidthInteger & UnsignedInteger>(_ bytes: [UInt8], as _: L.Type) -> [L] {
    let size = L.bitWidth / 8
    let count = (bytes.count + size - 1) / size
    let padded = [UInt8](repeating: 0, count: count * size - bytes.count) + bytes
    return (0..<count).map { i in
        let end = padded.count - size * i
        return padded[(end - size)..<end].reduce(L(0)) { $0 << 8 | L($1) }
    }
}

/// `Limb.read` of `bytes` into `count` limbs of width L.
func readLimbs<L: FixedWidthInteger & UnsignedInteger>(_ bytes: [UInt8], count: Int, as _: L.Type) -> [L] {
    var out = [L](repeating: 0, count: count)
    var span = out.mutableSpan
    Limb.read(bigEndian: bytes.span, into: &span, limbs: count)
    return out
}

/// `Limb.split` of a word table into limbs of width L.
func splitWords<let n: Int, L: FixedWidthInteger & UnsignedInteger>(
    _ words: InlineArray<n, UInt64>, as _: L.Type
) -> [L] {
    var out = [L](repeating: 0, count: n * 64 / L.bitWidth)
    var span = out.mutableSpan
    Limb.split(words: words.span, into: &span)
    return out
}

/// Big-endian bytes of a hex string with a possible 0x and leading zero digits, padded
/// to `count` bytes.
func bigEndian(hex: String, count: Int) -> [UInt8] {
    var digits = hex.hasPrefix("0x") ? String(hex.dropFirst(2)) : hex
    digits = String(repeating: "0", count: max(0, 2 * count - digits.count)) + digits
    return Hex.decode(digits)
}

/// The limb width is a property of the target (64 bits on x86_64, 32 on the Cortex-M4):
/// these tests run the width-generic conversions at both widths on the host, against the
/// same vectors. The arithmetic (GMP's mpn_sec_* with 32-bit limbs) runs only on the M4.
@Suite("Limbs at both widths (x86_64 and Cortex-M4)")
struct LimbTests {
    @Test("limb counts follow the width; this target's buffers hold the bits their names say")
    func counts() {
        #expect(Limb.bits == UInt.bitWidth)
        #expect(Limb.bytes * 8 == Limb.bits)
        let sizes = [64, 256, 280, 384, 2816, 3072, 3136, 3200, 6144, 9280]
        let at64 = [1, 4, 5, 6, 44, 48, 49, 50, 96, 145]
        let at32 = [2, 8, 9, 12, 88, 96, 98, 100, 192, 290]
        #expect(sizes.map { Limb.count(bits: $0, limbBits: 64) } == at64)
        #expect(sizes.map { Limb.count(bits: $0, limbBits: 32) } == at32)
        #expect(sizes.map { Limb.count(bits: $0) } == (Limb.bits == 64 ? at64 : at32))
        #expect(Limb.buffersMatchWidth)
        #expect(Limbs3072.limbCount * Limb.bits == 3072)
        #expect(PaillierMeterKey.maxModulusLimbs * Limb.bits == 3072)
    }

    @Test("bytes to limbs and back at 8, 16, 32 and 64 bits")
    func roundTrip() throws {
        var rng = SeededGenerator(seed: 11)
        for byteCount in [32, 35, 384, 400, 768] {
            let bytes = rng.bytes(byteCount)
            func check<L: FixedWidthInteger & UnsignedInteger>(_ type: L.Type) {
                let count = Limb.count(bits: 8 * byteCount, limbBits: L.bitWidth)
                let limbs = readLimbs(bytes, count: count, as: type)
                #expect(limbs == referenceLimbs(bytes, as: type), "\(byteCount) bytes at \(L.bitWidth) bits")
                var out = [UInt8](repeating: 0xA5, count: count * L.bitWidth / 8 + 3)
                var span = out.mutableSpan
                Limb.write(limbs.span, limbs: count, bigEndianInto: &span, at: 2)
                let padding = count * L.bitWidth / 8 - byteCount
                #expect(out[0..<2] == [0xA5, 0xA5] && out.last == 0xA5)
                #expect(Array(out[2..<(2 + padding)]) == [UInt8](repeating: 0, count: padding))
                #expect(Array(out[(2 + padding)..<(out.count - 1)]) == bytes)
            }
            check(UInt8.self)
            check(UInt16.self)
            check(UInt32.self)
            check(UInt64.self)
            check(UInt.self)
        }
    }

    @Test("a read leaves the limbs past the count alone")
    func readStopsAtCount() {
        var out = [UInt32](repeating: 0xDEAD_BEEF, count: 4)
        var span = out.mutableSpan
        Limb.read(bigEndian: [1, 2, 3].span, into: &span, limbs: 2)
        #expect(out == [0x0001_0203, 0, 0xDEAD_BEEF, 0xDEAD_BEEF])
    }

    @Test("32-bit limbs are the halves of 64-bit ones")
    func widthsAgree() {
        var rng = SeededGenerator(seed: 12)
        for byteCount in [35, 384, 400] {
            let bytes = rng.bytes(byteCount)
            let words = readLimbs(bytes, count: Limb.count(bits: 8 * byteCount, limbBits: 64), as: UInt64.self)
            let halves = readLimbs(bytes, count: 2 * words.count, as: UInt32.self)
            var split = [UInt32](repeating: 0, count: 2 * words.count)
            var span = split.mutableSpan
            for (i, word) in words.enumerated() { Limb.store(word, into: &span, at: 2 * i) }
            #expect(halves == split)
            #expect(halves == words.flatMap { [UInt32(truncatingIfNeeded: $0), UInt32($0 >> 32)] })
        }
    }

    @Test("a 64-bit value is one limb on x86_64, two on the M4")
    func sixtyFourBitValues() {
        for value: UInt64 in [0, 1, 0xFFFF_FFFF, 0x1_0000_0000, 0x0123_4567_89AB_CDEF, .max] {
            let limbs = Limb.limbs(value)
            var rebuilt: UInt64 = 0
            for i in 0..<limbs.count { rebuilt |= UInt64(limbs[i]) << UInt64(i * Limb.bits) }
            #expect(rebuilt == value)
            #expect(limbs.count == 64 / Limb.bits)
            var halves = [UInt32](repeating: 0, count: 2)
            var span = halves.mutableSpan
            Limb.store(value, into: &span, at: 0)
            #expect(halves == [UInt32(truncatingIfNeeded: value), UInt32(value >> 32)])
        }
    }

    @Test("the ffdhe3072 prime's word table is RFC 7919's p at both widths")
    func ffdhTable() {
        let p = Hex.decode(rfc7919Ffdhe3072PHex)
        #expect(splitWords(FFDHGroup.primeWords, as: UInt64.self) == referenceLimbs(p, as: UInt64.self))
        #expect(splitWords(FFDHGroup.primeWords, as: UInt32.self) == referenceLimbs(p, as: UInt32.self))
        #expect(encoded(FFDHGroup.prime) == p)
        #expect((0..<Limbs3072.limbCount).map { FFDHGroup.prime.limbs[$0] } == referenceLimbs(p, as: UInt.self))
    }

    @Test("the DMCFE group's word tables are the recorded parameters at both widths")
    func dmcfeTables() throws {
        let file = try DMCFETests().groupFile()
        let p = bigEndian(hex: file.p, count: 384)
        let q = bigEndian(hex: file.q, count: 32)
        let g = bigEndian(hex: file.g, count: 384)
        // (p − 1)/q, independently of the firmware's table.
        struct In: Codable { let p: String; let q: String }
        struct Out: Codable { let cofactor: String }
        let out = try PythonOracle.run(
            """
            import sys, json
            c = json.load(sys.stdin); p, q = int(c["p"], 16), int(c["q"], 16)
            assert (p - 1) % q == 0
            print(json.dumps({"cofactor": "%0704x" % ((p - 1) // q)}))
            """, input: In(p: file.p, q: file.q), as: Out.self)
        let cofactor = Hex.decode(out.cofactor)
        func check<L: FixedWidthInteger & UnsignedInteger>(_ type: L.Type) {
            #expect(splitWords(DMCFEGroup.primeWords, as: type) == referenceLimbs(p, as: type))
            #expect(splitWords(DMCFEGroup.orderWords, as: type) == referenceLimbs(q, as: type))
            #expect(splitWords(DMCFEGroup.generatorWords, as: type) == referenceLimbs(g, as: type))
            #expect(splitWords(DMCFEGroup.cofactorWords, as: type) == referenceLimbs(cofactor, as: type))
        }
        check(UInt32.self)
        check(UInt64.self)
        // This target's limbs (what the firmware computes with).
        check(UInt.self)
        #expect(Array(DMCFEGroup.cofactorLimbs) == referenceLimbs(cofactor, as: UInt.self))
        #expect(Array(DMCFEGroup.orderLimbs) == referenceLimbs(q, as: UInt.self))
        #expect(encoded(DMCFEGroup.prime) == p)
        #expect(encoded(DMCFEGroup.generator) == g)
        #expect(DMCFEGroup.cofactorBits == 8 * cofactor.count)
    }
}

extension Array {
    /// The elements of an InlineArray, for comparisons in tests.
    init<let n: Int>(_ inline: InlineArray<n, Element>) { self = (0..<n).map { inline[$0] } }
}
