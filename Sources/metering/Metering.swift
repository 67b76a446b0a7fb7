import ArgumentParser

@main
struct Metering: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metering",
        abstract: "PrivateMetering: privacy-preserving smart-meter aggregation on simulated meters.",
        subcommands: [
            Demo.self, BillCommand.self, FeederCommand.self, Faults.self, Cost.self, AttacksCommand.self,
            Neighbours.self,
        ])
}
