import Foundation
import MeterSimulator
import TestSupport
import Testing

/// The repository root, from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

func fixture(_ name: String) throws -> String {
    try #require(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures")).path
}

@Suite("Load profiles: BDEW tables against demandlib")
struct BDEWProfileTests {
    struct OracleInput: Encodable { let years: [Int] }
    struct OracleOutput: Decodable {
        let versions: [String: String]
        let h25: [String: [Double]]
        let h0_dyn: [String: [Double]]
    }

    /// demandlib 0.2.2 run in Python (scripts/bdew_oracle.py) for 2025 and the leap year 2024.
    static let oracle: Result<OracleOutput, any Error> = Result {
        let script = try String(
            contentsOf: repositoryRoot.appendingPathComponent("scripts/bdew_oracle.py"), encoding: .utf8)
        return try PythonOracle.run(script, input: OracleInput(years: [2025, 2024]), as: OracleOutput.self)
    }

    @Test("the embedded tables are the committed files, byte for byte")
    func embeddedTables() throws {
        for (name, kind) in [("h25.csv", BDEWProfile.Kind.h25), ("h0.csv", .h0)] {
            let file = try String(
                contentsOf: repositoryRoot.appendingPathComponent("data/profiles/bdew/\(name)"), encoding: .utf8)
            #expect(file == BDEWProfile.embeddedTable(kind) + "\n", "\(name): run scripts/embed-bdew-tables.sh")
        }
    }

    @Test("H25 and H0: every quarter hour of 2025 and 2024 equals demandlib's", arguments: [2025, 2024])
    func everyQuarter(year: Int) throws {
        let oracle = try Self.oracle.get()
        #expect(oracle.versions["demandlib"] == "0.2.2")
        let h25 = try #require(oracle.h25["\(year)"])
        let h0 = try #require(oracle.h0_dyn["\(year)"])
        let days = CivilDate.daysIn(year: year)
        try #require(h25.count == days * 96 && h0.count == days * 96)
        var worstH25 = 0.0
        var worstH0 = 0.0
        var date = CivilDate(year: year, month: 1, day: 1)!
        for d in 0..<days {
            let ours25 = BDEWProfile(.h25).day(date)
            // H0: our kW for 1 GWh/a is 4 × 10^6 × demandlib's fraction of the year.
            let ours0 = BDEWProfile(.h0).day(date).map { $0 / 4e6 }
            for q in 0..<96 {
                worstH25 = max(worstH25, abs(ours25[q] - h25[d * 96 + q]) / h25[d * 96 + q])
                worstH0 = max(worstH0, abs(ours0[q] - h0[d * 96 + q]) / h0[d * 96 + q])
            }
            date = date.adding(days: 1)
        }
        print("BDEW \(year): worst relative difference to demandlib H25 \(worstH25), H0 \(worstH0)")
        #expect(worstH25 < 1e-12, "H25 worst relative difference \(worstH25)")
        #expect(worstH0 < 1e-12, "H0 worst relative difference \(worstH0)")
    }

    @Test("H25 daily energy of 1 January 2025 for 3500 kWh/a equals demandlib's, and the year's total")
    func dailyEnergy() throws {
        let oracle = try Self.oracle.get()
        let h25 = try #require(oracle.h25["2025"])
        let theirs = h25[0..<96].reduce(0, +) * 0.25 * 3500 / 1e6
        let ours = BDEWProfile(.h25).day(CivilDate(year: 2025, month: 1, day: 1)!).reduce(0, +) * 0.25 * 3500 / 1e6
        #expect(abs(ours - theirs) < 1e-12)
        // demandlib: 10.765389 kWh on this Wednesday (a workday, WT).
        #expect(abs(ours - 10.765_389) < 1e-6, "a winter workday of a 3500 kWh household: \(ours) kWh")
        // The year sums to 995 057 kWh on the 1 GWh scale (not renormalised, as in demandlib).
        let year = h25.reduce(0, +) * 0.25
        #expect(abs(year - 995_057.13) < 0.01, "\(year)")
    }

    @Test("a household without variation is the profile times its annual consumption, minute by minute")
    func householdScaling() {
        let start = CivilDate(year: 2025, month: 7, day: 5)!  // a Saturday in summer
        let plain = BDEWHouseholds(.h0, start: start, annualKWh: 4000, annualSpread: 0, noise: 0)
        let minutes = plain.household(seed: 9, minutes: 2 * 1440)
        let day1 = BDEWProfile(.h0).day(start)
        let day2 = BDEWProfile(.h0).day(start.adding(days: 1))
        #expect(minutes.count == 2880)
        #expect(minutes[0] == UInt32((day1[0] * 4000).rounded()) && minutes[14] == minutes[0])
        #expect(minutes[15] == UInt32((day1[1] * 4000).rounded()))
        #expect(minutes[1440 + 95 * 15] == UInt32((day2[95] * 4000).rounded()))
        #expect(plain.annualConsumption(seed: 1) == 4000)
    }

    @Test("households vary with their seed, reproducibly; the noise keeps each day's energy close")
    func householdVariation() {
        let h = BDEWHouseholds(.h25)
        let a = h.household(seed: 1, minutes: 1440)
        #expect(a == h.household(seed: 1, minutes: 1440))
        #expect(a != h.household(seed: 2, minutes: 1440))
        let annuals = (1...200).map { h.annualConsumption(seed: UInt64($0)) }
        #expect(annuals.allSatisfy { (875...14_000).contains($0) })
        let median = annuals.sorted()[100]
        #expect(abs(median - 3500) < 350, "median annual \(median) kWh")
        // Noise ±20 % per minute averages out over a day: within 2 % of the noiseless day.
        var quiet = h
        quiet.noise = 0
        let noisy = a.reduce(0) { $0 + Double($1) }
        let plain = quiet.household(seed: 1, minutes: 1440).reduce(0) { $0 + Double($1) }
        #expect(abs(noisy / plain - 1) < 0.02, "\(noisy / plain)")
    }
}

@Suite("Load profiles: LCL and one-minute kW files")
struct ProfileImportTests {
    @Test("LCL: households aligned on their common period; Null and missing half hours are 0 W")
    func lclFixture() throws {
        let file = try ImportedProfiles.load(path: fixture("lcl-3-households.csv"), format: .lcl)
        #expect(file.households.map(\.id) == ["MAC000002", "MAC000003", "MAC000004"])
        #expect(file.minutes == 120 && file.missingSteps == 2)
        let mac2 = file.profile(household: 0, minutes: 1000)
        #expect(mac2.count == 120)
        #expect(mac2[0] == 500_000 && mac2[29] == 500_000 && mac2[30] == 1_000_000)
        #expect(mac2[60] == 0 && mac2[90] == 2_000_000 && mac2[119] == 2_000_000)
        // MAC000003 starts half an hour earlier: its 23:30 row lies before the common start.
        let mac3 = file.profile(household: 1, minutes: 120)
        #expect(mac3[0] == 250_000 && mac3[60] == 0 && mac3[90] == 750_000)
        #expect(file.profile(household: 2, minutes: 120).allSatisfy { $0 == 100_000 })
        // Capped at the group's largest power.
        #expect(file.profile(household: 0, minutes: 120, capMilliwatts: 800_000).max() == 800_000)
    }

    @Test("minute-kW: a header names the households; CRLF, ISO timestamps with Z")
    func minuteFixture() throws {
        var file = try ImportedProfiles.load(path: fixture("minute-kw-2-households.csv"), format: .minuteKW)
        #expect(file.households.map(\.id) == ["flat_a", "flat_b"])
        #expect(file.minutes == 60 && file.missingSteps == 3)
        let a = file.profile(household: 0, minutes: 60)
        #expect(a[0] == 1_500_000 && a[20] == 0 && a[29] == 1_500_000 && a[30] == 750_000)
        let b = file.profile(household: 1, minutes: 60)
        #expect(b[20] == 0 && b[45] == 0 && b.reduce(0, +) == 58 * 2_000_000)
        #expect(
            throws: ProfileImportError.startOutside(
                start: "2024-03-02", first: "2024-03-01 00:00", end: "2024-03-01 01:00")
        ) {
            try file.start(at: CivilDate(year: 2024, month: 3, day: 2)!)
        }
        try file.start(at: CivilDate(year: 2024, month: 3, day: 1)!)
    }

    @Test("minute-kW without a header: columns are numbered")
    func minuteNoHeader() throws {
        let file = try ImportedProfiles.parse(
            "2024-01-01 00:00,1,0.5\n2024-01-01 00:01,1,0.5\n", format: .minuteKW)
        #expect(file.households.map(\.id) == ["kW 1", "kW 2"])
        #expect(file.profile(household: 1, minutes: 5) == [500_000, 500_000])
    }

    static let lclHeader = "LCLid,stdorToU,DateTime,KWH/hh (per half hour) \n"
    static let lclRow = "MAC1,Std,2012-10-12 00:00:00.0000000,0.1\n"

    /// LCL files with one bad row each, and the error they must give.
    static let badLCL: [(String, ProfileImportError)] = [
        ("LCLid,stdorToU,DateTime,KWH\n" + lclRow, .badHeader(line: 1, found: "LCLid,stdorToU,DateTime,KWH")),
        (lclHeader + lclRow + "MAC1,Std,2012-10-12 00:30:00\n", .fieldCount(line: 3, expected: 4, found: 3)),
        (lclHeader + lclRow + "\n\nMAC1,Std,2012-10-12 00:30:00,0.1,7\n", .fieldCount(line: 5, expected: 4, found: 5)),
        (lclHeader + ",Std,2012-10-12 00:00:00,0.1\n", .emptyHousehold(line: 2)),
        (lclHeader + lclRow + "MAC1,Std,12/10/2012 00:30,0.1\n", .badTimestamp(line: 3, text: "12/10/2012 00:30")),
        (
            lclHeader + lclRow + "MAC1,Std,2012-02-30 00:30:00,0.1\n",
            .badTimestamp(line: 3, text: "2012-02-30 00:30:00")
        ),
        (lclHeader + lclRow + "MAC1,Std,2012-10-12 00:45:00,0.1\n", .offGrid(line: 3, text: "2012-10-12 00:45:00")),
        (
            lclHeader + lclRow + "MAC1,Std,2012-10-12 00:30:00.5000000,0.1\n",
            .offGrid(line: 3, text: "2012-10-12 00:30:00.5000000")
        ),
        (
            lclHeader + lclRow + "MAC1,Std,2012-10-12 00:00:00.0000000,0.1\n",
            .notIncreasing(line: 3, text: "2012-10-12 00:00:00.0000000")
        ),
        (lclHeader + lclRow + "MAC1,Std,2012-10-12 00:30:00,abc\n", .badValue(line: 3, text: "abc")),
        (lclHeader + lclRow + "MAC1,Std,2012-10-12 00:30:00,\n", .badValue(line: 3, text: "")),
        (lclHeader + lclRow + "MAC1,Std,2012-10-12 00:30:00,nan\n", .badValue(line: 3, text: "nan")),
        (lclHeader + lclRow + "MAC1,Std,2012-10-12 00:30:00,-0.1\n", .negativeValue(line: 3, text: "-0.1")),
        (lclHeader + lclRow + "MAC1,Std,2012-10-12 00:30:00,5000\n", .valueTooLarge(line: 3, text: "5000")),
        (lclHeader, .noData),
        ("", .noData),
        (
            lclHeader + lclRow + "MAC2,Std,2012-10-13 00:00:00,0.1\n",
            .noCommonPeriod
        ),
    ]

    @Test("LCL: each bad row is refused with its line number", arguments: 0..<badLCL.count)
    func badLCLRows(index: Int) {
        let (text, expected) = Self.badLCL[index]
        #expect(throws: expected) { try ImportedProfiles.parse(text, format: .lcl) }
    }

    static let badMinute: [(String, ProfileImportError)] = [
        ("timestamp\n2024-01-01 00:00,1\n", .badHeader(line: 1, found: "timestamp")),
        ("timestamp,a,\n2024-01-01 00:00,1,2\n", .badHeader(line: 1, found: "timestamp,a,")),
        ("2024-01-01 00:00\n", .fieldCount(line: 1, expected: 2, found: 1)),
        ("timestamp,kW\n2024-01-01 00:00,1\n2024-01-01 00:01,1,2\n", .fieldCount(line: 3, expected: 2, found: 3)),
        ("timestamp,kW\n2024-01-01 00:00,1\n2024-01-01 00:01:30,1\n", .offGrid(line: 3, text: "2024-01-01 00:01:30")),
        ("timestamp,kW\n2024-01-01 00:00,1\n2024-01-01 24:00,1\n", .badTimestamp(line: 3, text: "2024-01-01 24:00")),
        ("timestamp,kW\n2024-01-01 00:01,1\n2024-01-01 00:00,1\n", .notIncreasing(line: 3, text: "2024-01-01 00:00")),
        ("timestamp,kW\n2024-01-01 00:00,1\n2024-01-01 00:01,1 kW\n", .badValue(line: 3, text: "1 kW")),
        ("timestamp,kW\n2024-01-01 00:00,1\n2024-01-01 00:01,inf\n", .badValue(line: 3, text: "inf")),
        ("timestamp,kW\n2024-01-01 00:00,-2\n", .negativeValue(line: 2, text: "-2")),
        ("timestamp,kW\n2024-01-01 00:00,4295\n", .valueTooLarge(line: 2, text: "4295")),
        ("timestamp,kW\n", .noData),
    ]

    @Test("minute-kW: each bad row is refused with its line number", arguments: 0..<badMinute.count)
    func badMinuteRows(index: Int) {
        let (text, expected) = Self.badMinute[index]
        #expect(throws: expected) { try ImportedProfiles.parse(text, format: .minuteKW) }
    }

    @Test("a missing file is a typed error, not a crash")
    func missingFile() {
        #expect(throws: ProfileImportError.self) {
            try ImportedProfiles.load(path: "/nonexistent/profile.csv", format: .lcl)
        }
    }
}

/// The `metering` executable beside the test bundle (swift test builds it), or $METERING_BINARY.
func meteringExecutable() throws -> String {
    if let path = ProcessInfo.processInfo.environment["METERING_BINARY"] { return path }
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("metering").path
    try #require(FileManager.default.isExecutableFile(atPath: beside), "no metering binary at \(beside): swift build")
    return beside
}

/// Runs `metering ARGS` to the end; returns its standard output.
func runMetering(_ arguments: [String]) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try meteringExecutable())
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "metering \(arguments): \(errors)")
    return data
}

/// Runs `metering demo ARGS --json` and decodes its summary.
func runDemo(_ arguments: [String]) throws -> (exactLabels: Int, labels: Int, trueTotalWh: UInt64, profiles: String) {
    struct Summary: Decodable {
        let exact_labels: Int
        let labels: Int
        let true_total_wh: UInt64
        let profiles: String
    }
    let s = try JSONDecoder().decode(
        Summary.self, from: runMetering(["demo", "--threads", "1", "--json"] + arguments))
    return (s.exact_labels, s.labels, s.true_total_wh, s.profiles)
}

@Suite("Load profiles: metering demo on each format")
struct ProfileDemoTests {
    @Test("LCL: 5 meters on 3 households (reused cyclically), 8 labels, 4950 Wh in all")
    func lcl() throws {
        let r = try runDemo([
            "--meters", "5", "--labels", "8", "--profiles", fixture("lcl-3-households.csv"), "--format", "lcl",
        ])
        #expect(r.exactLabels == 8 && r.labels == 8)
        // 1.75 + 0.625 + 0.2 kWh per household over the common two hours; meters 1…5 take
        // households 1, 2, 3, 1, 2.
        #expect(r.trueTotalWh == 2 * 1750 + 2 * 625 + 200)
        #expect(r.profiles.contains("3 households, reused cyclically by 5 meters"))
    }

    @Test("minute-kW: 3 meters on 2 households, one hour, 4133 Wh in all")
    func minuteKW() throws {
        let r = try runDemo([
            "--meters", "3", "--labels", "4", "--profiles", fixture("minute-kw-2-households.csv"), "--format",
            "minute-kw",
        ])
        #expect(r.exactLabels == 4)
        // flat_a: 29 min × 1.5 kW + 30 min × 0.75 kW = 1100 Wh; flat_b: 58 min × 2 kW (00:20 missing, 00:45 Null) = 1933.3 Wh.
        #expect(r.trueTotalWh == 2 * 1100 + 1933)
    }

    @Test("BDEW H25 without variation: one day of 3 households equals demandlib's profile, metered")
    func bdew() throws {
        let r = try runDemo([
            "--meters", "3", "--labels", "96", "--profiles", "h25", "--noise", "0", "--annual-spread", "0",
        ])
        #expect(r.exactLabels == 96)
        // demandlib's kW (1 GWh/a) × 3500 kWh/a → mW per quarter hour, held for 15 minutes;
        // samples every second at the end of each (the firmware's rule): minute 0 is read 59
        // times, minutes 1…1439 60 times, and the next day's first minute once.
        let oracle = try BDEWProfileTests.oracle.get()
        let h25 = try #require(oracle.h25["2025"])
        let p = (0...96).map { (h25[$0] * 3500).rounded() }
        var milliwattSeconds = 59 * p[0] + p[96]
        for minute in 1..<1440 { milliwattSeconds += 60 * p[minute / 15] }
        let perMeter = UInt64((milliwattSeconds / 3_600_000).rounded(.down))
        #expect(r.trueTotalWh == 3 * perMeter, "per meter \(perMeter) Wh")
    }
}

@Suite("Load profiles: metering fleet against the service")
struct ProfileFleetTests {
    @Test("the network fleet runs on LCL and BDEW profiles; every sum the service releases is exact")
    func fleetOnProfiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("profiles-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let portFile = directory.appendingPathComponent("port")
        let server = Process()
        server.executableURL = URL(fileURLWithPath: try meteringExecutable())
        server.arguments = [
            "serve", "--database", directory.appendingPathComponent("m.sqlite").path, "--port", "0", "--port-file",
            portFile.path, "--insecure-http", "--operator-token", "op", "--supplier-token", "su",
        ]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        var port: String?
        for _ in 0..<600 where port == nil {
            if let text = try? String(contentsOf: portFile, encoding: .utf8), !text.isEmpty {
                port = text.trimmingCharacters(in: .whitespacesAndNewlines)
            } else {
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        let url = "http://127.0.0.1:\(try #require(port, "the service never wrote its port"))"
        struct Summary: Decodable {
            let exact_labels: Int
            let frames_acked: Int
        }
        let common = [
            "fleet", "--server", url, "--operator-token", "op", "--supplier-token", "su", "--threads", "1", "--json",
        ]
        let lcl = try JSONDecoder().decode(
            Summary.self,
            from: runMetering(
                common + [
                    "--group", "11", "--meters", "5", "--labels", "8", "--profiles", fixture("lcl-3-households.csv"),
                    "--format", "lcl",
                ]))
        #expect(lcl.exact_labels == 8 && lcl.frames_acked == 40)
        let bdew = try JSONDecoder().decode(
            Summary.self,
            from: runMetering(common + ["--group", "12", "--meters", "4", "--labels", "8", "--profiles", "h25"]))
        #expect(bdew.exact_labels == 8 && bdew.frames_acked == 32)
    }
}
