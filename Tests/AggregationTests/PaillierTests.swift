import Aggregation
import BigNum
import Foundation
import MeterCrypto
import MeterSimulator
import TestSupport
import Testing

@Suite("Paillier: keys, meter encryption, supplier decryption")
struct PaillierTests {
    @Test(
        "key generation: N has the requested size, g = N + 1, CRT and textbook decryption agree",
        arguments: [2048, 3072])
    func keys(bits: Int) throws {
        let key = PaillierFixtures.key(bits: bits)
        #expect(key.publicKey.bits == bits)
        #expect(key.p.bitWidth == bits / 2 && key.q.bitWidth == bits / 2)
        #expect(key.p * key.q == key.publicKey.n)
        #expect(key.publicKey.g == key.publicKey.n + 1)
        #expect(key.publicKey.ciphertextBytes == bits / 4)
        var rng = SeededGenerator(seed: UInt64(bits))
        for m in [BigInt(0), BigInt(1), BigInt(123_456), key.publicKey.n - 1] {
            let c = key.publicKey.encrypt(m, using: &rng)
            #expect(try key.decrypt(c) == m)
            #expect(try key.decryptTextbook(c) == m)
        }
    }

    @Test("the operating system's CSPRNG makes a working 2048-bit key")
    func systemRandomKey() throws {
        let key = try PaillierPrivateKey.generate(bits: 2048)
        var rng = SeededGenerator(seed: 1)
        #expect(try key.decrypt(key.publicKey.encrypt(BigInt(42), using: &rng)) == BigInt(42))
        #expect(throws: PaillierKeyError.unsupportedSize(bits: 1024)) { try PaillierPrivateKey.generate(bits: 1024) }
    }

    @Test("firmware ciphertexts equal the textbook formula with the same r, and decrypt", arguments: [2048, 3072])
    func firmwareMatchesTextbook(bits: Int) throws {
        let key = PaillierFixtures.key(bits: bits)
        var rng = SeededGenerator(seed: 99)
        for m in [UInt64(0), 1, 250, 5000, UInt64.max] {
            let r = BigInt.random(below: key.publicKey.n, using: &rng)
            let c = try #require(try firmwareEncrypt(m, key: key.publicKey, r: r))
            #expect(c == key.publicKey.encrypt(BigInt(m), randomizer: r).value)
            #expect(try key.decrypt(key.publicKey.ciphertext(c)) == BigInt(m))
        }
    }

    @Test("homomorphic sums of firmware ciphertexts decrypt to the sum of readings", arguments: [2048, 3072])
    func homomorphicSum(bits: Int) throws {
        let key = PaillierFixtures.key(bits: bits)
        let pk = key.publicKey
        var rng = SeededGenerator(seed: 5)
        var product = pk.trivialEncryption(BigInt(0))
        var total: UInt64 = 0
        for _ in 0..<20 {
            let m = UInt64.random(in: 0...5000, using: &rng)
            total += m
            let c = try #require(try firmwareEncrypt(m, key: pk, r: BigInt.random(below: pk.n, using: &rng)))
            product = try pk.add(product, pk.ciphertext(c))
        }
        #expect(try key.decrypt(product) == BigInt(total))
        // Scalar multiplication: Enc(m)^k = Enc(k·m).
        #expect(try key.decrypt(pk.multiply(product, by: BigInt(3))) == BigInt(3 * total))
    }

    @Test("the meter rejects r = 0, r ≥ N and r sharing a factor with N, and a randomizer used twice")
    func randomizerChecks() throws {
        let key = PaillierFixtures.key2048
        let pk = key.publicKey
        #expect(try firmwareEncrypt(1, key: pk, r: BigInt(0)) == nil)
        #expect(try firmwareEncrypt(1, key: pk, r: pk.n) == nil)
        #expect(try firmwareEncrypt(1, key: pk, r: pk.n + 5) == nil)
        #expect(try firmwareEncrypt(1, key: pk, r: key.p) == nil)
        #expect(try firmwareEncrypt(1, key: pk, r: key.q * 3) == nil)
        #expect(try firmwareEncrypt(1, key: pk, r: BigInt(1)) == pk.trivialEncryption(BigInt(1)).value)

        let meterKey = try meterKeyFrom(pk.n.bigEndianBytes(length: 256)!)
        var randomizer = PaillierRandomizer()
        var out = [UInt8](repeating: 0, count: 512)
        #expect(throws: PaillierError.randomizerNotFresh) { try encryptInto(&out, 1, &randomizer, meterKey) }
        let r = BigInt(12345).bigEndianBytes(length: 256)!
        #expect(precompute(&randomizer, meterKey, r))
        var short = [UInt8](repeating: 0, count: 511)
        #expect(throws: PaillierError.wrongBufferSize(expected: 512, actual: 511)) {
            try encryptInto(&short, 1, &randomizer, meterKey)
        }
        try encryptInto(&out, 1, &randomizer, meterKey)
        #expect(!randomizer.isFresh)
        #expect(throws: PaillierError.randomizerNotFresh) { try encryptInto(&out, 2, &randomizer, meterKey) }
    }

    @Test("the meter accepts only odd 2048- and 3072-bit moduli")
    func meterKeyChecks() throws {
        let n = PaillierFixtures.key2048.publicKey.n
        var bytes = n.bigEndianBytes(length: 256)!
        #expect(try meterKeyFrom(bytes).modulusBits == 2048)
        bytes[255] ^= 1
        #expect(throws: PaillierError.evenModulus) { try meterKeyFrom(bytes) }
        let small = [UInt8](repeating: 0xFF, count: 128)
        #expect(throws: PaillierError.unsupportedModulus(bytes: 128)) { try meterKeyFrom(small) }
        let topClear = n.bigEndianBytes(length: 384)!  // 2048 bits in a 384-byte encoding
        #expect(throws: PaillierError.unsupportedModulus(bytes: 384)) { try meterKeyFrom(topClear) }
    }

    @Test("bad ciphertexts and keys are typed errors: ≥ N², zero, not coprime, wrong key")
    func badInputs() throws {
        let key = PaillierFixtures.key2048
        let pk = key.publicKey
        #expect(throws: AggregationError.zeroCiphertext) { try pk.ciphertext(BigInt(0)) }
        #expect(throws: AggregationError.ciphertextOutOfRange) { try pk.ciphertext(pk.nSquared) }
        #expect(throws: AggregationError.ciphertextOutOfRange) { try pk.ciphertext(pk.nSquared + 1) }
        #expect(throws: AggregationError.ciphertextOutOfRange) { try pk.ciphertext(BigInt(-3)) }
        #expect(throws: AggregationError.ciphertextNotInvertible) { try key.decrypt(pk.ciphertext(key.p)) }
        #expect(throws: AggregationError.badPayload(type: .reading, size: 10)) {
            try pk.ciphertext(bigEndian: [UInt8](repeating: 1, count: 10))
        }
        let other = PaillierFixtures.otherKey2048
        var rng = SeededGenerator(seed: 3)
        let foreign = other.publicKey.encrypt(BigInt(7), using: &rng)
        #expect(throws: AggregationError.wrongKey(expected: pk.id.description, actual: other.publicKey.id.description))
        {
            try key.decrypt(foreign)
        }
        #expect(throws: AggregationError.self) { try pk.add(foreign, pk.trivialEncryption(BigInt(1))) }
        // Keys that are not keys.
        #expect(throws: PaillierKeyError.invalidKey("N is even")) { try PaillierPublicKey(n: pk.n + 1) }
        #expect(throws: PaillierKeyError.unsupportedSize(bits: 1024)) { try PaillierPublicKey(n: key.p) }
        #expect(throws: PaillierKeyError.invalidKey("p = q")) { try PaillierPrivateKey(p: key.p, q: key.p) }
        #expect(throws: PaillierKeyError.invalidKey("p or q is not prime")) {
            try PaillierPrivateKey(p: key.p, q: key.q + 2)
        }
    }

    @Test("keys export and import as JSON with decimal strings (p/q, or lambda/mu only)")
    func json() throws {
        let key = PaillierFixtures.key2048
        let data = try JSONEncoder().encode(key)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: String])
        #expect(Set(object.keys) == ["n", "g", "p", "q", "lambda", "mu"])
        #expect(object["n"] == key.publicKey.n.description)
        #expect(object["g"] == (key.publicKey.n + 1).description)
        let back = try JSONDecoder().decode(PaillierPrivateKey.self, from: data)
        #expect(back.p == key.p && back.q == key.q && back.lambda == key.lambda && back.mu == key.mu)

        let withoutPrimes = try JSONSerialization.data(withJSONObject: [
            "n": object["n"]!, "g": object["g"]!, "lambda": object["lambda"]!, "mu": object["mu"]!,
        ])
        let recovered = try JSONDecoder().decode(PaillierPrivateKey.self, from: withoutPrimes)
        #expect(Set([recovered.p, recovered.q]) == Set([key.p, key.q]))

        let publicData = try JSONEncoder().encode(key.publicKey)
        #expect(try JSONDecoder().decode(PaillierPublicKey.self, from: publicData) == key.publicKey)
        let badG = try JSONSerialization.data(withJSONObject: ["n": object["n"]!, "g": "2"])
        #expect(throws: PaillierKeyError.unsupportedGenerator) {
            try JSONDecoder().decode(PaillierPublicKey.self, from: badG)
        }
        let badP = try JSONSerialization.data(withJSONObject: [
            "n": object["n"]!, "p": object["p"]!, "q": (key.q + 2).description,
        ])
        #expect(throws: PaillierKeyError.self) { try JSONDecoder().decode(PaillierPrivateKey.self, from: badP) }
    }
}

extension PaillierTests {
    @Test("ciphertexts export and import as JSON with their N; range and key are checked on import")
    func ciphertextJSON() throws {
        let key = PaillierFixtures.key2048
        let pk = key.publicKey
        var rng = SeededGenerator(seed: 21)
        let c = pk.encrypt(BigInt(4321), using: &rng)
        let data = try JSONEncoder().encode(try PaillierCiphertextJSON(publicKey: pk, ciphertext: c))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: String])
        #expect(object == ["n": pk.n.description, "c": c.value.description])
        let back = try JSONDecoder().decode(PaillierCiphertextJSON.self, from: data)
        #expect(back.ciphertext == c)
        #expect(try key.decrypt(back.ciphertext) == BigInt(4321))

        let tooLarge = try JSONSerialization.data(withJSONObject: ["n": pk.n.description, "c": pk.nSquared.description])
        #expect(throws: AggregationError.ciphertextOutOfRange) {
            try JSONDecoder().decode(PaillierCiphertextJSON.self, from: tooLarge)
        }
        let zero = try JSONSerialization.data(withJSONObject: ["n": pk.n.description, "c": "0"])
        #expect(throws: AggregationError.zeroCiphertext) {
            try JSONDecoder().decode(PaillierCiphertextJSON.self, from: zero)
        }
        // Made under another key: imports, but the supplier refuses it.
        let other = PaillierFixtures.otherKey2048.publicKey
        let foreign = try JSONEncoder().encode(
            try PaillierCiphertextJSON(publicKey: other, ciphertext: other.encrypt(BigInt(1), using: &rng)))
        let imported = try JSONDecoder().decode(PaillierCiphertextJSON.self, from: foreign)
        #expect(throws: AggregationError.wrongKey(expected: pk.id.description, actual: other.id.description)) {
            try key.decrypt(imported.ciphertext)
        }
        #expect(throws: AggregationError.self) {
            try PaillierCiphertextJSON(publicKey: pk, ciphertext: imported.ciphertext)
        }
    }
}

// MARK: - interop with python-paillier (phe), an independent implementation

struct PheInput: Encodable {
    /// Our key: n, p, q (decimal).
    let n: String
    let p: String
    let q: String
    /// Firmware ciphertexts (decimal) for phe to decrypt.
    let ciphertexts: [String]
    /// Plaintexts for phe to encrypt under our key (we decrypt them).
    let plaintexts: [String]
    /// Bits of a key phe generates itself (the reverse direction).
    let pheKeyBits: Int
}

struct PheOutput: Decodable {
    let decrypted: [String]
    /// phe's homomorphic sum (EncryptedNumber addition) of our ciphertexts, decrypted by phe.
    let sumDecrypted: String
    /// phe's ciphertexts of `plaintexts` under our key.
    let encrypted: [String]
    /// A key phe generated, and phe's ciphertexts of `plaintexts` under it.
    let pheKey: [String: String]
    let pheEncrypted: [String]
}

@Suite("Paillier interop with python-paillier (phe)")
struct PaillierInteropTests {
    static let script = #"""
        import json, sys
        from phe import paillier
        inp = json.load(sys.stdin)
        n, p, q = int(inp["n"]), int(inp["p"]), int(inp["q"])
        pub = paillier.PaillierPublicKey(n)
        assert pub.g == n + 1
        priv = paillier.PaillierPrivateKey(pub, p, q)
        cts = [int(c) for c in inp["ciphertexts"]]
        decrypted = [str(priv.raw_decrypt(c)) for c in cts]
        total = paillier.EncryptedNumber(pub, cts[0])
        for c in cts[1:]:
            total = total + paillier.EncryptedNumber(pub, c)
        encrypted = [str(pub.raw_encrypt(int(m))) for m in inp["plaintexts"]]
        pub2, priv2 = paillier.generate_paillier_keypair(n_length=inp["pheKeyBits"])
        phe_key = {"n": str(pub2.n), "g": str(pub2.g), "p": str(priv2.p), "q": str(priv2.q)}
        phe_encrypted = [str(pub2.raw_encrypt(int(m))) for m in inp["plaintexts"]]
        print(json.dumps({
            "decrypted": decrypted,
            "sumDecrypted": str(priv.raw_decrypt(total.ciphertext(be_secure=False))),
            "encrypted": encrypted, "pheKey": phe_key, "pheEncrypted": phe_encrypted,
        }))
        """#

    @Test(
        "firmware ciphertexts decrypt with phe; phe ciphertexts decrypt here; phe keys import", arguments: [2048, 3072])
    func interop(bits: Int) throws {
        let key = PaillierFixtures.key(bits: bits)
        let pk = key.publicKey
        var rng = SeededGenerator(seed: UInt64(bits) + 1)
        let readings = (0..<8).map { _ in UInt64.random(in: 0...5000, using: &rng) } + [0, UInt64.max]
        var ciphertexts: [String] = []
        for m in readings {
            let c = try #require(try firmwareEncrypt(m, key: pk, r: BigInt.random(below: pk.n, using: &rng)))
            ciphertexts.append(c.description)
        }
        let plaintexts = ["0", "1", "4999", (pk.n - 1).description]
        let out = try PythonOracle.run(
            Self.script,
            input: PheInput(
                n: pk.n.description, p: key.p.description, q: key.q.description, ciphertexts: ciphertexts,
                plaintexts: plaintexts, pheKeyBits: bits),
            as: PheOutput.self)

        // Meter → phe.
        #expect(out.decrypted == readings.map { String($0) })
        let total = readings.reduce(BigInt(0)) { $0 + BigInt($1) }
        #expect(out.sumDecrypted == total.modulo(pk.n).description)
        // phe → supplier.
        for (m, c) in zip(plaintexts, out.encrypted) {
            #expect(try key.decrypt(pk.ciphertext(try #require(BigInt(c)))).description == m)
        }
        // A key phe generated, imported from JSON; its ciphertexts decrypt here, and the
        // firmware encrypts under it for phe's key.
        let pheKey = try JSONDecoder().decode(
            PaillierPrivateKey.self, from: JSONSerialization.data(withJSONObject: out.pheKey))
        #expect(pheKey.publicKey.bits == bits)
        for (m, c) in zip(plaintexts, out.pheEncrypted) {
            // Plaintexts live mod phe's N (our N − 1 may exceed it).
            let expected = try #require(BigInt(m)).modulo(pheKey.publicKey.n)
            #expect(try pheKey.decrypt(pheKey.publicKey.ciphertext(try #require(BigInt(c)))) == expected)
        }
        let c = try #require(try firmwareEncrypt(777, key: pheKey.publicKey, r: BigInt(31337)))
        #expect(try pheKey.decrypt(pheKey.publicKey.ciphertext(c)) == BigInt(777))
    }
}
