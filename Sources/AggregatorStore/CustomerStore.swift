import Foundation

/// What the service keeps for customers (issue 14, items 1 and 2; docs/consent.md): the
/// sealed detail frames (indexed by the customer verifier v they carry, never opened),
/// each customer's grant-signing public key, the grants with their records sealed for the
/// grantee, and the hash-chained audit log. Both backends implement it next to
/// `AggregatorStore` (CustomerStoreSQLite.swift, CustomerStorePostgres.swift), over the
/// tables of `CustomerSchema.migration`.
public protocol CustomerDataStore: Sendable {
    /// Stores sealed detail frames, one per (group, meter, label), in one transaction: each
    /// is `stored`, `again` (the same frame byte for byte is there) or `conflict` (another
    /// frame is there; it is kept and nothing changes for this one).
    func insertDetails(_ details: [StoredDetail]) async throws(StoreError) -> [DetailInsertion]
    /// The frames carrying verifier `v` with labels in `labels`, by label then meter.
    func details(verifier: [UInt8], labels: ClosedRange<UInt64>) async throws(StoreError) -> [StoredDetail]
    /// Whether any frame, grant or audit entry belongs to `v`.
    func customerKnown(verifier: [UInt8]) async throws(StoreError) -> Bool
    /// The grant-signing public key registered for `v` (by its first grant), if any.
    func signingKey(verifier: [UInt8]) async throws(StoreError) -> [UInt8]?
    /// One transaction: registers `signingKey` for the grant's customer unless one is
    /// (`conflict` if another is), stores the grant (`conflict` if its id is taken) and
    /// appends `audit` to the customer's log.
    func insertGrant(_ grant: StoredGrant, signingKey: [UInt8], audit: AuditAppend) async throws(StoreError)
    /// The grant with this id, if any (revoked ones too, their records deleted).
    func grant(id: String) async throws(StoreError) -> StoredGrant?
    /// The customer's grants, oldest first.
    func grants(verifier: [UInt8]) async throws(StoreError) -> [StoredGrant]
    /// One transaction: marks the grant revoked at `at`, deletes its sealed records, appends
    /// `audit`. `unknownGrant`-like refusals are the caller's (it reads the grant first).
    func revokeGrant(id: String, at: String, audit: AuditAppend) async throws(StoreError)
    /// Appends one entry to the customer's audit log (hash-chained to the previous one).
    func appendAudit(_ audit: AuditAppend) async throws(StoreError)
    /// The customer's audit log, oldest first.
    func audit(verifier: [UInt8]) async throws(StoreError) -> [StoredAuditEntry]
}

/// One sealed customer-detail frame as stored.
public struct StoredDetail: Sendable, Equatable {
    public let group: UInt32
    public let meter: UInt32
    public let label: UInt64
    /// The customer verifier v the frame carries (bytes 24 ..< 40).
    public let verifier: [UInt8]
    public let frame: [UInt8]

    public init(group: UInt32, meter: UInt32, label: UInt64, verifier: [UInt8], frame: [UInt8]) {
        self.group = group
        self.meter = meter
        self.label = label
        self.verifier = verifier
        self.frame = frame
    }
}

/// What `insertDetails` did with one frame.
public enum DetailInsertion: Sendable, Equatable {
    case stored
    /// The same frame was stored already.
    case again
    /// Another frame is stored for this (group, meter, label).
    case conflict
}

/// A grant as the service stores it: the customer's signed body (exact bytes), the
/// signature, the records sealed for the grantee (deleted at revocation), and the fields
/// the service enforces, parsed from the body.
public struct StoredGrant: Sendable, Equatable {
    public let id: String
    public let verifier: [UInt8]
    public let grantee: String
    public let fromLabel: UInt64
    public let toLabel: UInt64
    /// ISO 8601, or nil: no expiry.
    public let expires: String?
    public let created: String
    public let body: [UInt8]
    public let signature: [UInt8]
    /// Empty once revoked.
    public let sealed: [UInt8]
    /// ISO 8601 time of revocation, nil while not revoked.
    public let revoked: String?

    public init(
        id: String, verifier: [UInt8], grantee: String, fromLabel: UInt64, toLabel: UInt64, expires: String?,
        created: String, body: [UInt8], signature: [UInt8], sealed: [UInt8], revoked: String?
    ) {
        self.id = id
        self.verifier = verifier
        self.grantee = grantee
        self.fromLabel = fromLabel
        self.toLabel = toLabel
        self.expires = expires
        self.created = created
        self.body = body
        self.signature = signature
        self.sealed = sealed
        self.revoked = revoked
    }
}

/// An audit entry to append: its canonical bytes are made by `chain` from the sequence
/// number and the previous entry's hash (inside the store's transaction, so two appends
/// never chain to the same entry).
public struct AuditAppend: Sendable {
    public let verifier: [UInt8]
    public let time: String
    public let kind: String
    public let grant: String
    public let party: String
    public let fromLabel: UInt64
    public let toLabel: UInt64
    public let detail: String
    /// (seq, previous hash, the entry) → its hash.
    public let chain: @Sendable (Int64, [UInt8], AuditAppend) -> [UInt8]

    public init(
        verifier: [UInt8], time: String, kind: String, grant: String, party: String, fromLabel: UInt64,
        toLabel: UInt64, detail: String, chain: @escaping @Sendable (Int64, [UInt8], AuditAppend) -> [UInt8]
    ) {
        self.verifier = verifier
        self.time = time
        self.kind = kind
        self.grant = grant
        self.party = party
        self.fromLabel = fromLabel
        self.toLabel = toLabel
        self.detail = detail
        self.chain = chain
    }
}

/// One stored audit entry.
public struct StoredAuditEntry: Sendable, Equatable {
    public let seq: Int64
    public let time: String
    public let kind: String
    public let grant: String
    public let party: String
    public let fromLabel: UInt64
    public let toLabel: UInt64
    public let detail: String
    public let previous: [UInt8]
    public let hash: [UInt8]

    public init(
        seq: Int64, time: String, kind: String, grant: String, party: String, fromLabel: UInt64, toLabel: UInt64,
        detail: String, previous: [UInt8], hash: [UInt8]
    ) {
        self.seq = seq
        self.time = time
        self.kind = kind
        self.grant = grant
        self.party = party
        self.fromLabel = fromLabel
        self.toLabel = toLabel
        self.detail = detail
        self.previous = previous
        self.hash = hash
    }
}

/// The customer tables, one self-contained migration (appended to `Schema.migrations`).
public enum CustomerSchema {
    public static let version = 4
    public static let statements: [String] = [
        """
        CREATE TABLE customer_detail (
            group_id BIGINT NOT NULL, meter BIGINT NOT NULL, label BIGINT NOT NULL,
            verifier {blob} NOT NULL, frame {blob} NOT NULL, PRIMARY KEY (group_id, meter, label))
        """,
        "CREATE INDEX customer_detail_verifier ON customer_detail (verifier, label)",
        "CREATE TABLE customers (verifier {blob} PRIMARY KEY, signing_key {blob})",
        """
        CREATE TABLE customer_grants (
            grant_id TEXT PRIMARY KEY, verifier {blob} NOT NULL, grantee TEXT NOT NULL,
            from_label BIGINT NOT NULL, to_label BIGINT NOT NULL, expires TEXT, created TEXT NOT NULL,
            body {blob} NOT NULL, signature {blob} NOT NULL, sealed {blob} NOT NULL, revoked TEXT)
        """,
        """
        CREATE TABLE customer_audit (
            verifier {blob} NOT NULL, seq BIGINT NOT NULL, time TEXT NOT NULL, kind TEXT NOT NULL,
            grant_id TEXT NOT NULL, party TEXT NOT NULL, from_label BIGINT NOT NULL, to_label BIGINT NOT NULL,
            detail TEXT NOT NULL, previous {blob} NOT NULL, hash {blob} NOT NULL, PRIMARY KEY (verifier, seq))
        """,
    ]
}
