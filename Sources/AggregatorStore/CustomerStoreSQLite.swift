import Foundation
import GRDB

extension SQLiteStore: CustomerDataStore {
    public func insertDetails(_ details: [StoredDetail]) async throws(StoreError) -> [DetailInsertion] {
        guard !details.isEmpty else { return [] }
        for d in details { _ = try Schema.column(d.label, "label") }
        return try await write { db in
            let find = try db.cachedStatement(
                sql: "SELECT frame FROM customer_detail WHERE group_id = ? AND meter = ? AND label = ?")
            let insert = try db.cachedStatement(
                sql: "INSERT INTO customer_detail (group_id, meter, label, verifier, frame) VALUES (?, ?, ?, ?, ?)")
            var out: [DetailInsertion] = []
            for d in details {
                if let stored = try Data.fetchOne(
                    find, arguments: [Int64(d.group), Int64(d.meter), Int64(d.label)])
                {
                    out.append([UInt8](stored) == d.frame ? .again : .conflict)
                    continue
                }
                try insert.execute(arguments: [
                    Int64(d.group), Int64(d.meter), Int64(d.label), Data(d.verifier), Data(d.frame),
                ])
                out.append(.stored)
            }
            return out
        }
    }

    public func details(verifier: [UInt8], labels: ClosedRange<UInt64>) async throws(StoreError) -> [StoredDetail] {
        let low = try Schema.column(labels.lowerBound, "label")
        let high = Int64(clamping: labels.upperBound)
        return try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT group_id, meter, label, frame FROM customer_detail
                    WHERE verifier = ? AND label BETWEEN ? AND ? ORDER BY label, meter
                    """, arguments: [Data(verifier), low, high]
            ).map { row in
                StoredDetail(
                    group: UInt32(row["group_id"] as Int64), meter: UInt32(row["meter"] as Int64),
                    label: try Schema.unsigned(row["label"], "label"), verifier: verifier,
                    frame: [UInt8](row["frame"] as Data))
            }
        }
    }

    public func customerKnown(verifier: [UInt8]) async throws(StoreError) -> Bool {
        try await read { db in
            let v = Data(verifier)
            return try Int.fetchOne(
                db,
                sql: """
                    SELECT EXISTS (SELECT 1 FROM customer_detail WHERE verifier = ?)
                        OR EXISTS (SELECT 1 FROM customers WHERE verifier = ?)
                    """, arguments: [v, v]) == 1
        }
    }

    public func signingKey(verifier: [UInt8]) async throws(StoreError) -> [UInt8]? {
        try await read { db in
            (try Data?.fetchOne(
                db, sql: "SELECT signing_key FROM customers WHERE verifier = ?", arguments: [Data(verifier)]) ?? nil)
                .map { [UInt8]($0) }
        }
    }

    public func insertGrant(_ grant: StoredGrant, signingKey: [UInt8], audit: AuditAppend) async throws(StoreError) {
        let from = try Schema.column(grant.fromLabel, "label")
        let to = try Schema.column(grant.toLabel, "label")
        try await write { db in
            let v = Data(grant.verifier)
            try db.execute(
                sql: "INSERT INTO customers (verifier, signing_key) VALUES (?, NULL) ON CONFLICT DO NOTHING",
                arguments: [v])
            let registered =
                try Data?.fetchOne(
                    db, sql: "SELECT signing_key FROM customers WHERE verifier = ?", arguments: [v]) ?? nil
            if let registered {
                guard [UInt8](registered) == signingKey else {
                    throw StoreError.conflict("another signing key is registered for this customer")
                }
            } else {
                try db.execute(
                    sql: "UPDATE customers SET signing_key = ? WHERE verifier = ?", arguments: [Data(signingKey), v])
            }
            try db.execute(
                sql: """
                    INSERT INTO customer_grants (grant_id, verifier, grantee, from_label, to_label, expires, created,
                        body, signature, sealed, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
                    """,
                arguments: [
                    grant.id, v, grant.grantee, from, to, grant.expires, grant.created, Data(grant.body),
                    Data(grant.signature), Data(grant.sealed),
                ])
            try Self.append(audit, db)
        }
    }

    static func grant(_ row: Row) throws -> StoredGrant {
        StoredGrant(
            id: row["grant_id"], verifier: [UInt8](row["verifier"] as Data), grantee: row["grantee"],
            fromLabel: try Schema.unsigned(row["from_label"], "label"),
            toLabel: try Schema.unsigned(row["to_label"], "label"), expires: row["expires"], created: row["created"],
            body: [UInt8](row["body"] as Data), signature: [UInt8](row["signature"] as Data),
            sealed: [UInt8](row["sealed"] as Data), revoked: row["revoked"])
    }

    public func grant(id: String) async throws(StoreError) -> StoredGrant? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM customer_grants WHERE grant_id = ?", arguments: [id]).map(
                Self.grant)
        }
    }

    public func grants(verifier: [UInt8]) async throws(StoreError) -> [StoredGrant] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM customer_grants WHERE verifier = ? ORDER BY created, grant_id",
                arguments: [Data(verifier)]
            ).map(Self.grant)
        }
    }

    public func revokeGrant(id: String, at: String, audit: AuditAppend) async throws(StoreError) {
        try await write { db in
            try db.execute(
                sql: "UPDATE customer_grants SET revoked = ?, sealed = ? WHERE grant_id = ? AND revoked IS NULL",
                arguments: [at, Data(), id])
            try Self.append(audit, db)
        }
    }

    public func appendAudit(_ audit: AuditAppend) async throws(StoreError) {
        try await write { db in try Self.append(audit, db) }
    }

    /// Appends inside the caller's write transaction (SQLite has one writer at a time).
    static func append(_ audit: AuditAppend, _ db: Database) throws {
        let v = Data(audit.verifier)
        let from = try Schema.column(audit.fromLabel, "label")
        let to = try Schema.column(audit.toLabel, "label")
        let last = try Row.fetchOne(
            db, sql: "SELECT seq, hash FROM customer_audit WHERE verifier = ? ORDER BY seq DESC LIMIT 1",
            arguments: [v])
        let seq: Int64 = last.map { ($0["seq"] as Int64) + 1 } ?? 0
        let previous = last.map { [UInt8]($0["hash"] as Data) } ?? [UInt8](repeating: 0, count: 32)
        let hash = audit.chain(seq, previous, audit)
        try db.execute(
            sql: """
                INSERT INTO customer_audit (verifier, seq, time, kind, grant_id, party, from_label, to_label, detail,
                    previous, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                v, seq, audit.time, audit.kind, audit.grant, audit.party, from, to, audit.detail, Data(previous),
                Data(hash),
            ])
    }

    public func audit(verifier: [UInt8]) async throws(StoreError) -> [StoredAuditEntry] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM customer_audit WHERE verifier = ? ORDER BY seq", arguments: [Data(verifier)]
            ).map { row in
                StoredAuditEntry(
                    seq: row["seq"], time: row["time"], kind: row["kind"], grant: row["grant_id"], party: row["party"],
                    fromLabel: try Schema.unsigned(row["from_label"], "label"),
                    toLabel: try Schema.unsigned(row["to_label"], "label"), detail: row["detail"],
                    previous: [UInt8](row["previous"] as Data), hash: [UInt8](row["hash"] as Data))
            }
        }
    }
}
