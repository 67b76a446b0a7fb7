import MeterCrypto
import TestSupport
import Testing

struct PaillierVectors: Decodable {
    struct Case: Decodable {
        let m: String
        let r: String
        let c: String
    }
    struct Key: Decodable {
        let bits: Int
        let n: String
        let cases: [Case]
    }
    let keys: [Key]
}

/// The meter's Paillier encryption against known answers from python-paillier (phe):
/// Vectors/paillier_phe.json, made by scripts/vectors/make_paillier_vectors.py.
@Suite("Paillier known answers (python-paillier)")
struct PaillierKATTests {
    @Test("firmware encryption reproduces phe's raw_encrypt(m, r) at 2048 and 3072 bits")
    func knownAnswers() throws {
        let vectors = try Vectors.load("paillier_phe", as: PaillierVectors.self)
        #expect(vectors.keys.map(\.bits) == [2048, 3072])
        for key in vectors.keys {
            let meterKey = try Self.meterKey(Hex.decode(key.n))
            #expect(meterKey.modulusBits == key.bits)
            #expect(key.cases.count >= 10)
            for item in key.cases {
                let m = try #require(UInt64(item.m))
                var randomizer = PaillierRandomizer()
                #expect(Self.precompute(&randomizer, meterKey, Hex.decode(item.r)), "r rejected, m = \(m)")
                var out = [UInt8](repeating: 0, count: meterKey.ciphertextBytes)
                try Self.encrypt(&out, m, &randomizer, meterKey)
                #expect(Hex.encode(out) == item.c, "\(key.bits) bits, m = \(m)")
            }
        }
    }

    static func meterKey(_ n: [UInt8]) throws -> PaillierMeterKey { try PaillierMeterKey(modulusBigEndian: n.span) }

    static func precompute(_ randomizer: inout PaillierRandomizer, _ key: PaillierMeterKey, _ r: [UInt8]) -> Bool {
        randomizer.precompute(key: key, randomBytes: r.span)
    }

    static func encrypt(
        _ out: inout [UInt8], _ m: UInt64, _ randomizer: inout PaillierRandomizer, _ key: PaillierMeterKey
    )
        throws
    {
        var span = out.mutableSpan
        try Paillier.encrypt(reading: m, randomizer: &randomizer, key: key, into: &span)
    }
}
