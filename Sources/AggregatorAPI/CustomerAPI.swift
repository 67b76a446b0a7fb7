// The customer routes' JSON (docs/consent.md, openapi.yaml): a customer's own sealed detail,
// grants made and signed on the customer's side, the grantee's read, the audit log.

/// GET /v1/customer/detail: the caller's frames (Authorization: Customer <w>), each the whole
/// 114-byte frame in hex, for the customer's side to open (nonce 0x06 0 0 0 ‖ label u64be,
/// AAD bytes 0 ..< 40, ciphertext ‖ tag bytes 40 ..< 98).
public struct CustomerDetailResponse: Codable, Sendable, Equatable {
    public struct Frame: Codable, Sendable, Equatable {
        public var label: UInt64
        public var hex: String

        public init(label: UInt64, hex: String) {
            self.label = label
            self.hex = hex
        }
    }

    /// The meter and group of the customer's frames (0 when none is stored).
    public var meter: UInt32
    public var group: UInt32
    public var frames: [Frame]

    public init(meter: UInt32, group: UInt32, frames: [Frame]) {
        self.meter = meter
        self.group = group
        self.frames = frames
    }
}

/// What a grant says, as the customer's tool writes and signs it (the exact bytes of its JSON
/// are what is signed: `GrantUpload.body`).
public struct GrantBody: Codable, Sendable, Equatable {
    public static let currentVersion = 1
    public var version: Int
    /// 16 random bytes, hex.
    public var id: String
    /// The customer verifier v, hex: whose detail it is.
    public var customer: String
    public var grantee: String
    /// The grantee's X25519 public key (HPKE recipient), hex.
    public var grantee_key: String
    /// The granted labels, inclusive.
    public var from: UInt64
    public var to: UInt64
    public var purpose: String
    /// ISO 8601; nil: until revoked.
    public var expires: String?
    /// ISO 8601, when the customer made it.
    public var created: String
    /// SHA-256 of the sealed records (`GrantUpload.sealed`), hex.
    public var records_hash: String
    /// The customer's Ed25519 grant-signing public key, hex.
    public var signing_key: String

    public init(
        id: String, customer: String, grantee: String, grantee_key: String, from: UInt64, to: UInt64,
        purpose: String, expires: String?, created: String, records_hash: String, signing_key: String
    ) {
        version = Self.currentVersion
        self.id = id
        self.customer = customer
        self.grantee = grantee
        self.grantee_key = grantee_key
        self.from = from
        self.to = to
        self.purpose = purpose
        self.expires = expires
        self.created = created
        self.records_hash = records_hash
        self.signing_key = signing_key
    }
}

/// POST /v1/customer/grants.
public struct GrantUpload: ClosedJSONBody, Sendable, Equatable {
    public static let fields: Set<String> = ["body", "signature", "sealed"]
    /// The grant's JSON (`GrantBody`) as signed, verbatim.
    public var body: String
    /// Ed25519 signature of the body's UTF-8 bytes, hex.
    public var signature: String
    /// The records sealed for the grantee (HPKE: encapsulated key 32 ‖ ciphertext), hex.
    public var sealed: String

    public init(body: String, signature: String, sealed: String) {
        self.body = body
        self.signature = signature
        self.sealed = sealed
    }
}

/// One grant in the customer's list.
public struct GrantStatus: Codable, Sendable, Equatable {
    public var id: String
    public var grantee: String
    public var from: UInt64
    public var to: UInt64
    public var purpose: String
    public var expires: String?
    public var created: String
    /// active, expired or revoked.
    public var status: String
    public var revoked: String?

    public init(
        id: String, grantee: String, from: UInt64, to: UInt64, purpose: String, expires: String?, created: String,
        status: String, revoked: String?
    ) {
        self.id = id
        self.grantee = grantee
        self.from = from
        self.to = to
        self.purpose = purpose
        self.expires = expires
        self.created = created
        self.status = status
        self.revoked = revoked
    }
}

/// GET /v1/customer/grants.
public struct GrantList: Codable, Sendable, Equatable {
    public var grants: [GrantStatus]
    public init(grants: [GrantStatus]) { self.grants = grants }
}

/// GET /v1/grants/{id}/detail: what the grantee gets while the grant is active, which is what
/// the customer uploaded (the grant as signed and the records sealed for the grantee).
public typealias GrantDetailResponse = GrantUpload

/// One entry of a customer's audit log; `hash` = SHA-256 of "PM-AUDIT-v1" ‖ previous ‖ the
/// entry's canonical lines (docs/consent.md), `previous` the hash before it (32 zero bytes
/// for the first).
public struct AuditEntryJSON: Codable, Sendable, Equatable {
    public var seq: Int64
    public var time: String
    /// grant-created, access, access-refused, revoked.
    public var kind: String
    public var grant: String
    public var party: String
    public var from: UInt64
    public var to: UInt64
    public var detail: String
    public var previous: String
    public var hash: String

    public init(
        seq: Int64, time: String, kind: String, grant: String, party: String, from: UInt64, to: UInt64,
        detail: String, previous: String, hash: String
    ) {
        self.seq = seq
        self.time = time
        self.kind = kind
        self.grant = grant
        self.party = party
        self.from = from
        self.to = to
        self.detail = detail
        self.previous = previous
        self.hash = hash
    }
}

/// GET /v1/customer/audit.
public struct AuditResponse: Codable, Sendable, Equatable {
    public var entries: [AuditEntryJSON]
    public init(entries: [AuditEntryJSON]) { self.entries = entries }
}
