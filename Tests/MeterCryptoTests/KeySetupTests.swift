import MeterCrypto
import MeterSimulator
import TestSupport
import Testing

@Suite("Key setup derivations")
struct KeySetupTests {
    func seed(_ secret: [UInt8], _ group: UInt32, _ a: UInt32, _ b: UInt32) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var span = out.mutableSpan
        KeySetup.pairwiseSeed(sharedSecret: secret.span, group: group, meterA: a, meterB: b, into: &span)
        return out
    }

    @Test("pairwise seeds are symmetric and bound to group and meters")
    func pairwiseSeeds() {
        let secret = [UInt8](repeating: 0xA5, count: 384)
        #expect(seed(secret, 1, 3, 9) == seed(secret, 1, 9, 3))
        #expect(seed(secret, 1, 3, 9) != seed(secret, 2, 3, 9))
        #expect(seed(secret, 1, 3, 9) != seed(secret, 1, 3, 10))
        var other = secret
        other[383] ^= 1
        #expect(seed(secret, 1, 3, 9) != seed(other, 1, 3, 9))
    }

    @Test("the pairwise seed matches SHAKE256 of the specified input (Python hashlib)")
    func pairwiseSeedAgainstPython() throws {
        struct Case: Codable { let secret: String; let group: UInt32; let a: UInt32; let b: UInt32 }
        var rng = SeededGenerator(seed: 11)
        let cases = (0..<5).map { _ in
            Case(
                secret: Hex.encode(rng.bytes(384)),
                group: .random(in: 0...UInt32.max, using: &rng), a: .random(in: 0...1000, using: &rng),
                b: .random(in: 1001...5000, using: &rng))
        }
        let script = """
            import sys, json, hashlib
            out = []
            for c in json.load(sys.stdin):
                lo, hi = sorted((c["a"], c["b"]))
                data = b"PM-PAIR-v1" + c["group"].to_bytes(4, "big") + lo.to_bytes(4, "big") + hi.to_bytes(4, "big") + bytes.fromhex(c["secret"])
                out.append(hashlib.shake_256(data).hexdigest(32))
            print(json.dumps(out))
            """
        let expected = try PythonOracle.run(script, input: cases, as: [String].self)
        for (c, want) in zip(cases, expected) {
            #expect(Hex.encode(seed(Hex.decode(c.secret), c.group, c.b, c.a)) == want)
        }
    }

    @Test("zero shares of a whole group sum to zero", arguments: [2, 3, 17])
    func zeroSharesSumToZero(meters: Int) {
        let parameters = LWRParameters.standard
        var rng = SeededGenerator(seed: UInt64(meters))
        let ids = (0..<meters).map { UInt32($0 * 7 + 3) }
        // One seed per unordered pair, as the DH would give both ends.
        var pairSeeds: [[UInt32]: [UInt8]] = [:]
        for i in ids {
            for j in ids where i < j {
                pairSeeds[[i, j]] = rng.bytes(32)
            }
        }
        var total = [UInt64](repeating: 0, count: parameters.lambda)
        var someShareNonZero = false
        for i in ids {
            var share = [UInt64]()
            for chunk in 0..<(parameters.lambda / KeySetup.shareChunkWords) {
                var words = [UInt64](repeating: 0, count: KeySetup.shareChunkWords)
                var span = words.mutableSpan
                for j in ids where j != i {
                    let s = pairSeeds[[min(i, j), max(i, j)]]!
                    KeySetup.applyZeroShare(
                        parameters: parameters, pairwiseSeed: s.span, own: i, peer: j, chunk: chunk, to: &span)
                }
                share += words
            }
            someShareNonZero = someShareNonZero || share.contains { $0 != 0 }
            for w in 0..<share.count { total[w] &+= share[w] }
        }
        #expect(someShareNonZero)
        #expect(total.allSatisfy { $0 == 0 })
    }

    func verifies(_ key: [UInt8], _ group: UInt32, _ epoch: UInt32, _ meter: UInt32, _ y: [UInt8], _ tag: [UInt8])
        -> Bool
    {
        Enrolment.verify(
            enrolmentKey: key.span, group: group, epoch: epoch, meter: meter, publicKey: y.span, tag: tag.span)
    }

    @Test("enrolment tags verify only for the right key, group, epoch, meter and bytes")
    func enrolmentTags() {
        let key = [UInt8](repeating: 7, count: 32)
        let y = (0..<384).map { UInt8(truncatingIfNeeded: $0) }
        var tag = [UInt8](repeating: 0, count: 16)
        var span = tag.mutableSpan
        Enrolment.tag(enrolmentKey: key.span, group: 1, epoch: 3, meter: 5, publicKey: y.span, into: &span)
        #expect(verifies(key, 1, 3, 5, y, Array(tag)))
        var swapped = y
        swapped[100] ^= 0x01
        #expect(!verifies(key, 1, 3, 5, swapped, Array(tag)))
        #expect(!verifies(key, 1, 3, 6, y, Array(tag)))
        #expect(!verifies(key, 2, 3, 5, y, Array(tag)))
        #expect(!verifies(key, 1, 4, 5, y, Array(tag)))
        let otherKey = [UInt8](repeating: 8, count: 32)
        #expect(!verifies(otherKey, 1, 3, 5, y, Array(tag)))
        #expect(!verifies(key, 1, 3, 5, y, Array(tag[0..<15])))
    }
}
