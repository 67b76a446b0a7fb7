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
        return try parse(bytes: [UInt8](data), format: format)
    }

    /// Parses a whole file's text.
    public static func parse(_ text: String, format: ProfileFileFormat) throws(ProfileImportError) -> ImportedProfiles {
        try parse(bytes: Array(text.utf8), format: format)
    }

    /// Parses a whole file's bytes (UTF-8).
    public static func parse(bytes: [UInt8], format: ProfileFileFormat) throws(ProfileImportError) -> ImportedProfiles {
        guard String(validating: bytes, as: UTF8.self) != nil else { throw .notText }
        switch format {
        case .lcl: return try parseLCL(bytes)
        case .minuteKW: return try parseMinuteKW(bytes)
        }
    }

    typealias Bytes = ArraySlice<UInt8>

    static func text(_ b: Bytes) -> String { String(decoding: b, as: UTF8.self) }

    /// Lines with their 1-based numbers, without blank ones; a trailing CR is dropped.
    static func lines(_ bytes: [UInt8]) -> [(number: Int, text: Bytes)] {
        var out: [(Int, Bytes)] = []
        var start = 0
        var number = 1
        while start <= bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != 10 { end += 1 }
            var last = end
            if last > start && bytes[last - 1] == 13 { last -= 1 }
            var blank = true
            var i = start
            while i < last {
                if bytes[i] != 32 && bytes[i] != 9 {
                    blank = false
                    break
                }
                i += 1
            }
            if !blank { out.append((number, bytes[start..<last])) }
            start = end + 1
            number += 1
        }
        return out
    }

    /// Comma-separated fields, each trimmed of spaces and surrounding double quotes.
    static func fields(_ line: Bytes) -> [Bytes] {
        var out: [Bytes] = []
        var start = line.startIndex
        while true {
            var end = start
            while end < line.endIndex && line[end] != 44 { end += 1 }
            var lo = start
            var hi = end
            while lo < hi && (line[lo] == 32 || line[lo] == 9) { lo += 1 }
            while hi > lo && (line[hi - 1] == 32 || line[hi - 1] == 9) { hi -= 1 }
            if hi - lo >= 2 && line[lo] == 34 && line[hi - 1] == 34 {
                lo += 1
                hi -= 1
            }
            out.append(line[lo..<hi])
            if end == line.endIndex { return out }
            start = end + 1
        }
    }

    /// `null` in any case.
    static func isNull(_ b: Bytes) -> Bool {
        guard b.count == 4 else { return false }
        let i = b.startIndex
        return b[i] | 0x20 == 110 && b[i + 1] | 0x20 == 117 && b[i + 2] | 0x20 == 108 && b[i + 3] | 0x20 == 108
    }

    /// A value in the file's unit times `milliwattsPerUnit`; nil for `Null`.
    static func value(_ field: Bytes, milliwattsPerUnit: Double, line: Int) throws(ProfileImportError) -> UInt32? {
        if isNull(field) { return nil }
        // Digits, sign, point and exponent only ("nan", "inf", "0x1p3" are not readings).
        guard !field.isEmpty,
            field.allSatisfy({ ($0 >= 48 && $0 <= 57) || $0 == 46 || $0 == 43 || $0 == 45 || $0 | 0x20 == 101 }),
            let v = Double(text(field)), v.isFinite
        else { throw .badValue(line: line, text: text(field)) }
        guard v >= 0 else { throw .negativeValue(line: line, text: text(field)) }
        let mw = (v * milliwattsPerUnit).rounded()
        guard mw <= Double(UInt32.max) else { throw .valueTooLarge(line: line, text: text(field)) }
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

        mutating func add(minute: Int64, mw: UInt32?, line: Int, text: Bytes) throws(ProfileImportError) {
            if milliwatts.isEmpty {
                first = minute
            } else {
                guard minute >= next else { throw .notIncreasing(line: line, text: ImportedProfiles.text(text)) }
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

    static func parseLCL(_ bytes: [UInt8]) throws(ProfileImportError) -> ImportedProfiles {
        let all = lines(bytes)
        guard let header = all.first else { throw .noData }
        // The published header ends in a space ("KWH/hh (per half hour) "); fields are trimmed.
        guard fields(header.text).map(text) == ["LCLid", "stdorToU", "DateTime", "KWH/hh (per half hour)"] else {
            throw .badHeader(line: header.number, found: text(header.text))
        }
        var order: [String] = []
        var index: [String: Int] = [:]
        var builders: [Builder] = []
        var lastID: Bytes = []
        var current = -1
        for (number, line) in all.dropFirst() {
            let f = fields(line)
            guard f.count == 4 else { throw .fieldCount(line: number, expected: 4, found: f.count) }
            guard !f[0].isEmpty else { throw .emptyHousehold(line: number) }
            guard let (minute, onMinute) = parseTimestamp(f[2]) else {
                throw .badTimestamp(line: number, text: text(f[2]))
            }
            guard onMinute, minute % 30 == 0 else { throw .offGrid(line: number, text: text(f[2])) }
            // kWh in half an hour: average power 2 × kWh kW = 2 000 000 × kWh mW.
            let mw = try value(f[3], milliwattsPerUnit: 2_000_000, line: number)
            if current < 0 || f[0] != lastID {
                let id = text(f[0])
                if let i = index[id] {
                    current = i
                } else {
                    current = builders.count
                    index[id] = current
                    order.append(id)
                    builders.append(Builder(id: id, step: 30))
                }
                lastID = f[0]
            }
            try builders[current].add(minute: minute, mw: mw, line: number, text: f[2])
        }
        return try ImportedProfiles(
            format: .lcl, households: builders.map(\.household), missingSteps: builders.reduce(0) { $0 + $1.missing })
    }

    static func parseMinuteKW(_ bytes: [UInt8]) throws(ProfileImportError) -> ImportedProfiles {
        var rows = lines(bytes)[...]
        guard let first = rows.first else { throw .noData }
        let firstFields = fields(first.text)
        var ids: [String]
        if parseTimestamp(firstFields[0]) == nil {
            // A header: timestamp, then one name per household.
            guard firstFields.count >= 2, firstFields.dropFirst().allSatisfy({ !$0.isEmpty }) else {
                throw .badHeader(line: first.number, found: text(first.text))
            }
            ids = firstFields.dropFirst().map(text)
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
            guard f.count == ids.count + 1 else {
                throw .fieldCount(line: number, expected: ids.count + 1, found: f.count)
            }
            guard let (minute, onMinute) = parseTimestamp(f[0]) else {
                throw .badTimestamp(line: number, text: text(f[0]))
            }
            guard onMinute else { throw .offGrid(line: number, text: text(f[0])) }
            if let previous, minute <= previous { throw .notIncreasing(line: number, text: text(f[0])) }
            previous = minute
            for c in 0..<ids.count {
                let mw = try value(f[c + 1], milliwattsPerUnit: 1_000_000, line: number)
                try builders[c].add(minute: minute, mw: mw, line: number, text: f[0])
            }
        }
        guard previous != nil else { throw .noData }
        return try ImportedProfiles(
            format: .minuteKW, households: builders.map(\.household),
            missingSteps: builders.reduce(0) { $0 + $1.missing })
    }
}
