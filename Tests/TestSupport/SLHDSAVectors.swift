import Foundation

/// Tests/MeterCryptoTests/Vectors/slhdsa_shake.json, made by scripts/vectors/make_slhdsa_vectors.py
/// with the independent `slh-dsa` Python package: the meter verifier's and the authority
/// signer's known answers. Read from the source tree, so every test target sees one file.
public struct SLHDSAVectors: Decodable, Sendable {
    public struct Case: Decodable, Sendable {
        /// "shake128f" or "shake128s".
        public let parameters: String
        /// SK.seed || SK.prf || PK.seed (3n bytes, hex).
        public let seed: String
        /// PK.seed || PK.root (hex).
        public let publicKey: String
        public let message: String
        /// True: opt_rand = PK.seed, so a signer must reproduce `signature` exactly.
        public let deterministic: Bool
        public let signature: String
    }
    /// The FIPS 205 context string of every case.
    public let context: String
    public let cases: [Case]

    public static func load() throws -> SLHDSAVectors {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("MeterCryptoTests/Vectors/slhdsa_shake.json")
        return try JSONDecoder().decode(SLHDSAVectors.self, from: Data(contentsOf: url))
    }
}
