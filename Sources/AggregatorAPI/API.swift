// The aggregator service's wire format, shared by the service (Sources/AggregatorService)
// and its clients (Sources/ServiceClient): the length-prefixed frame batches, the per-frame
// outcomes of an upload, and the JSON bodies. docs/api/openapi.yaml describes the same.

/// A batch of frames as the uplink and downlink routes carry them: each frame as
/// `u16 big-endian length | frame bytes`, back to back.
public enum FrameBatch {
    /// Why a batch body could not be split into frames.
    public enum DecodeError: Error, Equatable, Sendable {
        /// The body ends inside a length prefix or inside a frame.
        case truncated(offset: Int)
        /// A frame of length zero.
        case emptyFrame(offset: Int)
        /// More frames than the limit.
        case tooManyFrames(limit: Int)
    }

    public static func encode(_ frames: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(frames.reduce(0) { $0 + 2 + $1.count })
        for frame in frames {
            precondition(frame.count <= 0xFFFF, "a frame in a batch has at most 65535 bytes")
            out.append(UInt8(frame.count >> 8))
            out.append(UInt8(frame.count & 0xFF))
            out += frame
        }
        return out
    }

    public static func decode(_ body: [UInt8], maxFrames: Int = .max) throws(DecodeError) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var i = 0
        while i < body.count {
            guard i + 2 <= body.count else { throw .truncated(offset: i) }
            let length = Int(body[i]) << 8 | Int(body[i + 1])
            guard length > 0 else { throw .emptyFrame(offset: i) }
            guard i + 2 + length <= body.count else { throw .truncated(offset: i) }
            guard frames.count < maxFrames else { throw .tooManyFrames(limit: maxFrames) }
            frames.append(Array(body[i + 2..<i + 2 + length]))
            i += 2 + length
        }
        return frames
    }
}

/// What the service did with one uploaded frame.
public enum UploadOutcome: Equatable, Sendable {
    /// Stored now (committed); `ack` is the ack frame for the meter (empty for key-setup frames).
    case stored(ack: [UInt8])
    /// Already stored before, byte for byte (a retransmission), or too old for the window:
    /// acknowledged again, nothing changed.
    case acknowledgedAgain(ack: [UInt8])
    /// Refused; `error` names the typed error (`badTag`, `labelReused`, ...). No ack.
    case rejected(error: String)

    /// The ack frame, when there is one.
    public var ack: [UInt8]? {
        switch self {
        case .stored(let ack), .acknowledgedAgain(let ack): return ack.isEmpty ? nil : ack
        case .rejected: return nil
        }
    }

    /// The batch response body: per uploaded frame, in order, `u8 outcome | u16 length |
    /// bytes` with outcome 0 stored, 1 acknowledged again (bytes: the ack frame), 2 rejected
    /// (bytes: the error's name in UTF-8).
    public static func encode(_ outcomes: [UploadOutcome]) -> [UInt8] {
        var out: [UInt8] = []
        for outcome in outcomes {
            let (code, bytes): (UInt8, [UInt8])
            switch outcome {
            case .stored(let ack): (code, bytes) = (0, ack)
            case .acknowledgedAgain(let ack): (code, bytes) = (1, ack)
            case .rejected(let error): (code, bytes) = (2, Array(error.utf8))
            }
            out += [code, UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
        }
        return out
    }

    public static func decode(_ body: [UInt8]) throws(FrameBatch.DecodeError) -> [UploadOutcome] {
        var out: [UploadOutcome] = []
        var i = 0
        while i < body.count {
            guard i + 3 <= body.count else { throw .truncated(offset: i) }
            let length = Int(body[i + 1]) << 8 | Int(body[i + 2])
            guard i + 3 + length <= body.count else { throw .truncated(offset: i) }
            let bytes = Array(body[i + 3..<i + 3 + length])
            switch body[i] {
            case 0: out.append(.stored(ack: bytes))
            case 1: out.append(.acknowledgedAgain(ack: bytes))
            default: out.append(.rejected(error: String(decoding: bytes, as: UTF8.self)))
            }
            i += 3 + length
        }
        return out
    }
}

// MARK: - JSON bodies (snake_case keys, as the OpenAPI document names them)

/// A JSON body whose members are exactly the ones listed (the service refuses others).
public protocol ClosedJSONBody: Codable {
    static var fields: Set<String> { get }
}

/// POST /v1/groups: a group as the provisioning authority hands it to the aggregator.
public struct GroupCreation: ClosedJSONBody, Sendable, Equatable {
    public static let fields: Set<String> = [
        "group", "epoch", "scheme", "parameters", "key_mode", "max_reading", "current_label", "lookback", "frame_keys",
        "paillier", "authority_key",
    ]
    public var group: UInt32
    public var epoch: UInt32
    /// "lwr-psa" (the only scheme the service runs so far).
    public var scheme: String
    /// LWR-PSA parameter set: "standard" or "turbo".
    public var parameters: String
    /// "seed" or "expanded".
    public var key_mode: String
    public var max_reading: UInt64
    /// The label the window of accepted labels starts at.
    public var current_label: UInt64
    /// Labels behind the newest one still accepted.
    public var lookback: UInt64
    /// meter id (decimal) → frame key for (meter, group, epoch), hex.
    public var frame_keys: [String: String]
    /// scheme "paillier": the supplier's key and the authority's signed layout and key statements.
    public var paillier: PaillierHandOver?
    /// scheme "lwr-psa": the authority's SLH-DSA public key (hex); the signed parameters,
    /// statistics plans and tariffs the service installs must verify under it (a Paillier
    /// group's is `paillier.authority_key`).
    public var authority_key: String?

    public init(
        group: UInt32, epoch: UInt32, scheme: String = "lwr-psa", parameters: String = "standard",
        key_mode: String = "seed", max_reading: UInt64, current_label: UInt64 = 0, lookback: UInt64 = 96,
        frame_keys: [String: String], paillier: PaillierHandOver? = nil, authority_key: String? = nil
    ) {
        self.paillier = paillier
        self.authority_key = authority_key
        self.group = group
        self.epoch = epoch
        self.scheme = scheme
        self.parameters = parameters
        self.key_mode = key_mode
        self.max_reading = max_reading
        self.current_label = current_label
        self.lookback = lookback
        self.frame_keys = frame_keys
    }
}

/// A Paillier group's hand-over from the authority (inside `GroupCreation`): the
/// supplier's public key N, the authority's SLH-DSA public key, the signed layout that holds
/// the group, and each meter's signed key statement (relayed to the meter on its downlink).
/// All hex.
public struct PaillierHandOver: Codable, Sendable, Equatable {
    /// N, big-endian hex (2048 or 3072 bits); g = N + 1.
    public var modulus: String
    public var authority_key: String
    public var layout: SignedStatementJSON
    /// meter id (decimal) → its signed Paillier key statement.
    public var key_statements: [String: SignedStatementJSON]

    public init(
        modulus: String, authority_key: String, layout: SignedStatementJSON,
        key_statements: [String: SignedStatementJSON]
    ) {
        self.modulus = modulus
        self.authority_key = authority_key
        self.layout = layout
        self.key_statements = key_statements
    }
}

/// A signed statement: body and signature, hex.
public struct SignedStatementJSON: Codable, Sendable, Equatable {
    public var body: String
    public var signature: String
    public init(body: String, signature: String) {
        self.body = body
        self.signature = signature
    }
}

/// GET /v1/groups/{group}/encrypted-sums (Paillier groups): per complete label the product
/// of every meter's ciphertext, Enc(Σ readings) mod N², for the supplier to decrypt.
public struct EncryptedSumsResponse: Codable, Sendable, Equatable {
    public var group: UInt32
    public var from: UInt64
    public var to: UInt64
    /// The supplier's N the sums are encrypted under, hex.
    public var modulus: String
    public var sums: [EncryptedSumEntry]

    public init(group: UInt32, from: UInt64, to: UInt64, modulus: String, sums: [EncryptedSumEntry]) {
        self.group = group
        self.from = from
        self.to = to
        self.modulus = modulus
        self.sums = sums
    }
}

/// One label's encrypted group sum.
public struct EncryptedSumEntry: Codable, Sendable, Equatable {
    public var label: UInt64
    /// Meters whose ciphertexts are in the product (every meter of the group).
    public var meters: Int
    /// Π c_i mod N², big-endian hex.
    public var ciphertext: String

    public init(label: UInt64, meters: Int, ciphertext: String) {
        self.label = label
        self.meters = meters
        self.ciphertext = ciphertext
    }
}

/// PUT /v1/groups/{group}/signed-parameters: the authority's signed group parameters and
/// the roster's DH public keys (meter id → hex).
public struct SignedParameters: ClosedJSONBody, Sendable, Equatable {
    public static let fields: Set<String> = ["statement_body", "signature", "public_keys"]
    public var statement_body: String
    public var signature: String
    public var public_keys: [String: String]

    public init(statement_body: String, signature: String, public_keys: [String: String]) {
        self.statement_body = statement_body
        self.signature = signature
        self.public_keys = public_keys
    }
}

/// GET /v1/groups/{group}/enrolments: meter id → y | enrolment tag (hex), for the authority.
public struct Enrolments: Codable, Sendable, Equatable {
    public var group: UInt32
    public var epoch: UInt32
    public var enrolments: [String: String]

    public init(group: UInt32, epoch: UInt32, enrolments: [String: String]) {
        self.group = group
        self.epoch = epoch
        self.enrolments = enrolments
    }
}

/// GET /v1/groups/{group}: the operator's view of one group.
public struct GroupStatus: Codable, Sendable, Equatable {
    public var group: UInt32
    public var scheme: String
    public var epoch: UInt32
    public var meters: Int
    /// "enrolling", "awaiting-signature", "key-setup" or "collecting".
    public var phase: String
    public var public_keys_received: Int
    public var meters_reporting: Int
    public var readings_stored: Int
    public var labels_complete: Int
    public var newest_label: UInt64?
    public var current_label: UInt64
    public var alarms: Int

    public init(
        group: UInt32, scheme: String, epoch: UInt32, meters: Int, phase: String, public_keys_received: Int,
        meters_reporting: Int, readings_stored: Int, labels_complete: Int, newest_label: UInt64?,
        current_label: UInt64, alarms: Int
    ) {
        self.group = group
        self.scheme = scheme
        self.epoch = epoch
        self.meters = meters
        self.phase = phase
        self.public_keys_received = public_keys_received
        self.meters_reporting = meters_reporting
        self.readings_stored = readings_stored
        self.labels_complete = labels_complete
        self.newest_label = newest_label
        self.current_label = current_label
        self.alarms = alarms
    }
}

/// GET /v1/groups: every group's status.
public struct GroupList: Codable, Sendable, Equatable {
    public var groups: [GroupStatus]
    public init(groups: [GroupStatus]) { self.groups = groups }
}

/// One label's sum as the supplier reads it.
public struct SumEntry: Codable, Sendable, Equatable {
    public var label: UInt64
    /// Σ readings of the group, Wh.
    public var sum: UInt64
    public var meters: Int

    public init(label: UInt64, sum: UInt64, meters: Int) {
        self.label = label
        self.sum = sum
        self.meters = meters
    }
}

/// GET /v1/groups/{group}/sums (JSON).
public struct SumsResponse: Codable, Sendable, Equatable {
    public var group: UInt32
    public var from: UInt64
    public var to: UInt64
    public var sums: [SumEntry]

    public init(group: UInt32, from: UInt64, to: UInt64, sums: [SumEntry]) {
        self.group = group
        self.from = from
        self.to = to
        self.sums = sums
    }

    /// The CSV form: a header line `label,sum_wh,meters`, then one line per label.
    public var csv: String {
        "label,sum_wh,meters\n" + sums.map { "\($0.label),\($0.sum),\($0.meters)\n" }.joined()
    }
}

/// One alarm as the operator reads it.
public struct AlarmEntry: Codable, Sendable, Equatable {
    public var meter: UInt32
    public var label: UInt64
    public var kind: String
    public init(meter: UInt32, label: UInt64, kind: String) {
        self.meter = meter
        self.label = label
        self.kind = kind
    }
}

/// GET /v1/groups/{group}/alarms.
public struct AlarmsResponse: Codable, Sendable, Equatable {
    public var group: UInt32
    public var alarms: [AlarmEntry]
    public init(group: UInt32, alarms: [AlarmEntry]) {
        self.group = group
        self.alarms = alarms
    }
}

/// An `application/problem+json` body (RFC 9457): `title` is the typed error's case name.
public struct Problem: Codable, Sendable, Equatable {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String

    public init(title: String, status: Int, detail: String) {
        type = "urn:privatemetering:problem:\(title)"
        self.title = title
        self.status = status
        self.detail = detail
    }
}

/// Hex for keys and statements in JSON bodies.
public enum Hex {
    public static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// nil when `text` is not an even number of hex digits.
    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
