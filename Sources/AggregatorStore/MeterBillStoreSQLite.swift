import Foundation
import GRDB

extension SQLiteStore: MeterBillDataStore {
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
        for b in bills { _ = try Schema.column(b.label, "label") }
        try await write { db in
            let insert = try db.cachedStatement(
                sql: "INSERT OR IGNORE INTO meter_bills (group_id, label, meter, frame) VALUES (?, ?, ?, ?)")
            for b in bills {
                try insert.execute(arguments: [Int64(group), Int64(b.label), Int64(b.meter), Data(b.frame)])
            }
        }
    }
}
