import MeterCrypto
import MeterSimulator
import TestSupport
import Testing

/// Host-side helpers over the firmware's span API.
enum GCM {
    static func seal(key: [UInt8], nonce: [UInt8], aad: [UInt8], plaintext: [UInt8]) -> (ct: [UInt8], tag: [UInt8]) {
        let gcm = AESGCM(key: key.span)
        var ct = [UInt8](repeating: 0, count: plaintext.count)
        var tag = [UInt8](repeating: 0, count: 16)
        var ctSpan = ct.mutableSpan
        var tagSpan = tag.mutableSpan
        gcm.seal(nonce: nonce.span, aad: aad.span, plaintext: plaintext.span, ciphertext: &ctSpan, tag: &tagSpan)
        return (ct, tag)
    }

    static func open(key: [UInt8], nonce: [UInt8], aad: [UInt8], ct: [UInt8], tag: [UInt8]) -> [UInt8]? {
        let gcm = AESGCM(key: key.span)
        var pt = [UInt8](repeating: 0xAA, count: ct.count)
        var span = pt.mutableSpan
        guard gcm.open(nonce: nonce.span, aad: aad.span, ciphertext: ct.span, tag: tag.span, plaintext: &span) else {
            #expect(pt.allSatisfy { $0 == 0 }, "a refused plaintext is left zeroed")
            return nil
        }
        return pt
    }
}

@Suite("AES-128-GCM (FIPS 197, SP 800-38D)")
struct AESGCMTests {
    struct Case: Decodable {
        var name: String
        var key: String
        var iv: String
        var aad: String
        var ct: String
        var tag: String
        var pt: String?
        var fail: Bool?
    }

    struct File: Decodable {
        var source: String
        var encrypt: [Case]
        var decrypt: [Case]
    }

    @Test("FIPS 197 appendix C.1: AES-128 of 00112233…ff under 000102…0f")
    func fips197() {
        let key = Hex.decode("000102030405060708090a0b0c0d0e0f")
        var blocks = Hex.decode("00112233445566778899aabbccddeeff") + [UInt8](repeating: 0, count: 48)
        let aes = AES128(key: key.span)
        var span = blocks.mutableSpan
        aes.encrypt4(&span)
        #expect(Hex.encode(blocks[0..<16]) == "69c4e0d86a7b0430d8cdb78070b4c55a")
        // The other three lanes: AES of the zero block under that key.
        let zero = Hex.encode(blocks[16..<32])
        #expect(Hex.encode(blocks[32..<48]) == zero && Hex.encode(blocks[48..<64]) == zero)
    }

    @Test("the four lanes are independent blocks (each equals the block ciphered alone)")
    func lanesIndependent() {
        var rng = SeededGenerator(seed: 0xAE5)
        for _ in 0..<20 {
            let key = rng.bytes(16)
            let aes = AES128(key: key.span)
            var four = rng.bytes(64)
            let input = four
            var span = four.mutableSpan
            aes.encrypt4(&span)
            for k in 0..<4 {
                var alone = Array(input[(16 * k)..<(16 * k + 16)]) + rng.bytes(48)
                var s = alone.mutableSpan
                aes.encrypt4(&s)
                #expect(alone[0..<16] == four[(16 * k)..<(16 * k + 16)])
            }
        }
    }

    @Test("NIST CAVP gcmEncryptExtIV128 (96-bit IV, 128-bit tag): 375 vectors")
    func nistEncrypt() throws {
        let file = try Vectors.load("aes128_gcm_nist", as: File.self)
        #expect(file.encrypt.count == 375)
        for c in file.encrypt {
            let (ct, tag) = GCM.seal(
                key: Hex.decode(c.key), nonce: Hex.decode(c.iv), aad: Hex.decode(c.aad), plaintext: Hex.decode(c.pt!))
            #expect(Hex.encode(ct) == c.ct && Hex.encode(tag) == c.tag, "\(c.name)")
        }
    }

    @Test("NIST CAVP gcmDecrypt128 (96-bit IV, 128-bit tag): authentic ones open, FAIL ones are refused")
    func nistDecrypt() throws {
        let file = try Vectors.load("aes128_gcm_nist", as: File.self)
        #expect(file.decrypt.count == 375)
        var refused = 0
        for c in file.decrypt {
            let pt = GCM.open(
                key: Hex.decode(c.key), nonce: Hex.decode(c.iv), aad: Hex.decode(c.aad), ct: Hex.decode(c.ct),
                tag: Hex.decode(c.tag))
            if c.fail == true {
                #expect(pt == nil, "\(c.name)")
                refused += 1
            } else {
                #expect(pt.map(Hex.encode) == c.pt, "\(c.name)")
            }
        }
        #expect(refused == 196)
    }

    struct OracleCase: Codable {
        var key: String
        var nonce: String
        var aad: String
        var plaintext: String
        /// What the firmware sealed (ciphertext ‖ tag), for Python to open.
        var sealed: String
    }

    struct OracleAnswer: Codable {
        /// cryptography's AESGCM.encrypt (ciphertext ‖ tag) of each case.
        var sealed: [String]
        /// cryptography's AESGCM.decrypt of the firmware's output ("" refused).
        var opened: [String?]
        /// Tampered firmware outputs (a flipped bit in ciphertext, tag or AAD) that decrypt accepted.
        var acceptedTampered: Int
    }

    @Test("random keys, nonces, AAD and lengths, both ways against PyPI cryptography's AESGCM")
    func randomAgainstCryptography() throws {
        var rng = SeededGenerator(seed: 0x4145_5347_434D)
        let edges = [0, 1, 15, 16, 17, 31, 32, 33, 42, 47, 48, 49, 63, 64, 65, 100]
        var cases: [OracleCase] = []
        for i in 0..<300 {
            let ptLength = i < edges.count ? edges[i] : Int.random(in: 0...300, using: &rng)
            let aadLength = i % 3 == 0 ? edges.randomElement(using: &rng)! : Int.random(in: 0...100, using: &rng)
            let key = rng.bytes(16)
            let nonce = rng.bytes(12)
            let aad = rng.bytes(aadLength)
            let pt = rng.bytes(ptLength)
            let (ct, tag) = GCM.seal(key: key, nonce: nonce, aad: aad, plaintext: pt)
            cases.append(
                OracleCase(
                    key: Hex.encode(key), nonce: Hex.encode(nonce), aad: Hex.encode(aad), plaintext: Hex.encode(pt),
                    sealed: Hex.encode(ct + tag)))
        }
        let script = """
            import json, sys
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            from cryptography.exceptions import InvalidTag
            cases = json.load(sys.stdin)
            sealed, opened, accepted = [], [], 0
            for c in cases:
                a = AESGCM(bytes.fromhex(c["key"]))
                n, aad = bytes.fromhex(c["nonce"]), bytes.fromhex(c["aad"])
                sealed.append(a.encrypt(n, bytes.fromhex(c["plaintext"]), aad).hex())
                ours = bytes.fromhex(c["sealed"])
                try:
                    opened.append(a.decrypt(n, ours, aad).hex())
                except InvalidTag:
                    opened.append(None)
                # every single-bit flip of our output (ciphertext and tag), and of the AAD
                for bit in range(0, 8 * len(ours), 7):
                    t = bytearray(ours); t[bit // 8] ^= 1 << (bit % 8)
                    try:
                        a.decrypt(n, bytes(t), aad); accepted += 1
                    except InvalidTag:
                        pass
                if aad:
                    t = bytearray(aad); t[0] ^= 0x80
                    try:
                        a.decrypt(n, ours, bytes(t)); accepted += 1
                    except InvalidTag:
                        pass
            print(json.dumps({"sealed": sealed, "opened": opened, "acceptedTampered": accepted}))
            """
        let answer = try PythonOracle.run(script, input: cases, as: OracleAnswer.self)
        #expect(answer.sealed.count == cases.count)
        for (i, c) in cases.enumerated() {
            // cryptography sealed the same: the firmware's output is byte-identical.
            #expect(answer.sealed[i] == c.sealed, "case \(i)")
            // cryptography opens the firmware's output to the plaintext.
            #expect(answer.opened[i] == c.plaintext, "case \(i)")
            // The firmware opens cryptography's output.
            let theirs = Hex.decode(answer.sealed[i])
            let opened = GCM.open(
                key: Hex.decode(c.key), nonce: Hex.decode(c.nonce), aad: Hex.decode(c.aad),
                ct: Array(theirs.dropLast(16)), tag: Array(theirs.suffix(16)))
            #expect(opened.map(Hex.encode) == c.plaintext, "case \(i)")
        }
        #expect(answer.acceptedTampered == 0)
    }

    @Test("tampered tags, ciphertexts, AAD and nonces are refused")
    func tamperedRefused() {
        var rng = SeededGenerator(seed: 0x7A4D)
        for _ in 0..<40 {
            let key = rng.bytes(16)
            let nonce = rng.bytes(12)
            let aad = rng.bytes(24)
            let pt = rng.bytes(42)
            let (ct, tag) = GCM.seal(key: key, nonce: nonce, aad: aad, plaintext: pt)
            #expect(GCM.open(key: key, nonce: nonce, aad: aad, ct: ct, tag: tag) == pt)
            for bit in stride(from: 0, to: 8 * ct.count, by: 5) {
                var t = ct
                t[bit / 8] ^= 1 << UInt8(bit % 8)
                #expect(GCM.open(key: key, nonce: nonce, aad: aad, ct: t, tag: tag) == nil)
            }
            for bit in 0..<128 {
                var t = tag
                t[bit / 8] ^= 1 << UInt8(bit % 8)
                #expect(GCM.open(key: key, nonce: nonce, aad: aad, ct: ct, tag: t) == nil)
            }
            for bit in stride(from: 0, to: 8 * aad.count, by: 3) {
                var t = aad
                t[bit / 8] ^= 1 << UInt8(bit % 8)
                #expect(GCM.open(key: key, nonce: nonce, aad: t, ct: ct, tag: tag) == nil)
            }
            var otherNonce = nonce
            otherNonce[11] ^= 1
            #expect(GCM.open(key: key, nonce: otherNonce, aad: aad, ct: ct, tag: tag) == nil)
            var otherKey = key
            otherKey[0] ^= 1
            #expect(GCM.open(key: otherKey, nonce: nonce, aad: aad, ct: ct, tag: tag) == nil)
            #expect(GCM.open(key: key, nonce: nonce, aad: aad, ct: Array(ct.dropLast()), tag: tag) == nil)
        }
    }
}

// The bitsliced AES on both plane widths: the S-box circuit on every input, and the 32-bit
// path (the Cortex-M4's: `BitslicedAES128<UInt32>`, `AESGCMCore<UInt32>`) run on this host
// against the same vectors as the target's own.
extension AESGCMTests {
    /// FIPS 197's S-box from its definition (5.1.1): the inverse in GF(2^8) mod
    /// x^8 + x^4 + x^3 + x + 1 (found by search, 0 for 0), then the affine map.
    static let sbox: [UInt8] = {
        func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
            var a = a
            var b = b
            var p: UInt8 = 0
            for _ in 0..<8 {
                if b & 1 != 0 { p ^= a }
                a = (a << 1) ^ (a & 0x80 != 0 ? 0x1B : 0)
                b >>= 1
            }
            return p
        }
        return (0..<256).map { x in
            let inverse = x == 0 ? 0 : (1..<256).first { multiply(UInt8(x), UInt8($0)) == 1 }!
            var s: UInt8 = 0x63
            for i in 0..<8 {
                let bit =
                    (inverse >> i ^ inverse >> ((i + 4) % 8) ^ inverse >> ((i + 5) % 8)
                        ^ inverse >> ((i + 6) % 8) ^ inverse >> ((i + 7) % 8)) & 1
                s ^= UInt8(bit << i)
            }
            return s
        }
    }()

    static func subBytes<W: FixedWidthInteger & UnsignedInteger>(_ input: [UInt8], as: W.Type) -> [UInt8] {
        var out: [UInt8] = []
        for start in stride(from: 0, to: input.count, by: W.bitWidth) {
            var set = Array(input[start..<(start + W.bitWidth)])
            var span = set.mutableSpan
            BitslicedAES128<W>.subBytes(&span)
            out += set
        }
        return out
    }

    @Test("the S-box circuit equals FIPS 197's S-box on all 256 inputs, in every byte position, at 32 and 64 bits")
    func sboxExhaustive() {
        let table = Self.sbox
        // FIPS 197, figure 7 (and 5.1.1's example {53} → {ed}).
        #expect(table[0x00] == 0x63 && table[0x01] == 0x7C && table[0x53] == 0xED && table[0xFF] == 0x16)
        #expect(Set(table).count == 256)
        let all = (0..<256).map { UInt8($0) }
        // Every input in every position of a set: rotate the 256 inputs through the positions.
        for shift in [0, 1, 7, 13, 31, 63] {
            let input = Array(all[shift...] + all[..<shift])
            let expected = input.map { table[Int($0)] }
            #expect(Self.subBytes(input, as: UInt64.self) == expected, "64-bit planes, shift \(shift)")
            #expect(Self.subBytes(input, as: UInt32.self) == expected, "32-bit planes, shift \(shift)")
        }
    }

    @Test("FIPS 197 appendix C.1 on 32-bit planes")
    func fips197Planes32() {
        let key = Hex.decode("000102030405060708090a0b0c0d0e0f")
        var blocks = Hex.decode("00112233445566778899aabbccddeeff") + [UInt8](repeating: 0, count: 48)
        let aes = BitslicedAES128<UInt32>(key: key.span)
        var span = blocks.mutableSpan
        aes.encrypt4(&span)
        #expect(Hex.encode(blocks[0..<16]) == "69c4e0d86a7b0430d8cdb78070b4c55a")
    }

    @Test("32- and 64-bit planes cipher the same four blocks under random keys")
    func planesAgree() {
        var rng = SeededGenerator(seed: 0x3264)
        for _ in 0..<50 {
            let key = rng.bytes(16)
            var wide = rng.bytes(64)
            var narrow = wide
            var w = wide.mutableSpan
            var n = narrow.mutableSpan
            BitslicedAES128<UInt64>(key: key.span).encrypt4(&w)
            BitslicedAES128<UInt32>(key: key.span).encrypt4(&n)
            #expect(wide == narrow)
        }
    }

    static func seal<W: FixedWidthInteger & UnsignedInteger>(
        _: W.Type, key: [UInt8], nonce: [UInt8], aad: [UInt8], plaintext: [UInt8]
    ) -> (ct: [UInt8], tag: [UInt8]) {
        let gcm = AESGCMCore<W>(key: key.span)
        var ct = [UInt8](repeating: 0, count: plaintext.count)
        var tag = [UInt8](repeating: 0, count: 16)
        var ctSpan = ct.mutableSpan
        var tagSpan = tag.mutableSpan
        gcm.seal(nonce: nonce.span, aad: aad.span, plaintext: plaintext.span, ciphertext: &ctSpan, tag: &tagSpan)
        return (ct, tag)
    }

    @Test("NIST CAVP gcmEncryptExtIV128 and gcmDecrypt128 on the 32-bit path (32-bit planes and GHASH words)")
    func nist32() throws {
        let file = try Vectors.load("aes128_gcm_nist", as: File.self)
        #expect(file.encrypt.count == 375 && file.decrypt.count == 375)
        for c in file.encrypt {
            let (ct, tag) = Self.seal(
                UInt32.self, key: Hex.decode(c.key), nonce: Hex.decode(c.iv), aad: Hex.decode(c.aad),
                plaintext: Hex.decode(c.pt!))
            #expect(Hex.encode(ct) == c.ct && Hex.encode(tag) == c.tag, "\(c.name)")
        }
        var refused = 0
        for c in file.decrypt {
            let (key, nonce, aad, ct, tag) = (
                Hex.decode(c.key), Hex.decode(c.iv), Hex.decode(c.aad), Hex.decode(c.ct), Hex.decode(c.tag)
            )
            var pt = [UInt8](repeating: 0xAA, count: ct.count)
            var span = pt.mutableSpan
            let gcm = AESGCMCore<UInt32>(key: key.span)
            let opened = gcm.open(
                nonce: nonce.span, aad: aad.span, ciphertext: ct.span, tag: tag.span, plaintext: &span)
            #expect(opened == (c.fail != true), "\(c.name)")
            #expect(opened ? Hex.encode(pt) == c.pt : pt.allSatisfy { $0 == 0 }, "\(c.name)")
            refused += opened ? 0 : 1
        }
        #expect(refused == 196)
    }

    @Test("random keys, nonces, AAD and lengths: the 32-bit path seals what the target's AESGCM seals")
    func random32() {
        var rng = SeededGenerator(seed: 0x4145_5333_32)
        for i in 0..<300 {
            let key = rng.bytes(16)
            let nonce = rng.bytes(12)
            let aad = rng.bytes(i % 3 == 0 ? 24 : Int.random(in: 0...100, using: &rng))
            let pt = rng.bytes(i < 70 ? i : Int.random(in: 0...300, using: &rng))
            let narrow = Self.seal(UInt32.self, key: key, nonce: nonce, aad: aad, plaintext: pt)
            let wide = Self.seal(UInt64.self, key: key, nonce: nonce, aad: aad, plaintext: pt)
            #expect(narrow.ct == wide.ct && narrow.tag == wide.tag, "case \(i)")
            #expect(GCM.seal(key: key, nonce: nonce, aad: aad, plaintext: pt) == wide, "case \(i)")
        }
    }
}

@Suite("Customer code (Crockford Base32, Luhn mod 32)")
struct CustomerCodeTests {
    static func render(_ key: [UInt8]) -> String {
        var out = [UInt8](repeating: 0, count: CustomerCode.renderedBytes)
        var span = out.mutableSpan
        CustomerCode.render(key: key.span, into: &span)
        return String(decoding: out, as: UTF8.self)
    }

    static func parse(_ code: String) throws(CustomerCodeError) -> [UInt8] {
        var key = [UInt8](repeating: 0, count: 16)
        var span = key.mutableSpan
        let typed = Array(code.utf8)
        try CustomerCode.parse(typed.span, into: &span)
        return key
    }

    @Test("round trip; layout XXXX-…-XXX; known answers")
    func roundTrip() throws {
        #expect(Self.render([UInt8](repeating: 0, count: 16)) == "0000-0000-0000-0000-0000-0000-000")
        // 0xFF…: 25 symbols Z, then 111 ‖ 00 = 28 (W); the check symbol by Luhn mod 32.
        let ones = Self.render([UInt8](repeating: 0xFF, count: 16))
        #expect(ones.hasPrefix("ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZW"))
        var rng = SeededGenerator(seed: 0xC0DE)
        for _ in 0..<200 {
            let key = rng.bytes(16)
            let code = Self.render(key)
            #expect(code.count == 33 && code.split(separator: "-").map(\.count) == [4, 4, 4, 4, 4, 4, 3])
            #expect(try Self.parse(code) == key)
            // What a person types: lower case, spaces, O for 0, I or L for 1.
            let sloppy = code.lowercased().replacingOccurrences(of: "-", with: " ")
                .replacingOccurrences(of: "0", with: "o").replacingOccurrences(of: "1", with: "l")
            #expect(try Self.parse(sloppy) == key)
        }
    }

    @Test("every single mistyped symbol is caught by the check symbol")
    func singleErrors() throws {
        var rng = SeededGenerator(seed: 0xBAD)
        let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        for _ in 0..<20 {
            let code = Array(Self.render(rng.bytes(16)).filter { $0 != "-" })
            for position in 0..<code.count {
                for c in alphabet where c != code[position] {
                    var typo = code
                    typo[position] = c
                    #expect(throws: CustomerCodeError.self) { _ = try Self.parse(String(typo)) }
                }
            }
        }
    }

    @Test("wrong lengths, foreign characters, padding bits set")
    func refused() {
        #expect(throws: CustomerCodeError.wrongLength(symbols: 3)) { _ = try Self.parse("ABC") }
        #expect(throws: CustomerCodeError.invalidCharacter(position: 4)) {
            _ = try Self.parse("0000-U000-0000-0000-0000-0000-000")
        }
        // Last key symbol 00001 (a padding bit set), with a matching check symbol.
        var values = [UInt8](repeating: 0, count: 26)
        values[25] = 1
        var sum = 0
        var double = true
        for v in values.reversed() {
            var a = Int(v) * (double ? 2 : 1)
            a = a / 32 + a % 32
            sum += a
            double.toggle()
        }
        let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        let code = String(values.map { alphabet[Int($0)] }) + String(alphabet[(32 - sum % 32) % 32])
        #expect(throws: CustomerCodeError.notACode) { _ = try Self.parse(code) }
    }
}

@Suite("the customer verifier (login secret w, verifier v) and the detail frame, against PyPI cryptography and hashlib")
struct CustomerVerifierTests {
    struct Case: Codable {
        var key: String
        var w: String
        var v: String
        /// A whole detail frame sealed by the firmware (114 bytes, frame tag zero).
        var frame: String
        var label: UInt64
        var plaintext: String
    }

    struct Answer: Codable {
        var w: [String]
        var v: [String]
        /// cryptography's AESGCM.decrypt of each frame (nonce 0x06 0 0 0 ‖ label, AAD bytes 0 ..< 40).
        var opened: [String?]
        /// The frames with v changed that decrypt accepted.
        var acceptedChangedVerifier: Int
    }

    @Test(
        "w = AES-128_K(\"PM-CUSTOMER-ID-1\") (AES-ECB), v = SHAKE128(domain ‖ w)[0 ..< 16], frames open with AAD 0 ..< 40"
    )
    func randomAgainstCryptography() throws {
        var rng = SeededGenerator(seed: 0x5645_5249_4649)
        var cases: [Case] = []
        for i in 0..<100 {
            let key = i == 0 ? [UInt8](repeating: 0, count: 16) : rng.bytes(16)
            let gcm = AESGCM(key: key.span)
            var w = [UInt8](repeating: 0, count: 16)
            var wSpan = w.mutableSpan
            CustomerDetail.loginSecret(cipher: gcm, into: &wSpan)
            var v = [UInt8](repeating: 0, count: 16)
            var vSpan = v.mutableSpan
            CustomerDetail.verifier(loginSecret: w.span, into: &vSpan)
            let label = UInt64.random(in: 0...(1 << 40), using: &rng)
            let header = FrameHeader(
                type: .customerDetail, scheme: .lwrPSA, group: UInt32.random(in: 0...1000, using: &rng),
                meter: UInt32.random(in: 1...1000, using: &rng), label: label,
                payloadLength: CustomerDetail.payloadBytes)
            var plaintext = rng.bytes(CustomerDetail.plaintextBytes)
            plaintext[0] = CustomerDetail.format
            plaintext[1] = 0
            var frame = [UInt8](repeating: 0, count: CustomerDetail.frameBytes)
            var frameSpan = frame.mutableSpan
            CustomerDetail.seal(header, customerKey: key.span, plaintext: plaintext.span, frame: &frameSpan)
            #expect(Array(frame[CustomerDetail.verifierRange]) == v)
            cases.append(
                Case(
                    key: Hex.encode(key), w: Hex.encode(w), v: Hex.encode(v), frame: Hex.encode(frame), label: label,
                    plaintext: Hex.encode(plaintext)))
        }
        let script = """
            import json, sys, hashlib
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            from cryptography.exceptions import InvalidTag
            cases = json.load(sys.stdin)
            ws, vs, opened, accepted = [], [], [], 0
            for c in cases:
                key = bytes.fromhex(c["key"])
                e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
                w = e.update(b"PM-CUSTOMER-ID-1") + e.finalize()
                ws.append(w.hex())
                vs.append(hashlib.shake_128(b"PM-CUSTOMER-VERIFIER-v1" + w).digest(16).hex())
                f = bytes.fromhex(c["frame"])
                nonce = bytes([6, 0, 0, 0]) + c["label"].to_bytes(8, "big")
                a = AESGCM(key)
                try:
                    opened.append(a.decrypt(nonce, f[40:98], f[0:40]).hex())
                except InvalidTag:
                    opened.append(None)
                t = bytearray(f); t[30] ^= 1
                try:
                    a.decrypt(nonce, bytes(t[40:98]), bytes(t[0:40])); accepted += 1
                except InvalidTag:
                    pass
            print(json.dumps({"w": ws, "v": vs, "opened": opened, "acceptedChangedVerifier": accepted}))
            """
        let answer = try PythonOracle.run(script, input: cases, as: Answer.self)
        #expect(answer.w == cases.map(\.w))
        #expect(answer.v == cases.map(\.v))
        #expect(answer.opened == cases.map(\.plaintext))
        #expect(answer.acceptedChangedVerifier == 0)
    }
}
