import MeterCrypto
import MeterSimulator
import TestSupport
import Testing

@Suite("KMAC128 (SP 800-185)")
struct KMACTests {
    struct Sample: Decodable {
        var name: String
        var key: String
        var message: String
        var customization: String
        var tag: String
    }

    struct SampleFile: Decodable {
        var source: String
        var vectors: [Sample]
    }

    @Test("SP 800-185 KMAC128 samples #1-#3")
    func nistSamples() throws {
        let file = try Vectors.load("kmac128_sp800_185", as: SampleFile.self)
        #expect(file.vectors.count == 3)
        for s in file.vectors {
            let tag = kmac128(
                key: Hex.decode(s.key), message: Hex.decode(s.message), customization: Array(s.customization.utf8),
                count: s.tag.count / 2)
            #expect(Hex.encode(tag) == s.tag, "\(s.name)")
        }
    }

    @Test("the StaticString customization initializer agrees with the byte one (samples #1-#3)")
    func staticStringCustomization() throws {
        let file = try Vectors.load("kmac128_sp800_185", as: SampleFile.self)
        for s in file.vectors {
            let key = Hex.decode(s.key)
            var mac =
                s.customization.isEmpty
                ? KMAC128(key: key.span, customization: "")
                : KMAC128(key: key.span, customization: "My Tagged Application")
            #expect(s.customization.isEmpty || s.customization == "My Tagged Application")
            mac.absorb(Hex.decode(s.message).span)
            #expect(Hex.encode(mac.finalize(count: 32)) == s.tag, "\(s.name)")
        }
    }

    @Test("random keys, messages, customization strings and lengths against pycryptodome")
    func randomAgainstPython() throws {
        var rng = SeededGenerator(seed: 0x4B4D_4143_3132_38)
        // Lengths that move the block boundaries of the key block (rate 168) and the message.
        let edge = [0, 1, 31, 32, 33, 159, 160, 161, 162, 163, 164, 165, 166, 167, 168, 169, 336, 400]
        var cases: [XOFOracle.Case] = []
        var inputs: [(key: [UInt8], message: [UInt8], customization: [UInt8])] = []
        for index in 0..<240 {
            // pycryptodome wants keys of at least 16 bytes and tags of at least 8.
            let keyLength = index < edge.count ? max(16, edge[index]) : Int.random(in: 16...400, using: &rng)
            let customizationLength =
                index % 3 == 0 ? edge.randomElement(using: &rng)! : Int.random(in: 0...300, using: &rng)
            let messageLength =
                index % 2 == 0 ? edge.randomElement(using: &rng)! : Int.random(in: 0...1000, using: &rng)
            let tagLength =
                index % 5 == 0 ? Int.random(in: 8...500, using: &rng) : [8, 16, 32, 64].randomElement(using: &rng)!
            let key = rng.bytes(keyLength)
            let message = rng.bytes(messageLength)
            let customization = rng.bytes(customizationLength)
            cases.append(
                .init(
                    algorithm: "kmac128", message: Hex.encode(message), outputLength: tagLength, key: Hex.encode(key),
                    customization: Hex.encode(customization)))
            inputs.append((key, message, customization))
        }
        let expected = try XOFOracle.outputs(for: cases)
        for (i, input) in inputs.enumerated() {
            let tag = kmac128(
                key: input.key, message: input.message, customization: input.customization,
                count: cases[i].outputLength)
            #expect(
                Hex.encode(tag) == expected[i],
                "case \(i): key \(input.key.count), message \(input.message.count), S \(input.customization.count), L \(cases[i].outputLength) bytes"
            )
        }
    }

    @Test("streaming: chunks and integer absorbers equal one-shot; a keyed copy is reusable")
    func streaming() {
        var rng = SeededGenerator(seed: 7)
        let key = rng.bytes(32)
        let keyed = KMAC128(key: key.span, customization: "PrivateMetering frame v1")
        let customization = Array("PrivateMetering frame v1".utf8)
        for round in 0..<50 {
            let message = rng.bytes(Int.random(in: 0...600, using: &rng))
            var mac = keyed
            var start = 0
            while start < message.count {
                let end = min(message.count, start + Int.random(in: 0...70, using: &rng))
                if Bool.random(using: &rng) {
                    for byte in message[start..<end] { mac.absorb(byte) }
                } else {
                    mac.absorb(message[start..<end].span)
                }
                start = end
            }
            let reference = kmac128(key: key, message: message, customization: customization, count: 32)
            #expect(mac.finalize(count: 32) == reference, "round \(round)")
        }
        var integers = keyed
        integers.absorb(bigEndian: 0xDEAD_BEEF as UInt32)
        integers.absorb(bigEndian: 0x0102_0304_0506_0708 as UInt64)
        let bytes: [UInt8] = [0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4, 5, 6, 7, 8]
        #expect(
            integers.finalize(count: 16) == kmac128(key: key, message: bytes, customization: customization, count: 16))
    }

    @Test("the output length is part of the input: a longer tag does not extend a shorter one")
    func lengthIsBound() {
        let key = [UInt8](repeating: 0x42, count: 16)
        let short = kmac128(key: key, message: [1, 2, 3], customization: [], count: 16)
        let long = kmac128(key: key, message: [1, 2, 3], customization: [], count: 32)
        #expect(Array(long.prefix(16)) != short)
    }

    @Test("verify accepts the tag and rejects every single-bit change and a truncation")
    func verify() {
        let key = Array("0123456789abcdef0123456789abcdef".utf8)
        let message = Array("meter 17, label 123456, ciphertext".utf8)
        var keyed = KMAC128(key: key.span, customization: "frame")
        keyed.absorb(message.span)
        let tag = keyed.finalize(count: 16)
        #expect(verifies(keyed, tag))
        for bit in 0..<(tag.count * 8) {
            var forged = tag
            forged[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(!verifies(keyed, forged), "bit \(bit)")
        }
        #expect(!verifies(keyed, Array(tag.prefix(8))))
        var otherMessage = KMAC128(key: key.span, customization: "frame")
        otherMessage.absorb(Array("meter 17, label 123457, ciphertext".utf8).span)
        #expect(!verifies(otherMessage, tag))
        let otherCustomization = KMAC128(key: key.span, customization: "framf")
        var withMessage = otherCustomization
        withMessage.absorb(message.span)
        #expect(!verifies(withMessage, tag))
    }

    @Test("verifying an empty tag stops the program")
    func emptyTag() async {
        await #expect(processExitsWith: .failure) {
            let key = [UInt8](repeating: 1, count: 16)
            let mac = KMAC128(key: key.span, customization: "")
            _ = mac.verify([UInt8]().span)
        }
    }
}

/// `mac.verify(tag)` outside #expect, which cannot capture a non-escapable Span.
func verifies(_ mac: KMAC128, _ tag: [UInt8]) -> Bool {
    mac.verify(tag.span)
}
