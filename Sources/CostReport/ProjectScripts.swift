// Running the project's scripts as instruments (FirmwareSizer, InstructionCounter): where
// the repository is, and how a script's output and errors come back.
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
        // Sources/CostReport/ProjectScripts.swift → the package root.
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
