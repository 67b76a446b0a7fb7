import ArgumentParser
import Foundation
import MeterSimulator

struct AttacksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attacks",
        abstract: "Run every attack of a malicious aggregator against the real firmware on simulated boards.",
        discussion: """
            Each attack (docs/attacks.md) drives the firmware as a cheating aggregator would, alone or with
            a colluding meter, and reports `refused` or `leaked` with the evidence it saw. Exit status 1
            when any attack leaks.
            """)

    @Flag(
        help:
            "Print {\"attacks\": [{\"id\", \"scheme\", \"outcome\", \"detail\"}], \"leaked\": N} instead of the table.")
    var json = false
    @Option(help: "Run only the attack with this id (repeatable).")
    var only: [String] = []

    struct Row: Encodable {
        let id: String
        let scheme: String
        let outcome: String
        let detail: String
    }

    struct Report: Encodable {
        let attacks: [Row]
        let leaked: Int
    }

    func validate() throws {
        for id in only where Attacks.named(id) == nil {
            throw ValidationError("no attack \(id); known: \(Attacks.all.map(\.id).joined(separator: ", "))")
        }
    }

    func run() throws {
        let selected = only.isEmpty ? Attacks.all : Attacks.all.filter { only.contains($0.id) }
        var rows: [Row] = []
        for attack in selected {
            let outcome: AttackOutcome
            do { outcome = try attack.run() } catch {
                throw ValidationError("attack \(attack.id) could not run: \(error)")
            }
            rows.append(
                Row(id: attack.id, scheme: attack.scheme, outcome: outcome.outcome.rawValue, detail: outcome.detail))
        }
        let leaked = rows.filter { $0.outcome == AttackOutcome.Result.leaked.rawValue }.count
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(Report(attacks: rows, leaked: leaked)), as: UTF8.self))
        } else {
            printTable(selected, rows)
            print("")
            print("\(rows.count) attacks: \(rows.count - leaked) refused, \(leaked) leaked")
        }
        if leaked > 0 { throw ExitCode(1) }
    }

    /// The table (attack, scheme, outcome), then what each tries and the evidence.
    func printTable(_ attacks: [any Attack], _ rows: [Row]) {
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
        let w = max(6, rows.map(\.id.count).max() ?? 0)
        let ws = max(6, rows.map(\.scheme.count).max() ?? 0)
        print("\(pad("attack", w))  \(pad("scheme", ws))  outcome")
        for row in rows { print("\(pad(row.id, w))  \(pad(row.scheme, ws))  \(row.outcome)") }
        for (attack, row) in zip(attacks, rows) {
            print("")
            print("\(row.id) (\(row.scheme)): \(row.outcome.uppercased())")
            print("  tries:    \(attack.tries)")
            print("  evidence: \(row.detail)")
        }
    }
}
