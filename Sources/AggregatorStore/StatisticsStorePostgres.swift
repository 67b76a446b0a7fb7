import Foundation
import Logging
import NIOCore
import PostgresNIO

extension PostgresStore: StatisticsDataStore {
    public func statisticsPlan(group: UInt32) async throws(StoreError) -> StoredPlan? {
        try await statement(in: .statisticsPlans, group: group)
    }

    public func setStatisticsPlan(group: UInt32, plan: StoredPlan) async throws(StoreError) {
        try await setStatement(in: .statisticsPlans, group: group, plan)
    }

    /// The signed statement `table` keeps for `group`, nil when none.
    func statement(in table: StatementTable, group: UInt32) async throws(StoreError) -> StoredPlan? {
        var binds = PostgresBindings()
        binds.append(Int64(group))
        let query = PostgresQuery(
            unsafeSQL: "SELECT body, signature FROM \(table.rawValue) WHERE group_id = $1", binds: binds)
        return try await run {
            var out: StoredPlan? = nil
            let rows = try await client.query(query, logger: logger)
            for try await (body, signature) in rows.decode((ByteBuffer, ByteBuffer).self) {
                out = StoredPlan(body: Array(body.readableBytesView), signature: Array(signature.readableBytesView))
            }
            return out
        }
    }

    /// Sets (or replaces) the signed statement `table` keeps for `group`.
    func setStatement(in table: StatementTable, group: UInt32, _ plan: StoredPlan) async throws(StoreError) {
        var binds = PostgresBindings()
        binds.append(Int64(group))
        binds.append(ByteBuffer(bytes: plan.body))
        binds.append(ByteBuffer(bytes: plan.signature))
        let query = PostgresQuery(
            unsafeSQL: """
                INSERT INTO \(table.rawValue) (group_id, body, signature) VALUES ($1, $2, $3)
                ON CONFLICT (group_id) DO UPDATE SET body = excluded.body, signature = excluded.signature
                """, binds: binds)
        try await run { _ = try await client.query(query, logger: logger) }
    }

    public func statisticsFrames(group: UInt32, fromLabel: UInt64) async throws(StoreError) -> [StoredReading] {
        try await frames(in: .statisticsFrames, group: group, fromLabel: fromLabel)
    }

    public func labelStatistics(group: UInt32, labels: ClosedRange<UInt64>) async throws(StoreError)
        -> [StoredLabelStatistics]
    {
        let low = try Schema.column(labels.lowerBound, "label")
        let high = Int64(clamping: labels.upperBound)
        return try await run {
            var out: [StoredLabelStatistics] = []
            let rows = try await client.query(
                """
                SELECT label, meters, total, squares, histogram FROM label_statistics
                WHERE group_id = \(Int64(group)) AND label BETWEEN \(low) AND \(high) ORDER BY label
                """, logger: logger)
            for try await (label, meters, total, squares, histogram) in rows.decode(
                (Int64, Int64, Int64, Int64?, String).self)
            {
                out.append(
                    StoredLabelStatistics(
                        label: try Schema.unsigned(label, "label"), meters: Int(meters),
                        sum: try Schema.unsigned(total, "sum"),
                        sumOfSquares: try squares.map { v throws(StoreError) in try Schema.unsigned(v, "sum of squares")
                        },
                        histogram: try StoredLabelStatistics.histogram(histogram)))
            }
            return out
        }
    }

    public func commitStatistics(group: UInt32, frames: [StoredReading], labels: [StoredLabelStatistics])
        async throws(StoreError)
    {
        guard !frames.isEmpty || !labels.isEmpty else { return }
        let g = Int64(group)
        for f in frames { _ = try Schema.column(f.label, "label") }
        for s in labels {
            _ = try Schema.column(s.label, "label")
            _ = try Schema.column(s.sum, "sum")
            if let q = s.sumOfSquares { _ = try Schema.column(q, "sum of squares") }
        }
        let logger = self.logger
        try await transaction { db in
            for f in frames {
                try await db.query(
                    """
                    INSERT INTO statistics_frames (group_id, label, meter, frame)
                    VALUES (\(g), \(Int64(f.label)), \(Int64(f.meter)), \(ByteBuffer(bytes: f.frame)))
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
            for s in labels {
                let squares = s.sumOfSquares.map { Int64($0) }
                try await db.query(
                    """
                    INSERT INTO label_statistics (group_id, label, meters, total, squares, histogram)
                    VALUES (\(g), \(Int64(s.label)), \(Int64(s.meters)), \(Int64(s.sum)), \(squares), \(s.histogramText))
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
        }
    }
}
