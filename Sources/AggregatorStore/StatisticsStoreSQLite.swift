import Foundation
import GRDB

extension SQLiteStore: StatisticsDataStore {
    public func statisticsPlan(group: UInt32) async throws(StoreError) -> StoredPlan? {
        try await statement(in: .statisticsPlans, group: group)
    }

    public func setStatisticsPlan(group: UInt32, plan: StoredPlan) async throws(StoreError) {
        try await setStatement(in: .statisticsPlans, group: group, plan)
    }

    /// The signed statement `table` keeps for `group`, nil when none.
    func statement(in table: StatementTable, group: UInt32) async throws(StoreError) -> StoredPlan? {
        try await read { db in
            try Row.fetchOne(
                db, sql: "SELECT body, signature FROM \(table.rawValue) WHERE group_id = ?", arguments: [Int64(group)]
            ).map { StoredPlan(body: [UInt8]($0["body"] as Data), signature: [UInt8]($0["signature"] as Data)) }
        }
    }

    /// Sets (or replaces) the signed statement `table` keeps for `group`.
    func setStatement(in table: StatementTable, group: UInt32, _ plan: StoredPlan) async throws(StoreError) {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO \(table.rawValue) (group_id, body, signature) VALUES (?, ?, ?)
                    ON CONFLICT (group_id) DO UPDATE SET body = excluded.body, signature = excluded.signature
                    """, arguments: [Int64(group), Data(plan.body), Data(plan.signature)])
        }
    }

    public func statisticsFrames(group: UInt32, fromLabel: UInt64) async throws(StoreError) -> [StoredReading] {
        try await frames(in: .statisticsFrames, group: group, fromLabel: fromLabel)
    }

    public func labelStatistics(group: UInt32, labels: ClosedRange<UInt64>) async throws(StoreError)
        -> [StoredLabelStatistics]
    {
        let low = try Schema.column(labels.lowerBound, "label")
        let high = Int64(clamping: labels.upperBound)
        return try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT label, meters, total, squares, histogram FROM label_statistics
                    WHERE group_id = ? AND label BETWEEN ? AND ? ORDER BY label
                    """, arguments: [Int64(group), low, high]
            ).map { row in
                StoredLabelStatistics(
                    label: try Schema.unsigned(row["label"], "label"), meters: Int(row["meters"] as Int64),
                    sum: try Schema.unsigned(row["total"], "sum"),
                    sumOfSquares: try (row["squares"] as Int64?).map { v throws(StoreError) in
                        try Schema.unsigned(v, "sum of squares")
                    },
                    histogram: try StoredLabelStatistics.histogram(row["histogram"]))
            }
        }
    }

    public func commitStatistics(group: UInt32, frames: [StoredReading], labels: [StoredLabelStatistics])
        async throws(StoreError)
    {
        guard !frames.isEmpty || !labels.isEmpty else { return }
        for f in frames { _ = try Schema.column(f.label, "label") }
        for s in labels {
            _ = try Schema.column(s.label, "label")
            _ = try Schema.column(s.sum, "sum")
            if let q = s.sumOfSquares { _ = try Schema.column(q, "sum of squares") }
        }
        try await write { db in
            let frame = try db.cachedStatement(
                sql: "INSERT OR IGNORE INTO statistics_frames (group_id, label, meter, frame) VALUES (?, ?, ?, ?)")
            for f in frames {
                try frame.execute(arguments: [Int64(group), Int64(f.label), Int64(f.meter), Data(f.frame)])
            }
            let label = try db.cachedStatement(
                sql: """
                    INSERT OR IGNORE INTO label_statistics (group_id, label, meters, total, squares, histogram)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """)
            for s in labels {
                try label.execute(arguments: [
                    Int64(group), Int64(s.label), Int64(s.meters), Int64(s.sum), s.sumOfSquares.map { Int64($0) },
                    s.histogramText,
                ])
            }
        }
    }
}
