// The supplier's releases of one meter's data (Paillier groups): bills and energy reports,
// computed by the service on ciphertexts under the authority's signed tariff, decrypted by
// the supplier only; and the feeder-meter check of a group's decrypted sums (LWR-PSA).

/// POST /v1/groups/{group}/bills: bill one meter over a label range under a signed tariff.
public struct BillRequest: ClosedJSONBody, Sendable, Equatable {
    public static let fields: Set<String> = ["meter", "from", "to", "tariff"]
    public var meter: UInt32
    public var from: UInt64
    public var to: UInt64
    /// The authority's tariff statement for this group and a period covering from ... to.
    public var tariff: SignedStatementJSON
    public init(meter: UInt32, from: UInt64, to: UInt64, tariff: SignedStatementJSON) {
        self.meter = meter
        self.from = from
        self.to = to
        self.tariff = tariff
    }
}

/// An encrypted bill: Enc(Σ price_t · usage_t + fee) mod N², hex, for the supplier.
public struct EncryptedBillResponse: Codable, Sendable, Equatable {
    public var group: UInt32
    public var meter: UInt32
    public var from: UInt64
    public var to: UInt64
    /// The money unit of the amount (e.g. "µEUR") and how many make one currency unit.
    public var unit: String
    public var units_per_currency: UInt64
    /// N of the supplier's key, hex (which key decrypts it).
    public var modulus: String
    public var ciphertext: String
    public init(
        group: UInt32, meter: UInt32, from: UInt64, to: UInt64, unit: String, units_per_currency: UInt64,
        modulus: String, ciphertext: String
    ) {
        self.group = group
        self.meter = meter
        self.from = from
        self.to = to
        self.unit = unit
        self.units_per_currency = units_per_currency
        self.modulus = modulus
        self.ciphertext = ciphertext
    }
}

/// POST /v1/groups/{group}/energy-reports: one meter's energy per interval (default one
/// day, 96 labels) over a label range.
public struct EnergyReportRequest: ClosedJSONBody, Sendable, Equatable {
    public static let fields: Set<String> = ["meter", "from", "to", "interval_labels"]
    public var meter: UInt32
    public var from: UInt64
    public var to: UInt64
    public var interval_labels: Int?
    public init(meter: UInt32, from: UInt64, to: UInt64, interval_labels: Int? = nil) {
        self.meter = meter
        self.from = from
        self.to = to
        self.interval_labels = interval_labels
    }
}

/// An encrypted energy report: Enc(Σ usage) per interval, hex.
public struct EncryptedReportResponse: Codable, Sendable, Equatable {
    public struct Interval: Codable, Sendable, Equatable {
        public var from: UInt64
        public var to: UInt64
        public var ciphertext: String
        public init(from: UInt64, to: UInt64, ciphertext: String) {
            self.from = from
            self.to = to
            self.ciphertext = ciphertext
        }
    }
    public var group: UInt32
    public var meter: UInt32
    public var modulus: String
    public var intervals: [Interval]
    public init(group: UInt32, meter: UInt32, modulus: String, intervals: [Interval]) {
        self.group = group
        self.meter = meter
        self.modulus = modulus
        self.intervals = intervals
    }
}

/// POST /v1/groups/{group}/feeder-report: the feeder meter's totals per label (the
/// supplier's own measurement at the transformer) against the group's decrypted sums.
public struct FeederReportRequest: ClosedJSONBody, Sendable, Equatable {
    public static let fields: Set<String> = ["feeder", "tolerance_wh", "tolerance_percent"]
    public struct Entry: Codable, Sendable, Equatable {
        public var label: UInt64
        public var wh: UInt64
        public init(label: UInt64, wh: UInt64) {
            self.label = label
            self.wh = wh
        }
    }
    public var feeder: [Entry]
    /// A gap always tolerated (default 50 Wh), and as a percentage of the feeder's total (default 5).
    public var tolerance_wh: UInt64?
    public var tolerance_percent: Double?
    public init(feeder: [Entry], tolerance_wh: UInt64? = nil, tolerance_percent: Double? = nil) {
        self.feeder = feeder
        self.tolerance_wh = tolerance_wh
        self.tolerance_percent = tolerance_percent
    }
}

/// The feeder check per label: metered (the group's decrypted sum), feeder, gap, flagged.
public struct FeederReportResponse: Codable, Sendable, Equatable {
    public struct Row: Codable, Sendable, Equatable {
        public var label: UInt64
        public var metered_wh: UInt64?
        public var feeder_wh: UInt64?
        public var gap_wh: Int64?
        public var flagged: Bool
        public init(label: UInt64, metered_wh: UInt64?, feeder_wh: UInt64?, gap_wh: Int64?, flagged: Bool) {
            self.label = label
            self.metered_wh = metered_wh
            self.feeder_wh = feeder_wh
            self.gap_wh = gap_wh
            self.flagged = flagged
        }
    }
    public var group: UInt32
    public var tolerance_wh: UInt64
    public var tolerance_percent: Double
    public var flagged_labels: [UInt64]
    public var rows: [Row]
    public init(group: UInt32, tolerance_wh: UInt64, tolerance_percent: Double, flagged_labels: [UInt64], rows: [Row]) {
        self.group = group
        self.tolerance_wh = tolerance_wh
        self.tolerance_percent = tolerance_percent
        self.flagged_labels = flagged_labels
        self.rows = rows
    }
}
