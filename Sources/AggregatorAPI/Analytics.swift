// The body of `GET /v1/groups/{g}/analytics?from=A&to=B` (docs/service.md, openapi.yaml):
// statistics per label over a group, never one household's value (docs/spec/statistics.md).

/// Statistics of a group over labels `from ... to`, with the group peak.
public struct AnalyticsResponse: Codable, Sendable, Equatable {
    /// One label's figures.
    public struct Label: Codable, Sendable, Equatable {
        public let label: UInt64
        /// Meters whose values are in the figures (n for the n-of-n group).
        public let count: Int
        /// Σx in Wh.
        public let sum: UInt64
        /// Σx / count.
        public let mean: Double
        /// Σx²/count − mean², null when the plan has no x² slot.
        public let variance: Double?
        /// Households per bin (bins: the response's edges).
        public let histogram: [UInt64]

        public init(label: UInt64, count: Int, sum: UInt64, mean: Double, variance: Double?, histogram: [UInt64]) {
            self.label = label
            self.count = count
            self.sum = sum
            self.mean = mean
            self.variance = variance
            self.histogram = histogram
        }

        enum CodingKeys: String, CodingKey { case label, count, sum, mean, variance, histogram }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(label, forKey: .label)
            try c.encode(count, forKey: .count)
            try c.encode(sum, forKey: .sum)
            try c.encode(mean, forKey: .mean)
            try c.encode(variance, forKey: .variance)  // null, not absent, without the x² slot
            try c.encode(histogram, forKey: .histogram)
        }
    }

    /// The label with the largest group sum.
    public struct Peak: Codable, Sendable, Equatable {
        public let label: UInt64
        public let sum: UInt64

        public init(label: UInt64, sum: UInt64) {
            self.label = label
            self.sum = sum
        }
    }

    public let group: UInt32
    public let meters: Int
    public let minimumGroupSize: UInt32
    /// Bin edges e_1 … e_{B−1} in Wh: bin 0 is [0, e_1), bin B − 1 is [e_{B−1}, ∞).
    public let bins: [UInt32]
    public let labels: [Label]
    public let peak: Peak?

    public init(group: UInt32, meters: Int, minimumGroupSize: UInt32, bins: [UInt32], labels: [Label], peak: Peak?) {
        self.group = group
        self.meters = meters
        self.minimumGroupSize = minimumGroupSize
        self.bins = bins
        self.labels = labels
        self.peak = peak
    }

    enum CodingKeys: String, CodingKey {
        case group, meters, bins, labels, peak
        case minimumGroupSize = "minimum_group_size"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(group, forKey: .group)
        try c.encode(meters, forKey: .meters)
        try c.encode(minimumGroupSize, forKey: .minimumGroupSize)
        try c.encode(bins, forKey: .bins)
        try c.encode(labels, forKey: .labels)
        try c.encode(peak, forKey: .peak)
    }
}

/// A statement the authority signed, as an operator installs it (hex): the statistics plan
/// (`PUT /v1/groups/{group}/statistics-plan`) and the meters' tariff (`PUT .../tariff`).
public struct SignedStatementBody: ClosedJSONBody, Sendable, Equatable {
    public static let fields: Set<String> = ["statement_body", "signature"]
    public var statement_body: String
    public var signature: String

    public init(statement_body: String, signature: String) {
        self.statement_body = statement_body
        self.signature = signature
    }
}

/// PUT /v1/groups/{group}/statistics-plan: the authority's signed statistics plan (kind 5).
public typealias StatisticsPlanBody = SignedStatementBody
