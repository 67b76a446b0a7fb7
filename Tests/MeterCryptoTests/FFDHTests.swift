import Foundation
import MeterCrypto
import MeterSimulator
import TestSupport
import Testing

/// p of ffdhe3072 as printed in RFC 7919, Appendix A.2 (independent of the firmware's limbs).
let rfc7919Ffdhe3072PHex = """
    FFFFFFFF FFFFFFFF ADF85458 A2BB4A9A AFDC5620 273D3CF1
    D8B9C583 CE2D3695 A9E13641 146433FB CC939DCE 249B3EF9
    7D2FE363 630C75D8 F681B202 AEC4617A D3DF1ED5 D5FD6561
    2433F51F 5F066ED0 85636555 3DED1AF3 B557135E 7F57C935
    984F0C70 E0E68B77 E2A689DA F3EFE872 1DF158A1 36ADE735
    30ACCA4F 483A797A BC0AB182 B324FB61 D108A94B B2C8E3FB
    B96ADAB7 60D7F468 1D4F42A3 DE394DF4 AE56EDE7 6372BB19
    0B07A7C8 EE0A6D70 9E02FCE1 CDF7E2EC C03404CD 28342F61
    9172FE9C E98583FF 8E4F1232 EEF28183 C3FE3B1B 4C6FAD73
    3BB5FCBC 2EC22005 C58EF183 7D1683B2 C6F34A26 C1B2EFFA
    886B4238 611FCFDC DE355B3B 6519035B BC34F4DE F99C0238
    61B46FC9 D6E6C907 7AD91D26 91F7F7EE 598CB0FA C186D91C
    AEFE1309 85139270 B4130C93 BC437944 F4FD4452 E2D74DD3
    64F2E21E 71F54BFF 5CAE82AB 9C9DF69E E86D2BC5 22363A0D
    ABC52197 9B0DEADA 1DBF9A42 D5C4484E 0ABCD06B FA53DDEF
    3C1B20EE 3FD59D7C 25E41D2B 66C62E37 FFFFFFFF FFFFFFFF
    """.filter { !$0.isWhitespace }

/// q = (p - 1)/2 of ffdhe3072 as printed in RFC 7919, Appendix A.2.
let rfc7919Ffdhe3072QHex = """
    7FFFFFFF FFFFFFFF D6FC2A2C 515DA54D 57EE2B10 139E9E78
    EC5CE2C1 E7169B4A D4F09B20 8A3219FD E649CEE7 124D9F7C
    BE97F1B1 B1863AEC 7B40D901 576230BD 69EF8F6A EAFEB2B0
    9219FA8F AF833768 42B1B2AA 9EF68D79 DAAB89AF 3FABE49A
    CC278638 707345BB F15344ED 79F7F439 0EF8AC50 9B56F39A
    98566527 A41D3CBD 5E0558C1 59927DB0 E88454A5 D96471FD
    DCB56D5B B06BFA34 0EA7A151 EF1CA6FA 572B76F3 B1B95D8C
    8583D3E4 770536B8 4F017E70 E6FBF176 601A0266 941A17B0
    C8B97F4E 74C2C1FF C7278919 777940C1 E1FF1D8D A637D6B9
    9DDAFE5E 17611002 E2C778C1 BE8B41D9 6379A513 60D977FD
    4435A11C 308FE7EE 6F1AAD9D B28C81AD DE1A7A6F 7CCE011C
    30DA37E4 EB736483 BD6C8E93 48FBFBF7 2CC6587D 60C36C8E
    577F0984 C289C938 5A098649 DE21BCA2 7A7EA229 716BA6E9
    B279710F 38FAA5FF AE574155 CE4EFB4F 743695E2 911B1D06
    D5E290CB CD86F56D 0EDFCD21 6AE22427 055E6835 FD29EEF7
    9E0D9077 1FEACEBE 12F20E95 B363171B FFFFFFFF FFFFFFFF
    """.filter { !$0.isWhitespace }

// MARK: - Helpers

/// The 384-byte big-endian encoding of `x`.
func encoded(_ x: Limbs3072) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: Limbs3072.byteCount)
    var span = out.mutableSpan
    x.bigEndianBytes(into: &span)
    return out
}

func hex(_ x: Limbs3072) -> String { Hex.encode(encoded(x)) }

/// Decodes a 384-byte big-endian value; fails the test on a wrong length.
func limbs(_ bytes: [UInt8]) throws -> Limbs3072 {
    let value = Limbs3072(bigEndianBytes: bytes.span)
    return try #require(value)
}

func limbs(hex: String) throws -> Limbs3072 { try limbs(Hex.decode(hex)) }

/// `bytes` (big-endian, fixed length) plus a small signed `delta`, modulo 256^count.
func adding(_ delta: Int, to bytes: [UInt8]) -> [UInt8] {
    var out = bytes
    var carry = delta
    var index = out.count - 1
    while carry != 0 && index >= 0 {
        let sum = Int(out[index]) + carry
        out[index] = UInt8(truncatingIfNeeded: sum)
        carry = sum >> 8  // arithmetic shift: floor division, so borrows propagate
        index -= 1
    }
    return out
}

func privateKey(_ bytes: [UInt8]) -> FFDHPrivateKey { FFDHPrivateKey(randomBytes: bytes.span) }

// MARK: - Tests

@Suite("FFDH in RFC 7919 ffdhe3072")
struct FFDHTests {
    struct PrimeInput: Encodable {
        let rfcP: String
        let rfcQ: String
    }

    struct PrimeReport: Decodable {
        let formulaHex: String
        let formulaStableAcrossPrecision: Bool
        let rfcMatchesFormula: Bool
        let rfcQIsHalfOfPMinusOne: Bool
        let sympyPIsPrime: Bool
        let sympyQIsPrime: Bool
        let millerRabinP: Bool
        let millerRabinQ: Bool
        let pMod8: Int
        let generatorHasOrderQ: Bool
    }

    /// The firmware constant equals RFC 7919's formula (mpmath) and printed hex, and p is a safe prime.
    @Test func primeMatchesRFC7919AndIsSafe() throws {
        let script = #"""
            import json, sys, random
            import mpmath, sympy
            inp = json.load(sys.stdin)

            def formula(prec):
                # RFC 7919 A.2: p = 2^3072 - 2^3008 + {[2^2942 * e] + 2625351} * 2^64 - 1
                mpmath.mp.prec = prec
                return 2**3072 - 2**3008 + (int(mpmath.floor(mpmath.ldexp(mpmath.e, 2942))) + 2625351) * 2**64 - 1

            p = formula(3400)
            stable = p == formula(8000)
            rfc_p = int(inp["rfcP"], 16)
            rfc_q = int(inp["rfcQ"], 16)
            q = (p - 1) // 2

            def miller_rabin(n, rounds, rng):
                d, s = n - 1, 0
                while d % 2 == 0:
                    d //= 2; s += 1
                for _ in range(rounds):
                    a = rng.randrange(2, n - 2)
                    x = pow(a, d, n)
                    if x in (1, n - 1):
                        continue
                    for _ in range(s - 1):
                        x = pow(x, 2, n)
                        if x == n - 1:
                            break
                    else:
                        return False
                return True

            rng = random.Random(7919)
            print(json.dumps({
                "formulaHex": format(p, "0768x"),
                "formulaStableAcrossPrecision": stable,
                "rfcMatchesFormula": rfc_p == p,
                "rfcQIsHalfOfPMinusOne": rfc_q == (rfc_p - 1) // 2,
                "sympyPIsPrime": bool(sympy.isprime(p)),
                "sympyQIsPrime": bool(sympy.isprime(q)),
                "millerRabinP": miller_rabin(p, 16, rng),
                "millerRabinQ": miller_rabin(q, 16, rng),
                "pMod8": p % 8,
                "generatorHasOrderQ": pow(2, q, p) == 1,
            }))
            """#
        let report = try PythonOracle.run(
            script, input: PrimeInput(rfcP: rfc7919Ffdhe3072PHex, rfcQ: rfc7919Ffdhe3072QHex),
            as: PrimeReport.self)
        let firmwareHex = hex(FFDHGroup.prime)
        #expect(firmwareHex == report.formulaHex)
        #expect(firmwareHex == rfc7919Ffdhe3072PHex.lowercased())
        #expect(report.formulaStableAcrossPrecision)
        #expect(report.rfcMatchesFormula)
        #expect(report.rfcQIsHalfOfPMinusOne)
        #expect(report.sympyPIsPrime)
        #expect(report.sympyQIsPrime)
        #expect(report.millerRabinP)
        #expect(report.millerRabinQ)
        #expect(report.pMod8 == 7)  // so 2 is a quadratic residue ...
        #expect(report.generatorHasOrderQ)  // ... and g = 2 generates the order-q subgroup
    }

    @Test func groupConstants() {
        #expect(FFDHGroup.byteCount == 384)
        #expect(FFDHGroup.bitCount == 3072)
        #expect(FFDHGroup.generator == 2)
        #expect(FFDHGroup.name.description == "ffdhe3072")
        #expect(FFDHPrivateKey.randomByteCount == 35)
        #expect(FFDHPrivateKey.exponentBitCount == 280)
        #expect(FFDHPrivateKey.exponentBitCount >= 275)  // RFC 7919 §5.2 for ffdhe3072
        // Limb order: least significant first; both ends of p are 64 one bits.
        #expect(FFDHGroup.prime.limbs[0] == UInt.max)
        #expect(FFDHGroup.prime.limbs[1] == 0x25E4_1D2B_66C6_2E37)
        #expect(FFDHGroup.prime.limbs[46] == 0xADF8_5458_A2BB_4A9A)
        #expect(FFDHGroup.prime.limbs[47] == UInt.max)
    }

    struct PowerCase: Codable {
        let key: String  // the 35 random bytes, hex
        let base: String  // peer public key y, 384 bytes hex
        let publicKey: String  // g^x mod p from the firmware
        let shared: String  // y^x mod p from the firmware
    }

    struct PowerInput: Encodable {
        let p: String
        let cases: [PowerCase]
    }

    struct PowerExpected: Decodable {
        let inRange: [Bool]
        let publicKey: [String]
        let shared: [String]
    }

    /// g^x and y^x mod p against Python's pow() on seeded random and edge-case inputs.
    @Test func exponentiationsMatchPython() throws {
        var rng = SeededGenerator(seed: 0x7919_3072)
        let p = Hex.decode(rfc7919Ffdhe3072PHex)
        var keys: [[UInt8]] = [
            [UInt8](repeating: 0, count: 35),  // the all-zero draw: x becomes 1
            [UInt8](repeating: 0xFF, count: 35),  // x = 2^280 - 1
            [UInt8](repeating: 0, count: 34) + [2],  // x = 2
        ]
        var bases: [[UInt8]] = [
            adding(2, to: [UInt8](repeating: 0, count: 384)),  // y = 2 (smallest accepted)
            adding(3, to: [UInt8](repeating: 0, count: 384)),  // y = 3, a residue (p - 2, p - 3, p - 4 are not)
            adding(4, to: [UInt8](repeating: 0, count: 384)),  // y = 4
        ]
        for _ in 0..<24 {
            keys.append(rng.bytes(35))
            var base = rng.bytes(384)
            base[0] = min(base[0], 0xFE)  // below p - 1, whose top 64 bits are all ones
            // Only the order-q subgroup is accepted: −y is a residue when y is not (p ≡ 3 mod 4).
            if FFDHGroup.jacobiSymbol(try limbs(base), modulo: FFDHGroup.prime) != 1 { base = subtract(p, base) }
            bases.append(base)
        }
        var cases: [PowerCase] = []
        for (keyBytes, baseBytes) in zip(keys, bases) {
            let key = privateKey(keyBytes)
            let y = try limbs(baseBytes)
            cases.append(
                PowerCase(
                    key: Hex.encode(keyBytes), base: Hex.encode(baseBytes),
                    publicKey: hex(FFDHGroup.publicKey(for: key)),
                    shared: hex(try FFDHGroup.sharedSecret(privateKey: key, peerPublicKey: y))))
        }
        let script = #"""
            import json, sys
            inp = json.load(sys.stdin)
            p = int(inp["p"], 16)
            out = {"inRange": [], "publicKey": [], "shared": []}
            for c in inp["cases"]:
                x = int(c["key"], 16) or 1    # the firmware maps the all-zero draw to 1
                y = int(c["base"], 16)
                out["inRange"].append(2 <= y <= p - 2 and pow(y, (p - 1) // 2, p) == 1)
                out["publicKey"].append(format(pow(2, x, p), "0768x"))
                out["shared"].append(format(pow(y, x, p), "0768x"))
            print(json.dumps(out))
            """#
        let expected = try PythonOracle.run(
            script, input: PowerInput(p: rfc7919Ffdhe3072PHex, cases: cases), as: PowerExpected.self
        )
        try #require(expected.shared.count == cases.count)
        #expect(cases.count >= 27)
        for (index, item) in cases.enumerated() {
            #expect(expected.inRange[index], "case \(index): base should be in [2, p-2] and of order q")
            #expect(item.publicKey == expected.publicKey[index], "g^x, case \(index)")
            #expect(item.shared == expected.shared[index], "y^x, case \(index)")
        }
        // The all-zero draw is x = 1, so its public key is g itself.
        #expect(cases[0].publicKey == hex(Limbs3072(2)))
    }

    struct AgreementInput: Encodable {
        let p: String
        let a: [String]
        let b: [String]
    }

    /// shared(a, B) == shared(b, A) == g^(ab) mod p.
    @Test func agreement() throws {
        var rng = SeededGenerator(seed: 2026)
        var aKeys: [String] = []
        var bKeys: [String] = []
        var secrets: [String] = []
        for _ in 0..<20 {
            let aBytes = rng.bytes(35)
            let bBytes = rng.bytes(35)
            let a = privateKey(aBytes)
            let b = privateKey(bBytes)
            let publicA = FFDHGroup.publicKey(for: a)
            let publicB = FFDHGroup.publicKey(for: b)
            let ab = try FFDHGroup.sharedSecret(privateKey: a, peerPublicKey: publicB)
            let ba = try FFDHGroup.sharedSecret(privateKey: b, peerPublicKey: publicA)
            #expect(ab == ba)
            #expect(ab != publicA && ab != publicB)
            aKeys.append(Hex.encode(aBytes))
            bKeys.append(Hex.encode(bBytes))
            secrets.append(hex(ab))
        }
        let script = #"""
            import json, sys
            inp = json.load(sys.stdin)
            p = int(inp["p"], 16)
            print(json.dumps([format(pow(2, (int(a, 16) or 1) * (int(b, 16) or 1), p), "0768x")
                              for a, b in zip(inp["a"], inp["b"])]))
            """#
        let expected = try PythonOracle.run(
            script, input: AgreementInput(p: rfc7919Ffdhe3072PHex, a: aKeys, b: bKeys),
            as: [String].self)
        #expect(expected == secrets)
    }

    /// Rejects y = 0, 1, p-1, p and values above p, both in validate and in sharedSecret.
    @Test(arguments: ["0", "1", "p-1", "p", "p+1", "p+2^64", "2^3072-1"])
    func rejectsOutOfRange(_ label: String) throws {
        let zero = [UInt8](repeating: 0, count: 384)
        let p = Hex.decode(rfc7919Ffdhe3072PHex)
        let bytes: [UInt8] =
            switch label {
            case "0": zero
            case "1": adding(1, to: zero)
            case "p-1": adding(-1, to: p)
            case "p": p
            case "p+1": adding(1, to: p)
            case "p+2^64": adding(1, to: Array(p[0..<376])) + p[376...]
            case "2^3072-1": [UInt8](repeating: 0xFF, count: 384)
            default: []
            }
        let y = try limbs(bytes)
        let key = privateKey([UInt8](repeating: 0x5A, count: 35))
        #expect(throws: FFDHError.publicKeyOutOfRange) {
            try FFDHGroup.validate(peerPublicKey: y)
        }
        #expect(throws: FFDHError.publicKeyOutOfRange) {
            _ = try FFDHGroup.sharedSecret(privateKey: key, peerPublicKey: y)
        }
    }

    /// Accepts 2 (a residue: p ≡ 7 mod 8); refuses p − 2 = −2, in range but of order 2q:
    /// (p−2)^x would be 2^x for even x and p − 2^x for odd x, telling x mod 2.
    @Test func acceptsRangeEndsInTheSubgroupOnly() throws {
        let p = Hex.decode(rfc7919Ffdhe3072PHex)
        let key = privateKey([UInt8](repeating: 0x5A, count: 35))
        let two = try limbs(adding(2, to: [UInt8](repeating: 0, count: 384)))
        #expect(throws: Never.self) { try FFDHGroup.validate(peerPublicKey: two) }
        #expect(throws: Never.self) { _ = try FFDHGroup.sharedSecret(privateKey: key, peerPublicKey: two) }
        let pMinus2 = try limbs(adding(-2, to: p))
        #expect(throws: FFDHError.publicKeyNotInSubgroup) { try FFDHGroup.validate(peerPublicKey: pMinus2) }
        #expect(throws: FFDHError.publicKeyNotInSubgroup) {
            _ = try FFDHGroup.sharedSecret(privateKey: key, peerPublicKey: pMinus2)
        }
        // −g^b, the attacker's order-2q key for a real g^b: refused; g^b itself accepted.
        let gb = FFDHGroup.publicKey(for: privateKey([UInt8](repeating: 0x33, count: 35)))
        let minusGB = try limbs(subtract(p, encoded(gb)))
        #expect(throws: Never.self) { try FFDHGroup.validate(peerPublicKey: gb) }
        #expect(throws: FFDHError.publicKeyNotInSubgroup) { try FFDHGroup.validate(peerPublicKey: minusGB) }
    }

    struct JacobiCase: Codable {
        let a: String
        let n: String
    }

    /// The binary Jacobi symbol against sympy's `jacobi_symbol`: random a below p, random
    /// odd moduli of every size, and y = p − 1, 2, 3, 0 (the edge values) modulo p.
    @Test func jacobiSymbolMatchesSympy() throws {
        var rng = SeededGenerator(seed: 0x1ACB)
        let p = Hex.decode(rfc7919Ffdhe3072PHex)
        let zero = [UInt8](repeating: 0, count: 384)
        var cases: [([UInt8], [UInt8])] = [
            (adding(-1, to: p), p), (adding(2, to: zero), p), (adding(3, to: zero), p), (zero, p),
            (adding(-2, to: p), p), (adding(1, to: zero), p),
        ]
        for _ in 0..<40 {
            var a = rng.bytes(384)
            a[0] = min(a[0], 0xFE)
            cases.append((a, p))
        }
        for k in 0..<40 {
            // An odd modulus of 8·(k + 1)... bits, and a below it.
            let size = 1 + (k * 383) / 39
            var n = rng.bytes(size)
            n[size - 1] |= 1
            n[0] |= 0x80
            let a = Array(rng.bytes(size).enumerated().map { $0.offset == 0 ? $0.element & 0x7F : $0.element })
            cases.append((Array(zero.prefix(384 - size)) + a, Array(zero.prefix(384 - size)) + n))
        }
        var ours: [Int] = []
        for (a, n) in cases {
            ours.append(FFDHGroup.jacobiSymbol(try limbs(a), modulo: try limbs(n)))
        }
        let script = #"""
            import json, sys
            from sympy import jacobi_symbol
            cases = json.load(sys.stdin)
            print(json.dumps([int(jacobi_symbol(int(c["a"], 16), int(c["n"], 16))) for c in cases]))
            """#
        let expected = try PythonOracle.run(
            script, input: cases.map { JacobiCase(a: Hex.encode($0.0), n: Hex.encode($0.1)) }, as: [Int].self)
        #expect(ours == expected)
        #expect(Array(ours[0..<6]) == [-1, 1, 1, 0, -1, 1])  // p ≡ 7 mod 8, p ≡ 2 mod 3: (2/p) = (3/p) = 1
        #expect(ours.contains(1) && ours.contains(-1))
        // Cost, printed for the record (never asserted): the symbol against one y^x.
        let y = try limbs(cases[10].0)
        let key = privateKey([UInt8](repeating: 0x5A, count: 35))
        let clock = ContinuousClock()
        let jacobi = clock.measure { for _ in 0..<20 { _ = FFDHGroup.jacobiSymbol(y, modulo: FFDHGroup.prime) } } / 20
        let power =
            clock.measure { for _ in 0..<5 { _ = try? FFDHGroup.sharedSecret(privateKey: key, peerPublicKey: y) } } / 5
        print("FFDH cost: Jacobi symbol \(jacobi), validate + y^x \(power), ratio \(power / jacobi)")
    }

    /// Big-endian import and export are inverse and put the least significant limb first.
    @Test func bigEndianRoundTrip() throws {
        var rng = SeededGenerator(seed: 384)
        for _ in 0..<32 {
            let bytes = rng.bytes(384)
            let value = try limbs(bytes)
            #expect(encoded(value) == bytes)
            #expect(Limbs3072(bigEndianBytes: encoded(value).span) == value)
        }
        var one = [UInt8](repeating: 0, count: 384)
        one[383] = 1
        #expect(try limbs(one) == Limbs3072(1))
        var top = [UInt8](repeating: 0, count: 384)
        top[0] = 0x80
        top[8] = 0x01
        let topValue = try limbs(top)
        #expect(topValue.limbs[47] == 1 << 63)
        #expect(topValue.limbs[46] == 1 << 56)
        #expect((0..<46).allSatisfy { topValue.limbs[$0] == 0 })
        var counting = [UInt8](repeating: 0, count: 384)
        for i in 0..<384 { counting[i] = UInt8(i & 0xFF) }
        #expect(try limbs(counting).limbs[0] == 0x7879_7A7B_7C7D_7E7F)
    }

    @Test(arguments: [0, 1, 35, 383, 385, 768])
    func rejectsWrongLength(_ count: Int) {
        let bytes = [UInt8](repeating: 1, count: count)
        #expect(Limbs3072(bigEndianBytes: bytes.span) == nil)
    }

    /// The private key reads its 35 bytes big-endian: byte 34 is the least significant.
    @Test func privateKeyByteOrder() throws {
        // x = 3: g^3 = 8.
        #expect(
            FFDHGroup.publicKey(for: privateKey([UInt8](repeating: 0, count: 34) + [3]))
                == Limbs3072(8))
        // x = 2^8 * 1 = 256: g^256 = 2^256, i.e. bit 256 set (limb 4, bit 0).
        let x256 = privateKey([UInt8](repeating: 0, count: 33) + [1, 0])
        var expected = Limbs3072.zero
        expected.limbs[4] = 1
        #expect(FFDHGroup.publicKey(for: x256) == expected)
    }

    @Test func privateKeyRequires35Bytes() async {
        await #expect(processExitsWith: .failure) {
            _ = FFDHPrivateKey(randomBytes: [UInt8](repeating: 7, count: 34).span)
        }
    }
}

/// a - b for equal-length big-endian byte strings with a >= b.
func subtract(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
    var out = a
    var borrow = 0
    for i in stride(from: a.count - 1, through: 0, by: -1) {
        let d = Int(a[i]) - Int(b[i]) - borrow
        out[i] = UInt8(truncatingIfNeeded: d)
        borrow = d < 0 ? 1 : 0
    }
    return out
}
