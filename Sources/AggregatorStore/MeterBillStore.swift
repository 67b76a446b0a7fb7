/// Bills made on the meter (docs/spec/billing.md) in the store: the group's signed tariff,
/// which the service relays to the meters, and the sealed bill frames they send, kept as
/// received (the service holds no key that opens them) for the supplier to fetch.
public protocol MeterBillDataStore: AggregatorStore {
    /// The group's tariff for the meters (the newest installed), nil when it has none.
    func meterTariff(group: UInt32) async throws(StoreError) -> StoredPlan?
    /// Sets (or replaces) the group's tariff for the meters.
    func setMeterTariff(group: UInt32, tariff: StoredPlan) async throws(StoreError)
    /// The bill frames of the group (label = a period's last label), by label and meter.
    func meterBills(group: UInt32) async throws(StoreError) -> [StoredReading]
    /// Stores bill frames in one transaction (a frame for a stored (meter, label) is skipped).
    func storeMeterBills(group: UInt32, bills: [StoredReading]) async throws(StoreError)
}

/// The bill tables, one self-contained migration (appended to `Schema.migrations`).
public enum MeterBillSchema {
    public static let version = 7
    public static let statements: [String] = [
        "CREATE TABLE meter_tariffs (group_id BIGINT PRIMARY KEY, body {blob} NOT NULL, signature {blob} NOT NULL)",
        """
        CREATE TABLE meter_bills (
            group_id BIGINT NOT NULL, label BIGINT NOT NULL, meter BIGINT NOT NULL, frame {blob} NOT NULL,
            PRIMARY KEY (group_id, label, meter))
        """,
    ]
}
