import AggregatorService
import ArgumentParser
import Foundation
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the aggregator (data concentrator) as an HTTP service (docs/service.md).")

    @Option(help: "SQLite file (or sqlite:PATH) or postgres://user@host:port/db URL.")
    var database = "metering.sqlite"
    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port; see --port-file).")
    var port = 8080
    @Option(name: .customLong("port-file"), help: "Write the port to FILE once uploads are accepted.")
    var portFile: String?
    @Option(name: .customLong("operator-token"), help: "Bearer token of the operator role (repeatable).")
    var operatorTokens: [String] = []
    @Option(name: .customLong("operator-token-file"), help: "File whose first line is an operator token.")
    var operatorTokenFile: String?
    @Option(name: .customLong("supplier-token"), help: "Bearer token of the supplier role (repeatable).")
    var supplierTokens: [String] = []
    @Option(name: .customLong("supplier-token-file"), help: "File whose first line is a supplier token.")
    var supplierTokenFile: String?
    @Option(
        name: .customLong("party"),
        help: ArgumentHelp(
            "A party customers may grant access to, and its bearer token (repeatable).", valueName: "NAME=TOKEN"))
    var parties: [String] = []
    @Option(
        name: .customLong("party-file"),
        help: ArgumentHelp("A file of NAME=TOKEN lines, one party a line.", valueName: "FILE"))
    var partyFile: String?
    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain (HTTPS).")
    var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key (HTTPS).")
    var tlsKey: String?
    @Flag(name: .customLong("insecure-http"), help: "Serve plain HTTP (no TLS): only when asked for.")
    var insecureHTTP = false
    @Option(name: .customLong("max-body-bytes"), help: "Largest request body accepted.")
    var maxBodyBytes = 4 << 20
    @Option(name: .customLong("max-batch-frames"), help: "Most frames in one batch upload.")
    var maxBatchFrames = 20_000
    @Option(help: "Serve only these groups (comma-separated ids): instances sharing one database split them.")
    var groups: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port is 0 ... 65535") }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        guard tlsCert != nil || insecureHTTP else {
            throw ValidationError("give --tls-cert and --tls-key, or --insecure-http for plain HTTP")
        }
        if let groups {
            guard groups.split(separator: ",").allSatisfy({ UInt32($0) != nil }) else {
                throw ValidationError("--groups takes comma-separated group ids")
            }
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
        _ = try Self.partyTokens(parties, file: nil)
    }

    /// Party tokens (token → name) from `NAME=TOKEN` values and a file of such lines.
    static func partyTokens(_ given: [String], file: String?) throws -> [String: String] {
        var lines = given
        if let file {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            lines += text.split(whereSeparator: \.isNewline).map(String.init).filter {
                !$0.trimmingCharacters(in: .whitespaces).isEmpty && !$0.hasPrefix("#")
            }
        }
        var tokens: [String: String] = [:]
        for line in lines {
            guard let eq = line.firstIndex(of: "="), eq != line.startIndex, line.index(after: eq) != line.endIndex
            else {
                throw ValidationError("a party is NAME=TOKEN, not \(line)")
            }
            let name = String(line[..<eq])
            let token = String(line[line.index(after: eq)...])
            guard tokens[token] == nil else { throw ValidationError("two parties share one token") }
            tokens[token] = name
        }
        return tokens
    }

    /// The tokens of one role: given, read from a file, or (none at all) made up and
    /// written to `metering-<role>.token` in the working directory for the clients there.
    static func tokens(_ given: [String], file: String?, role: String) throws -> [String] {
        var tokens = given
        if let file {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            guard let line = text.split(whereSeparator: \.isNewline).first, !line.isEmpty else {
                throw ValidationError("\(file) holds no token")
            }
            tokens.append(String(line))
        }
        guard tokens.isEmpty else { return tokens }
        var bytes = [UInt8](repeating: 0, count: 24)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        let token = bytes.map { String(format: "%02x", $0) }.joined()
        let path = "metering-\(role).token"
        FileManager.default.createFile(
            atPath: path, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600])
        FileHandle.standardError.write(Data("\(role) token written to \(path)\n".utf8))
        return [token]
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel)!
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var configuration = ServiceConfiguration()
        configuration.database = database
        configuration.host = host
        configuration.port = port
        configuration.operatorTokens = try Self.tokens(operatorTokens, file: operatorTokenFile, role: "operator")
        configuration.supplierTokens = try Self.tokens(supplierTokens, file: supplierTokenFile, role: "supplier")
        configuration.partyTokens = try Self.partyTokens(parties, file: partyFile)
        configuration.tlsCertificate = tlsCert
        configuration.tlsKey = tlsKey
        configuration.insecureHTTP = insecureHTTP
        configuration.maxBodyBytes = maxBodyBytes
        configuration.maxBatchFrames = maxBatchFrames
        configuration.groups = groups.map { Set($0.split(separator: ",").compactMap { UInt32($0) }) }
        let portFile = self.portFile
        do {
            try await AggregatorServer(configuration: configuration).run { port in
                if let portFile {
                    // Written whole, then renamed: a reader never sees half a number.
                    let partial = portFile + ".partial"
                    FileManager.default.createFile(atPath: partial, contents: Data("\(port)\n".utf8))
                    _ = rename(partial, portFile)
                }
            }
        } catch let error as AggregatorServer.StartError {
            FileHandle.standardError.write(Data("metering serve: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}
