// The project's scripts as instruments: scripts/check-firmware.sh (flash footprint of a
// firmware built with one scheme) and scripts/count-instructions.sh (callgrind).
import Foundation

/// Why a project script could not give a figure.
public enum ToolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The repository (the directory with scripts/check-firmware.sh) was not found.
    case projectRootNotFound
    /// The script exited with a non-zero status; its standard error.
    case failed(script: String, status: Int32, stderr: String)
    /// The script's output was not the JSON this code expects.
    case unreadableOutput(script: String, detail: String)

    public var description: String {
        switch self {
        case .projectRootNotFound:
            return "the project root (with scripts/check-firmware.sh) was not found; run from the repository"
        case .failed(let s, let status, let err):
            return "\(s) exited with status \(status): \(err.trimmingCharacters(in: .whitespacesAndNewlines))"
        case .unreadableOutput(let s, let d): return "\(s) printed output that is not its JSON: \(d)"
        }
    }
}

/// The repository this tool was built from.
public enum ProjectRoot {
    /// PRIVATEMETERING_ROOT, else the first directory upwards from the working directory
    /// that holds scripts/check-firmware.sh, else the one this source file was compiled in.
    public static func locate() -> URL? {
        let fm = FileManager.default
        func isRoot(_ url: URL) -> Bool {
            fm.fileExists(atPath: url.appendingPathComponent("scripts/check-firmware.sh").path)
        }
        if let env = ProcessInfo.processInfo.environment["PRIVATEMETERING_ROOT"] {
            let url = URL(fileURLWithPath: env)
            return isRoot(url) ? url : nil
        }
        var dir = URL(fileURLWithPath: fm.currentDirectoryPath).standardizedFileURL
        while true {
            if isRoot(dir) { return dir }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { break }
            dir = parent
        }
        // Sources/CostReport/Tools.swift → the package root.
        let compiled = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return isRoot(compiled) ? compiled : nil
    }
}

/// Runs a script and returns its standard output; standard error is returned in the
/// error when it fails.
func runScript(_ url: URL, arguments: [String], environment: [String: String] = [:]) throws -> Data {
    try runTool(["bash", url.path] + arguments, name: url.lastPathComponent, environment: environment)
}

/// Runs `command` (through /usr/bin/env) and returns its standard output; `name` and its
/// standard error are in the error when it fails.
func runTool(_ command: [String], name: String, environment: [String: String] = [:]) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = command
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes while the script runs, so neither can fill up and block it.
    final class Collected: @unchecked Sendable { var data = Data() }
    let errData = Collected()
    let reader = Thread { errData.data = err.fileHandleForReading.readDataToEndOfFile() }
    reader.start()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !reader.isFinished { usleep(1000) }
    guard process.terminationStatus == 0 else {
        throw ToolError.failed(
            script: name, status: process.terminationStatus,
            stderr: String(decoding: errData.data, as: UTF8.self))
    }
    return data
}

/// The flash footprint of one scheme's firmware image.
public struct FirmwareFootprint: Codable, Sendable, Equatable {
    /// The scheme whose image this is (`Sources/Firmware<Scheme>`).
    public let scheme: String
    public let optimization: String
    public let target: String
    public let sources: Int
    public let text: Int
    public let data: Int
    public let bss: Int
    /// text + data: what the firmware occupies in flash.
    public let flashBytes: Int
    /// Symbols the object needs from outside (GMP's mpn_sec_*, memset, ...): their code
    /// is not in flashBytes.
    public let externalSymbols: [String]
    /// Text of the symbols whose (mangled) names contain "SLHDSA": the signature
    /// verifier's share of `text`, without what the optimiser inlined into its callers
    /// (nil: not measured).
    public let signatureVerifierText: Int?
}

/// scripts/check-firmware.sh --json --scheme NAME.
public struct FirmwareSizer: Sendable {
    public let root: URL

    public init(root: URL) { self.root = root }

    public func footprint(scheme: String) throws -> FirmwareFootprint {
        let outputDir = FileManager.default.temporaryDirectory
            .appendingPathComponent("pm-cost-\(getpid())-\(scheme)")
        defer { try? FileManager.default.removeItem(at: outputDir) }
        let data = try runScript(
            root.appendingPathComponent("scripts/check-firmware.sh"),
            arguments: ["--json", "--scheme", scheme, "--output-dir", outputDir.path])
        struct Raw: Decodable {
            let scheme: String?
            let module: String
            let optimization: String
            let target: String
            let sources: Int
            let text: Int
            let data: Int
            let bss: Int
            let flash_bytes: Int
            let external_symbols: [String]
        }
        let raw: Raw
        do { raw = try JSONDecoder().decode(Raw.self, from: data) } catch {
            throw ToolError.unreadableOutput(script: "check-firmware.sh", detail: "\(error)")
        }
        return FirmwareFootprint(
            scheme: raw.scheme ?? scheme, optimization: raw.optimization, target: raw.target, sources: raw.sources,
            text: raw.text, data: raw.data, bss: raw.bss, flashBytes: raw.flash_bytes,
            externalSymbols: raw.external_symbols,
            signatureVerifierText: try? symbolText(
                outputDir.appendingPathComponent("\(raw.module)-\(raw.optimization).o"), containing: "SLHDSA"))
    }

    /// Sum of the sizes of text symbols of `object` whose names contain `fragment` (nm -S).
    func symbolText(_ object: URL, containing fragment: String) throws -> Int {
        let data = try runTool(["nm", "-S", object.path], name: "nm")
        var total = 0
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count == 4, "tTwW".contains(f[2]), f[3].contains(fragment), let size = Int(f[1], radix: 16) else {
                continue
            }
            total += size
        }
        return total
    }
}

/// Instructions of one reading, counted by callgrind.
public struct InstructionCount: Codable, Sendable, Equatable {
    public let prepare: UInt64
    public let boundary: UInt64
    public var perReading: UInt64 { prepare + boundary }

    public init(prepare: UInt64, boundary: UInt64) {
        self.prepare = prepare
        self.boundary = boundary
    }

    enum CodingKeys: String, CodingKey { case prepare, boundary, perReading }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        prepare = try c.decode(UInt64.self, forKey: .prepare)
        boundary = try c.decode(UInt64.self, forKey: .boundary)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(prepare, forKey: .prepare)
        try c.encode(boundary, forKey: .boundary)
        try c.encode(perReading, forKey: .perReading)
    }
}

/// scripts/count-instructions.sh --json: one reading per configuration under callgrind.
public struct InstructionCounter: Sendable {
    public let root: URL
    /// The metering executable to run under valgrind (this one, normally).
    public let binary: String

    public init(root: URL, binary: String) {
        self.root = root
        self.binary = binary
    }

    public func count(_ ids: [CostVariantID]) throws -> [CostVariantID: InstructionCount] {
        let data = try runScript(
            root.appendingPathComponent("scripts/count-instructions.sh"),
            arguments: ["--json", "--binary", binary] + ids.map(\.description))
        struct Row: Decodable {
            let variant: String
            let prepare: UInt64
            let boundary: UInt64
        }
        struct Raw: Decodable { let readings: [Row] }
        let raw: Raw
        do { raw = try JSONDecoder().decode(Raw.self, from: data) } catch {
            throw ToolError.unreadableOutput(script: "count-instructions.sh", detail: "\(error)")
        }
        var out: [CostVariantID: InstructionCount] = [:]
        for row in raw.readings {
            guard let id = ids.first(where: { $0.description == row.variant }) else { continue }
            out[id] = InstructionCount(prepare: row.prepare, boundary: row.boundary)
        }
        return out
    }
}
