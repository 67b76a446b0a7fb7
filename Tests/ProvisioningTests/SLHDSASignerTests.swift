import CostReport
import Foundation
import MeterCrypto
import MeterSimulator
import Provisioning
import TestSupport
import Testing

/// The sets the vector file names.
let parameterSets: [String: SLHDSAParameters] = ["shake128f": .shake128f, "shake128s": .shake128s]

/// The context string of authority statements, as the meter's verifier takes it.
let statementContext: StaticString = "PM-STATEMENT-v1"

func meterVerifies(_ p: SLHDSAParameters, _ publicKey: [UInt8], _ message: [UInt8], _ signature: [UInt8]) -> Bool {
    SLHDSA.verify(
        parameters: p, publicKey: publicKey.span, message: message.span, signature: signature.span,
        context: statementContext)
}

/// The `slh-dsa` Python package as the independent implementation: it verifies what Swift
/// signed and signs (with fresh keys) what Swift must verify.
enum SLHDSAOracle {
    struct Check: Codable {
        let parameters: String
        let publicKey: String
        let message: String
        let context: String
        let signature: String
    }
    struct Request: Encodable {
        let verify: [Check]
        /// Messages for Python to sign, each under a fresh key, with ctx "PM-STATEMENT-v1".
        let sign: [Check]
    }
    struct Response: Decodable {
        let verified: [Bool]
        let signed: [Check]
    }

    static let script = """
        import json, sys
        from slhdsa import KeyPair, PublicKey, shake_128f, shake_128s
        sets = {"shake128f": shake_128f, "shake128s": shake_128s}
        req = json.load(sys.stdin)
        verified = []
        for c in req["verify"]:
            par = sets[c["parameters"]]
            pk = PublicKey.from_digest(bytes.fromhex(c["publicKey"]), par)
            verified.append(pk.verify_pure(bytes.fromhex(c["message"]), bytes.fromhex(c["signature"]),
                                           c["context"].encode()))
        signed = []
        for c in req["sign"]:
            par = sets[c["parameters"]]
            kp = KeyPair.gen(par)
            msg = bytes.fromhex(c["message"])
            sig = kp.sign_pure(msg, randomize=True, ctx=c["context"].encode())
            signed.append(dict(c, publicKey=kp.pub.digest().hex(), signature=sig.hex()))
        json.dump({"verified": verified, "signed": signed}, sys.stdout)
        """

    static func run(_ request: Request) throws -> Response {
        try PythonOracle.run(script, input: request, as: Response.self)
    }
}

@Suite("SLH-DSA signer (provisioning authority)")
struct SLHDSASignerTests {
    @Test("keygen and deterministic signing reproduce every slhdsa vector byte for byte")
    func reproducesVectors() throws {
        let vectors = try SLHDSAVectors.load()
        var reproduced = 0
        for item in vectors.cases {
            let p = try #require(parameterSets[item.parameters])
            let key = SLHDSASecretKey(parameters: p, seed: Hex.decode(item.seed))
            #expect(Hex.encode(key.publicKey) == item.publicKey, "\(item.parameters) public key")
            guard item.deterministic else { continue }
            let signature = key.sign(Hex.decode(item.message), context: vectors.context)
            #expect(Hex.encode(signature) == item.signature, "\(item.parameters), message \(item.message.prefix(16))")
            reproduced += 1
        }
        #expect(reproduced == 5)
    }

    @Test("the seed splits as SK.seed || SK.prf || PK.seed")
    func seedSplit() {
        let seed = (0..<48).map { UInt8($0) }
        let whole = SLHDSASecretKey(parameters: .shake128f, seed: seed)
        let parts = SLHDSASecretKey(
            parameters: .shake128f, skSeed: Array(seed[0..<16]), skPRF: Array(seed[16..<32]),
            pkSeed: Array(seed[32..<48]))
        #expect(whole.publicKey == parts.publicKey)
        #expect(Array(whole.publicKey.prefix(16)) == Array(seed[32..<48]))
        #expect(whole.sign([1, 2, 3], context: "c") == parts.sign([1, 2, 3], context: "c"))
    }

    @Test("Swift-signed messages verify in slhdsa; slhdsa-signed ones verify on the meter")
    func liveCrossCheck() throws {
        var rng = SeededGenerator(seed: 0x5148_4453)
        let key = SLHDSASecretKey(parameters: .shake128f, seed: rng.bytes(48))
        var checks: [SLHDSAOracle.Check] = []
        var expected: [Bool] = []
        for (index, size) in [0, 1, 57, 1024, 2500].enumerated() {
            let message = rng.bytes(size)
            let context = index == 1 ? "" : index == 2 ? "another context" : "\(statementContext)"
            let randomness: [UInt8]? = index.isMultiple(of: 2) ? rng.bytes(16) : nil
            let signature = key.sign(message, context: context, addRandomness: randomness)
            #expect(signature.count == 17088)
            if context == "\(statementContext)" {
                #expect(meterVerifies(.shake128f, key.publicKey, message, signature))
            }
            let check = SLHDSAOracle.Check(
                parameters: "shake128f", publicKey: Hex.encode(key.publicKey), message: Hex.encode(message),
                context: context, signature: Hex.encode(signature))
            checks.append(check)
            expected.append(true)
            // The same signature under another context must fail in Python too.
            checks.append(
                SLHDSAOracle.Check(
                    parameters: check.parameters, publicKey: check.publicKey, message: check.message,
                    context: context + "x", signature: check.signature))
            expected.append(false)
        }
        let toSign = [0, 33, 1500].map { size in
            SLHDSAOracle.Check(
                parameters: "shake128f", publicKey: "", message: Hex.encode(rng.bytes(size)),
                context: "\(statementContext)", signature: "")
        }
        let response = try SLHDSAOracle.run(.init(verify: checks, sign: toSign))
        #expect(response.verified == expected)
        #expect(response.signed.count == toSign.count)
        for signed in response.signed {
            let pk = Hex.decode(signed.publicKey)
            let message = Hex.decode(signed.message)
            var signature = Hex.decode(signed.signature)
            #expect(
                meterVerifies(.shake128f, pk, message, signature), "slhdsa signature, \(message.count)-byte message")
            signature[signature.count / 2] ^= 4
            #expect(!meterVerifies(.shake128f, pk, message, signature))
        }
    }
}

/// Prints keygen, sign and verify times on the thread's CPU clock (medians, CostReport's
/// instruments); asserts only correctness: timing is reported, never tested.
/// Release figures: `swift test -c release --no-parallel --filter SLHDSATimingReport`.
@Suite("SLH-DSA timing report")
struct SLHDSATimingReport {
    static func measure<T>(_ rounds: Int, _ body: () -> T) -> (T, Distribution) {
        var result: T?
        let samples = (0..<rounds).map { _ in
            let start = threadCPUNanoseconds()
            result = body()
            return threadCPUNanoseconds() - start
        }
        return (result!, Distribution(nanoseconds: samples))
    }

    static func milliseconds(_ d: Distribution) -> String {
        String(format: "%.2f ms (p10 %.2f, p90 %.2f)", d.medianUs / 1000, d.p10Us / 1000, d.p90Us / 1000)
    }

    @Test("keygen, sign and verify, printed", arguments: ["shake128f", "shake128s"])
    func report(set: String) throws {
        let p = try #require(parameterSets[set])
        let slow = p == .shake128s
        let (key, keygen) = Self.measure(slow ? 1 : 5) {
            SLHDSASecretKey(parameters: p, seed: (0..<48).map { UInt8($0) })
        }
        let message = [UInt8](repeating: 0x5A, count: 200)
        let (signature, sign) = Self.measure(slow ? 1 : 5) { key.sign(message, context: "\(statementContext)") }
        let (ok, verify) = Self.measure(21) { meterVerifies(p, key.publicKey, message, signature) }
        #expect(ok)
        print(
            "SLH-DSA \(set) (thread CPU, median): keygen \(Self.milliseconds(keygen)), sign \(Self.milliseconds(sign)),"
                + " verify \(Self.milliseconds(verify))")
    }
}
