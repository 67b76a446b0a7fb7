import Foundation
import GRDB

/// The aggregator's store in one SQLite file through GRDB: WAL journal (readers never wait
/// for the writer), `synchronous = FULL` (a commit that returned is on disk, so an ack
/// survives a power cut as well as a killed process), foreign keys on.
public final class SQLiteStore: AggregatorStore {
    public var kind: String { "sqlite" }
    public let path: String
    let pool: DatabasePool

    public init(path: String) throws(StoreError) {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw .unavailable("\(path): \(error)")
        }
    }

    public func close() async { try? pool.close() }

    /// Runs `body` in one write transaction; maps GRDB's errors to `StoreError`.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        try await mapped { try await pool.write(body) }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        try await mapped { try await pool.read(body) }
    }

    func mapped<T>(_ body: () async throws -> T) async throws(StoreError) -> T {
        do {
            return try await body()
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError {
            throw Self.map(error)
        } catch {
            throw .database("\(error)")
        }
    }

    static func map(_ error: DatabaseError) -> StoreError {
        switch error.resultCode {
        case .SQLITE_CONSTRAINT: return .conflict(error.message ?? "\(error)")
        case .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_CANTOPEN, .SQLITE_IOERR, .SQLITE_FULL:
            return .unavailable(error.message ?? "\(error)")
        default: return .database(error.message ?? "\(error)")
        }
    }

    public func migrate() async throws(StoreError) {
        try await write { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS aggregator_schema (version BIGINT PRIMARY KEY)")
            let applied = Set(try Int.fetchAll(db, sql: "SELECT version FROM aggregator_schema"))
            for migration in Schema.migrations where !applied.contains(migration.version) {
                for sql in migration.statements {
                    try db.execute(sql: Schema.statements(sql, blob: "BLOB"))
                }
                try db.execute(
                    sql: "INSERT INTO aggregator_schema (version) VALUES (?)", arguments: [migration.version])
            }
        }
    }

    /// The applied migration versions (tests).
    public func appliedMigrations() async throws(StoreError) -> [Int] {
        try await read { db in try Int.fetchAll(db, sql: "SELECT version FROM aggregator_schema ORDER BY version") }
    }

    public func insertGroup(_ group: GroupRecord) async throws(StoreError) {
        let current = try Schema.column(group.currentLabel, "label")
        let lookback = try Schema.column(group.lookback, "lookback")
        let maxReading = try Schema.column(group.maxReading, "max reading")
        try await write { db in
            if try Int.fetchOne(
                db, sql: "SELECT 1 FROM aggregator_groups WHERE group_id = ?", arguments: [Int64(group.group)]) != nil
            {
                throw StoreError.groupExists(group.group)
            }
            try db.execute(
                sql: """
                    INSERT INTO aggregator_groups (group_id, scheme, epoch, parameter_id, key_mode, max_reading,
                        frame_keys, current_label, lookback, signed_body, signed_signature, roster_keys, paillier,
                        authority_key)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    Int64(group.group), Int64(group.scheme), Int64(group.epoch), Int64(group.parameterID),
                    Int64(group.keyMode), maxReading, Data(Schema.pack(group.frameKeys)), current, lookback,
                    group.signed.map { Data($0.body) }, group.signed.map { Data($0.signature) },
                    group.signed.map { Data(Schema.pack($0.rosterKeys)) },
                    group.paillier.map { Data(Schema.packPaillier($0)) }, group.authorityKey.map { Data($0) },
                ])
        }
    }

    public func updateSignedGroup(group: UInt32, signed: SignedGroupRecord) async throws(StoreError) {
        try await write { db in
            try db.execute(
                sql:
                    "UPDATE aggregator_groups SET signed_body = ?, signed_signature = ?, roster_keys = ? WHERE group_id = ?",
                arguments: [
                    Data(signed.body), Data(signed.signature), Data(Schema.pack(signed.rosterKeys)), Int64(group),
                ])
            guard db.changesCount == 1 else { throw StoreError.unknownGroup(group) }
        }
    }

    public func groups() async throws(StoreError) -> [GroupRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM aggregator_groups ORDER BY group_id").map { row in
                let body: Data? = row["signed_body"]
                let signature: Data? = row["signed_signature"]
                let roster: Data? = row["roster_keys"]
                var signed: SignedGroupRecord? = nil
                if let body, let signature, let roster {
                    signed = SignedGroupRecord(
                        body: [UInt8](body), signature: [UInt8](signature),
                        rosterKeys: try Schema.unpack([UInt8](roster)))
                }
                let keys: Data = row["frame_keys"]
                let paillier = try (row["paillier"] as Data?).map { blob throws(StoreError) in
                    try Schema.unpackPaillier([UInt8](blob))
                }
                return GroupRecord(
                    group: UInt32(row["group_id"] as Int64), scheme: UInt8(row["scheme"] as Int64),
                    epoch: UInt32(row["epoch"] as Int64), parameterID: UInt8(row["parameter_id"] as Int64),
                    keyMode: UInt8(row["key_mode"] as Int64),
                    maxReading: try Schema.unsigned(row["max_reading"], "max reading"),
                    frameKeys: try Schema.unpack([UInt8](keys)),
                    currentLabel: try Schema.unsigned(row["current_label"], "label"),
                    lookback: try Schema.unsigned(row["lookback"], "lookback"), signed: signed, paillier: paillier,
                    authorityKey: (row["authority_key"] as Data?).map { [UInt8]($0) })
            }
        }
    }

    public func setupFrames(group: UInt32) async throws(StoreError) -> [[UInt8]] {
        try await read { db in
            try Data.fetchAll(
                db, sql: "SELECT frame FROM setup_frames WHERE group_id = ? ORDER BY seq", arguments: [Int64(group)]
            ).map { [UInt8]($0) }
        }
    }

    public func readings(group: UInt32, fromLabel: UInt64) async throws(StoreError) -> [StoredReading] {
        try await frames(in: .readings, group: group, fromLabel: fromLabel)
    }

    public func readings(group: UInt32, meter: UInt32, labels: ClosedRange<UInt64>) async throws(StoreError)
        -> [StoredReading]
    {
        try await frames(in: .readings, group: group, labels: labels, meter: meter)
    }

    /// The frames of `table` for the group from `fromLabel` on, by label then meter.
    func frames(in table: FrameTable, group: UInt32, fromLabel: UInt64) async throws(StoreError) -> [StoredReading] {
        try await frames(in: table, group: group, labels: fromLabel...UInt64(Int64.max))
    }

    /// The frames of `table` for the group with labels in `labels`, by label then meter; with
    /// `meter` only that meter's, looked up label by label (the key is (group, label, meter):
    /// a range scan would read every member's rows) over the labels of `labels` between the
    /// group's lowest and highest stored label.
    func frames(in table: FrameTable, group: UInt32, labels: ClosedRange<UInt64>, meter: UInt32? = nil)
        async throws(StoreError) -> [StoredReading]
    {
        let from = try Schema.column(labels.lowerBound, "label")
        let to = try Schema.column(labels.upperBound, "label")
        let t = table.rawValue
        let sql =
            meter == nil
            ? """
            SELECT label, meter, frame FROM \(t) WHERE group_id = :group AND label BETWEEN :from AND :to
            ORDER BY label, meter
            """
            : """
            WITH RECURSIVE k (label) AS (
                SELECT MAX(:from, (SELECT MIN(label) FROM \(t) WHERE group_id = :group))
                UNION ALL SELECT label + 1 FROM k
                WHERE label < MIN(:to, (SELECT MAX(label) FROM \(t) WHERE group_id = :group)))
            SELECT r.label, r.meter, r.frame FROM k
            JOIN \(t) r ON r.group_id = :group AND r.label = k.label AND r.meter = :meter
            WHERE k.label <= :to
            ORDER BY r.label
            """
        var arguments: StatementArguments = ["group": Int64(group), "from": from, "to": to]
        if let meter { arguments += ["meter": Int64(meter)] }
        return try await read { [arguments] db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                StoredReading(
                    meter: UInt32(row["meter"] as Int64), label: try Schema.unsigned(row["label"], "label"),
                    frame: [UInt8](row["frame"] as Data))
            }
        }
    }

    public func storedFrames(group: UInt32, keys: [ReadingKey]) async throws(StoreError) -> [ReadingKey: [UInt8]] {
        guard !keys.isEmpty else { return [:] }
        for key in keys { _ = try Schema.column(key.label, "label") }
        return try await read { db in
            var found: [ReadingKey: [UInt8]] = [:]
            let statement = try db.cachedStatement(
                sql: "SELECT frame FROM readings WHERE group_id = ? AND label = ? AND meter = ?")
            for key in keys {
                if let frame = try Data.fetchOne(
                    statement, arguments: [Int64(group), Int64(key.label), Int64(key.meter)])
                {
                    found[key] = [UInt8](frame)
                }
            }
            return found
        }
    }

    public func commit(_ commit: StoreCommit) async throws(StoreError) {
        guard !commit.isEmpty else { return }
        for r in commit.readings { _ = try Schema.column(r.label, "label") }
        for s in commit.sums {
            _ = try Schema.column(s.label, "label")
            _ = try Schema.column(s.sum, "sum")
        }
        for a in commit.alarms { _ = try Schema.column(a.label, "label") }
        let current = try commit.currentLabel.map { v throws(StoreError) in try Schema.column(v, "label") }
        let group = Int64(commit.group)
        try await write { db in
            guard
                try Int.fetchOne(db, sql: "SELECT 1 FROM aggregator_groups WHERE group_id = ?", arguments: [group])
                    != nil
            else { throw StoreError.unknownGroup(commit.group) }
            if !commit.setupFrames.isEmpty {
                var seq =
                    try Int64.fetchOne(
                        db, sql: "SELECT COALESCE(MAX(seq) + 1, 0) FROM setup_frames WHERE group_id = ?",
                        arguments: [group]) ?? 0
                let insert = try db.cachedStatement(
                    sql: "INSERT INTO setup_frames (group_id, seq, frame) VALUES (?, ?, ?)")
                for frame in commit.setupFrames {
                    try insert.execute(arguments: [group, seq, Data(frame)])
                    seq += 1
                }
            }
            if !commit.readings.isEmpty {
                let insert = try db.cachedStatement(
                    sql: "INSERT INTO readings (group_id, label, meter, frame) VALUES (?, ?, ?, ?)")
                for r in commit.readings {
                    try insert.execute(arguments: [group, Int64(r.label), Int64(r.meter), Data(r.frame)])
                }
            }
            if !commit.sums.isEmpty {
                let upsert = try db.cachedStatement(
                    sql: """
                        INSERT INTO label_sums (group_id, label, total, meters, ciphertext) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (group_id, label) DO UPDATE SET total = excluded.total, meters = excluded.meters,
                            ciphertext = excluded.ciphertext
                        """)
                for s in commit.sums {
                    try upsert.execute(arguments: [
                        group, Int64(s.label), Int64(s.sum), Int64(s.meters), s.ciphertext.map { Data($0) },
                    ])
                }
            }
            if !commit.alarms.isEmpty {
                let insert = try db.cachedStatement(
                    sql: """
                        INSERT INTO alarms (group_id, meter, label, kind, frame) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT DO NOTHING
                        """)
                for a in commit.alarms {
                    try insert.execute(arguments: [group, Int64(a.meter), Int64(a.label), a.kind, Data(a.frame)])
                }
            }
            if let current {
                try db.execute(
                    sql: "UPDATE aggregator_groups SET current_label = ? WHERE group_id = ?",
                    arguments: [current, group])
            }
        }
    }

    public func sums(group: UInt32, labels: ClosedRange<UInt64>) async throws(StoreError) -> [LabelSum] {
        let low = try Schema.column(labels.lowerBound, "label")
        let high = Int64(clamping: labels.upperBound)
        return try await read { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT label, total, meters, ciphertext FROM label_sums WHERE group_id = ? AND label BETWEEN ? AND ? ORDER BY label",
                arguments: [Int64(group), low, high]
            ).map { row in
                LabelSum(
                    label: try Schema.unsigned(row["label"], "label"), sum: try Schema.unsigned(row["total"], "sum"),
                    meters: Int(row["meters"] as Int64), ciphertext: (row["ciphertext"] as Data?).map { [UInt8]($0) })
            }
        }
    }

    public func alarms(group: UInt32) async throws(StoreError) -> [StoredAlarm] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT meter, label, kind, frame FROM alarms WHERE group_id = ? ORDER BY label, meter",
                arguments: [Int64(group)]
            ).map { row in
                StoredAlarm(
                    meter: UInt32(row["meter"] as Int64), label: try Schema.unsigned(row["label"], "label"),
                    kind: row["kind"], frame: [UInt8](row["frame"] as Data))
            }
        }
    }

    public func statistics(group: UInt32) async throws(StoreError) -> GroupStatistics {
        try await read { db in
            let g = Int64(group)
            let readings = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM readings WHERE group_id = ?", arguments: [g])
            let meters = try Int.fetchOne(
                db, sql: "SELECT COUNT(DISTINCT meter) FROM readings WHERE group_id = ?", arguments: [g])
            let sums = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM label_sums WHERE group_id = ?", arguments: [g])
            let newest = try Int64.fetchOne(
                db, sql: "SELECT MAX(label) FROM readings WHERE group_id = ?", arguments: [g])
            let alarms = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM alarms WHERE group_id = ?", arguments: [g])
            return GroupStatistics(
                readings: readings ?? 0, metersReporting: meters ?? 0, labelsComplete: sums ?? 0,
                newestLabel: newest.map { UInt64($0) }, alarms: alarms ?? 0)
        }
    }
}
