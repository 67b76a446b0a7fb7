import MeterCrypto
import MeterSimulator
import TestSupport
import Testing

extension SLHDSAParameters {
    /// The sets the vector file names.
    static let named: [String: SLHDSAParameters] = ["shake128f": .shake128f, "shake128s": .shake128s]
}

/// The context string every vector and statement uses.
let statementContext: StaticString = "PM-STATEMENT-v1"

/// Runs the streaming verifier with the signature cut at the given chunk sizes (cycled).
func verifyChunked(
    _ parameters: SLHDSAParameters, publicKey: [UInt8], message: [UInt8], signature: [UInt8],
    chunks: [Int], context: StaticString = statementContext
) -> Bool {
    var verifier = SLHDSAVerifier(parameters: parameters, publicKey: publicKey.span, context: context)
    var offset = 0
    var i = 0
    while offset < signature.count {
        let size = min(chunks[i % chunks.count], signature.count - offset)
        #expect(verifier.bytesRemaining == parameters.signatureBytes - offset)
        verifier.absorb(signature: signature.span.extracting(offset..<(offset + size)), message: message.span)
        offset += size
        i += 1
    }
    return verifier.finish()
}

func verifyOneShot(
    _ parameters: SLHDSAParameters, publicKey: [UInt8], message: [UInt8], signature: [UInt8],
    context: StaticString = statementContext
) -> Bool {
    SLHDSA.verify(
        parameters: parameters, publicKey: publicKey.span, message: message.span, signature: signature.span,
        context: context)
}

@Suite("SLH-DSA verifier (FIPS 205, SHAKE)")
struct SLHDSAVerifierTests {
    @Test("parameter sets: FIPS 205 table 2 sizes")
    func parameterSizes() {
        let f = SLHDSAParameters.shake128f
        #expect(f.signatureBytes == 17088 && f.publicKeyBytes == 32 && f.len == 35 && f.id == 27)
        let s = SLHDSAParameters.shake128s
        #expect(s.signatureBytes == 7856 && s.publicKeyBytes == 32 && s.len == 35 && s.id == 26)
        #expect(f != s)
    }

    @Test("the verifier's state stays small (≤ 1.5 KB)")
    func stateSize() {
        let size = MemoryLayout<SLHDSAVerifier>.size
        print("MemoryLayout<SLHDSAVerifier>.size = \(size) bytes")
        #expect(size <= 1536)
    }

    @Test("accepts every slhdsa vector, one-shot and in chunks of 1 and 1024 bytes")
    func acceptsVectors() throws {
        let vectors = try SLHDSAVectors.load()
        #expect(vectors.context == "\(statementContext)")
        #expect(vectors.cases.count == 6)
        for item in vectors.cases {
            let parameters = try #require(SLHDSAParameters.named[item.parameters])
            let pk = Hex.decode(item.publicKey)
            let message = Hex.decode(item.message)
            let signature = Hex.decode(item.signature)
            #expect(signature.count == parameters.signatureBytes)
            #expect(verifyOneShot(parameters, publicKey: pk, message: message, signature: signature))
            #expect(verifyChunked(parameters, publicKey: pk, message: message, signature: signature, chunks: [1024]))
            if parameters == .shake128f {
                #expect(verifyChunked(parameters, publicKey: pk, message: message, signature: signature, chunks: [1]))
            }
        }
    }

    @Test("random chunk sizes 1...1024 give the one-shot verdict, valid or not")
    func randomChunks() throws {
        let vectors = try SLHDSAVectors.load()
        var rng = SeededGenerator(seed: 205)
        for item in vectors.cases {
            let parameters = try #require(SLHDSAParameters.named[item.parameters])
            let pk = Hex.decode(item.publicKey)
            let message = Hex.decode(item.message)
            var signature = Hex.decode(item.signature)
            for round in 0..<4 {
                if round == 2 { signature[Int.random(in: 0..<signature.count, using: &rng)] ^= 0x10 }
                let chunks = (0..<16).map { _ in Int.random(in: 1...1024, using: &rng) }
                let oneShot = verifyOneShot(parameters, publicKey: pk, message: message, signature: signature)
                #expect(oneShot == (round < 2))
                #expect(
                    verifyChunked(parameters, publicKey: pk, message: message, signature: signature, chunks: chunks)
                        == oneShot, "chunks \(chunks)")
            }
        }
    }

    /// Byte offsets to tamper with: R, the first and last FORS element and one in the middle
    /// tree, and in every
    /// hypertree layer its first WOTS+ value, its last one (checksum) and its last
    /// authentication node.
    static func tamperOffsets(_ p: SLHDSAParameters) -> [(String, Int)] {
        var offsets: [(String, Int)] = [
            ("R", 0), ("FORS secret 0", p.n), ("FORS last auth", p.n + p.forsSignatureBytes - 1),
            ("FORS middle tree auth 1", p.n + (p.k / 2 * (p.a + 1) + 2) * p.n + 9),
        ]
        let ht = p.n + p.forsSignatureBytes
        for layer in 0..<p.d {
            let base = ht + layer * p.xmssSignatureBytes
            offsets.append(("layer \(layer) WOTS 0", base + 3))
            offsets.append(("layer \(layer) WOTS checksum", base + (p.len - 1) * p.n + 5))
            offsets.append(("layer \(layer) auth", base + p.xmssSignatureBytes - 1))
        }
        return offsets
    }

    @Test("a flipped bit in R, FORS or any hypertree layer is rejected", arguments: ["shake128f", "shake128s"])
    func flippedBits(set: String) throws {
        let vectors = try SLHDSAVectors.load()
        let item = try #require(vectors.cases.first { $0.parameters == set })
        let parameters = try #require(SLHDSAParameters.named[set])
        let pk = Hex.decode(item.publicKey)
        let message = Hex.decode(item.message)
        let signature = Hex.decode(item.signature)
        for (part, offset) in Self.tamperOffsets(parameters) {
            for bit in [0, 7] {
                var bad = signature
                bad[offset] ^= UInt8(1 << bit)
                #expect(
                    !verifyOneShot(parameters, publicKey: pk, message: message, signature: bad), "\(part), bit \(bit)")
            }
        }
    }

    @Test("wrong message, key, context, length and key size are rejected without trapping")
    func rejectsMismatches() throws {
        let vectors = try SLHDSAVectors.load()
        let item = try #require(vectors.cases.first { $0.parameters == "shake128f" && !$0.message.isEmpty })
        let p = SLHDSAParameters.shake128f
        let pk = Hex.decode(item.publicKey)
        let message = Hex.decode(item.message)
        let signature = Hex.decode(item.signature)
        #expect(verifyOneShot(p, publicKey: pk, message: message, signature: signature))

        var otherMessage = message
        otherMessage[0] ^= 1
        #expect(!verifyOneShot(p, publicKey: pk, message: otherMessage, signature: signature))
        #expect(!verifyOneShot(p, publicKey: pk, message: message + [0], signature: signature))
        #expect(!verifyOneShot(p, publicKey: pk, message: [], signature: signature))

        for index in [0, 15, 16, 31] {
            var otherKey = pk
            otherKey[index] ^= 0x80
            #expect(!verifyOneShot(p, publicKey: otherKey, message: message, signature: signature), "key byte \(index)")
        }
        #expect(!verifyOneShot(p, publicKey: Array(pk.prefix(31)), message: message, signature: signature))
        #expect(!verifyOneShot(p, publicKey: pk + [0], message: message, signature: signature))
        #expect(!verifyOneShot(p, publicKey: [], message: message, signature: signature))

        #expect(!verifyOneShot(p, publicKey: pk, message: message, signature: signature, context: "PM-STATEMENT-v2"))
        #expect(!verifyOneShot(p, publicKey: pk, message: message, signature: signature, context: ""))
        let tooLong: StaticString = """
            0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\
            0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\
            01234567890123456789012345678901234567890123456789012345
            """
        #expect(tooLong.utf8CodeUnitCount == 256)
        #expect(!verifyOneShot(p, publicKey: pk, message: message, signature: signature, context: tooLong))

        // The same signature checked under the other parameter set (same n, other layout).
        #expect(!verifyOneShot(.shake128s, publicKey: pk, message: message, signature: Array(signature.prefix(7856))))

        #expect(!verifyOneShot(p, publicKey: pk, message: message, signature: Array(signature.dropLast())))
        #expect(!verifyOneShot(p, publicKey: pk, message: message, signature: Array(signature.prefix(16))))
        #expect(!verifyOneShot(p, publicKey: pk, message: message, signature: []))
        #expect(!verifyOneShot(p, publicKey: pk, message: message, signature: signature + [0]))
        #expect(!verifyOneShot(p, publicKey: pk, message: message, signature: [UInt8](repeating: 0, count: 17088)))
    }

    @Test("bytes past the end, in a later chunk, make finish() false; bytesRemaining counts down")
    func extraBytesLater() throws {
        let vectors = try SLHDSAVectors.load()
        let item = try #require(vectors.cases.first { $0.parameters == "shake128f" })
        let p = SLHDSAParameters.shake128f
        let pk = Hex.decode(item.publicKey)
        let message = Hex.decode(item.message)
        let signature = Hex.decode(item.signature)
        var verifier = SLHDSAVerifier(parameters: p, publicKey: pk.span, context: statementContext)
        #expect(verifier.bytesRemaining == 17088)
        #expect(!verifier.finish())
        verifier.absorb(signature: signature.span, message: message.span)
        #expect(verifier.bytesRemaining == 0)
        #expect(verifier.finish())
        let extra: [UInt8] = [0]
        verifier.absorb(signature: extra.span, message: message.span)
        #expect(!verifier.finish())
        // An empty chunk changes nothing.
        var again = SLHDSAVerifier(parameters: p, publicKey: pk.span, context: statementContext)
        again.absorb(signature: [UInt8]().span, message: message.span)
        again.absorb(signature: signature.span, message: message.span)
        again.absorb(signature: [UInt8]().span, message: message.span)
        #expect(again.finish())
    }
}
