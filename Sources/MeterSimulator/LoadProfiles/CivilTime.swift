/// A calendar day (proleptic Gregorian, no time zone): the load profiles' calendar.
public struct CivilDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// Nil unless `month` is 1...12 and `day` exists in that month.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), day >= 1, day <= CivilDate.daysIn(month: month, year: year) else {
            return nil
        }
        self.year = year
        self.month = month
        self.day = day
    }

    /// The day `days` days after 1970-01-01.
    public init(daysSinceEpoch days: Int) {
        // Days to civil (H. Hinnant's algorithm, public domain description).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// `YYYY-MM-DD`.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2])
        else { return nil }
        self.init(year: y, month: m, day: d)
    }

    public static func isLeap(_ year: Int) -> Bool { (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    public static func daysIn(year: Int) -> Int { isLeap(year) ? 366 : 365 }

    /// Days since 1970-01-01.
    public var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// ISO weekday: Monday 1 … Sunday 7.
    public var weekday: Int {
        let d = daysSinceEpoch
        return ((d % 7 + 7 + 3) % 7) + 1  // 1970-01-01 was a Thursday
    }

    /// Day of the year, 1 on 1 January.
    public var dayOfYear: Int { daysSinceEpoch - CivilDate(year: year, month: 1, day: 1)!.daysSinceEpoch + 1 }

    public func adding(days: Int) -> CivilDate { CivilDate(daysSinceEpoch: daysSinceEpoch + days) }

    public static func < (a: CivilDate, b: CivilDate) -> Bool { a.daysSinceEpoch < b.daysSinceEpoch }

    public var description: String {
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(year)-\(two(month))-\(two(day))"
    }
}

/// Minutes since 1970-01-01 00:00 (no time zone) for `YYYY-MM-DD HH:MM[:SS[.fff]]` in
/// UTF-8, with `T` or a space between date and time and an optional trailing `Z`. Nil if it
/// is not one; `onMinute` is false when the seconds or their fraction are not zero.
func parseTimestamp(_ field: ArraySlice<UInt8>) -> (minute: Int64, onMinute: Bool)? {
    let o = field.startIndex
    var count = field.count
    if count > 0 && field[o + count - 1] == UInt8(ascii: "Z") { count -= 1 }
    func at(_ i: Int) -> UInt8 { field[o + i] }
    func digits(_ from: Int, _ n: Int) -> Int? {
        var v = 0
        for i in from..<(from + n) {
            let c = at(i)
            guard c >= 48 && c <= 57 else { return nil }
            v = v * 10 + Int(c - 48)
        }
        return v
    }
    guard count >= 16, at(4) == 45, at(7) == 45, at(10) == 32 || at(10) == UInt8(ascii: "T"), at(13) == 58,
        let y = digits(0, 4), let mo = digits(5, 2), let d = digits(8, 2),
        let date = CivilDate(year: y, month: mo, day: d),
        let hour = digits(11, 2), let minute = digits(14, 2), hour < 24, minute < 60
    else { return nil }
    var onMinute = true
    if count > 16 {
        guard count >= 19, at(16) == 58, let seconds = digits(17, 2), seconds < 60 else { return nil }
        if seconds != 0 { onMinute = false }
        if count > 19 {
            guard at(19) == 46, count > 20 else { return nil }
            for i in 20..<count {
                let c = at(i)
                guard c >= 48 && c <= 57 else { return nil }
                if c != 48 { onMinute = false }
            }
        }
    }
    return (Int64(date.daysSinceEpoch) * 1440 + Int64(hour * 60 + minute), onMinute)
}

/// `YYYY-MM-DD HH:MM` of a minute since 1970-01-01.
func formatMinute(_ minute: Int64) -> String {
    let day = Int(minute >= 0 ? minute / 1440 : (minute - 1439) / 1440)
    let m = Int(minute - Int64(day) * 1440)
    func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return "\(CivilDate(daysSinceEpoch: day)) \(two(m / 60)):\(two(m % 60))"
}
