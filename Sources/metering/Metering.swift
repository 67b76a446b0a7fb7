import ArgumentParser

@main
struct Metering: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metering",
        abstract: "PrivateMetering: privacy-preserving smart-meter aggregation on simulated meters.",
        subcommands: [
            Demo.self, BillCommand.self, FeederCommand.self, Faults.self, Cost.self, AttacksCommand.self, Serve.self,
            FleetCommand.self, LoadCommand.self, CustomerCommand.self, Neighbours.self, AnalyticsCommand.self,
        ])
}
