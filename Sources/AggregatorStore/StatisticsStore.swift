/// Statistics without individuals (docs/spec/statistics.md) in the store: a group's signed
/// statistics plan, the meters' statistics frames (the slot ciphertexts, as received), and
/// each label's decrypted statistics once every member's frames are in.
public protocol StatisticsDataStore: AggregatorStore {
    /// The group's statistics plan, nil when it has none.
    func statisticsPlan(group: UInt32) async throws(StoreError) -> StoredPlan?
    /// Sets (or replaces) the group's statistics plan.
    func setStatisticsPlan(group: UInt32, plan: StoredPlan) async throws(StoreError)
    /// The statistics frames of labels ≥ `fromLabel`, by label and meter.
    func statisticsFrames(group: UInt32, fromLabel: UInt64) async throws(StoreError) -> [StoredReading]
    /// The decrypted statistics of `labels`, by label.
    func labelStatistics(group: UInt32, labels: ClosedRange<UInt64>) async throws(StoreError) -> [StoredLabelStatistics]
    /// Statistics frames and decrypted labels in one transaction (a frame stored before is skipped).
    func commitStatistics(group: UInt32, frames: [StoredReading], labels: [StoredLabelStatistics])
        async throws(StoreError)
}

/// A signed statement as stored (body and signature).
public struct StoredPlan: Sendable, Equatable {
    public var body: [UInt8]
    public var signature: [UInt8]

    public init(body: [UInt8], signature: [UInt8]) {
        self.body = body
        self.signature = signature
    }
}

/// One label's decrypted statistics: count, Σx, Σx² (nil without the x² slot), the histogram.
public struct StoredLabelStatistics: Sendable, Equatable {
    public let label: UInt64
    public let meters: Int
    public let sum: UInt64
    public let sumOfSquares: UInt64?
    public let histogram: [UInt64]

    public init(label: UInt64, meters: Int, sum: UInt64, sumOfSquares: UInt64?, histogram: [UInt64]) {
        self.label = label
        self.meters = meters
        self.sum = sum
        self.sumOfSquares = sumOfSquares
        self.histogram = histogram
    }

    /// The histogram as stored: counts separated by commas.
    var histogramText: String { histogram.map(String.init).joined(separator: ",") }

    static func histogram(_ text: String) throws(StoreError) -> [UInt64] {
        if text.isEmpty { return [] }
        var out: [UInt64] = []
        for part in text.split(separator: ",") {
            guard let v = UInt64(part) else { throw .invalidValue("stored histogram \(text)") }
            out.append(v)
        }
        return out
    }
}

/// The statistics tables, one self-contained migration (appended to `Schema.migrations`).
public enum StatisticsSchema {
    public static let version = 5
    public static let statements: [String] = [
        "CREATE TABLE statistics_plans (group_id BIGINT PRIMARY KEY, body {blob} NOT NULL, signature {blob} NOT NULL)",
        """
        CREATE TABLE statistics_frames (
            group_id BIGINT NOT NULL, label BIGINT NOT NULL, meter BIGINT NOT NULL, frame {blob} NOT NULL,
            PRIMARY KEY (group_id, label, meter))
        """,
        """
        CREATE TABLE label_statistics (
            group_id BIGINT NOT NULL, label BIGINT NOT NULL, meters BIGINT NOT NULL, total BIGINT NOT NULL,
            squares BIGINT, histogram TEXT NOT NULL, PRIMARY KEY (group_id, label))
        """,
    ]
}
