/// A feeder meter at a group's transformer: measures the physical energy that flows into
/// the group per label — what the household meters measure, plus line losses, plus any
/// load that bypasses a household meter (theft, a faulty meter). A plain feed: it holds
/// no secret and learns only the group's total, which the supplier learns anyway.
public struct FeederMeter: Sendable {
    /// Line losses as a fraction of the metered energy (e.g. 0.02).
    public var lossFraction: Double
    /// Unmetered energy per label, in Wh.
    public var bypass: [UInt64: UInt64]

    public init(lossFraction: Double = 0.02, bypass: [UInt64: UInt64] = [:]) {
        self.lossFraction = lossFraction
        self.bypass = bypass
    }

    /// The feeder's reading for `label` when the household meters measured `meteredWh`.
    public func reading(label: UInt64, meteredWh: UInt64) -> UInt64 {
        let physical = Double(meteredWh + (bypass[label] ?? 0))
        return UInt64((physical * (1 + lossFraction)).rounded())
    }
}
