/// Where a fleet's meters get their load (one-minute powers in mW).
public enum LoadProfileSource: Sendable {
    /// `LoadModel`: one synthetic day per household, repeated.
    case synthetic
    /// A BDEW standard load profile, scaled and varied per household from its seed.
    case bdew(BDEWHouseholds)
    /// Households read from a file; meter i takes household i mod count (meters beyond
    /// the file's households reuse them cyclically).
    case imported(ImportedProfiles)

    /// Meter `index`'s profile for a run of `minutes` minutes, clamped to the largest power
    /// the group's maximum reading allows. `seed` is the meter's own seed.
    public func profile(meter index: Int, seed: UInt64, minutes: Int, model: LoadModel) -> [UInt32] {
        switch self {
        case .synthetic: return model.household(seed: seed)
        case .bdew(let households):
            return households.household(seed: seed, minutes: minutes, capMilliwatts: model.capMilliwatts)
        case .imported(let file):
            return file.profile(
                household: index % file.households.count, minutes: minutes, capMilliwatts: model.capMilliwatts)
        }
    }

    /// One line for people: what the meters run on.
    public func describe(meters: Int) -> String {
        switch self {
        case .synthetic: return "synthetic (LoadModel)"
        case .bdew(let h):
            return
                "BDEW \(h.profile.kind.rawValue) from \(h.start), \(h.annualKWh) kWh/a median, spread \(h.annualSpread), noise \(h.noise)"
        case .imported(let file):
            let n = file.households.count
            let reuse = meters > n ? ", reused cyclically by \(meters) meters" : ""
            return "\(file.format.rawValue) file: \(n) households\(reuse), from \(formatMinute(file.start)) "
                + "(\(file.minutes) minutes in common, \(file.missingSteps) missing steps at 0 W)"
        }
    }
}
