import ArgumentParser
import MeterSimulator

/// `--profiles FILE --format lcl|minute-kw|bdew` on demo and fleet (docs/load-profiles.md).
struct ProfileOptions: ParsableArguments {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case lcl
        case minuteKW = "minute-kw"
        case bdew
    }

    @Option(
        help: ArgumentHelp(
            "Load profiles: a file (lcl, minute-kw), or for bdew the profile h25 (default) or h0. Default: the synthetic model.",
            valueName: "FILE"))
    var profiles: String?
    @Option(help: "Format of --profiles (bdew is implied by h25 or h0).")
    var format: Format?
    @Option(
        name: .customLong("profile-start"),
        help: ArgumentHelp(
            "Day label 0 starts on (00:00), YYYY-MM-DD. bdew: default 2025-01-01; files: default the households' first common step.",
            valueName: "DATE"))
    var profileStart: String?
    @Option(name: .customLong("annual-kwh"), help: "bdew: median annual consumption per household, kWh.")
    var annualKWh: Double = 3500
    @Option(name: .customLong("annual-spread"), help: "bdew: standard deviation of ln(annual consumption).")
    var annualSpread: Double = 0.3
    @Option(help: "bdew: relative per-minute noise of each household (0: the profile itself).")
    var noise: Double = 0.2

    /// The format given, or bdew when --profiles names a BDEW profile.
    var resolvedFormat: Format? {
        if let format { return format }
        if let profiles, BDEWProfile.Kind(rawValue: profiles.lowercased()) != nil { return .bdew }
        return nil
    }

    func validate() throws {
        if profiles != nil && resolvedFormat == nil {
            throw ValidationError(
                "give --format \(Format.allCases.map(\.rawValue).joined(separator: "|")) with --profiles")
        }
        if let f = resolvedFormat, f != .bdew, profiles == nil {
            throw ValidationError("--format \(f.rawValue) needs --profiles FILE")
        }
        if resolvedFormat == .bdew, let p = profiles, BDEWProfile.Kind(rawValue: p.lowercased()) == nil {
            throw ValidationError("--format bdew takes --profiles h25 or h0 (the tables are built in), not \(p)")
        }
        if let s = profileStart, CivilDate(s) == nil {
            throw ValidationError("--profile-start: \(s) is not YYYY-MM-DD")
        }
        guard annualKWh > 0, annualKWh.isFinite else { throw ValidationError("--annual-kwh must be positive") }
        guard annualSpread >= 0, annualSpread <= 2 else { throw ValidationError("--annual-spread must be in 0…2") }
        guard noise >= 0, noise <= 1 else { throw ValidationError("--noise must be in 0…1") }
    }

    /// The source the fleet's meters run on; a malformed file throws its typed error.
    func source() throws -> LoadProfileSource {
        let start = profileStart.flatMap { CivilDate($0) }
        switch resolvedFormat {
        case nil: return .synthetic
        case .bdew:
            let kind = BDEWProfile.Kind(rawValue: (profiles ?? "h25").lowercased())!
            return .bdew(
                BDEWHouseholds(
                    kind, start: start ?? CivilDate(year: 2025, month: 1, day: 1)!, annualKWh: annualKWh,
                    annualSpread: annualSpread, noise: noise))
        case .lcl, .minuteKW:
            let format: ProfileFileFormat = resolvedFormat == .lcl ? .lcl : .minuteKW
            do {
                var file = try ImportedProfiles.load(path: profiles!, format: format)
                if let start { try file.start(at: start) }
                return .imported(file)
            } catch {
                throw ProfileFileRefused(description: "\(profiles!): \(error)")
            }
        }
    }
}

/// A profile file was refused: the path and the parser's typed error (with its line).
struct ProfileFileRefused: Error, CustomStringConvertible {
    let description: String
}
