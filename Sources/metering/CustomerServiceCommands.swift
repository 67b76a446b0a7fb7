import AggregatorAPI
import ArgumentParser
import Customer
import Foundation
import ServiceClient

// `metering customer grant | grants | revoke | audit | grantee-keygen | read-grant`: consent
// on the customer's side (docs/consent.md).

extension CustomerCommand {
    /// `A..B` as a closed range (nil when not given).
    static func labelRange(_ text: String?) throws -> ClosedRange<UInt64>? {
        guard let text else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: true).compactMap { UInt64($0) }
        guard parts.count == 2, parts[0] <= parts[1], text.contains("..") else {
            throw ValidationError("--labels takes A..B")
        }
        return parts[0]...parts[1]
    }

    static func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// The service and the customer's code, for the customer's routes.
    struct ServiceCode: ParsableArguments {
        @Option(help: "The service (`metering serve`) URL.")
        var server: String
        @Option(help: "The customer code (the key stays here; the service is shown the login secret w).")
        var code: String
        @Option(name: .customLong("ca-cert"), help: "PEM roots to trust for an https --server.")
        var caCert: String?

        func client() throws -> CustomerClient {
            let key: CustomerKey
            do { key = try CustomerKey(code: code) } catch { throw ValidationError("not a customer code: \(error)") }
            return try CustomerClient(baseURL: server, key: key, caCertificate: caCert)
        }
    }

    /// Runs `body` with a client, shutting it down either way.
    static func with<T>(_ client: CustomerClient, _ body: (CustomerClient) async throws -> T) async throws -> T {
        do {
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }

    struct GranteeKeygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "grantee-keygen",
            abstract: "Make a third party's X25519 key pair: FILE (private, mode 600) and FILE.pub (for grants).")

        @Option(help: "Where the private key goes (the public one goes to FILE.pub).")
        var out: String

        func run() throws {
            try GranteeKeyFile.generate(to: out)
            print("private key in \(out), public key in \(out).pub")
        }
    }

    struct GrantCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "grant",
            abstract:
                "Grant a party the readings of a label range: opened here, sealed for its key (HPKE), signed with a key derived from the code, uploaded."
        )

        @OptionGroup var service: ServiceCode
        @Option(help: "The party's name (its --party NAME on the service).")
        var grantee: String
        @Option(name: .customLong("grantee-key"), help: "The party's public key file (grantee-keygen's FILE.pub).")
        var granteeKey: String
        @Option(help: "The granted labels A..B (inclusive).")
        var labels: String
        @Option(help: "What the party may use the readings for (stated in the grant and the audit log).")
        var purpose: String
        @Option(help: "When the grant ends (ISO 8601, e.g. 2027-01-01T00:00:00Z); none: until revoked.")
        var expires: String?
        @Flag(help: "Print the grant's status as JSON.")
        var json = false

        func run() async throws {
            guard let range = try CustomerCommand.labelRange(labels) else { throw ValidationError("give --labels") }
            if let expires, Grants.date(expires) == nil { throw ValidationError("--expires is ISO 8601") }
            let recipient = try GranteeKeyFile.publicKey(granteeKey)
            let status = try await CustomerCommand.with(try service.client()) { client in
                let (_, curve) = try await client.curve(labels: range)
                let upload = try Grants.make(
                    key: client.key, readings: curve.readings, grantee: grantee, granteeKey: recipient,
                    labels: range, purpose: purpose, expires: expires)
                return try await client.upload(upload)
            }
            if json {
                try CustomerCommand.printJSON(status)
            } else {
                print(
                    "grant \(status.id): \(status.grantee) may read labels \(status.from)..\(status.to) "
                        + "(\(status.status), expires \(status.expires ?? "never"))")
            }
        }
    }

    struct GrantsCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "grants", abstract: "List the customer's grants with their status.")

        @OptionGroup var service: ServiceCode
        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let list = try await CustomerCommand.with(try service.client()) { try await $0.grants() }
            if json { return try CustomerCommand.printJSON(list) }
            for g in list.grants {
                print(
                    "\(g.id)  \(g.status)  \(g.grantee)  labels \(g.from)..\(g.to)  expires \(g.expires ?? "never")  \(g.purpose)"
                )
            }
        }
    }

    struct RevokeCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke", abstract: "Revoke a grant: the party is refused and its sealed records deleted.")

        @OptionGroup var service: ServiceCode
        @Option(help: "The grant's id.")
        var grant: String

        func run() async throws {
            let status = try await CustomerCommand.with(try service.client()) { try await $0.revoke(grant) }
            print("grant \(status.id): \(status.status) at \(status.revoked ?? "?")")
        }
    }

    struct AuditCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "audit",
            abstract: "Read the customer's audit log and verify its hash chain (a changed entry is detected).")

        @OptionGroup var service: ServiceCode
        @Option(
            help: ArgumentHelp(
                "A file holding the head seen before (seq and hash; updated after a good check): the log must still hold it.",
                valueName: "FILE"))
        var head: String?
        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let log = try await CustomerCommand.with(try service.client()) { try await $0.audit() }
            var known: (seq: Int64, hash: String)? = nil
            if let head, let text = try? String(contentsOfFile: head, encoding: .utf8) {
                let parts = text.split(whereSeparator: { $0 == " " || $0.isNewline })
                if parts.count == 2, let seq = Int64(parts[0]) { known = (seq, String(parts[1])) }
            }
            let verdict: String
            do throws(AuditChain.Break) {
                try AuditChain.verify(log.entries, knownHead: known)
                verdict = "the chain checks out (\(log.entries.count) entries)"
                if let head, let last = log.entries.last {
                    try? Data("\(last.seq) \(last.hash)\n".utf8).write(to: URL(fileURLWithPath: head))
                }
            } catch {
                FileHandle.standardError.write(Data("audit log tampered with: \(error)\n".utf8))
                if json { try CustomerCommand.printJSON(log) }
                throw ExitCode(1)
            }
            if json { return try CustomerCommand.printJSON(log) }
            for e in log.entries {
                print(
                    "\(e.seq)  \(e.time)  \(e.kind)  \(e.party)  grant \(e.grant)  labels \(e.from)..\(e.to)  \(e.detail)"
                )
            }
            print(verdict)
        }
    }

    struct ReadGrant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "read-grant",
            abstract:
                "The grantee's side: fetch a grant's sealed records with the party token and open them with its key.")

        @Option(help: "The service (`metering serve`) URL.")
        var server: String
        @Option(help: "The party's bearer token (--party NAME=TOKEN on the service).")
        var token: String
        @Option(help: "The grant's id.")
        var grant: String
        @Option(help: "The party's private key file (grantee-keygen's FILE).")
        var key: String
        @Option(name: .customLong("ca-cert"), help: "PEM roots to trust for an https --server.")
        var caCert: String?
        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let privateKey = try GranteeKeyFile.privateKey(key)
            let client = try AggregatorClient(baseURL: server, token: token, caCertificate: caCert)
            let response: GrantDetailResponse
            do {
                response = try await client.grantDetail(grant)
                await client.shutdown()
            } catch {
                await client.shutdown()
                throw error
            }
            let (body, records) = try Grants.open(response, with: privateKey)
            if json {
                struct Out: Encodable {
                    let grant: GrantBody
                    let records: [GrantRecord]
                }
                return try CustomerCommand.printJSON(Out(grant: body, records: records))
            }
            print("grant \(body.id) for \(body.grantee): labels \(body.from)..\(body.to), purpose: \(body.purpose)")
            for r in records { print("label \(r.label)  \(r.wh) Wh") }
            print("\(records.count) readings, total \(records.reduce(0) { $0 + $1.wh }) Wh")
        }
    }
}
