import AggregatorAPI
import Crypto
import Foundation
import MeterCrypto

// Consent (issue 14, item 2; docs/consent.md): a grant is made and signed on the customer's
// side. The customer's tool opens the frames of the granted labels with K, re-encrypts the
// readings for the grantee's X25519 key with HPKE (RFC 9180 base mode,
// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM), and signs the grant with an Ed25519
// key derived from K. Neither K nor w is in the grant.

/// Why a grant could not be made, checked or opened.
public enum GrantError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A key file that does not hold an X25519 key (the message says why).
    case badKeyFile(String)
    /// The grant's body is not a grant of this version.
    case malformed(String)
    /// The signature does not verify under the grant's signing key, or that key is not the
    /// one expected.
    case badSignature
    /// The sealed records are not the ones the grant names (hash), or do not open with the key.
    case sealedRecords(String)
    /// A record outside the grant's labels.
    case outsideGrant(label: UInt64)
    /// No frame of a granted label opened (nothing to grant).
    case nothingToGrant

    public var description: String {
        switch self {
        case .badKeyFile(let s): return "key file: \(s)"
        case .malformed(let s): return "not a grant: \(s)"
        case .badSignature: return "the grant's signature does not verify"
        case .sealedRecords(let s): return "sealed records: \(s)"
        case .outsideGrant(let l): return "a record for label \(l), outside the grant"
        case .nothingToGrant: return "no reading of the granted labels opened"
        }
    }
}

/// One reading as a grant carries it to the grantee.
public struct GrantRecord: Codable, Sendable, Equatable {
    public var label: UInt64
    public var wh: UInt64
    /// Average W of each minute; nil where not measured whole.
    public var minutes: [UInt16?]

    public init(label: UInt64, wh: UInt64, minutes: [UInt16?]) {
        self.label = label
        self.wh = wh
        self.minutes = minutes
    }
}

extension CustomerKey {
    /// The customer's Ed25519 grant-signing key: HKDF-SHA256(K, info "PM-CUSTOMER-GRANT-SIGNING-v1").
    public var signingKey: Curve25519.Signing.PrivateKey {
        let seed = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: bytes), salt: [UInt8](),
            info: Array("PM-CUSTOMER-GRANT-SIGNING-v1".utf8), outputByteCount: 32)
        return seed.withUnsafeBytes { try! Curve25519.Signing.PrivateKey(rawRepresentation: $0) }
    }
}

/// HPKE as grants use it.
public enum GrantSealing {
    public static let ciphersuite = HPKE.Ciphersuite(
        kem: .Curve25519_HKDF_SHA256, kdf: .HKDF_SHA256, aead: .AES_GCM_128)
    static let encapsulatedKeyBytes = 32

    static func info(_ id: String) -> Data { Data(("PM-GRANT-RECORDS-v1|" + id).utf8) }

    /// Seals `records` for `recipient`: encapsulated key (32) ‖ ciphertext, AAD the grant id.
    public static func seal(
        _ records: [GrantRecord], for recipient: Curve25519.KeyAgreement.PublicKey, grant id: String
    ) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let plaintext = try encoder.encode(records)
        var sender = try HPKE.Sender(recipientKey: recipient, ciphersuite: ciphersuite, info: info(id))
        let ciphertext = try sender.seal(plaintext, authenticating: Data(id.utf8))
        return Array(sender.encapsulatedKey) + Array(ciphertext)
    }

    public static func open(
        _ sealed: [UInt8], with key: Curve25519.KeyAgreement.PrivateKey, grant id: String
    ) throws(GrantError) -> [GrantRecord] {
        guard sealed.count > encapsulatedKeyBytes else { throw .sealedRecords("too short") }
        do {
            var recipient = try HPKE.Recipient(
                privateKey: key, ciphersuite: ciphersuite, info: info(id),
                encapsulatedKey: Data(sealed[0..<encapsulatedKeyBytes]))
            let plaintext = try recipient.open(Data(sealed[encapsulatedKeyBytes...]), authenticating: Data(id.utf8))
            return try JSONDecoder().decode([GrantRecord].self, from: plaintext)
        } catch {
            throw .sealedRecords("they do not open with this key (\(error))")
        }
    }
}

/// The grantee's key pair (a third party's: `metering customer grantee-keygen`), as text
/// files: `x25519-private <hex>` and `x25519-public <hex>`.
public enum GranteeKeyFile {
    /// A new key pair in `path` and `path.pub`.
    public static func generate(to path: String) throws {
        try write(privateKey: Curve25519.KeyAgreement.PrivateKey(), to: path)
    }

    public static func write(privateKey: Curve25519.KeyAgreement.PrivateKey, to path: String) throws {
        let priv = "x25519-private " + Hex.encode(Array(privateKey.rawRepresentation)) + "\n"
        let pub = "x25519-public " + Hex.encode(Array(privateKey.publicKey.rawRepresentation)) + "\n"
        guard
            FileManager.default.createFile(
                atPath: path, contents: Data(priv.utf8), attributes: [.posixPermissions: 0o600])
        else { throw GrantError.badKeyFile("cannot write \(path)") }
        try Data(pub.utf8).write(to: URL(fileURLWithPath: path + ".pub"))
    }

    static func read(_ path: String) throws(GrantError) -> (kind: String, bytes: [UInt8]) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw .badKeyFile("cannot read \(path)")
        }
        let parts = text.split(whereSeparator: { $0 == " " || $0.isNewline })
        guard parts.count == 2, let bytes = Hex.decode(String(parts[1])), bytes.count == 32 else {
            throw .badKeyFile("\(path) is not `x25519-private|x25519-public <64 hex digits>`")
        }
        return (String(parts[0]), bytes)
    }

    /// The public key in a public or private key file.
    public static func publicKey(_ path: String) throws(GrantError) -> Curve25519.KeyAgreement.PublicKey {
        let (kind, bytes) = try read(path)
        switch kind {
        case "x25519-public":
            guard let key = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: bytes) else {
                throw .badKeyFile("\(path): not an X25519 public key")
            }
            return key
        case "x25519-private": return try privateKey(path).publicKey
        default: throw .badKeyFile("\(path): unknown kind \(kind)")
        }
    }

    public static func privateKey(_ path: String) throws(GrantError) -> Curve25519.KeyAgreement.PrivateKey {
        let (kind, bytes) = try read(path)
        guard kind == "x25519-private", let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: bytes)
        else { throw .badKeyFile("\(path) holds no X25519 private key") }
        return key
    }
}

/// Making, checking and opening grants.
public enum Grants {
    /// A grant of `readings` (already opened with the customer's key, all inside
    /// `labels`) for `grantee`: the body, its signature under the customer's signing key,
    /// and the records sealed for `granteeKey`.
    public static func make(
        key: CustomerKey, readings: [DetailReading], grantee: String,
        granteeKey: Curve25519.KeyAgreement.PublicKey, labels: ClosedRange<UInt64>, purpose: String,
        expires: String?, now: Date = Date(), requireRecords: Bool = true
    ) throws -> GrantUpload {
        let records = readings.filter { labels.contains($0.label) }.map {
            GrantRecord(label: $0.label, wh: $0.wattHours, minutes: $0.minuteWatts)
        }
        guard !records.isEmpty || !requireRecords else { throw GrantError.nothingToGrant }
        var idBytes = [UInt8](repeating: 0, count: 16)
        var rng = SystemRandomNumberGenerator()
        for i in idBytes.indices { idBytes[i] = UInt8.random(in: 0...255, using: &rng) }
        let id = Hex.encode(idBytes)
        let sealed = try GrantSealing.seal(records, for: granteeKey, grant: id)
        let signing = key.signingKey
        let body = GrantBody(
            id: id, customer: Hex.encode(key.verifier), grantee: grantee,
            grantee_key: Hex.encode(Array(granteeKey.rawRepresentation)), from: labels.lowerBound,
            to: labels.upperBound, purpose: purpose, expires: expires, created: iso8601(now),
            records_hash: Hex.encode(Array(SHA256.hash(data: sealed))),
            signing_key: Hex.encode(Array(signing.publicKey.rawRepresentation)))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(body), as: UTF8.self)
        let signature = try signing.signature(for: Data(text.utf8))
        return GrantUpload(body: text, signature: Hex.encode(Array(signature)), sealed: Hex.encode(sealed))
    }

    /// Parses a grant's body and checks its signature under the key it names (and, given
    /// `expectedSigningKey`, that it is that key) and the sealed records' hash.
    public static func check(
        body text: String, signature: String, sealed: [UInt8], expectedSigningKey: [UInt8]? = nil
    ) throws(GrantError) -> GrantBody {
        let body: GrantBody
        do { body = try JSONDecoder().decode(GrantBody.self, from: Data(text.utf8)) } catch {
            throw .malformed("\(error)")
        }
        guard body.version == GrantBody.currentVersion else { throw .malformed("version \(body.version)") }
        guard body.from <= body.to else { throw .malformed("from must not exceed to") }
        guard let id = Hex.decode(body.id), id.count == 16 else { throw .malformed("id is 16 bytes hex") }
        guard let keyBytes = Hex.decode(body.signing_key),
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: keyBytes),
            let signatureBytes = Hex.decode(signature)
        else { throw .badSignature }
        if let expectedSigningKey, expectedSigningKey != keyBytes { throw .badSignature }
        guard key.isValidSignature(signatureBytes, for: Data(text.utf8)) else { throw .badSignature }
        guard Hex.encode(Array(SHA256.hash(data: sealed))) == body.records_hash else {
            throw .sealedRecords("their hash is not the grant's")
        }
        if let expires = body.expires, date(expires) == nil { throw .malformed("expires is not ISO 8601") }
        return body
    }

    /// The grantee's side: checks the grant and opens its records (each inside its labels).
    public static func open(_ response: GrantDetailResponse, with key: Curve25519.KeyAgreement.PrivateKey)
        throws(GrantError) -> (grant: GrantBody, records: [GrantRecord])
    {
        guard let sealed = Hex.decode(response.sealed) else { throw .sealedRecords("not hex") }
        let body = try check(body: response.body, signature: response.signature, sealed: sealed)
        guard body.grantee_key == Hex.encode(Array(key.publicKey.rawRepresentation)) else {
            throw .sealedRecords("the grant is for another key")
        }
        let records = try GrantSealing.open(sealed, with: key, grant: body.id)
        for r in records where !(body.from...body.to).contains(r.label) { throw .outsideGrant(label: r.label) }
        return (body, records)
    }

    public static func iso8601(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }

    public static func date(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text)
    }
}

/// The audit log's hash chain: entry n's hash = SHA-256("PM-AUDIT-v1\n" ‖ hash of entry n−1
/// (32 zero bytes for entry 0) ‖ its canonical lines: seq, time, kind, grant, party, from, to,
/// detail, each followed by "\n" (newlines inside a field are written as spaces)).
public enum AuditChain {
    public static let zero = [UInt8](repeating: 0, count: 32)

    public static func hash(
        seq: Int64, previous: [UInt8], time: String, kind: String, grant: String, party: String, from: UInt64,
        to: UInt64, detail: String
    ) -> [UInt8] {
        func line(_ s: String) -> String { s.replacingOccurrences(of: "\n", with: " ") + "\n" }
        var sha = SHA256()
        sha.update(data: Array("PM-AUDIT-v1\n".utf8))
        sha.update(data: previous)
        let text = [String(seq), time, kind, grant, party, String(from), String(to), detail].map(line).joined()
        sha.update(data: Array(text.utf8))
        return Array(sha.finalize())
    }

    /// Why a log does not check out.
    public enum Break: Error, Equatable, Sendable, CustomStringConvertible {
        /// Entry `seq` is not the one after the previous (a gap, a reordering).
        case sequence(seq: Int64)
        /// Entry `seq` does not chain to the entry before it.
        case previous(seq: Int64)
        /// Entry `seq`'s hash is not the hash of its content: it was changed.
        case content(seq: Int64)
        /// The log does not extend the head the customer saw before (entries were rewritten or dropped).
        case head(String)

        public var description: String {
            switch self {
            case .sequence(let s): return "entry \(s) is out of sequence"
            case .previous(let s): return "entry \(s) does not chain to the one before"
            case .content(let s): return "entry \(s) was changed after it was written"
            case .head(let s): return s
            }
        }
    }

    /// Checks every entry's sequence, link and hash; with `knownHead` (seq and hash seen
    /// before), that the log still holds that entry unchanged.
    public static func verify(_ entries: [AuditEntryJSON], knownHead: (seq: Int64, hash: String)? = nil)
        throws(Break)
    {
        var previous = zero
        for (i, e) in entries.enumerated() {
            guard e.seq == Int64(i) else { throw .sequence(seq: e.seq) }
            guard Hex.decode(e.previous) == previous else { throw .previous(seq: e.seq) }
            let h = hash(
                seq: e.seq, previous: previous, time: e.time, kind: e.kind, grant: e.grant, party: e.party,
                from: e.from, to: e.to, detail: e.detail)
            guard Hex.encode(h) == e.hash else { throw .content(seq: e.seq) }
            previous = h
        }
        if let knownHead {
            guard knownHead.seq < Int64(entries.count), entries[Int(knownHead.seq)].hash == knownHead.hash else {
                throw .head("the log no longer holds entry \(knownHead.seq) as seen before (\(knownHead.hash))")
            }
        }
    }
}
