import Foundation
import TestSupport
import Testing

@testable import MeterFirmware

/// The record protection every flash structure uses (FlashFormat.swift), against its
/// definition in docs/spec/flash-format.md and against Python.
@Suite("Flash record checksum and syndrome")
struct FlashFormatTests {
    /// The syndrome as flash-format.md defines it, one bit at a time.
    static func referenceSyndrome(_ bytes: [UInt8]) -> (UInt16, UInt8) {
        var s = 0
        var ones = 0
        for (i, b) in bytes.enumerated() {
            for bit in 0..<8 where b >> bit & 1 == 1 {
                s ^= 8 * i + bit + 1
                ones += 1
            }
        }
        return (UInt16(truncatingIfNeeded: s), UInt8(ones & 1))
    }

    static func syndrome(_ bytes: [UInt8]) -> (UInt16, UInt8) {
        var copy = bytes
        let span = copy.mutableSpan
        return FlashFormat.syndrome(span.span, count: bytes.count)
    }

    static func sealed(_ body: [UInt8], domain: StaticString) -> [UInt8] {
        var record = body + [UInt8](repeating: 0, count: FlashFormat.checksumBytes + FlashFormat.eccBytes)
        var span = record.mutableSpan
        FlashFormat.seal(&span, length: body.count + FlashFormat.checksumBytes, domain: domain)
        return record
    }

    static func verify(_ record: inout [UInt8], length: Int) -> RecordIntegrity {
        var span = record.mutableSpan
        return FlashFormat.verify(&span, length: length, domain: "PM-OB-v1")
    }

    @Test("the parity helper on every byte")
    func parity() {
        for v in 0..<256 { #expect(FlashFormat.oddParity(UInt32(v)) == UInt32(v.nonzeroBitCount & 1), "byte \(v)") }
    }

    @Test("the syndrome equals the bit-by-bit definition on every length up to a key store slot")
    func syndromeMatchesDefinition() {
        var rng = SystemRandomNumberGenerator()
        for length in [0, 1, 2, 7, 8, 9, 100, 117, 187, 188, 1020] + (0..<40).map({ _ in Int.random(in: 0...1023) }) {
            for fill in 0..<3 {
                let bytes: [UInt8] = (0..<length).map { _ in
                    fill == 0 ? 0xFF : fill == 1 ? 0x80 : UInt8.random(in: 0...255, using: &rng)
                }
                let (s, p) = Self.syndrome(bytes)
                let (rs, rp) = Self.referenceSyndrome(bytes)
                #expect(s == rs && p == rp, "length \(length), fill \(fill)")
            }
        }
    }

    @Test("every single flipped bit of a sealed record is corrected; two are never accepted as clean")
    func correction() {
        let body = (0..<117).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let record = Self.sealed(body, domain: "PM-OB-v1")
        let length = body.count + FlashFormat.checksumBytes
        var clean = record
        #expect(Self.verify(&clean, length: length) == .clean)
        for position in 0..<(record.count * 8) {
            var r = record
            r[position / 8] ^= UInt8(1) << UInt8(position % 8)
            #expect(Self.verify(&r, length: length) == .corrected, "bit \(position)")
            #expect(Array(r[0..<length]) == Array(record[0..<length]), "bit \(position) restored")
        }
        var wrong = 0
        for _ in 0..<2000 {
            var r = record
            let a = Int.random(in: 0..<(length * 8))
            var b = Int.random(in: 0..<(length * 8))
            while b == a { b = Int.random(in: 0..<(length * 8)) }
            r[a / 8] ^= UInt8(1) << UInt8(a % 8)
            r[b / 8] ^= UInt8(1) << UInt8(b % 8)
            if Self.verify(&r, length: length) != .invalid { wrong += 1 }
        }
        #expect(wrong == 0)
    }

    @Test("a sealed record is the format's bytes: SHAKE128 checksum and syndrome as Python computes them")
    func crossCheck() throws {
        struct Case: Codable { let body: String }
        struct Output: Codable { let records: [String] }
        let bodies: [[UInt8]] = [
            [], [0xFF], Array(repeating: 0xFF, count: 117),
            (0..<187).map { UInt8(truncatingIfNeeded: $0 &* 101 &+ 7) },
            (0..<1012).map { UInt8(truncatingIfNeeded: $0 &* 13 ^ $0 >> 3) },
        ]
        let script = """
            import hashlib, json, sys
            out = []
            for case in json.load(sys.stdin):
                body = bytes.fromhex(case["body"])
                record = body + hashlib.shake_128(b"PM-OB-v1" + body).digest(8)
                s, ones = 0, 0
                for i, b in enumerate(record):
                    for bit in range(8):
                        if b >> bit & 1:
                            s ^= 8 * i + bit + 1
                            ones += 1
                out.append((record + bytes([s >> 8 & 0xFF, s & 0xFF, ones & 1])).hex())
            print(json.dumps({"records": out}))
            """
        let out = try PythonOracle.run(script, input: bodies.map { Case(body: Hex.encode($0)) }, as: Output.self)
        #expect(out.records == bodies.map { Hex.encode(Self.sealed($0, domain: "PM-OB-v1")) })
    }
}
