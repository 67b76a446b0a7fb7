import Foundation
import MeterCrypto
import MeterSimulator
import TestSupport
import Testing

func hex<let n: Int>(_ limbs: InlineArray<n, UInt>) -> String {
    var s = ""
    for i in (0..<n).reversed() { s += String(limbs[i], radix: 16).leftPadded(to: 16) }
    return s
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

@Suite("DMCFE (meter side)")
struct DMCFETests {
    struct GroupFile: Codable {
        let domain_parameter_seed: String
        let counter: Int
        let generator_count: Int
        let p: String
        let q: String
        let g: String
    }

    func groupFile() throws -> GroupFile {
        let url = try #require(
            Bundle.module.url(forResource: "dmcfe_group", withExtension: "json", subdirectory: "Vectors"))
        return try JSONDecoder().decode(GroupFile.self, from: Data(contentsOf: url))
    }

    @Test("the group constants are the recorded FIPS 186-4 parameters, and they verify in Python")
    func groupParameters() throws {
        let file = try groupFile()
        func strip(_ s: String) -> String {
            let h = s.hasPrefix("0x") ? String(s.dropFirst(2)) : s
            return String(h.drop { $0 == "0" })
        }
        #expect(strip(hex(DMCFEGroup.prime)) == strip(file.p))
        #expect(strip(hex(DMCFEGroup.orderLimbs)) == strip(file.q))
        #expect(strip(hex(DMCFEGroup.generator)) == strip(file.g))
        // Independently of the generation script: re-derive q and p from the recorded seed
        // and counter (FIPS 186-4 A.1.1.2 steps 6-7 and 11), g from A.2.3, and check primality,
        // q | p − 1 and the order of g.
        let script = """
            import sys, json, hashlib, sympy
            c = json.load(sys.stdin)
            H = lambda b: int.from_bytes(hashlib.sha256(b).digest(), "big")
            seed = bytes.fromhex(c["domain_parameter_seed"]); s = int.from_bytes(seed, "big")
            L, N, outlen = 3072, 256, 256
            n = -(-L // outlen) - 1; b = L - 1 - n * outlen
            U = H(seed) % 2**(N - 1); q = 2**(N - 1) + U + 1 - (U % 2)
            offset = 1 + c["counter"] * (n + 1)
            V = [H(((s + offset + j) % 2**256).to_bytes(32, "big")) for j in range(n + 1)]
            W = sum(V[j] * 2**(j * outlen) for j in range(n)) + (V[n] % 2**b) * 2**(n * outlen)
            X = W + 2**(L - 1); p = X - (X % (2 * q) - 1)
            g = pow(H(seed + b"ggen" + bytes([1]) + c["generator_count"].to_bytes(2, "big")), (p - 1) // q, p)
            print(json.dumps({"p": hex(p), "q": hex(q), "g": hex(g),
                "ok": sympy.isprime(p) and sympy.isprime(q) and (p - 1) % q == 0 and g != 1 and pow(g, q, p) == 1
                      and p.bit_length() == 3072 and q.bit_length() == 256}))
            """
        struct Out: Codable { let p: String; let q: String; let g: String; let ok: Bool }
        let out = try PythonOracle.run(script, input: file, as: Out.self)
        #expect(out.ok)
        #expect(strip(out.p) == strip(file.p))
        #expect(strip(out.q) == strip(file.q))
        #expect(strip(out.g) == strip(file.g))
    }

    struct Case: Codable {
        let group: UInt32
        let label: UInt64
        let s1: String
        let s2: String
        let x: UInt64
        let y: Int64
        let t1: String
        let t2: String
    }

    struct Expected: Codable {
        let h1: String
        let h2: String
        let ct: String
        let share: String
    }

    @Test("hash to the group, encryption and key shares agree with Python's pow()")
    func againstPython() throws {
        var rng = SeededGenerator(seed: 42)
        var cases: [Case] = []
        var secrets: [DMCFESecret] = []
        while cases.count < 4 {
            let bytes = rng.bytes(64)
            guard let s = DMCFESecret(randomBytes: bytes.span) else { continue }
            let t = DMCFESecret(randomBytes: rng.bytes(64).span) ?? s
            secrets.append(s)
            cases.append(
                Case(
                    group: .random(in: 0...UInt32.max, using: &rng), label: .random(in: 0...UInt64.max, using: &rng),
                    s1: hex(s.s1), s2: hex(s.s2), x: [0, 1, 100_000_000, UInt64.max][cases.count],
                    y: [1, -3, 0, .min + 1][cases.count], t1: hex(t.s1), t2: hex(t.s2)))
        }
        let script = """
            import sys, json, hashlib
            c = json.load(sys.stdin)
            p = int(c["p"], 16); q = int(c["q"], 16); g = int(c["g"], 16)
            def H(group, label, k):
                ctr = 0
                while True:
                    d = b"PM-DMCFE-H-v1" + group.to_bytes(4, "big") + label.to_bytes(8, "big") + bytes([k, ctr])
                    v = int.from_bytes(hashlib.shake_256(d).digest(400), "big") % p
                    h = pow(v, (p - 1) // q, p) if v else 1
                    if h != 1: return h
                    ctr += 1
            out = []
            for e in c["cases"]:
                s1, s2, t1, t2 = (int(e[k], 16) for k in ("s1", "s2", "t1", "t2"))
                h1, h2 = H(e["group"], e["label"], 1), H(e["group"], e["label"], 2)
                ct = pow(h1, s1, p) * pow(h2, s2, p) * pow(g, e["x"], p) % p
                z1 = (e["y"] * s1 + t1) % q; z2 = (e["y"] * s2 + t2) % q
                out.append({"h1": "%0768x" % h1, "h2": "%0768x" % h2, "ct": "%0768x" % ct,
                            "share": "%064x%064x" % (z1, z2)})
            print(json.dumps(out))
            """
        struct Input: Codable { let p: String; let q: String; let g: String; let cases: [Case] }
        let file = try groupFile()
        let expected = try PythonOracle.run(
            script, input: Input(p: file.p, q: file.q, g: file.g, cases: cases), as: [Expected].self)
        for (i, (c, want)) in zip(cases, expected).enumerated() {
            #expect(hex(DMCFE.hashToGroup(group: c.group, label: c.label, index: 1)) == want.h1)
            #expect(hex(DMCFE.hashToGroup(group: c.group, label: c.label, index: 2)) == want.h2)
            let pad = DMCFE.pad(secret: secrets[i], group: c.group, label: c.label)
            #expect(hex(DMCFE.encrypt(reading: c.x, pad: pad)) == want.ct)
            let t = DMCFESecret(randomBytes: Hex.decode(c.t1 + c.t2).span.extracting(0..<64))
            var tl1 = InlineArray<4, UInt>(repeating: 0)
            var tl2 = InlineArray<4, UInt>(repeating: 0)
            if let t {
                tl1 = t.s1
                tl2 = t.s2
            }
            var share = [UInt8](repeating: 0, count: 64)
            var span = share.mutableSpan
            DMCFE.keyShare(secret: secrets[i], weight: c.y, t1: tl1, t2: tl2, into: &span)
            #expect(Hex.encode(share) == want.share)
        }
    }

    @Test("secrets are drawn below q only")
    func secretRange() {
        let high = [UInt8](repeating: 0xFF, count: 64)
        #expect(DMCFESecret(randomBytes: high.span) == nil)
        let zero = [UInt8](repeating: 0, count: 64)
        #expect(DMCFESecret(randomBytes: zero.span) != nil)
    }

    @Test("pairwise masks of a whole group sum to zero, and depend on the weight digest")
    func masksCancel() {
        var rng = SeededGenerator(seed: 7)
        let ids: [UInt32] = [3, 8, 20, 21]
        var seeds: [[UInt32]: [UInt8]] = [:]
        for a in ids { for b in ids where a < b { seeds[[a, b]] = rng.bytes(32) } }
        let digest = rng.bytes(32)
        let otherDigest = rng.bytes(32)
        var total1 = InlineArray<4, UInt>(repeating: 0)
        var total2 = InlineArray<4, UInt>(repeating: 0)
        var crossed1 = InlineArray<4, UInt>(repeating: 0)
        var crossed2 = InlineArray<4, UInt>(repeating: 0)
        for (index, own) in ids.enumerated() {
            var t1 = InlineArray<4, UInt>(repeating: 0)
            var t2 = InlineArray<4, UInt>(repeating: 0)
            for peer in ids where peer != own {
                let s = seeds[[min(own, peer), max(own, peer)]]!
                // The last meter derives its mask for another weight vector.
                let d = index == ids.count - 1 ? otherDigest : digest
                DMCFE.addMask(pairwiseSeed: s.span, digest: d.span, own: own, peer: peer, t1: &t1, t2: &t2)
            }
            var out = [UInt8](repeating: 0, count: 64)
            var span = out.mutableSpan
            // y = 0 so the share is the mask itself; add them up through keyShare's encoding.
            DMCFE.keyShare(
                secret: DMCFESecret(randomBytes: [UInt8](repeating: 0, count: 64).span)!, weight: 0, t1: t1, t2: t2,
                into: &span)
            let m = DMCFESecret(randomBytes: out.span)!
            if index < ids.count - 1 {
                total1 = addModQ(total1, m.s1)
                total2 = addModQ(total2, m.s2)
            }
            crossed1 = addModQ(crossed1, m.s1)
            crossed2 = addModQ(crossed2, m.s2)
        }
        // Three of four meters' masks alone do not cancel; all four with one digest would.
        #expect(hex(total1) != String(repeating: "0", count: 64))
        #expect(hex(crossed1) != String(repeating: "0", count: 64), "masks for different digests must not cancel")
        // Recompute with one digest for everybody: they cancel.
        var all1 = InlineArray<4, UInt>(repeating: 0)
        var all2 = InlineArray<4, UInt>(repeating: 0)
        for own in ids {
            for peer in ids where peer != own {
                let seed = seeds[[min(own, peer), max(own, peer)]]!
                DMCFE.addMask(pairwiseSeed: seed.span, digest: digest.span, own: own, peer: peer, t1: &all1, t2: &all2)
            }
        }
        #expect(hex(all1) == String(repeating: "0", count: 64))
        #expect(hex(all2) == String(repeating: "0", count: 64))
        _ = total2
        _ = crossed2
    }

    /// (a + b) mod q through the public key-share encoding.
    func addModQ(_ a: InlineArray<4, UInt>, _ b: InlineArray<4, UInt>) -> InlineArray<4, UInt> {
        var out = [UInt8](repeating: 0, count: 64)
        var span = out.mutableSpan
        DMCFE.keyShare(secret: DMCFESecret(s1: a, s2: a)!, weight: 1, t1: b, t2: b, into: &span)
        return DMCFESecret(randomBytes: out.span)!.s1
    }
}
