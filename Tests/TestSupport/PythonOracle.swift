import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs Python as an independent implementation for cross-checks in tests.
///
/// The script reads one JSON document on standard input and prints one JSON
/// document on standard output. A missing interpreter or module is an error that
/// fails the test (CI installs what the oracles need: see scripts/test.sh), never
/// a silent skip.
public enum PythonOracle {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs `script` with `input` encoded as JSON on stdin; decodes stdout as `Output`.
    public static func run<Input: Encodable, Output: Decodable>(
        _ script: String, input: Input, as: Output.Type = Output.self
    ) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        // A child that exits before reading stdin (no python3, a missing module, an early
        // crash) must fail the test with its stderr, not kill the test process with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        try process.run()
        let data = try JSONEncoder().encode(input)
        // Write on another thread so a large output cannot deadlock against a full stdin pipe.
        let writer = Thread {
            try? stdin.fileHandleForWriting.write(contentsOf: data)
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(
                description: "python3 exited with \(process.terminationStatus): "
                    + (String(data: err, encoding: .utf8) ?? ""))
        }
        return try JSONDecoder().decode(Output.self, from: out)
    }
}

/// Hex helpers for vectors and oracle exchanges.
public enum Hex {
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    public static func decode(_ hex: String) -> [UInt8] {
        let chars = Array(hex.utf8)
        precondition(chars.count % 2 == 0, "odd-length hex string")
        func nibble(_ c: UInt8) -> UInt8 {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: preconditionFailure("not a hex digit: \(c)")
            }
        }
        return stride(from: 0, to: chars.count, by: 2).map { nibble(chars[$0]) << 4 | nibble(chars[$0 + 1]) }
    }
}
