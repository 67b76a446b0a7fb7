import Foundation
import GRDB
import PostgresNIO

/// What a release of one meter's data is: a bill or an energy report (Paillier groups).
/// Each label is released at most once per meter and kind (PaillierBilling.swift): the
/// service keeps the released periods so that a restart cannot release one again.
public enum ReleaseKind: String, Sendable, CaseIterable {
    case bill
    case report
}

/// The released periods, in both backends (schema version `Schema.releasesVersion`).
public protocol ReleaseStore {
    /// The periods of `kind` already released for `meter`, in order.
    func releases(group: UInt32, meter: UInt32, kind: ReleaseKind) async throws(StoreError) -> [ClosedRange<UInt64>]
    /// Records a period as released; `conflict` if one starts at the same label.
    func recordRelease(
        group: UInt32, meter: UInt32, kind: ReleaseKind, labels: ClosedRange<UInt64>
    ) async throws(StoreError)
}

extension Schema {
    /// The migration that adds the released periods.
    static let releases = """
        CREATE TABLE releases (
            group_id BIGINT NOT NULL REFERENCES aggregator_groups (group_id), meter BIGINT NOT NULL,
            kind TEXT NOT NULL, first_label BIGINT NOT NULL, last_label BIGINT NOT NULL,
            PRIMARY KEY (group_id, meter, kind, first_label))
        """
}

extension SQLiteStore {
    public func releases(
        group: UInt32, meter: UInt32, kind: ReleaseKind
    ) async throws(StoreError) -> [ClosedRange<UInt64>] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT first_label, last_label FROM releases WHERE group_id = ? AND meter = ? AND kind = ?
                    ORDER BY first_label
                    """, arguments: [Int64(group), Int64(meter), kind.rawValue]
            ).map { row in
                try Schema.unsigned(row["first_label"], "label")...Schema.unsigned(row["last_label"], "label")
            }
        }
    }

    public func recordRelease(
        group: UInt32, meter: UInt32, kind: ReleaseKind, labels: ClosedRange<UInt64>
    ) async throws(StoreError) {
        let first = try Schema.column(labels.lowerBound, "label")
        let last = try Schema.column(labels.upperBound, "label")
        try await write { db in
            try db.execute(
                sql: "INSERT INTO releases (group_id, meter, kind, first_label, last_label) VALUES (?, ?, ?, ?, ?)",
                arguments: [Int64(group), Int64(meter), kind.rawValue, first, last])
        }
    }
}

extension PostgresStore {
    public func releases(
        group: UInt32, meter: UInt32, kind: ReleaseKind
    ) async throws(StoreError) -> [ClosedRange<UInt64>] {
        let logger = self.logger
        return try await run {
            var out: [ClosedRange<UInt64>] = []
            let rows = try await client.query(
                """
                SELECT first_label, last_label FROM releases
                WHERE group_id = \(Int64(group)) AND meter = \(Int64(meter)) AND kind = \(kind.rawValue)
                ORDER BY first_label
                """, logger: logger)
            for try await (first, last) in rows.decode((Int64, Int64).self) {
                out.append(try Schema.unsigned(first, "label")...Schema.unsigned(last, "label"))
            }
            return out
        }
    }

    public func recordRelease(
        group: UInt32, meter: UInt32, kind: ReleaseKind, labels: ClosedRange<UInt64>
    ) async throws(StoreError) {
        let first = try Schema.column(labels.lowerBound, "label")
        let last = try Schema.column(labels.upperBound, "label")
        let logger = self.logger
        try await run {
            try await client.query(
                """
                INSERT INTO releases (group_id, meter, kind, first_label, last_label)
                VALUES (\(Int64(group)), \(Int64(meter)), \(kind.rawValue), \(first), \(last))
                """, logger: logger)
        }
    }
}
