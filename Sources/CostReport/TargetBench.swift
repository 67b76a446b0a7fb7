// Cost on the meter's CPU (issue 11; docs/m4.md): `metering cost --target cortex-m4` runs the
// three bench images on QEMU's mps2-an386 board through the project's scripts
// (scripts/m4-lwr-bench.sh, scripts/m4-scheme-bench.sh paillier|dmcfe) and reads the
// summaries they write; the host's own figures become entries of target "x86_64" beside them.
import Foundation

/// One configuration's meter cost per reading on one target.
public struct TargetCost: Codable, Sendable, Equatable {
    public let scheme: String
    public let parameters: String
    public let variant: String
    /// "x86_64" (the host build) or "cortex-m4" (the bench image on QEMU).
    public let target: String
    /// x86_64: callgrind (`--instructions`); cortex-m4: QEMU -icount. nil: not counted.
    /// Instructions, not cycles.
    public let instructionsPerReading: Int?
    /// x86_64: the Embedded object's text + data (no GMP, no libc); cortex-m4: the linked
    /// image's text + data (board, libgcc, newlib-nano and GMP included).
    public let flashBytes: Int?
    /// x86_64: static RAM (the state + .data + .bss); cortex-m4: .data + .bss + the painted
    /// stack high-water mark of the bench run.
    public let ramBytes: Int?
    /// The stack high-water mark (painting) of a reading (x86_64) or the whole bench run (cortex-m4).
    public let stackBytes: Int?
    /// Instructions per phase (cortex-m4; names as the bench scripts give them).
    public let phases: [String: Int]

    public init(
        scheme: String, parameters: String, variant: String, target: String, instructionsPerReading: Int?,
        flashBytes: Int?, ramBytes: Int?, stackBytes: Int?, phases: [String: Int] = [:]
    ) {
        self.scheme = scheme
        self.parameters = parameters
        self.variant = variant
        self.target = target
        self.instructionsPerReading = instructionsPerReading
        self.flashBytes = flashBytes
        self.ramBytes = ramBytes
        self.stackBytes = stackBytes
        self.phases = phases
    }

    public var id: CostVariantID { CostVariantID(scheme: scheme, parameters: parameters, variant: variant) }

    enum CodingKeys: String, CodingKey {
        case scheme, parameters, variant, target, instructionsPerReading, flashBytes, ramBytes, stackBytes, phases
    }

    /// Every key always present: a figure not measured is null, not missing.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(scheme, forKey: .scheme)
        try c.encode(parameters, forKey: .parameters)
        try c.encode(variant, forKey: .variant)
        try c.encode(target, forKey: .target)
        try c.encode(instructionsPerReading, forKey: .instructionsPerReading)
        try c.encode(flashBytes, forKey: .flashBytes)
        try c.encode(ramBytes, forKey: .ramBytes)
        try c.encode(stackBytes, forKey: .stackBytes)
        try c.encode(phases, forKey: .phases)
    }

    /// The host's figures for `m` as an x86_64 entry.
    public init(host m: MeterCost) {
        self.init(
            scheme: m.id.scheme, parameters: m.id.parameters, variant: m.id.variant, target: "x86_64",
            instructionsPerReading: m.instructions.map { Int($0.perReading) }, flashBytes: m.flash?.flashBytes,
            ramBytes: m.staticRAM.totalBytes, stackBytes: m.stack?.highWaterBytes)
    }

    /// Microseconds per reading at `megahertz` if every instruction took one cycle (it does
    /// not: loads, multiplies with 64-bit results, taken branches and flash wait states take
    /// more, so this is a lower bound).
    public func microseconds(atMegahertz megahertz: Double) -> Double? {
        instructionsPerReading.map { Double($0) / megahertz }
    }
}

/// Why the target figures could not be made.
public enum TargetBenchError: Error, Equatable, CustomStringConvertible {
    /// A target this tool has no bench for.
    case unknownTarget(String)
    /// The cross tools or QEMU are not installed.
    case toolsMissing([String])
    /// A bench script ran but left no summary.
    case noSummary(String)

    public var description: String {
        switch self {
        case .unknownTarget(let t): return "unknown target '\(t)' (known: \(CortexM4Bench.target))"
        case .toolsMissing(let tools):
            return
                "--target \(CortexM4Bench.target) needs \(tools.joined(separator: ", ")) on PATH and newlib: apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm (docs/m4.md)"
        case .noSummary(let path): return "the bench left no summary at \(path)"
        }
    }
}

/// The bench images for the Cortex-M4, run on QEMU through the project's scripts.
public struct CortexM4Bench: Sendable {
    public static let target = "cortex-m4"
    /// What the scripts need (scripts/lib/m4.sh, m4_tools_present).
    public static let tools = ["arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm"]
    static let newlib = "/usr/lib/arm-none-eabi/newlib/thumb/v7e-m/nofp/librdimon.a"

    public let root: URL

    public init(root: URL) { self.root = root }

    /// The tools missing from `path` (a PATH value) and the file system.
    public static func missingTools(path: String? = ProcessInfo.processInfo.environment["PATH"]) -> [String] {
        let dirs = (path ?? "").split(separator: ":").map(String.init)
        var missing = tools.filter { tool in
            !dirs.contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
        }
        if !FileManager.default.fileExists(atPath: newlib) { missing.append("newlib (\(newlib))") }
        return missing
    }

    /// Throws `toolsMissing` unless the scripts can run.
    public static func checkTools() throws(TargetBenchError) {
        let missing = missingTools()
        guard missing.isEmpty else { throw .toolsMissing(missing) }
    }

    /// Runs the bench of every scheme in `schemes` ("lwr-psa", "paillier", "dmcfe") and
    /// returns their entries. Minutes: the Paillier and DMCFE exponentiations are billions
    /// of instructions under QEMU.
    public func run(schemes: Set<String>, progress: (String) -> Void = { _ in }) throws -> [TargetCost] {
        try Self.checkTools()
        var out: [TargetCost] = []
        let images = root.appendingPathComponent(".build/m4/images")
        if schemes.contains("lwr-psa") {
            progress("cortex-m4: scripts/m4-lwr-bench.sh (QEMU, both key modes)")
            _ = try runScript(root.appendingPathComponent("scripts/m4-lwr-bench.sh"), arguments: [])
            for mode in ["seed", "expanded"] {
                out += try Self.read(images.appendingPathComponent("lwr-bench/run/summary-\(mode).json"))
            }
        }
        for scheme in ["paillier", "dmcfe"] where schemes.contains(scheme) {
            progress("cortex-m4: scripts/m4-scheme-bench.sh \(scheme) (QEMU)")
            _ = try runScript(root.appendingPathComponent("scripts/m4-scheme-bench.sh"), arguments: [scheme])
            out += try Self.read(images.appendingPathComponent("\(scheme)-bench/run/summary.json"))
        }
        return out
    }

    /// The entries of a summary file: one JSON object per line (snake_case keys).
    static func read(_ url: URL) throws -> [TargetCost] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TargetBenchError.noSummary(url.path)
        }
        return try parse(String(decoding: data, as: UTF8.self))
    }

    /// Parses summary lines (scripts/m4/lwr_bench_summary.py, scripts/m4/scheme_bench.py).
    public static func parse(_ text: String) throws -> [TargetCost] {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        struct Line: Decodable {
            let scheme: String
            let parameters: String
            let variant: String
            let target: String
            let instructionsPerReading: Int
            let flashBytes: Int
            let ramBytes: Int
            let stackBytes: Int
            let phases: [String: Int?]
        }
        return try text.split(separator: "\n").filter { !$0.isEmpty }.map { line in
            let l = try decoder.decode(Line.self, from: Data(line.utf8))
            return TargetCost(
                scheme: l.scheme, parameters: l.parameters, variant: l.variant, target: l.target,
                instructionsPerReading: l.instructionsPerReading, flashBytes: l.flashBytes, ramBytes: l.ramBytes,
                stackBytes: l.stackBytes, phases: l.phases.compactMapValues { $0 })
        }
    }
}
