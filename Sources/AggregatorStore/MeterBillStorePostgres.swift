import Foundation
import Logging
import NIOCore
import PostgresNIO

extension PostgresStore: MeterBillDataStore {
    public func meterTariff(group: UInt32) async throws(StoreError) -> StoredPlan? {
        try await run {
            var out: StoredPlan? = nil
            let rows = try await client.query(
                "SELECT body, signature FROM meter_tariffs WHERE group_id = \(Int64(group))", logger: logger)
            for try await (body, signature) in rows.decode((ByteBuffer, ByteBuffer).self) {
                out = StoredPlan(body: Array(body.readableBytesView), signature: Array(signature.readableBytesView))
            }
            return out
        }
    }

    public func setMeterTariff(group: UInt32, tariff: StoredPlan) async throws(StoreError) {
        try await run {
            _ = try await client.query(
                """
                INSERT INTO meter_tariffs (group_id, body, signature)
                VALUES (\(Int64(group)), \(ByteBuffer(bytes: tariff.body)), \(ByteBuffer(bytes: tariff.signature)))
                ON CONFLICT (group_id) DO UPDATE SET body = excluded.body, signature = excluded.signature
                """, logger: logger)
        }
    }

    public func meterBills(group: UInt32) async throws(StoreError) -> [StoredReading] {
        try await frames(in: .meterBills, group: group, fromLabel: 0)
    }

    public func storeMeterBills(group: UInt32, bills: [StoredReading]) async throws(StoreError) {
        guard !bills.isEmpty else { return }
        let g = Int64(group)
        for b in bills { _ = try Schema.column(b.label, "label") }
        let logger = self.logger
        try await transaction { db in
            for b in bills {
                try await db.query(
                    """
                    INSERT INTO meter_bills (group_id, label, meter, frame)
                    VALUES (\(g), \(Int64(b.label)), \(Int64(b.meter)), \(ByteBuffer(bytes: b.frame)))
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
        }
    }
}
