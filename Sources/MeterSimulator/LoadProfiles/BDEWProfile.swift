import Foundation

/// The BDEW standard load profiles for households (Germany), from demandlib's tables
/// (data/profiles/bdew, docs/load-profiles.md), computed the way demandlib 0.2.2 does
/// without holidays (Sundays are the only FT/holiday days):
///
/// - `h25` (BDEW 2025): one day of 96 quarter-hour values (kWh per quarter hour for
///   1 000 000 kWh a year) per month and day type (WT Monday–Friday, SA Saturday, FT Sunday);
///   power is 4 × value kW, times the dynamisation polynomial of the day of the year
///   (1 … 365, coefficient −3.92e−10). Not renormalised: the 2025 calendar year sums to
///   995 057 kWh (demandlib's own figure too).
/// - `h0` (BDEW 1999): 96 values per season (winter 1.1.–20.3. and 1.11.–31.12., transition
///   21.3.–14.5. and 15.9.–31.10., summer 15.5.–14.9.) and weekday (1 Monday … 7 Sunday),
///   normalised to sum 1 over the calendar year, then multiplied by the dynamisation
///   polynomial of the fractional day t = (q + 1)/96 (q the quarter hour of the year,
///   coefficient −3.916649251e−10, demandlib's adjustment so the year sums to about 1).
public struct BDEWProfile: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case h25, h0
    }

    public let kind: Kind

    public init(_ kind: Kind) { self.kind = kind }

    public static let quartersPerDay = 96

    /// The table the profile is computed from, as committed in data/profiles/bdew (without
    /// the file's last newline).
    public static func embeddedTable(_ kind: Kind) -> String {
        switch kind {
        case .h25: return BDEWTables.h25
        case .h0: return BDEWTables.h0
        }
    }

    /// Average power in kW of quarter hour `quarter` (0 = 00:00–00:15) of `date`, for a
    /// household using 1 000 000 kWh a year (the tables' scale).
    public func kilowatts(date: CivilDate, quarter: Int) -> Double {
        precondition((0..<Self.quartersPerDay).contains(quarter))
        return day(date)[quarter]
    }

    /// The 96 quarter-hour powers of `date` in kW (1 000 000 kWh a year).
    public func day(_ date: CivilDate) -> [Double] {
        switch kind {
        case .h25:
            let values = H25Table.shared.values[date.month - 1][H25Table.dayType(date.weekday)]
            let dynamisation = Self.h25Dynamisation(Double(date.dayOfYear))
            return values.map { 4 * $0 * dynamisation }
        case .h0:
            let table = H0Table.shared
            let values = table.values[H0Table.season(date)][date.weekday - 1]
            let scale = 4 * 1_000_000 / table.yearSum(date.year)
            let first = (date.dayOfYear - 1) * Self.quartersPerDay
            return values.enumerated().map { q, raw in
                let t = Double(first + q + 1) / Double(Self.quartersPerDay)
                return raw * scale * Self.h0Dynamisation(t)
            }
        }
    }

    static func h25Dynamisation(_ t: Double) -> Double {
        -3.92e-10 * t * t * t * t + 3.2e-7 * t * t * t - 7.02e-5 * t * t + 0.0021 * t + 1.24
    }

    static func h0Dynamisation(_ t: Double) -> Double {
        -3.916649251e-10 * t * t * t * t + 3.2e-7 * t * t * t - 7.02e-5 * t * t + 0.0021 * t + 1.24
    }
}

/// h25.csv: two header rows (month names in German, then `[kWh]` and the day types SA, FT,
/// WT), then 96 rows `HH:MM-HH:MM,v…` of kWh per quarter hour.
struct H25Table: Sendable {
    /// [month 0…11][day type 0 WT, 1 SA, 2 FT][quarter 0…95].
    let values: [[[Double]]]

    static let shared = H25Table(csv: BDEWTables.h25)

    static func dayType(_ weekday: Int) -> Int { weekday <= 5 ? 0 : weekday == 6 ? 1 : 2 }

    init(csv: String) {
        let lines = csv.split(whereSeparator: \.isNewline)
        precondition(lines.count == 2 + BDEWProfile.quartersPerDay, "h25.csv: 98 lines")
        let months = [
            "Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
            "November", "Dezember",
        ]
        let monthRow = lines[0].split(separator: ",", omittingEmptySubsequences: false).dropFirst()
        let typeRow = lines[1].split(separator: ",", omittingEmptySubsequences: false).dropFirst()
        precondition(monthRow.count == 36 && typeRow.count == 36, "h25.csv: 36 columns")
        let columns = zip(monthRow, typeRow).map { m, t -> (month: Int, type: Int) in
            let month = months.firstIndex(of: String(m))!
            let type = ["WT": 0, "SA": 1, "FT": 2][String(t)]!
            return (month, type)
        }
        var values = [[[Double]]](
            repeating: [[Double]](repeating: [], count: 3), count: 12)
        for (q, line) in lines.dropFirst(2).enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            precondition(fields.count == 37, "h25.csv row \(q + 3): 37 fields")
            let h = q / 4
            let m = (q % 4) * 15
            precondition(fields[0].hasPrefix(String(format: "%02d:%02d-", h, m)), "h25.csv row \(q + 3): time")
            for (c, field) in fields.dropFirst().enumerated() {
                values[columns[c].month][columns[c].type].append(Double(field)!)
            }
        }
        self.values = values
    }
}

/// h0.csv: `period,weekday,h0`, then 21 blocks of 96 rows (summer, winter, transition ×
/// weekday 1…7), each one day in quarter hours.
struct H0Table: Sendable {
    /// [season 0 summer, 1 winter, 2 transition][weekday 0…6][quarter 0…95].
    let values: [[[Double]]]
    /// [season][weekday]: the block's sum.
    let daySums: [[Double]]

    static let shared = H0Table(csv: BDEWTables.h0)

    init(csv: String) {
        let lines = csv.split(whereSeparator: \.isNewline)
        precondition(lines.first == "period,weekday,h0" && lines.count == 1 + 21 * 96, "h0.csv layout")
        var values = [[[Double]]](repeating: [[Double]](repeating: [], count: 7), count: 3)
        for line in lines.dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            let season = ["summer": 0, "winter": 1, "transition": 2][String(f[0])]!
            values[season][Int(f[1])! - 1].append(Double(f[2])!)
        }
        precondition(values.allSatisfy { $0.allSatisfy { $0.count == 96 } }, "h0.csv: 96 rows per block")
        self.values = values
        daySums = values.map { season in season.map { $0.reduce(0, +) } }
    }

    /// demandlib's seasons (its `ElecSlp` defaults).
    static func season(_ d: CivilDate) -> Int {
        let md = d.month * 100 + d.day
        if md >= 515 && md <= 914 { return 0 }
        if (md >= 321 && md <= 514) || (md >= 915 && md <= 1031) { return 2 }
        return 1
    }

    /// The sum of the static values over calendar year `year` (the normalisation): each
    /// day adds its (season, weekday) block's sum.
    func yearSum(_ year: Int) -> Double {
        var sum = 0.0
        var d = CivilDate(year: year, month: 1, day: 1)!
        while d.year == year {
            sum += daySums[Self.season(d)][d.weekday - 1]
            d = d.adding(days: 1)
        }
        return sum
    }
}

/// Households on a BDEW profile: each draws its annual consumption (log-normal around
/// `annualKWh`, spread `annualSpread`, within 0.25…4 × `annualKWh`) and multiplies every
/// minute by 1 + `noise` × u (u uniform in −1…1), all from its seed. The profile's
/// quarter-hour power holds for the quarter's 15 minutes (demandlib pads the same way).
public struct BDEWHouseholds: Sendable {
    public var profile: BDEWProfile
    /// The day label 0 starts on (at 00:00).
    public var start: CivilDate
    /// Mean annual consumption (the median of the log-normal), kWh.
    public var annualKWh: Double
    /// Standard deviation of the natural log of the annual consumption.
    public var annualSpread: Double
    /// Relative per-minute noise (0 gives the profile itself).
    public var noise: Double

    public init(
        _ kind: BDEWProfile.Kind, start: CivilDate = CivilDate(year: 2025, month: 1, day: 1)!,
        annualKWh: Double = 3500, annualSpread: Double = 0.3, noise: Double = 0.2
    ) {
        profile = BDEWProfile(kind)
        self.start = start
        self.annualKWh = annualKWh
        self.annualSpread = annualSpread
        self.noise = noise
    }

    /// The household's annual consumption in kWh, from its seed.
    public func annualConsumption(seed: UInt64) -> Double {
        var rng = SeededGenerator(seed: seed ^ 0xB0E4_5EED)
        return annualConsumption(&rng)
    }

    func annualConsumption(_ rng: inout SeededGenerator) -> Double {
        guard annualSpread > 0 else { return annualKWh }
        // Box–Muller from two uniforms in (0, 1].
        let u1 = (Double(rng.next() >> 11) + 1) / Double(1 << 53)
        let u2 = Double(rng.next() >> 11) / Double(1 << 53)
        let z = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        return annualKWh * min(4, max(0.25, exp(annualSpread * z)))
    }

    /// `minutes` one-minute powers in mW from `start` 00:00, clamped to `capMilliwatts`.
    public func household(seed: UInt64, minutes: Int, capMilliwatts: UInt32 = .max) -> [UInt32] {
        var rng = SeededGenerator(seed: seed ^ 0xB0E4_5EED)
        let annual = annualConsumption(&rng)
        var out: [UInt32] = []
        out.reserveCapacity(minutes)
        var date = start
        var day = profile.day(date)
        while out.count < minutes {
            let m = out.count % 1440
            if m == 0 && out.count > 0 {
                date = date.adding(days: 1)
                day = profile.day(date)
            }
            // kW for 1 GWh a year × annual / 1e6 kWh = kW; × 1e6 = mW.
            var mw = day[m / 15] * annual
            if noise > 0 {
                let u = 2 * Double(rng.next() >> 11) / Double(1 << 53) - 1
                mw *= 1 + noise * u
            }
            out.append(UInt32(min(Double(capMilliwatts), max(0, mw.rounded()))))
        }
        return out
    }
}
