import MeterCrypto
import MeterSimulator
import TestSupport
import Testing

/// Every check runs on both state representations (the target's `XOF` is one of them): 64-bit
/// lanes and bit-interleaved 32-bit words.
@Suite("XOF: SHAKE128, SHAKE256, TurboSHAKE128")
struct XOFTests {
    struct SHAKEVector: Decodable {
        var file: String
        var message: String
        var output: String
    }

    struct SHAKEFile: Decodable {
        var source: String
        var shake128: [SHAKEVector]
        var shake256: [SHAKEVector]
    }

    struct TurboSHAKEVector: Decodable {
        var name: String
        var messageHex: String?
        var ptnLength: Int?
        var domain: UInt8
        var outputLength: Int
        var expectedTail: String
    }

    struct TurboSHAKEFile: Decodable {
        var source: String
        var vectors: [TurboSHAKEVector]
    }

    static let algorithms: [XOFAlgorithm] = [.shake128, .shake256, .turboShake128]

    // MARK: Known answers

    @Test("NIST CAVP SHAKE byte-oriented vectors (ShortMsg, LongMsg, VariableOut)", arguments: StateRepresentation.allCases)
    func nistCAVP(representation: StateRepresentation) throws {
        let file = try Vectors.load("shake_nist_cavp", as: SHAKEFile.self)
        #expect(file.shake128.count > 600 && file.shake256.count > 500)
        for (algorithm, vectors) in [(XOFAlgorithm.shake128, file.shake128), (.shake256, file.shake256)] {
            for v in vectors {
                let message = Hex.decode(v.message)
                let output = xofOutput(
                    algorithm, message: message, count: v.output.count / 2, representation: representation)
                #expect(Hex.encode(output) == v.output, "\(v.file), message of \(message.count) bytes")
            }
        }
    }

    @Test("Keccak team SHAKE KATs: 512-byte outputs, squeezed as bytes and as words", arguments: StateRepresentation.allCases)
    func keccakTeamKAT(representation: StateRepresentation) throws {
        let file = try Vectors.load("shake_keccak_kat", as: SHAKEFile.self)
        #expect(file.shake128.count > 30 && file.shake256.count > 30)
        for (algorithm, vectors) in [(XOFAlgorithm.shake128, file.shake128), (.shake256, file.shake256)] {
            for v in vectors {
                let message = Hex.decode(v.message)
                let expected = Hex.decode(v.output)
                #expect(
                    xofOutput(algorithm, message: message, count: expected.count, representation: representation)
                        == expected, "\(v.file)")
                let words = squeezedWords(representation.stateType, algorithm, message, count: expected.count / 8)
                #expect(words.flatMap(littleEndianBytes) == expected, "\(v.file), words")
            }
        }
    }

    @Test("RFC 9861 TurboSHAKE128 vectors, including ptn(17^i) and D bytes 01 to 7F", arguments: StateRepresentation.allCases)
    func turboSHAKE128RFC9861(representation: StateRepresentation) throws {
        let file = try Vectors.load("turboshake128_rfc9861", as: TurboSHAKEFile.self)
        #expect(file.vectors.count == 16)
        for v in file.vectors {
            let message = v.messageHex.map(Hex.decode) ?? ptn(v.ptnLength ?? 0)
            let output = xofOutput(
                .turboShake128, domain: v.domain, message: message, count: v.outputLength,
                representation: representation)
            let tail = output.suffix(v.expectedTail.count / 2)
            #expect(Hex.encode(tail) == v.expectedTail, "\(v.name)")
        }
    }

    @Test("absorbing a StaticString absorbs its UTF-8 bytes", arguments: StateRepresentation.allCases)
    func staticStringIsUTF8(representation: StateRepresentation) {
        staticStringIsUTF8(representation.stateType)
    }

    func staticStringIsUTF8<S: KeccakState>(_: S.Type) {
        for algorithm in Self.algorithms {
            var tagged = KeccakSponge<S>(algorithm)
            tagged.absorb("PrivateMetering/LWR-PSA/a_l ü")
            #expect(
                tagged.squeeze(count: 64)
                    == xofOutput(algorithm, message: Array("PrivateMetering/LWR-PSA/a_l ü".utf8), count: 64))
        }
    }

    @Test("integers are absorbed big-endian, at any position and on lane boundaries", arguments: StateRepresentation.allCases)
    func integerAbsorbers(representation: StateRepresentation) {
        integerAbsorbers(representation.stateType)
    }

    func integerAbsorbers<S: KeccakState>(_: S.Type) {
        for algorithm in Self.algorithms {
            var xof = KeccakSponge<S>(algorithm)
            xof.absorb(0xA5 as UInt8)
            xof.absorb(bigEndian: 0x0102_0304 as UInt32)
            xof.absorb(bigEndian: 0x1122_3344_5566_7788 as UInt64)
            var bytes: [UInt8] = [0xA5, 1, 2, 3, 4, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]
            // 3 more bytes reach a lane boundary; then 64-bit integers on boundaries, across blocks.
            for byte: UInt8 in [0xB1, 0xB2, 0xB3] {
                xof.absorb(byte)
                bytes.append(byte)
            }
            for i in 0..<60 {
                let value = 0x0123_4567_89AB_CDEF &* UInt64(i + 1)
                xof.absorb(bigEndian: value)
                bytes += (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
            }
            #expect(xof.squeeze(count: 200) == xofOutput(algorithm, message: bytes, count: 200))
        }
    }

    // MARK: Independent implementation

    @Test("random inputs and lengths against Python (hashlib SHAKE, pycryptodome TurboSHAKE128)")
    func randomAgainstPython() throws {
        var rng = SeededGenerator(seed: 0x5348_414B_4531_3238)
        // Lengths around both rates (136, 168), their multiples, and random ones.
        let edgeLengths = [0, 1, 7, 8, 9, 135, 136, 137, 167, 168, 169, 271, 272, 273, 335, 336, 337, 504, 1000]
        var cases: [XOFOracle.Case] = []
        var inputs: [(XOFAlgorithm, UInt8, [UInt8])] = []
        for index in 0..<360 {
            let algorithm = Self.algorithms[index % 3]
            let messageLength =
                index < 3 * edgeLengths.count ? edgeLengths[index / 3] : Int.random(in: 0...1200, using: &rng)
            let outputLength =
                index % 2 == 0 ? edgeLengths.randomElement(using: &rng)! : Int.random(in: 0...700, using: &rng)
            let domain: UInt8 =
                algorithm == .turboShake128 && index % 4 != 0 ? UInt8.random(in: 1...0x7F, using: &rng) : 0x1F
            let message = rng.bytes(messageLength)
            let name = ["shake128", "shake256", "turboshake128"][index % 3]
            cases.append(
                .init(algorithm: name, message: Hex.encode(message), outputLength: outputLength, domain: Int(domain)))
            inputs.append((algorithm, domain, message))
        }
        let expected = try XOFOracle.outputs(for: cases)
        for representation in StateRepresentation.allCases {
            for (i, (algorithm, domain, message)) in inputs.enumerated() {
                let output = xofOutput(
                    algorithm, domain: domain, message: message, count: cases[i].outputLength,
                    representation: representation)
                #expect(
                    Hex.encode(output) == expected[i],
                    "\(representation) case \(i): \(cases[i].algorithm) D=\(domain) message \(message.count) bytes, output \(cases[i].outputLength)"
                )
            }
        }
    }

    // MARK: Streaming

    @Test("chunked absorbing and mixed word/byte squeezing equal the one-shot output", arguments: StateRepresentation.allCases)
    func streamingEquivalence(representation: StateRepresentation) {
        streamingEquivalence(representation.stateType)
    }

    func streamingEquivalence<S: KeccakState>(_: S.Type) {
        var rng = SeededGenerator(seed: 42)
        for round in 0..<150 {
            let algorithm = Self.algorithms[round % 3]
            let message = rng.bytes(Int.random(in: 0...900, using: &rng))
            let total = 1200
            let reference = xofOutput(algorithm, message: message, count: total)

            var xof = KeccakSponge<S>(algorithm)
            var start = 0
            while start < message.count {
                let end = min(message.count, start + Int.random(in: 0...200, using: &rng))
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: for byte in message[start..<end] { xof.absorb(byte) }
                default: xof.absorb(message[start..<end].span)
                }
                start = end
            }
            var output: [UInt8] = []
            while output.count < total - 8 {
                if Bool.random(using: &rng) {
                    output += littleEndianBytes(xof.squeezeWord())
                } else {
                    output += xof.squeeze(count: min(Int.random(in: 0...50, using: &rng), total - output.count))
                }
            }
            #expect(output == Array(reference.prefix(output.count)), "round \(round), \(algorithm)")
        }
    }

    @Test("squeezeWord is the next 8 squeezed bytes read little-endian, at every alignment", arguments: StateRepresentation.allCases)
    func squeezeWordIsLittleEndianBytes(representation: StateRepresentation) {
        squeezeWordIsLittleEndianBytes(representation.stateType)
    }

    func squeezeWordIsLittleEndianBytes<S: KeccakState>(_: S.Type) {
        for algorithm in Self.algorithms {
            for skip in 0..<17 {
                var byWords = KeccakSponge<S>(algorithm)
                byWords.absorb("squeezeWord")
                var byBytes = byWords
                #expect(byWords.squeeze(count: skip) == byBytes.squeeze(count: skip))
                // Cross several block boundaries (rates 136 and 168).
                for i in 0..<100 {
                    let word = byWords.squeezeWord()
                    let bytes = byBytes.squeeze(count: 8)
                    #expect(littleEndianBytes(word) == bytes, "\(algorithm), skip \(skip), word \(i)")
                }
            }
        }
    }

    @Test("squeezing words right after absorbing, with no byte squeeze first", arguments: StateRepresentation.allCases)
    func wordsFromTheStart(representation: StateRepresentation) {
        for algorithm in Self.algorithms {
            let message = Array(0..<200 as Range<UInt8>)
            let words = squeezedWords(representation.stateType, algorithm, message, count: 300)
            let bytes = xofOutput(algorithm, message: message, count: 2400)
            #expect(words.flatMap(littleEndianBytes) == bytes)
        }
    }

    @Test("a copied XOF continues independently from the shared prefix", arguments: StateRepresentation.allCases)
    func copiesAreIndependent(representation: StateRepresentation) {
        copiesAreIndependent(representation.stateType)
    }

    func copiesAreIndependent<S: KeccakState>(_: S.Type) {
        let prefix = Array("common prefix, absorbed once".utf8)
        for algorithm in Self.algorithms {
            var base = KeccakSponge<S>(algorithm)
            base.absorb(prefix.span)
            var first = base
            var second = base
            first.absorb(bigEndian: 1 as UInt32)
            second.absorb(bigEndian: 2 as UInt32)
            #expect(first.squeeze(count: 64) == xofOutput(algorithm, message: prefix + [0, 0, 0, 1], count: 64))
            #expect(second.squeeze(count: 64) == xofOutput(algorithm, message: prefix + [0, 0, 0, 2], count: 64))
            #expect(base.squeeze(count: 64) == xofOutput(algorithm, message: prefix, count: 64))
        }
    }

    @Test("TurboSHAKE128's domain byte separates outputs; TurboSHAKE128 is not SHAKE128")
    func domainSeparation() {
        let message: [UInt8] = [1, 2, 3]
        let d1F = xofOutput(.turboShake128, message: message, count: 32)
        #expect(d1F == xofOutput(.turboShake128, domain: 0x1F, message: message, count: 32))
        #expect(d1F != xofOutput(.turboShake128, domain: 0x0B, message: message, count: 32))
        #expect(d1F != xofOutput(.shake128, message: message, count: 32))
    }

    // MARK: Misuse

    @Test("absorbing after squeezing stops the program")
    func absorbAfterSqueeze() async {
        await #expect(processExitsWith: .failure) {
            var xof = XOF(.shake128)
            _ = xof.squeezeWord()
            xof.absorb(0)
        }
        await #expect(processExitsWith: .failure) {
            var xof = XOF(.turboShake128)
            var out: [UInt8] = [0]
            var span = out.mutableSpan
            xof.squeeze(into: &span)
            xof.absorb("late")
        }
    }

    @Test("a TurboSHAKE domain byte outside 0x01...0x7F, or one given to SHAKE, stops the program")
    func invalidDomainByte() async {
        await #expect(processExitsWith: .failure) { _ = XOF(.turboShake128, domainSeparation: 0x80) }
        await #expect(processExitsWith: .failure) { _ = XOF(.turboShake128, domainSeparation: 0x00) }
        await #expect(processExitsWith: .failure) { _ = XOF(.shake256, domainSeparation: 0x06) }
    }
}

/// The first `count` output words of `algorithm` over `message`, through squeezeWord.
func squeezedWords<S: KeccakState>(_: S.Type, _ algorithm: XOFAlgorithm, _ message: [UInt8], count: Int) -> [UInt64] {
    var xof = KeccakSponge<S>(algorithm)
    xof.absorb(message.span)
    return (0..<count).map { _ in xof.squeezeWord() }
}

func littleEndianBytes(_ word: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: word >> (8 * UInt64($0))) }
}
