import Foundation
import Logging
import NIOCore
import PostgresNIO

extension PostgresStore: MeterBillDataStore {
    public func meterTariff(group: UInt32) async throws(StoreError) -> StoredPlan? {
        try await statement(in: .meterTariffs, group: group)
    }

    public func setMeterTariff(group: UInt32, tariff: StoredPlan) async throws(StoreError) {
        try await setStatement(in: .meterTariffs, group: group, tariff)
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
