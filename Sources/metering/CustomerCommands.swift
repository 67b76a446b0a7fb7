import Aggregation
import ArgumentParser
import Customer
import Foundation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import ServiceClient

/// `metering customer`: a household's own detail, sealed by its meter for it alone.
struct CustomerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "customer",
        abstract: "Customers' private access to their own detail (docs/spec/customer-detail.md).",
        discussion: """
            Each meter seals every 15-minute reading and its 1-minute values for its customer
            (AES-128-GCM under a key the meter drew at provisioning and shows once, as a code on its
            in-home display). The aggregator stores the sealed frames and cannot read them.
              metering customer simulate --output detail.jsonl   a simulated group; the aggregator's store
              metering customer code --meter 3                   the code meter 3 shows its customer
              metering customer show --meter 3 --code … --input detail.jsonl
              metering customer show --server URL --code …       from `metering serve` (sends w, never K)
            Consent (docs/consent.md): grant a named party access to a label range, sealed for its key
            and signed on this side; list, revoke, read the audit log; the party reads with its token.
              metering customer grantee-keygen --out party.key
              metering customer grant --server URL --code … --grantee NAME --grantee-key party.key.pub --labels A..B --purpose TEXT
              metering customer grants|revoke|audit --server URL --code …
              metering customer read-grant --server URL --token T --grant ID --key party.key
            """,
        subcommands: [
            Simulate.self, Code.self, Show.self, GranteeKeygen.self, GrantCommand.self, GrantsCommand.self,
            RevokeCommand.self, AuditCommand.self, ReadGrant.self,
        ])

    enum Scheme: String, ExpressibleByArgument, CaseIterable { case lwr, paillier, dmcfe }

    /// The simulated group both `simulate` and `code` build (same seed: same boards, same keys).
    struct GroupOptions: ParsableArguments {
        @Option(help: "Meters in the group.")
        var meters: Int = 10
        @Option(help: "Seed of the simulation (boards, load profiles, keys).")
        var seed: UInt64 = 1
        @Option(help: "Aggregation scheme: \(Scheme.allCases.map(\.rawValue).joined(separator: ", ")).")
        var scheme: Scheme = .lwr

        func validate() throws {
            guard meters >= 2 else { throw ValidationError("--meters must be at least 2") }
        }

        func configuration() -> FleetConfiguration {
            var config = FleetConfiguration()
            config.meters = meters
            config.seed = seed
            config.maxReading = 5000
            switch scheme {
            case .lwr: config.scheme = .lwrPSA
            case .paillier:
                config.scheme = .paillier
                config.paillierKeyBits = 2048
            case .dmcfe: config.scheme = .dmcfe
            }
            return config
        }
    }

    struct Simulate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a simulated group; write the sealed detail the aggregator stored to a file.")

        @OptionGroup var group: GroupOptions
        @Option(help: "Labels (15-minute intervals) to run; 96 is one day.")
        var labels: Int = 96
        @Option(help: ArgumentHelp("Where the aggregator's store goes (JSON lines).", valueName: "FILE"))
        var output: String = "customer-detail.jsonl"
        @Flag(help: "Also print each meter's customer code (what its in-home display shows once).")
        var codes = false

        func validate() throws {
            guard labels >= 1 else { throw ValidationError("--labels must be at least 1") }
        }

        func run() throws {
            let fleet = try Fleet(group.configuration(), labels: labels)
            let file = try JSONLinesDetailFile(path: output, truncate: true)
            fleet.detailStore = file
            _ = try fleet.runKeySetup()
            for label in 0..<labels {
                let r = try fleet.runLabel(UInt64(label))
                guard r.exact else { throw ValidationError("label \(label): the group's sum is wrong") }
            }
            let stored = try file.all()
            print(
                "\(fleet.meters.count) meters, \(labels) labels: the aggregator stored \(stored.count) sealed detail frames "
                    + "(\(CustomerDetail.frameBytes) bytes each) in \(output); refused \(fleet.detailRefused)")
            if codes {
                for meter in fleet.meters { print("meter \(meter.id): \(try meter.revealCustomerCode())") }
            } else {
                print("each meter's code: metering customer code --meter N --seed \(group.seed)")
            }
        }
    }

    struct Code: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the customer code a simulated meter shows (once) on its in-home display.")

        @OptionGroup var group: GroupOptions
        @Option(help: "The meter (1 ... meters).")
        var meter: UInt32

        func validate() throws {
            guard meter >= 1 else { throw ValidationError("--meter starts at 1") }
        }

        func run() throws {
            var config = group.configuration()
            config.meters = max(config.meters, Int(meter))
            // The same boards as `simulate` with this seed: the key is drawn from the board's
            // RNG when the meter is provisioned, before anything else.
            let fleet = try Fleet(config, labels: 1)
            guard let m = fleet.meters.first(where: { $0.id == meter }) else {
                throw ValidationError("no meter \(meter)")
            }
            print(try m.revealCustomerCode())
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decrypt a meter's sealed detail with the customer's code; print the 15-minute curve.")

        @Option(help: "The customer's meter (with --input; the service knows it from the code).")
        var meter: UInt32?
        @Option(help: "The customer code (as the meter showed it; case, hyphens and spaces do not matter).")
        var code: String
        @Option(help: ArgumentHelp("Sealed detail as JSON lines (what `simulate` writes).", valueName: "FILE"))
        var input: String?
        @Option(help: "Read the sealed detail from `metering serve` at URL (sends the login secret w, never the key).")
        var server: String?
        @Option(name: .customLong("ca-cert"), help: "PEM roots to trust for an https --server.")
        var caCert: String?
        @Option(help: "Only labels A..B (inclusive).")
        var labels: String?
        @Flag(help: "Print the readings as JSON.")
        var json = false
        @Flag(help: "Also print the 1-minute values (average W) of each interval.")
        var minutes = false

        func validate() throws {
            guard (input == nil) != (server == nil) else { throw ValidationError("give --input FILE or --server URL") }
            guard server != nil || meter != nil else { throw ValidationError("--input needs --meter") }
        }

        func run() async throws {
            let key: CustomerKey
            do { key = try CustomerKey(code: code) } catch {
                throw ValidationError("not a customer code: \(error)")
            }
            let range = try CustomerCommand.labelRange(labels)
            let meter: UInt32
            let curve: CustomerCurve
            if let server {
                let client = try CustomerClient(baseURL: server, key: key, caCertificate: caCert)
                do {
                    let fetched = try await client.curve(labels: range)
                    meter = fetched.meter
                    curve = fetched.curve
                    await client.shutdown()
                } catch {
                    await client.shutdown()
                    throw error
                }
            } else {
                meter = self.meter!
                curve = try CustomerCurve(
                    meter: meter, key: key, source: JSONLinesDetailFile(path: input!), labels: range)
            }
            if json {
                struct Out: Encodable {
                    let meter: UInt32
                    let readings: [DetailReading]
                    let refused: Int
                    let total_wh: UInt64
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                let out = Out(
                    meter: meter, readings: curve.readings, refused: curve.refused.count,
                    total_wh: curve.totalWattHours)
                print(String(decoding: try encoder.encode(out), as: UTF8.self))
            } else {
                print("meter \(meter): \(curve.readings.count) intervals opened, \(curve.refused.count) refused")
                let peak = max(1, curve.readings.map(\.wattHours).max() ?? 1)
                for r in curve.readings {
                    let minute = r.label % 96 * 15
                    let bar = String(repeating: "#", count: Int(r.wattHours * 40 / peak))
                    var line =
                        String(
                            format: "label %5llu  %02llu:%02llu  %6llu Wh  ", r.label, minute / 60, minute % 60,
                            r.wattHours) + bar
                    if minutes {
                        line +=
                            "  [" + r.minuteWatts.map { $0.map { String($0) } ?? "-" }.joined(separator: " ") + "] W"
                    }
                    print(line)
                }
                print("total \(curve.totalWattHours) Wh")
            }
            if curve.readings.isEmpty { throw ExitCode(1) }
        }
    }
}
