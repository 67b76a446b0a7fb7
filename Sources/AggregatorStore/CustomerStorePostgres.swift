import Foundation
import Logging
import NIOCore
import PostgresNIO

extension PostgresStore: CustomerDataStore {
    public func insertDetails(_ details: [StoredDetail]) async throws(StoreError) -> [DetailInsertion] {
        guard !details.isEmpty else { return [] }
        for d in details { _ = try Schema.column(d.label, "label") }
        let logger = self.logger
        return try await transaction { db in
            var out: [DetailInsertion] = []
            for d in details {
                let g = Int64(d.group)
                let m = Int64(d.meter)
                let l = Int64(d.label)
                // Inserted unless the key is taken; then the stored frame decides.
                let inserted = try await db.query(
                    """
                    INSERT INTO customer_detail (group_id, meter, label, verifier, frame)
                    VALUES (\(g), \(m), \(l), \(ByteBuffer(bytes: d.verifier)), \(ByteBuffer(bytes: d.frame)))
                    ON CONFLICT DO NOTHING RETURNING label
                    """, logger: logger)
                var stored = false
                for try await _ in inserted { stored = true }
                if stored {
                    out.append(.stored)
                    continue
                }
                let rows = try await db.query(
                    "SELECT frame FROM customer_detail WHERE group_id = \(g) AND meter = \(m) AND label = \(l)",
                    logger: logger)
                var same = false
                for try await frame in rows.decode(ByteBuffer.self) { same = Array(frame.readableBytesView) == d.frame }
                out.append(same ? .again : .conflict)
            }
            return out
        }
    }

    public func details(verifier: [UInt8], labels: ClosedRange<UInt64>) async throws(StoreError) -> [StoredDetail] {
        let low = try Schema.column(labels.lowerBound, "label")
        let high = Int64(clamping: labels.upperBound)
        return try await run {
            var out: [StoredDetail] = []
            let rows = try await client.query(
                """
                SELECT group_id, meter, label, frame FROM customer_detail
                WHERE verifier = \(ByteBuffer(bytes: verifier)) AND label BETWEEN \(low) AND \(high)
                ORDER BY label, meter
                """, logger: logger)
            for try await (g, m, l, frame) in rows.decode((Int64, Int64, Int64, ByteBuffer).self) {
                out.append(
                    StoredDetail(
                        group: UInt32(g), meter: UInt32(m), label: try Schema.unsigned(l, "label"), verifier: verifier,
                        frame: Array(frame.readableBytesView)))
            }
            return out
        }
    }

    public func customerKnown(verifier: [UInt8]) async throws(StoreError) -> Bool {
        try await run {
            let v = ByteBuffer(bytes: verifier)
            let rows = try await client.query(
                """
                SELECT EXISTS (SELECT 1 FROM customer_detail WHERE verifier = \(v))
                    OR EXISTS (SELECT 1 FROM customers WHERE verifier = \(v))
                """, logger: logger)
            for try await known in rows.decode(Bool.self) { return known }
            return false
        }
    }

    public func signingKey(verifier: [UInt8]) async throws(StoreError) -> [UInt8]? {
        try await run {
            let rows = try await client.query(
                "SELECT signing_key FROM customers WHERE verifier = \(ByteBuffer(bytes: verifier))", logger: logger)
            for try await key in rows.decode(ByteBuffer?.self) { return key.map { Array($0.readableBytesView) } }
            return nil
        }
    }

    /// Locks the customer's row (made if missing) for the rest of the transaction: one
    /// writer of a customer's grants and audit log at a time, whichever instance.
    static func lockCustomer(_ verifier: [UInt8], _ db: PostgresConnection, _ logger: Logger) async throws
        -> [UInt8]?
    {
        let v = ByteBuffer(bytes: verifier)
        try await db.query(
            "INSERT INTO customers (verifier, signing_key) VALUES (\(v), NULL) ON CONFLICT DO NOTHING", logger: logger)
        let rows = try await db.query(
            "SELECT signing_key FROM customers WHERE verifier = \(v) FOR UPDATE", logger: logger)
        var key: [UInt8]? = nil
        for try await k in rows.decode(ByteBuffer?.self) { key = k.map { Array($0.readableBytesView) } }
        return key
    }

    public func insertGrant(_ grant: StoredGrant, signingKey: [UInt8], audit: AuditAppend) async throws(StoreError) {
        let from = try Schema.column(grant.fromLabel, "label")
        let to = try Schema.column(grant.toLabel, "label")
        let logger = self.logger
        try await transaction { db in
            let v = ByteBuffer(bytes: grant.verifier)
            if let registered = try await Self.lockCustomer(grant.verifier, db, logger) {
                guard registered == signingKey else {
                    throw StoreError.conflict("another signing key is registered for this customer")
                }
            } else {
                try await db.query(
                    "UPDATE customers SET signing_key = \(ByteBuffer(bytes: signingKey)) WHERE verifier = \(v)",
                    logger: logger)
            }
            try await db.query(
                """
                INSERT INTO customer_grants (grant_id, verifier, grantee, from_label, to_label, expires, created,
                    body, signature, sealed, revoked)
                VALUES (\(grant.id), \(v), \(grant.grantee), \(from), \(to), \(grant.expires), \(grant.created),
                    \(ByteBuffer(bytes: grant.body)), \(ByteBuffer(bytes: grant.signature)),
                    \(ByteBuffer(bytes: grant.sealed)), NULL)
                """, logger: logger)
            try await Self.append(audit, db, logger, locked: true)
        }
    }

    static let grantColumns =
        "grant_id, verifier, grantee, from_label, to_label, expires, created, body, signature, sealed, revoked"

    static func grants(_ rows: PostgresRowSequence) async throws -> [StoredGrant] {
        var out: [StoredGrant] = []
        for try await row in rows {
            let (id, v, grantee, from, to, expires, created, body, signature, sealed, revoked) = try row.decode(
                (
                    String, ByteBuffer, String, Int64, Int64, String?, String, ByteBuffer, ByteBuffer, ByteBuffer,
                    String?
                ).self)
            out.append(
                StoredGrant(
                    id: id, verifier: Array(v.readableBytesView), grantee: grantee,
                    fromLabel: try Schema.unsigned(from, "label"), toLabel: try Schema.unsigned(to, "label"),
                    expires: expires, created: created, body: Array(body.readableBytesView),
                    signature: Array(signature.readableBytesView), sealed: Array(sealed.readableBytesView),
                    revoked: revoked))
        }
        return out
    }

    public func grant(id: String) async throws(StoreError) -> StoredGrant? {
        try await run {
            try await Self.grants(
                try await client.query(
                    "SELECT \(unescaped: Self.grantColumns) FROM customer_grants WHERE grant_id = \(id)",
                    logger: logger)
            ).first
        }
    }

    public func grants(verifier: [UInt8]) async throws(StoreError) -> [StoredGrant] {
        try await run {
            try await Self.grants(
                try await client.query(
                    """
                    SELECT \(unescaped: Self.grantColumns) FROM customer_grants
                    WHERE verifier = \(ByteBuffer(bytes: verifier)) ORDER BY created, grant_id
                    """, logger: logger))
        }
    }

    public func revokeGrant(id: String, at: String, audit: AuditAppend) async throws(StoreError) {
        let logger = self.logger
        try await transaction { db in
            _ = try await Self.lockCustomer(audit.verifier, db, logger)
            try await db.query(
                """
                UPDATE customer_grants SET revoked = \(at), sealed = \(ByteBuffer())
                WHERE grant_id = \(id) AND revoked IS NULL
                """, logger: logger)
            try await Self.append(audit, db, logger, locked: true)
        }
    }

    public func appendAudit(_ audit: AuditAppend) async throws(StoreError) {
        let logger = self.logger
        try await transaction { db in try await Self.append(audit, db, logger, locked: false) }
    }

    static func append(_ audit: AuditAppend, _ db: PostgresConnection, _ logger: Logger, locked: Bool) async throws {
        if !locked { _ = try await lockCustomer(audit.verifier, db, logger) }
        let v = ByteBuffer(bytes: audit.verifier)
        let from = try Schema.column(audit.fromLabel, "label")
        let to = try Schema.column(audit.toLabel, "label")
        var seq: Int64 = 0
        var previous = [UInt8](repeating: 0, count: 32)
        let rows = try await db.query(
            "SELECT seq, hash FROM customer_audit WHERE verifier = \(v) ORDER BY seq DESC LIMIT 1", logger: logger)
        for try await (s, h) in rows.decode((Int64, ByteBuffer).self) {
            seq = s + 1
            previous = Array(h.readableBytesView)
        }
        let hash = audit.chain(seq, previous, audit)
        try await db.query(
            """
            INSERT INTO customer_audit (verifier, seq, time, kind, grant_id, party, from_label, to_label, detail,
                previous, hash)
            VALUES (\(v), \(seq), \(audit.time), \(audit.kind), \(audit.grant), \(audit.party), \(from), \(to),
                \(audit.detail), \(ByteBuffer(bytes: previous)), \(ByteBuffer(bytes: hash)))
            """, logger: logger)
    }

    public func audit(verifier: [UInt8]) async throws(StoreError) -> [StoredAuditEntry] {
        try await run {
            var out: [StoredAuditEntry] = []
            let rows = try await client.query(
                """
                SELECT seq, time, kind, grant_id, party, from_label, to_label, detail, previous, hash
                FROM customer_audit WHERE verifier = \(ByteBuffer(bytes: verifier)) ORDER BY seq
                """, logger: logger)
            for try await row in rows {
                let (seq, time, kind, grant, party, from, to, detail, previous, hash) = try row.decode(
                    (Int64, String, String, String, String, Int64, Int64, String, ByteBuffer, ByteBuffer).self)
                out.append(
                    StoredAuditEntry(
                        seq: seq, time: time, kind: kind, grant: grant, party: party,
                        fromLabel: try Schema.unsigned(from, "label"), toLabel: try Schema.unsigned(to, "label"),
                        detail: detail, previous: Array(previous.readableBytesView),
                        hash: Array(hash.readableBytesView)))
            }
            return out
        }
    }
}
