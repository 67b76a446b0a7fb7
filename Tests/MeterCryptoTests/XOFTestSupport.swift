import Foundation
import MeterCrypto
import TestSupport
import Testing

/// Known-answer files in Tests/MeterCryptoTests/Vectors (copied into the test bundle).
enum Vectors {
    /// A vector file or oracle answer that is not there.
    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    static func load<T: Decodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Vectors")
        else { throw Missing(description: "vector file Vectors/\(name).json is not in the test bundle") }
        return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
    }
}

extension KeccakSponge {
    /// The next `count` output bytes, through `squeeze(into:)`.
    mutating func squeeze(count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var span = out.mutableSpan
        squeeze(into: &span)
        return out
    }
}

/// The two representations of the Keccak state. `XOF` uses one of them per target (lanes on
/// 64-bit CPUs, interleaved on 32-bit ones); the host tests run both through the same checks.
enum StateRepresentation: String, CaseIterable, CustomTestStringConvertible {
    case lanes, interleaved

    var testDescription: String { rawValue }

    /// The state type (generic helpers take it and open it).
    var stateType: any KeccakState.Type {
        switch self {
        case .lanes: KeccakLaneState.self
        case .interleaved: KeccakInterleavedState.self
        }
    }
}

/// One-shot XOF output (the target's representation unless another is given).
func xofOutput(
    _ algorithm: XOFAlgorithm, domain: UInt8 = 0x1F, message: [UInt8], count: Int,
    representation: StateRepresentation? = nil
) -> [UInt8] {
    let type: any KeccakState.Type = representation?.stateType ?? KeccakTargetState.self
    return spongeOutput(type, algorithm, domain, message, count)
}

func spongeOutput<S: KeccakState>(
    _: S.Type, _ algorithm: XOFAlgorithm, _ domain: UInt8 = 0x1F, _ message: [UInt8], _ count: Int
) -> [UInt8] {
    var xof = KeccakSponge<S>(algorithm, domainSeparation: domain)
    xof.absorb(message.span)
    return xof.squeeze(count: count)
}

/// One-shot KMAC128 with a run-time customization string.
func kmac128(key: [UInt8], message: [UInt8], customization: [UInt8], count: Int) -> [UInt8] {
    var mac = KMAC128(key: key.span, customization: customization.span)
    mac.absorb(message.span)
    return mac.finalize(count: count)
}

extension KMAC128 {
    consuming func finalize(count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var span = out.mutableSpan
        finalize(into: &span)
        return out
    }
}

/// ptn(n) of RFC 9861: n bytes of the repeating pattern 00 01 ... FA.
func ptn(_ count: Int) -> [UInt8] {
    (0..<count).map { UInt8($0 % 0xFB) }
}

/// Python as the independent implementation: hashlib for SHAKE, pycryptodome for TurboSHAKE128
/// and KMAC128. A missing python3 or pycryptodome makes the exchange throw, so the test fails.
enum XOFOracle {
    struct Case: Encodable {
        /// "shake128", "shake256", "turboshake128" or "kmac128".
        var algorithm: String
        var message: String
        var outputLength: Int
        var domain: Int? = nil
        var key: String? = nil
        var customization: String? = nil
    }

    struct Request: Encodable { var cases: [Case] }
    struct Reply: Decodable { var outputs: [String] }

    /// Reads all of stdin before importing pycryptodome: if the import fails, Python exits
    /// with an error the test reports, instead of closing the pipe while Swift still writes
    /// (SIGPIPE would kill the whole test process).
    static let script = """
        import hashlib, json, sys
        request = json.load(sys.stdin)
        from Crypto.Hash import KMAC128, TurboSHAKE128
        outputs = []
        for case in request["cases"]:
            message = bytes.fromhex(case["message"])
            n = case["outputLength"]
            algorithm = case["algorithm"]
            if algorithm == "shake128":
                out = hashlib.shake_128(message).digest(n)
            elif algorithm == "shake256":
                out = hashlib.shake_256(message).digest(n)
            elif algorithm == "turboshake128":
                out = TurboSHAKE128.new(data=message, domain=case["domain"]).read(n)
            elif algorithm == "kmac128":
                out = KMAC128.new(key=bytes.fromhex(case["key"]), data=message, mac_len=n,
                                  custom=bytes.fromhex(case["customization"])).digest()
            else:
                raise ValueError("unknown algorithm " + algorithm)
            outputs.append(out.hex())
        json.dump({"outputs": outputs}, sys.stdout)
        """

    static func outputs(for cases: [Case]) throws -> [String] {
        let reply = try PythonOracle.run(script, input: Request(cases: cases), as: Reply.self)
        guard reply.outputs.count == cases.count else {
            throw Vectors.Missing(description: "oracle answered \(reply.outputs.count) of \(cases.count) cases")
        }
        return reply.outputs
    }
}
