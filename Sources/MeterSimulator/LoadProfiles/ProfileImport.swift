import Foundation

/// Why a load-profile file was refused (the whole file: nothing of it is used).
public enum ProfileImportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be read.
    case unreadable(path: String, reason: String)
    /// The file is not UTF-8 text.
    case notText
    /// The first line is not the format's header.
    case badHeader(line: Int, found: String)
    /// A row has another number of fields than the header (or the first row).
    case fieldCount(line: Int, expected: Int, found: Int)
    /// A household id (LCL's LCLid) is empty.
    case emptyHousehold(line: Int)
    /// A timestamp is not `YYYY-MM-DD HH:MM[:SS[.fff]]` (space or `T`, optional `Z`).
    case badTimestamp(line: Int, text: String)
    /// A timestamp is off the format's grid (LCL: :00 or :30; minute-kW: whole minutes).
    case offGrid(line: Int, text: String)
    /// A timestamp is not after the household's previous one (duplicate or out of order).
    case notIncreasing(line: Int, text: String)
    /// A value is not a finite decimal number (or `Null`).
    case badValue(line: Int, text: String)
    /// A value is negative: the meters measure consumption only.
    case negativeValue(line: Int, text: String)
    /// A value's power does not fit a sample (4 294 967 295 mW).
    case valueTooLarge(line: Int, text: String)
    /// The file holds no data rows.
    case noData
    /// The households' periods do not overlap, so no interval has all of them.
    case noCommonPeriod
    /// `--profile-start` lies outside the households' common period.
    case startOutside(start: String, first: String, end: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read \(path): \(reason)"
        case .notText: return "the file is not UTF-8 text"
        case .badHeader(let line, let found): return "line \(line): unexpected header \"\(found)\""
        case .fieldCount(let line, let expected, let found):
            return "line \(line): \(found) fields, expected \(expected)"
        case .emptyHousehold(let line): return "line \(line): empty household id"
        case .badTimestamp(let line, let text): return "line \(line): bad timestamp \"\(text)\""
        case .offGrid(let line, let text): return "line \(line): timestamp \"\(text)\" is off the format's grid"
        case .notIncreasing(let line, let text):
            return "line \(line): timestamp \"\(text)\" is not after the household's previous one"
        case .badValue(let line, let text): return "line \(line): bad value \"\(text)\""
        case .negativeValue(let line, let text): return "line \(line): negative value \"\(text)\""
        case .valueTooLarge(let line, let text): return "line \(line): value \"\(text)\" exceeds 4294967295 mW"
        case .noData: return "the file holds no data rows"
        case .noCommonPeriod: return "the households share no common period"
        case .startOutside(let start, let first, let end):
            return "start \(start) is outside the households' common period \(first) … \(end)"
        }
    }
}

/// The file formats users hold.
public enum ProfileFileFormat: String, Sendable, CaseIterable {
    /// London smart meters (UK Power Networks, Low Carbon London): `LCLid,stdorToU,DateTime,KWH/hh (per half hour) `,
    /// one row per meter and half hour, kWh in the half hour ending… (see docs/load-profiles.md).
    case lcl
    /// `timestamp,kW[,kW…]`: one row per minute, one column per household, average kW.
    case minuteKW = "minute-kw"
}

/// One household's imported load: average power per step from `firstMinute`.
public struct ImportedHousehold: Sendable, Equatable {
    public let id: String
    /// Minutes since 1970-01-01 00:00 of the first step.
    public let firstMinute: Int64
    public let stepMinutes: Int
    /// Average power of each step, mW (missing steps: 0).
    public let milliwatts: [UInt32]
    public var endMinute: Int64 { firstMinute + Int64(milliwatts.count * stepMinutes) }
}

/// The households of one file, aligned on their common period: label 0 starts at `start`
/// (the latest household's first step, or `--profile-start`), and the profiles end at `end`
/// (the earliest household's end); a run longer than that wraps to `start` again.
public struct ImportedProfiles: Sendable {
    public let format: ProfileFileFormat
    public let households: [ImportedHousehold]
    /// Steps with `Null` or no row at all, counted over the whole file (their power is 0).
    public let missingSteps: Int
    public private(set) var start: Int64
    public let end: Int64

    init(format: ProfileFileFormat, households: [ImportedHousehold], missingSteps: Int) throws(ProfileImportError) {
        guard !households.isEmpty else { throw .noData }
        self.format = format
        self.households = households
        self.missingSteps = missingSteps
        start = households.map(\.firstMinute).max()!
        end = households.map(\.endMinute).min()!
        guard start < end else { throw .noCommonPeriod }
    }

    /// Starts label 0 at 00:00 of `date` instead (inside the common period).
    public mutating func start(at date: CivilDate) throws(ProfileImportError) {
        let minute = Int64(date.daysSinceEpoch) * 1440
        guard minute >= start && minute < end else {
            throw .startOutside(start: date.description, first: formatMinute(start), end: formatMinute(end))
        }
        start = minute
    }

    /// Minutes in the common period from `start`.
    public var minutes: Int { Int(end - start) }

    /// Household `index`'s one-minute powers in mW from `start`: `minutes` of them, or the
    /// common period if shorter; clamped to `capMilliwatts`.
    public func profile(household index: Int, minutes wanted: Int, capMilliwatts: UInt32 = .max) -> [UInt32] {
        let h = households[index]
        let count = min(wanted, minutes)
        let offset = Int(start - h.firstMinute)
        return (0..<count).map { m in min(capMilliwatts, h.milliwatts[(offset + m) / h.stepMinutes]) }
    }

    /// Reads `path` in `format`.
    public static func load(path: String, format: ProfileFileFormat) throws(ProfileImportError) -> ImportedProfiles {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .unreadable(path: path, reason: "\(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw .notText }
        return try parse(text, format: format)
    }

    /// Parses a whole file's text.
    public static func parse(_ text: String, format: ProfileFileFormat) throws(ProfileImportError) -> ImportedProfiles {
        switch format {
        case .lcl: return try parseLCL(text)
        case .minuteKW: return try parseMinuteKW(text)
        }
    }

    /// Lines with their 1-based numbers, without blank ones; a trailing `\r` is dropped.
    static func lines(_ text: String) -> [(number: Int, text: Substring)] {
        var out: [(Int, Substring)] = []
        // Split the bytes: a String splits "\r\n" as one Character, and bytes are faster.
        for (i, raw) in text.utf8.split(separator: 10, omittingEmptySubsequences: false).enumerated() {
            var line = Substring(raw)
            if line.utf8.last == 13 { line = Substring(line.utf8.dropLast()) }
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            out.append((i + 1, line))
        }
        return out
    }

    /// Comma-separated fields, each trimmed of spaces and surrounding double quotes.
    static func fields(_ line: Substring) -> [Substring] {
        line.split(separator: ",", omittingEmptySubsequences: false).map { f in
            var s = f.drop(while: { $0 == " " || $0 == "\t" })
            while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
            if s.count >= 2, s.first == "\"", s.last == "\"" { s = s.dropFirst().dropLast() }
            return s
        }
    }

    /// A value in the file's unit times `milliwattsPerUnit`; nil for `Null`.
    static func value(_ text: Substring, milliwattsPerUnit: Double, line: Int) throws(ProfileImportError) -> UInt32? {
        if text.lowercased() == "null" { return nil }
        guard let v = Double(text), v.isFinite, text.allSatisfy({ "0123456789.+-eE".contains($0) }) else {
            throw .badValue(line: line, text: String(text))
        }
        guard v >= 0 else { throw .negativeValue(line: line, text: String(text)) }
        let mw = (v * milliwattsPerUnit).rounded()
        guard mw <= Double(UInt32.max) else { throw .valueTooLarge(line: line, text: String(text)) }
        return UInt32(mw)
    }

    /// A household being read: its steps so far.
    struct Builder {
        let id: String
        let step: Int64
        var first: Int64 = 0
        var next: Int64 = 0
        var milliwatts: [UInt32] = []
        var missing = 0

        init(id: String, step: Int64) {
            self.id = id
            self.step = step
        }

        mutating func add(minute: Int64, mw: UInt32?, line: Int, text: Substring) throws(ProfileImportError) {
            if milliwatts.isEmpty {
                first = minute
            } else {
                guard minute >= next else { throw .notIncreasing(line: line, text: String(text)) }
                let gap = Int((minute - next) / step)
                milliwatts.append(contentsOf: repeatElement(0, count: gap))
                missing += gap
            }
            milliwatts.append(mw ?? 0)
            if mw == nil { missing += 1 }
            next = minute + step
        }

        var household: ImportedHousehold {
            ImportedHousehold(id: id, firstMinute: first, stepMinutes: Int(step), milliwatts: milliwatts)
        }
    }

    static func parseLCL(_ text: String) throws(ProfileImportError) -> ImportedProfiles {
        let all = lines(text)
        guard let header = all.first else { throw .noData }
        // The published header ends in a space ("KWH/hh (per half hour) "); fields are trimmed.
        guard fields(header.text) == ["LCLid", "stdorToU", "DateTime", "KWH/hh (per half hour)"] else {
            throw .badHeader(line: header.number, found: String(header.text))
        }
        var order: [String] = []
        var builders: [String: Builder] = [:]
        for (number, line) in all.dropFirst() {
            let f = fields(line)
            guard f.count == 4 else { throw .fieldCount(line: number, expected: 4, found: f.count) }
            guard !f[0].isEmpty else { throw .emptyHousehold(line: number) }
            guard let (minute, onMinute) = parseTimestamp(f[2]) else {
                throw .badTimestamp(line: number, text: String(f[2]))
            }
            guard onMinute, minute % 30 == 0 else { throw .offGrid(line: number, text: String(f[2])) }
            // kWh in half an hour: average power 2 × kWh kW = 2 000 000 × kWh mW.
            let mw = try value(f[3], milliwattsPerUnit: 2_000_000, line: number)
            let id = String(f[0])
            if builders[id] == nil {
                order.append(id)
                builders[id] = Builder(id: id, step: 30)
            }
            try builders[id]!.add(minute: minute, mw: mw, line: number, text: f[2])
        }
        return try ImportedProfiles(
            format: .lcl, households: order.map { builders[$0]!.household },
            missingSteps: order.reduce(0) { $0 + builders[$1]!.missing })
    }

    static func parseMinuteKW(_ text: String) throws(ProfileImportError) -> ImportedProfiles {
        var rows = lines(text)[...]
        guard let first = rows.first else { throw .noData }
        let firstFields = fields(first.text)
        var ids: [String]
        if parseTimestamp(firstFields[0]) == nil {
            // A header: timestamp, then one name per household.
            guard firstFields.count >= 2, firstFields.dropFirst().allSatisfy({ !$0.isEmpty }) else {
                throw .badHeader(line: first.number, found: String(first.text))
            }
            ids = firstFields.dropFirst().map(String.init)
            rows = rows.dropFirst()
        } else {
            guard firstFields.count >= 2 else {
                throw .fieldCount(line: first.number, expected: 2, found: firstFields.count)
            }
            ids = (1..<firstFields.count).map { "kW \($0)" }
        }
        var builders = ids.map { Builder(id: $0, step: 1) }
        var previous: Int64?
        for (number, line) in rows {
            let f = fields(line)
            guard f.count == ids.count + 1 else { throw .fieldCount(line: number, expected: ids.count + 1, found: f.count) }
            guard let (minute, onMinute) = parseTimestamp(f[0]) else {
                throw .badTimestamp(line: number, text: String(f[0]))
            }
            guard onMinute else { throw .offGrid(line: number, text: String(f[0])) }
            if let previous, minute <= previous { throw .notIncreasing(line: number, text: String(f[0])) }
            previous = minute
            for c in 0..<ids.count {
                let mw = try value(f[c + 1], milliwattsPerUnit: 1_000_000, line: number)
                try builders[c].add(minute: minute, mw: mw, line: number, text: f[0])
            }
        }
        guard previous != nil else { throw .noData }
        return try ImportedProfiles(
            format: .minuteKW, households: builders.map(\.household), missingSteps: builders.reduce(0) { $0 + $1.missing })
    }
}
