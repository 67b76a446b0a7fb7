// The feeder-meter check: a feeder meter at the group's transformer measures the physical
// total of the group per label (no secret: it sees only the sum). The supplier compares
// it with the decrypted group sum and flags labels whose gap exceeds a tolerance — line
// losses explain a small positive gap; a large one means theft (load bypassing a meter),
// a faulty or tampered meter, or a wrong group layout.

/// When a gap is large enough to flag: more than `absoluteWh` and more than `relative` of
/// the feeder's total.
public struct FeederTolerance: Sendable, Codable, Equatable {
    public var absoluteWh: UInt64
    public var relative: Double

    public init(absoluteWh: UInt64 = 50, relative: Double = 0.05) {
        self.absoluteWh = absoluteWh
        self.relative = relative
    }

    /// The largest gap (in Wh) not flagged for a feeder total of `feederWh`.
    public func allowance(feederWh: UInt64) -> Double { max(Double(absoluteWh), relative * Double(feederWh)) }
}

/// One label of the feeder report.
public struct FeederReportRow: Sendable, Codable, Equatable {
    public let label: UInt64
    /// The decrypted sum of the group's meters, nil if the supplier has none.
    public let meteredWh: UInt64?
    /// The feeder meter's total, nil if it sent none.
    public let feederWh: UInt64?
    /// feeder − metered (positive: energy that no household meter accounted for).
    public let gapWh: Int64?
    public let flagged: Bool
}

/// The supplier's comparison of decrypted group sums with a feeder meter.
public struct FeederReport: Sendable, Codable, Equatable {
    public let group: UInt32
    public let tolerance: FeederTolerance
    public let rows: [FeederReportRow]

    public var flaggedLabels: [UInt64] { rows.filter(\.flagged).map(\.label) }

    /// Compares per label; a label present on one side only is flagged.
    public init(group: UInt32, metered: [UInt64: UInt64], feeder: [UInt64: UInt64], tolerance: FeederTolerance) {
        self.group = group
        self.tolerance = tolerance
        rows = Set(metered.keys).union(feeder.keys).sorted().map { label in
            let m = metered[label]
            let f = feeder[label]
            guard let m, let f else {
                return FeederReportRow(label: label, meteredWh: m, feederWh: f, gapWh: nil, flagged: true)
            }
            let gap = Int64(clamping: f) - Int64(clamping: m)  // no trap on totals ≥ 2^63
            return FeederReportRow(
                label: label, meteredWh: m, feederWh: f, gapWh: gap,
                flagged: Double(gap.magnitude) > tolerance.allowance(feederWh: f))
        }
    }
}
