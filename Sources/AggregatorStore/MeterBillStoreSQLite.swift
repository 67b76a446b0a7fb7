import Foundation
import GRDB

extension SQLiteStore: MeterBillDataStore {
    public func meterTariff(group: UInt32) async throws(StoreError) -> StoredPlan? {
        try await read { db in
            try Row.fetchOne(
                db, sql: "SELECT body, signature FROM meter_tariffs WHERE group_id = ?", arguments: [Int64(group)]
            ).map { StoredPlan(body: [UInt8]($0["body"] as Data), signature: [UInt8]($0["signature"] as Data)) }
        }
    }

    public func setMeterTariff(group: UInt32, tariff: StoredPlan) async throws(StoreError) {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO meter_tariffs (group_id, body, signature) VALUES (?, ?, ?)
                    ON CONFLICT (group_id) DO UPDATE SET body = excluded.body, signature = excluded.signature
                    """, arguments: [Int64(group), Data(tariff.body), Data(tariff.signature)])
        }
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
