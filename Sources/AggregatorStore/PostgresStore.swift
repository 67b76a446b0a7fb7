import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The aggregator's store in PostgreSQL through PostgresNIO's connection pool. Same schema
/// and migrations as `SQLiteStore`; readings go in with one `unnest` insert per commit.
/// Groups are independent, so several service instances can share one database as long
/// as each serves its own groups (docs/service.md).
public final class PostgresStore: AggregatorStore {
    public var kind: String { "postgresql" }
    let client: PostgresClient
    let runner: Task<Void, Never>
    let logger: Logger

    /// The schema the tables live in (`?schema=NAME`; nil: the server's search path).
    public let schema: String?

    /// `postgres://user[:password]@host[:port]/database`; `?sslmode=require` asks for TLS,
    /// `?schema=NAME` keeps the tables in their own schema (created if missing).
    public init(url: String, logger: Logger = Logger(label: "metering.store.postgres")) throws(StoreError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme,
            scheme == "postgres" || scheme == "postgresql", let host = components.host, !host.isEmpty
        else { throw .badURL(url) }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let user = components.user ?? ProcessInfo.processInfo.environment["USER"] ?? "postgres"
        let tls: PostgresClient.Configuration.TLS =
            components.queryItems?.contains { $0.name == "sslmode" && $0.value == "require" } == true
            ? .require(.makeClientConfiguration()) : .disable
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user, password: components.password,
            database: database.isEmpty ? nil : database, tls: tls)
        schema = components.queryItems?.first { $0.name == "schema" }?.value
        if let schema {
            guard !schema.isEmpty, schema.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                throw .badURL("a schema name is letters, digits and _")
            }
            configuration.options.additionalStartupParameters = [("search_path", schema)]
        }
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = 8
        self.logger = logger
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let client = self.client
        runner = Task { await client.run() }
    }

    public func close() async { runner.cancel() }

    static func map(_ error: any Error) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? PostgresTransactionError {
            // What went wrong inside the transaction, else while opening or closing it.
            if let inner = error.closureError ?? error.beginError ?? error.commitError { return map(inner) }
            return .unavailable("\(error)")
        }
        if let error = error as? PSQLError {
            if let state = error.serverInfo?[.sqlState] {
                if state == "23505" { return .conflict(error.serverInfo?[.message] ?? "unique violation") }
                return .database("\(state): \(error.serverInfo?[.message] ?? "")")
            }
            return .unavailable("\(error.code)")
        }
        return .unavailable("\(error)")
    }

    func run<T>(_ body: () async throws -> T) async throws(StoreError) -> T {
        do { return try await body() } catch { throw Self.map(error) }
    }

    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws(StoreError) -> T {
        let logger = self.logger
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch {
            throw Self.map(error)
        }
    }

    public func migrate() async throws(StoreError) {
        // A first query that fails fast with a clear message when the server is down (the
        // pool would otherwise keep retrying).
        try await withDeadline(seconds: 8, what: "connecting to PostgreSQL") { () async throws(StoreError) in
            try await self.run { _ = try await self.client.query("SELECT 1", logger: self.logger) }
        }
        let logger = self.logger
        try await transaction { db in
            // Two instances starting at once apply the migrations one after the other.
            try await db.query("SELECT pg_advisory_xact_lock(7247001)", logger: logger)
            if let schema = self.schema {
                try await db.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema)"), logger: logger)
            }
            try await db.query(
                "CREATE TABLE IF NOT EXISTS aggregator_schema (version BIGINT PRIMARY KEY)", logger: logger)
            var applied: Set<Int> = []
            for try await v in try await db.query("SELECT version FROM aggregator_schema", logger: logger).decode(
                Int.self)
            {
                applied.insert(v)
            }
            for migration in Schema.migrations where !applied.contains(migration.version) {
                for sql in migration.statements + (Schema.postgresStatements[migration.version] ?? []) {
                    try await db.query(PostgresQuery(unsafeSQL: Schema.statements(sql, blob: "BYTEA")), logger: logger)
                }
                try await db.query(
                    "INSERT INTO aggregator_schema (version) VALUES (\(migration.version))", logger: logger)
            }
        }
    }

    /// The applied migration versions (tests).
    public func appliedMigrations() async throws(StoreError) -> [Int] {
        try await run {
            var out: [Int] = []
            for try await v in try await client.query(
                "SELECT version FROM aggregator_schema ORDER BY version", logger: logger
            ).decode(Int.self) {
                out.append(v)
            }
            return out
        }
    }

    /// The partitions of `readings` (one per group created since schema version 3, and
    /// the default one), by name.
    public func readingPartitions() async throws(StoreError) -> [String] {
        try await run {
            var out: [String] = []
            let rows = try await client.query(
                """
                SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'readings'::regclass ORDER BY c.relname
                """, logger: logger)
            for try await name in rows.decode(String.self) { out.append(name) }
            return out
        }
    }

    /// Drops the store's schema with every table in it (tests, which share one database).
    public func dropSchema() async throws(StoreError) {
        guard let schema else { throw .badURL("dropSchema needs ?schema=NAME") }
        let logger = self.logger
        try await run {
            _ = try await client.query(
                PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(schema) CASCADE"), logger: logger)
        }
    }

    public func insertGroup(_ group: GroupRecord) async throws(StoreError) {
        let current = try Schema.column(group.currentLabel, "label")
        let lookback = try Schema.column(group.lookback, "lookback")
        let maxReading = try Schema.column(group.maxReading, "max reading")
        let logger = self.logger
        let keys = ByteBuffer(bytes: Schema.pack(group.frameKeys))
        let body = group.signed.map { ByteBuffer(bytes: $0.body) }
        let signature = group.signed.map { ByteBuffer(bytes: $0.signature) }
        let roster = group.signed.map { ByteBuffer(bytes: Schema.pack($0.rosterKeys)) }
        let paillier = group.paillier.map { ByteBuffer(bytes: Schema.packPaillier($0)) }
        let authorityKey = group.authorityKey.map { ByteBuffer(bytes: $0) }
        try await transaction { db in
            let exists = try await db.query(
                "SELECT 1 FROM aggregator_groups WHERE group_id = \(Int64(group.group))", logger: logger)
            for try await _ in exists { throw StoreError.groupExists(group.group) }
            try await db.query(
                """
                INSERT INTO aggregator_groups (group_id, scheme, epoch, parameter_id, key_mode, max_reading,
                    frame_keys, current_label, lookback, signed_body, signed_signature, roster_keys, paillier,
                    authority_key)
                VALUES (\(Int64(group.group)), \(Int(group.scheme)), \(Int64(group.epoch)), \(Int(group.parameterID)),
                    \(Int(group.keyMode)), \(maxReading), \(keys), \(current), \(lookback), \(body), \(signature),
                    \(roster), \(paillier), \(authorityKey))
                """, logger: logger)
            // The group's own partition of the readings (schema version 3).
            try await db.query(PostgresQuery(unsafeSQL: Schema.partitionStatement(group: group.group)), logger: logger)
        }
    }

    public func updateSignedGroup(group: UInt32, signed: SignedGroupRecord) async throws(StoreError) {
        let logger = self.logger
        let body = ByteBuffer(bytes: signed.body)
        let signature = ByteBuffer(bytes: signed.signature)
        let roster = ByteBuffer(bytes: Schema.pack(signed.rosterKeys))
        try await transaction { db in
            let rows = try await db.query(
                """
                UPDATE aggregator_groups SET signed_body = \(body), signed_signature = \(signature),
                    roster_keys = \(roster) WHERE group_id = \(Int64(group)) RETURNING group_id
                """, logger: logger)
            var updated = 0
            for try await _ in rows { updated += 1 }
            guard updated == 1 else { throw StoreError.unknownGroup(group) }
        }
    }

    public func groups() async throws(StoreError) -> [GroupRecord] {
        try await run {
            var out: [GroupRecord] = []
            let rows = try await client.query(
                """
                SELECT group_id, scheme, epoch, parameter_id, key_mode, max_reading, frame_keys, current_label,
                    lookback, signed_body, signed_signature, roster_keys, paillier, authority_key FROM aggregator_groups
                ORDER BY group_id
                """, logger: logger)
            for try await row in rows {
                let (
                    g, scheme, epoch, parameter, mode, maxReading, keys, current, lookback, body, signature, roster, p,
                    authority
                ) =
                    try row.decode(
                        (
                            Int64, Int, Int64, Int, Int, Int64, ByteBuffer, Int64, Int64, ByteBuffer?, ByteBuffer?,
                            ByteBuffer?, ByteBuffer?, ByteBuffer?
                        ).self)
                let paillier = try p.map { blob throws(StoreError) in
                    try Schema.unpackPaillier(Array(blob.readableBytesView))
                }
                var signed: SignedGroupRecord? = nil
                if let body, let signature, let roster {
                    signed = SignedGroupRecord(
                        body: Array(body.readableBytesView), signature: Array(signature.readableBytesView),
                        rosterKeys: try Schema.unpack(Array(roster.readableBytesView)))
                }
                out.append(
                    GroupRecord(
                        group: UInt32(g), scheme: UInt8(scheme), epoch: UInt32(epoch), parameterID: UInt8(parameter),
                        keyMode: UInt8(mode), maxReading: try Schema.unsigned(maxReading, "max reading"),
                        frameKeys: try Schema.unpack(Array(keys.readableBytesView)),
                        currentLabel: try Schema.unsigned(current, "label"),
                        lookback: try Schema.unsigned(lookback, "lookback"), signed: signed, paillier: paillier,
                        authorityKey: authority.map { Array($0.readableBytesView) }))
            }
            return out
        }
    }

    public func setupFrames(group: UInt32) async throws(StoreError) -> [[UInt8]] {
        try await run {
            var out: [[UInt8]] = []
            let rows = try await client.query(
                "SELECT frame FROM setup_frames WHERE group_id = \(Int64(group)) ORDER BY seq", logger: logger)
            for try await frame in rows.decode(ByteBuffer.self) { out.append(Array(frame.readableBytesView)) }
            return out
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
        var binds = PostgresBindings()
        binds.append(Int64(group))
        binds.append(try Schema.column(labels.lowerBound, "label"))
        binds.append(try Schema.column(labels.upperBound, "label"))
        let t = table.rawValue
        let sql: String
        if let meter {
            binds.append(Int64(meter))
            sql = """
                SELECT r.label, r.meter, r.frame FROM generate_series(
                    GREATEST($2, (SELECT MIN(label) FROM \(t) WHERE group_id = $1)),
                    LEAST($3, (SELECT COALESCE(MAX(label), -1) FROM \(t) WHERE group_id = $1))) AS k (label)
                JOIN \(t) r ON r.group_id = $1 AND r.label = k.label AND r.meter = $4
                ORDER BY r.label
                """
        } else {
            sql = """
                SELECT label, meter, frame FROM \(t) WHERE group_id = $1 AND label BETWEEN $2 AND $3
                ORDER BY label, meter
                """
        }
        let query = PostgresQuery(unsafeSQL: sql, binds: binds)
        return try await run {
            var out: [StoredReading] = []
            let rows = try await client.query(query, logger: logger)
            for try await (label, meter, frame) in rows.decode((Int64, Int64, ByteBuffer).self) {
                out.append(
                    StoredReading(
                        meter: UInt32(meter), label: try Schema.unsigned(label, "label"),
                        frame: Array(frame.readableBytesView)))
            }
            return out
        }
    }

    public func storedFrames(group: UInt32, keys: [ReadingKey]) async throws(StoreError) -> [ReadingKey: [UInt8]] {
        guard !keys.isEmpty else { return [:] }
        var labels: [Int64] = []
        for key in keys { labels.append(try Schema.column(key.label, "label")) }
        let meters = keys.map { Int64($0.meter) }
        return try await run {
            var found: [ReadingKey: [UInt8]] = [:]
            let rows = try await client.query(
                """
                SELECT r.label, r.meter, r.frame FROM readings r
                JOIN unnest(\(labels)::BIGINT[], \(meters)::BIGINT[]) AS k (label, meter)
                  ON r.label = k.label AND r.meter = k.meter
                WHERE r.group_id = \(Int64(group))
                """, logger: logger)
            for try await (label, meter, frame) in rows.decode((Int64, Int64, ByteBuffer).self) {
                found[ReadingKey(meter: UInt32(meter), label: UInt64(label))] = Array(frame.readableBytesView)
            }
            return found
        }
    }

    public func commit(_ commit: StoreCommit) async throws(StoreError) {
        guard !commit.isEmpty else { return }
        let group = Int64(commit.group)
        var labels: [Int64] = []
        for r in commit.readings { labels.append(try Schema.column(r.label, "label")) }
        let meters = commit.readings.map { Int64($0.meter) }
        let frames = commit.readings.map { ByteBuffer(bytes: $0.frame) }
        var sumLabels: [Int64] = []
        var sumTotals: [Int64] = []
        for s in commit.sums {
            sumLabels.append(try Schema.column(s.label, "label"))
            sumTotals.append(try Schema.column(s.sum, "sum"))
        }
        let sumMeters = commit.sums.map { Int64($0.meters) }
        // Empty: a decrypted sum (stored as NULL).
        let sumCiphertexts = commit.sums.map { ByteBuffer(bytes: $0.ciphertext ?? []) }
        var alarmLabels: [Int64] = []
        for a in commit.alarms { alarmLabels.append(try Schema.column(a.label, "label")) }
        let current = try commit.currentLabel.map { v throws(StoreError) in try Schema.column(v, "label") }
        let setup = commit.setupFrames.map { ByteBuffer(bytes: $0) }
        let logger = self.logger
        try await transaction { db in
            // Locks the group's row: one writer per group at a time, whichever instance.
            var known = false
            for try await _ in try await db.query(
                "SELECT 1 FROM aggregator_groups WHERE group_id = \(group) FOR UPDATE", logger: logger)
            {
                known = true
            }
            guard known else { throw StoreError.unknownGroup(commit.group) }
            if !setup.isEmpty {
                try await db.query(
                    """
                    INSERT INTO setup_frames (group_id, seq, frame)
                    SELECT \(group), (SELECT COALESCE(MAX(seq) + 1, 0) FROM setup_frames WHERE group_id = \(group))
                        + f.ord - 1, f.frame
                    FROM unnest(\(setup)::BYTEA[]) WITH ORDINALITY AS f (frame, ord)
                    """, logger: logger)
            }
            if !frames.isEmpty {
                try await db.query(
                    """
                    INSERT INTO readings (group_id, label, meter, frame)
                    SELECT \(group), r.label, r.meter, r.frame
                    FROM unnest(\(labels)::BIGINT[], \(meters)::BIGINT[], \(frames)::BYTEA[]) AS r (label, meter, frame)
                    """, logger: logger)
            }
            if !sumLabels.isEmpty {
                try await db.query(
                    """
                    INSERT INTO label_sums (group_id, label, total, meters, ciphertext)
                    SELECT \(group), s.label, s.total, s.meters, NULLIF(s.ciphertext, ''::BYTEA)
                    FROM unnest(\(sumLabels)::BIGINT[], \(sumTotals)::BIGINT[], \(sumMeters)::BIGINT[],
                        \(sumCiphertexts)::BYTEA[]) AS s (label, total, meters, ciphertext)
                    ON CONFLICT (group_id, label) DO UPDATE SET total = excluded.total, meters = excluded.meters,
                        ciphertext = excluded.ciphertext
                    """, logger: logger)
            }
            for (a, label) in zip(commit.alarms, alarmLabels) {
                try await db.query(
                    """
                    INSERT INTO alarms (group_id, meter, label, kind, frame)
                    VALUES (\(group), \(Int64(a.meter)), \(label), \(a.kind), \(ByteBuffer(bytes: a.frame)))
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
            if let current {
                try await db.query(
                    "UPDATE aggregator_groups SET current_label = \(current) WHERE group_id = \(group)", logger: logger)
            }
        }
    }

    public func sums(group: UInt32, labels: ClosedRange<UInt64>) async throws(StoreError) -> [LabelSum] {
        let low = try Schema.column(labels.lowerBound, "label")
        let high = Int64(clamping: labels.upperBound)
        return try await run {
            var out: [LabelSum] = []
            let rows = try await client.query(
                """
                SELECT label, total, meters, ciphertext FROM label_sums
                WHERE group_id = \(Int64(group)) AND label BETWEEN \(low) AND \(high) ORDER BY label
                """, logger: logger)
            for try await (label, total, meters, ciphertext) in rows.decode((Int64, Int64, Int64, ByteBuffer?).self) {
                out.append(
                    LabelSum(
                        label: try Schema.unsigned(label, "label"), sum: try Schema.unsigned(total, "sum"),
                        meters: Int(meters), ciphertext: ciphertext.map { Array($0.readableBytesView) }))
            }
            return out
        }
    }

    public func alarms(group: UInt32) async throws(StoreError) -> [StoredAlarm] {
        try await run {
            var out: [StoredAlarm] = []
            let rows = try await client.query(
                """
                SELECT meter, label, kind, frame FROM alarms WHERE group_id = \(Int64(group)) ORDER BY label, meter
                """, logger: logger)
            for try await (meter, label, kind, frame) in rows.decode((Int64, Int64, String, ByteBuffer).self) {
                out.append(
                    StoredAlarm(
                        meter: UInt32(meter), label: try Schema.unsigned(label, "label"), kind: kind,
                        frame: Array(frame.readableBytesView)))
            }
            return out
        }
    }

    public func statistics(group: UInt32) async throws(StoreError) -> GroupStatistics {
        try await run {
            let g = Int64(group)
            let rows = try await client.query(
                """
                SELECT (SELECT COUNT(*) FROM readings WHERE group_id = \(g)),
                       (SELECT COUNT(DISTINCT meter) FROM readings WHERE group_id = \(g)),
                       (SELECT COUNT(*) FROM label_sums WHERE group_id = \(g)),
                       (SELECT MAX(label) FROM readings WHERE group_id = \(g)),
                       (SELECT COUNT(*) FROM alarms WHERE group_id = \(g))
                """, logger: logger)
            for try await (readings, meters, sums, newest, alarms) in rows.decode(
                (Int64, Int64, Int64, Int64?, Int64).self)
            {
                return GroupStatistics(
                    readings: Int(readings), metersReporting: Int(meters), labelsComplete: Int(sums),
                    newestLabel: newest.map { UInt64($0) }, alarms: Int(alarms))
            }
            throw StoreError.database("no statistics row")
        }
    }
}

/// Runs `body`, or throws `unavailable` when it has not finished after `seconds` (the
/// body is then left to finish on its own: a connection attempt may not stop at once).
func withDeadline<T: Sendable>(
    seconds: Int, what: String, _ body: @escaping @Sendable () async throws(StoreError) -> T
) async throws(StoreError) -> T {
    let once = ResumeOnce<T>()
    let result: Result<T, StoreError> = await withCheckedContinuation { continuation in
        once.set(continuation)
        Task {
            do throws(StoreError) { once.resume(.success(try await body())) } catch { once.resume(.failure(error)) }
        }
        Task {
            try? await Task.sleep(for: .seconds(seconds))
            once.resume(.failure(.unavailable("\(what): no answer within \(seconds) s")))
        }
    }
    return try result.get()
}

/// A continuation resumed by whichever of several tasks finishes first.
final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    let lock = NSLock()
    var continuation: CheckedContinuation<Result<T, StoreError>, Never>?
    var early: Result<T, StoreError>?

    func set(_ c: CheckedContinuation<Result<T, StoreError>, Never>) {
        lock.lock()
        defer { lock.unlock() }
        if let early { c.resume(returning: early) } else { continuation = c }
    }

    func resume(_ result: Result<T, StoreError>) {
        lock.lock()
        defer { lock.unlock() }
        if let c = continuation {
            continuation = nil
            early = result
            c.resume(returning: result)
        } else if early == nil {
            early = result
        }
    }
}
