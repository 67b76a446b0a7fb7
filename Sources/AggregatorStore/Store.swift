import Foundation

/// Where the aggregator service keeps what must survive a restart: the groups it serves
/// (with the authority's signed parameters), the key-setup frames it accepted, every
/// reading frame, the sums it released and the label-reuse alarms. Two implementations
/// share one schema and one test suite: `SQLiteStore` (GRDB, the default: one file, WAL)
/// and `PostgresStore` (PostgresNIO, for scale). `openStore(url:)` picks one from a URL.
///
/// Every method that writes is one transaction: `commit` either stores all of its rows
/// or none, so the service acknowledges a frame only once `commit` has returned.
public protocol AggregatorStore: Sendable, ReleaseStore {
    /// "sqlite" or "postgresql".
    var kind: String { get }
    /// Applies the migrations not yet applied (`Schema.migrations`); safe to call at every start.
    func migrate() async throws(StoreError)
    /// Stores a new group; `groupExists` if its id is taken.
    func insertGroup(_ group: GroupRecord) async throws(StoreError)
    /// Records the authority's signed group parameters and the roster's public keys.
    func updateSignedGroup(group: UInt32, signed: SignedGroupRecord) async throws(StoreError)
    /// Every group, in increasing id order.
    func groups() async throws(StoreError) -> [GroupRecord]
    /// The group's accepted key-setup frames, in the order they were accepted.
    func setupFrames(group: UInt32) async throws(StoreError) -> [[UInt8]]
    /// The group's reading frames with label ≥ `fromLabel`, by label then meter.
    func readings(group: UInt32, fromLabel: UInt64) async throws(StoreError) -> [StoredReading]
    /// One meter's reading frames of one group with labels in `labels`, by label, in one query
    /// (one index lookup per label of `labels` inside the group's stored labels).
    func readings(group: UInt32, meter: UInt32, labels: ClosedRange<UInt64>) async throws(StoreError) -> [StoredReading]
    /// The stored frames of these (meter, label) keys of one group (absent keys are left out).
    func storedFrames(group: UInt32, keys: [ReadingKey]) async throws(StoreError) -> [ReadingKey: [UInt8]]
    /// One transaction: appends setup frames, inserts readings (a reading whose key is
    /// taken fails the whole commit with `conflict`), upserts sums, inserts alarms (an
    /// alarm already stored is kept once), and moves the group's current label.
    func commit(_ commit: StoreCommit) async throws(StoreError)
    /// The stored sums of one group with labels in `labels`, by label.
    func sums(group: UInt32, labels: ClosedRange<UInt64>) async throws(StoreError) -> [LabelSum]
    /// The group's label-reuse alarms, by label then meter.
    func alarms(group: UInt32) async throws(StoreError) -> [StoredAlarm]
    /// Counts for the operator's status page.
    func statistics(group: UInt32) async throws(StoreError) -> GroupStatistics
    /// Releases connections and files.
    func close() async
}

/// Why the store could not do what was asked. Nothing was written when it throws.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The database URL or path names nothing this build can open.
    case badURL(String)
    /// The database could not be reached or opened (the message says why).
    case unavailable(String)
    /// A group with this id is already stored.
    case groupExists(UInt32)
    /// No group with this id is stored.
    case unknownGroup(UInt32)
    /// A row with the same key is already stored (a reading for (group, meter, label)).
    case conflict(String)
    /// A value does not fit the schema (a label or reading ≥ 2^63, a malformed stored blob).
    case invalidValue(String)
    /// The database refused a statement (the message says why).
    case database(String)

    public var description: String {
        switch self {
        case .badURL(let s): return "bad database URL: \(s)"
        case .unavailable(let s): return "database unavailable: \(s)"
        case .groupExists(let g): return "group \(g) exists already"
        case .unknownGroup(let g): return "no group \(g)"
        case .conflict(let s): return "conflict: \(s)"
        case .invalidValue(let s): return "invalid value: \(s)"
        case .database(let s): return "database error: \(s)"
        }
    }

    /// The case name, as the service's problem documents and metrics name it.
    public var name: String {
        switch self {
        case .badURL: return "badURL"
        case .unavailable: return "unavailable"
        case .groupExists: return "groupExists"
        case .unknownGroup: return "unknownGroup"
        case .conflict: return "conflict"
        case .invalidValue: return "invalidValue"
        case .database: return "database"
        }
    }
}

/// A group as the service stores it. Values are the ones the authority handed out.
public struct GroupRecord: Sendable, Equatable {
    public var group: UInt32
    /// `SchemeID` raw value.
    public var scheme: UInt8
    public var epoch: UInt32
    /// The scheme's parameter set id (an `LWRParameters.id`).
    public var parameterID: UInt8
    /// `KeyMode` raw value.
    public var keyMode: UInt8
    public var maxReading: UInt64
    /// meter → frame key for this (group, epoch).
    public var frameKeys: [UInt32: [UInt8]]
    /// The newest label the window of accepted labels has moved to.
    public var currentLabel: UInt64
    /// How many labels behind `currentLabel` are still accepted.
    public var lookback: UInt64
    /// The authority's signed parameters, once installed (LWR-PSA).
    public var signed: SignedGroupRecord?
    /// A Paillier group's key, signed layout and key statements (nil for LWR-PSA).
    public var paillier: PaillierGroupRecord?
    /// LWR-PSA: the authority's SLH-DSA public key given at creation, which the statements the
    /// service acts on must verify under (signed parameters, statistics plans, tariffs); nil
    /// when none was given.
    public var authorityKey: [UInt8]?

    public init(
        group: UInt32, scheme: UInt8, epoch: UInt32, parameterID: UInt8, keyMode: UInt8, maxReading: UInt64,
        frameKeys: [UInt32: [UInt8]], currentLabel: UInt64, lookback: UInt64, signed: SignedGroupRecord? = nil,
        paillier: PaillierGroupRecord? = nil, authorityKey: [UInt8]? = nil
    ) {
        self.paillier = paillier
        self.authorityKey = authorityKey
        self.group = group
        self.scheme = scheme
        self.epoch = epoch
        self.parameterID = parameterID
        self.keyMode = keyMode
        self.maxReading = maxReading
        self.frameKeys = frameKeys
        self.currentLabel = currentLabel
        self.lookback = lookback
        self.signed = signed
    }
}

/// The authority's group-parameters statement and the roster's keys (meter → DH public key).
public struct SignedGroupRecord: Sendable, Equatable {
    public var body: [UInt8]
    public var signature: [UInt8]
    public var rosterKeys: [UInt32: [UInt8]]

    public init(body: [UInt8], signature: [UInt8], rosterKeys: [UInt32: [UInt8]]) {
        self.body = body
        self.signature = signature
        self.rosterKeys = rosterKeys
    }
}

/// A Paillier group as the authority hands it over: the supplier's public key N, the
/// authority's public key, the signed layout (the group's meters) and each meter's signed
/// key statement, which the service relays to the meter (the meter checks the signature).
public struct PaillierGroupRecord: Sendable, Equatable {
    /// N, big-endian.
    public var modulus: [UInt8]
    public var authorityKey: [UInt8]
    public var layout: SignedBytes
    /// meter → its signed Paillier key statement.
    public var keyStatements: [UInt32: SignedBytes]

    public init(modulus: [UInt8], authorityKey: [UInt8], layout: SignedBytes, keyStatements: [UInt32: SignedBytes]) {
        self.modulus = modulus
        self.authorityKey = authorityKey
        self.layout = layout
        self.keyStatements = keyStatements
    }
}

/// A signed statement as stored: body and signature.
public struct SignedBytes: Sendable, Equatable {
    public var body: [UInt8]
    public var signature: [UInt8]

    public init(body: [UInt8], signature: [UInt8]) {
        self.body = body
        self.signature = signature
    }
}

/// The key of a reading: one per (group, meter, label).
public struct ReadingKey: Hashable, Sendable {
    public let meter: UInt32
    public let label: UInt64

    public init(meter: UInt32, label: UInt64) {
        self.meter = meter
        self.label = label
    }
}

/// One stored reading frame.
public struct StoredReading: Sendable, Equatable {
    public let meter: UInt32
    public let label: UInt64
    public let frame: [UInt8]

    public init(meter: UInt32, label: UInt64, frame: [UInt8]) {
        self.meter = meter
        self.label = label
        self.frame = frame
    }
}

/// The sum of one complete label: decrypted (LWR-PSA), or under Paillier the product of
/// the meters' ciphertexts, which only the supplier can open (`sum` is then 0).
public struct LabelSum: Sendable, Equatable {
    public let label: UInt64
    public let sum: UInt64
    /// Meters whose readings are in the sum.
    public let meters: Int
    /// Paillier: Enc(Σ readings) = Π c_i mod N², big-endian, N²'s length (nil: decrypted).
    public let ciphertext: [UInt8]?

    public init(label: UInt64, sum: UInt64, meters: Int, ciphertext: [UInt8]? = nil) {
        self.label = label
        self.sum = sum
        self.meters = meters
        self.ciphertext = ciphertext
    }
}

/// An alarm the service raised about one meter's frame for one label (e.g. `labelReused`:
/// a second, different ciphertext; `frame` is that second frame).
public struct StoredAlarm: Sendable, Equatable {
    public let meter: UInt32
    public let label: UInt64
    public let kind: String
    public let frame: [UInt8]

    public init(meter: UInt32, label: UInt64, kind: String, frame: [UInt8]) {
        self.meter = meter
        self.label = label
        self.kind = kind
        self.frame = frame
    }
}

/// What one `commit` writes for one group.
public struct StoreCommit: Sendable {
    public var group: UInt32
    public var setupFrames: [[UInt8]] = []
    public var readings: [StoredReading] = []
    public var sums: [LabelSum] = []
    public var alarms: [StoredAlarm] = []
    /// The group's new current label (nil: unchanged).
    public var currentLabel: UInt64? = nil

    public init(group: UInt32) { self.group = group }

    public var isEmpty: Bool {
        setupFrames.isEmpty && readings.isEmpty && sums.isEmpty && alarms.isEmpty && currentLabel == nil
    }
}

/// Counts of one group's stored rows.
public struct GroupStatistics: Sendable, Equatable {
    public let readings: Int
    public let metersReporting: Int
    public let labelsComplete: Int
    public let newestLabel: UInt64?
    public let alarms: Int

    public init(readings: Int, metersReporting: Int, labelsComplete: Int, newestLabel: UInt64?, alarms: Int) {
        self.readings = readings
        self.metersReporting = metersReporting
        self.labelsComplete = labelsComplete
        self.newestLabel = newestLabel
        self.alarms = alarms
    }
}

/// Opens the store a `--database` value names: `postgres://` or `postgresql://` URLs go to
/// PostgreSQL, `sqlite:PATH` or a plain path to an SQLite file. Migrations are applied.
public func openStore(_ location: String) async throws(StoreError) -> any AggregatorStore {
    let store: any AggregatorStore
    if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") {
        store = try PostgresStore(url: location)
    } else {
        let path = location.hasPrefix("sqlite:") ? String(location.dropFirst("sqlite:".count)) : location
        guard !path.isEmpty, !path.contains("://") else { throw .badURL(location) }
        store = try SQLiteStore(path: path)
    }
    do { try await store.migrate() } catch {
        await store.close()
        throw error
    }
    return store
}

// MARK: - values shared by both backends

/// The tables that keep one signed statement per group (body and signature).
enum StatementTable: String {
    case statisticsPlans = "statistics_plans"
    case meterTariffs = "meter_tariffs"
}

/// The tables of frames kept per (group, label, meter), read back the same way at a restart.
enum FrameTable: String {
    case readings
    case statisticsFrames = "statistics_frames"
    case meterBills = "meter_bills"
}

/// The schema both backends apply, one migration per version. `{blob}` is BLOB in SQLite
/// and BYTEA in PostgreSQL; every other type is spelled the same in both. Unsigned 64-bit
/// values (labels, sums) are stored as BIGINT and must stay below 2^63.
public enum Schema {
    public static let migrations: [(version: Int, statements: [String])] = [
        (
            1,
            [
                """
                CREATE TABLE aggregator_groups (
                    group_id BIGINT PRIMARY KEY, scheme INTEGER NOT NULL, epoch BIGINT NOT NULL,
                    parameter_id INTEGER NOT NULL, key_mode INTEGER NOT NULL, max_reading BIGINT NOT NULL,
                    frame_keys {blob} NOT NULL, current_label BIGINT NOT NULL, lookback BIGINT NOT NULL,
                    signed_body {blob}, signed_signature {blob}, roster_keys {blob})
                """,
                """
                CREATE TABLE setup_frames (
                    group_id BIGINT NOT NULL REFERENCES aggregator_groups (group_id), seq BIGINT NOT NULL,
                    frame {blob} NOT NULL, PRIMARY KEY (group_id, seq))
                """,
                """
                CREATE TABLE readings (
                    group_id BIGINT NOT NULL REFERENCES aggregator_groups (group_id), label BIGINT NOT NULL,
                    meter BIGINT NOT NULL, frame {blob} NOT NULL, PRIMARY KEY (group_id, label, meter))
                """,
                """
                CREATE TABLE label_sums (
                    group_id BIGINT NOT NULL REFERENCES aggregator_groups (group_id), label BIGINT NOT NULL,
                    total BIGINT NOT NULL, meters BIGINT NOT NULL, PRIMARY KEY (group_id, label))
                """,
                """
                CREATE TABLE alarms (
                    group_id BIGINT NOT NULL REFERENCES aggregator_groups (group_id), meter BIGINT NOT NULL,
                    label BIGINT NOT NULL, kind TEXT NOT NULL, frame {blob} NOT NULL,
                    PRIMARY KEY (group_id, meter, label, frame))
                """,
            ]
        ),
        (
            2,
            [
                // Paillier groups: the hand-over (`Schema.packPaillier`) and the encrypted sums.
                "ALTER TABLE aggregator_groups ADD COLUMN paillier {blob}",
                "ALTER TABLE label_sums ADD COLUMN ciphertext {blob}",
            ]
        ),
        // PostgreSQL partitions the readings by group (`postgresStatements`); SQLite: nothing.
        (3, []),
        // The customers' sealed detail, grants and audit log (CustomerStore.swift).
        (CustomerSchema.version, CustomerSchema.statements),
        // Statistics without individuals: plans, statistics frames, decrypted labels (StatisticsStore.swift).
        (StatisticsSchema.version, StatisticsSchema.statements),
        // The released periods of bills and energy reports (Releases.swift).
        (6, [Schema.releases]),
        // Bills made on the meters: the tariff relayed to them, their sealed bills (MeterBillStore.swift).
        (MeterBillSchema.version, MeterBillSchema.statements),
        // An LWR-PSA group's authority key (`GroupRecord.authorityKey`).
        (8, ["ALTER TABLE aggregator_groups ADD COLUMN authority_key {blob}"]),
    ]

    /// Statements only PostgreSQL runs, after a version's shared ones. Version 3 makes
    /// `readings` a table partitioned by list of group: each group created afterwards gets
    /// its own partition (`partitionStatement`), the rows of older groups stay in the
    /// default partition. A group's readings are then one table of its own, which can be
    /// detached, moved to another tablespace or node, or dropped without touching the others.
    public static let postgresStatements: [Int: [String]] = [
        3: [
            "ALTER TABLE readings RENAME TO readings_unpartitioned",
            "ALTER TABLE readings_unpartitioned RENAME CONSTRAINT readings_pkey TO readings_unpartitioned_pkey",
            """
            CREATE TABLE readings (
                group_id BIGINT NOT NULL REFERENCES aggregator_groups (group_id), label BIGINT NOT NULL,
                meter BIGINT NOT NULL, frame BYTEA NOT NULL, PRIMARY KEY (group_id, label, meter))
            PARTITION BY LIST (group_id)
            """,
            "CREATE TABLE readings_default PARTITION OF readings DEFAULT",
            "INSERT INTO readings SELECT group_id, label, meter, frame FROM readings_unpartitioned",
            "DROP TABLE readings_unpartitioned",
        ]
    ]

    /// PostgreSQL: the partition of `readings` for a new group (with the group's insert).
    static func partitionStatement(group: UInt32) -> String {
        "CREATE TABLE IF NOT EXISTS readings_g\(group) PARTITION OF readings FOR VALUES IN (\(group))"
    }

    /// The statements of `migrations` for one backend.
    static func statements(_ sql: String, blob: String) -> String {
        sql.replacingOccurrences(of: "{blob}", with: blob)
    }

    /// A label, reading or sum as the BIGINT column holds it.
    static func column(_ value: UInt64, _ what: String) throws(StoreError) -> Int64 {
        guard let v = Int64(exactly: value) else { throw .invalidValue("\(what) \(value) ≥ 2^63") }
        return v
    }

    static func unsigned(_ value: Int64, _ what: String) throws(StoreError) -> UInt64 {
        guard value >= 0 else { throw .invalidValue("stored \(what) \(value) is negative") }
        return UInt64(value)
    }

    /// A map meter → bytes as one blob: u32 meter | u16 length | bytes, in meter order.
    static func pack(_ map: [UInt32: [UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        for meter in map.keys.sorted() {
            let bytes = map[meter]!
            precondition(bytes.count <= 0xFFFF, "a packed value holds at most 65535 bytes")
            out += [UInt8(meter >> 24), UInt8(meter >> 16 & 0xFF), UInt8(meter >> 8 & 0xFF), UInt8(meter & 0xFF)]
            out += [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)]
            out += bytes
        }
        return out
    }

    /// A Paillier group's hand-over as one blob: u32-length-prefixed N, authority key, layout
    /// body and signature, then u32 count and per meter u32 meter | body | signature (each
    /// u32-length-prefixed), in meter order.
    static func packPaillier(_ record: PaillierGroupRecord) -> [UInt8] {
        var out: [UInt8] = []
        func u32(_ v: Int) {
            out += [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
        }
        func field(_ bytes: [UInt8]) {
            u32(bytes.count)
            out += bytes
        }
        field(record.modulus)
        field(record.authorityKey)
        field(record.layout.body)
        field(record.layout.signature)
        u32(record.keyStatements.count)
        for meter in record.keyStatements.keys.sorted() {
            u32(Int(meter))
            field(record.keyStatements[meter]!.body)
            field(record.keyStatements[meter]!.signature)
        }
        return out
    }

    static func unpackPaillier(_ blob: [UInt8]) throws(StoreError) -> PaillierGroupRecord {
        var i = 0
        func u32() throws(StoreError) -> Int {
            guard i + 4 <= blob.count else { throw .invalidValue("truncated Paillier group") }
            defer { i += 4 }
            return blob[i..<i + 4].reduce(0) { $0 << 8 | Int($1) }
        }
        func field() throws(StoreError) -> [UInt8] {
            let length = try u32()
            guard i + length <= blob.count else { throw .invalidValue("truncated Paillier group") }
            defer { i += length }
            return Array(blob[i..<i + length])
        }
        let modulus = try field()
        let authorityKey = try field()
        let layout = SignedBytes(body: try field(), signature: try field())
        var statements: [UInt32: SignedBytes] = [:]
        for _ in 0..<(try u32()) {
            let meter = UInt32(try u32())
            statements[meter] = SignedBytes(body: try field(), signature: try field())
        }
        guard i == blob.count else { throw .invalidValue("trailing bytes in a Paillier group") }
        return PaillierGroupRecord(
            modulus: modulus, authorityKey: authorityKey, layout: layout, keyStatements: statements)
    }

    static func unpack(_ blob: [UInt8]) throws(StoreError) -> [UInt32: [UInt8]] {
        var map: [UInt32: [UInt8]] = [:]
        var i = 0
        while i < blob.count {
            guard i + 6 <= blob.count else { throw .invalidValue("truncated packed map") }
            let meter = blob[i..<i + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let length = Int(blob[i + 4]) << 8 | Int(blob[i + 5])
            i += 6
            guard i + length <= blob.count else { throw .invalidValue("truncated packed map") }
            map[meter] = Array(blob[i..<i + length])
            i += length
        }
        return map
    }
}
