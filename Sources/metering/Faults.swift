import ArgumentParser
import Foundation
import MeterFirmware
import MeterSimulator

struct Faults: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Break the meter's flash on purpose: power cuts, bit flips, wear; count how it recovers.",
        discussion: """
            power-cut  cuts power at every flash program/erase of provisioning, key setup, outbox
                       appends and acks (round the whole ring), key rotation: each in three modes
                       (nothing written, a partial write drawn from the seed, all written).
            bit-flip   flips random bits at rest in the firmware's flash area, then boots (--flips runs).
            wear       counts erase cycles over --years of readings (96 a day) and projects the
                       lifetime of a --rated-cycles flash; then wears a --wear-out-cycles flash out.
            random     several meters for --days each with power cuts, flips and lost acks mixed.
            --scheme paillier (power-cut, wear): the meter runs Paillier; the key delivery and a
                       rotation to a second supplier key take the place of key setup and rotation,
                       and its 16-sector outbox ring that of LWR-PSA's.
            A run is clean when the meter boots the complete old or new state, loses no reading and
            encrypts no label twice; every ciphertext that leaves it is checked against one recomputed
            from the ground truth. Runs are numbered; --replay RUN repeats one (same --seed).
            """)

    enum Mode: String, ExpressibleByArgument, CaseIterable { case seed, expanded }
    enum Scheme: String, ExpressibleByArgument, CaseIterable { case lwr, paillier }

    @Option(help: "Campaign: \(FaultCampaignKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var campaign: FaultCampaignKind
    @Option(help: "Seed of the campaign: boards, keys, fault positions and partial writes.")
    var seed: UInt64 = 1
    @Option(help: "Run only this run (numbered as in the full campaign) and describe it.")
    var replay: Int?
    @Option(help: "bit-flip: runs, each one boot after --flips-per-run flips.")
    var flips = 100_000
    @Option(name: .customLong("flips-per-run"), help: "bit-flip: flips at rest before each boot.")
    var flipsPerRun = 1
    @Option(name: .customLong("key-mode"), help: "Key mode of the meter under test: seed or expanded.")
    var keyMode: Mode = .seed
    @Option(help: "Scheme of the meter under test: lwr or paillier (power-cut and wear).")
    var scheme: Scheme = .lwr
    @Option(name: .customLong("key-bits"), help: "Paillier: bits of the supplier's keys (2048 or 3072).")
    var keyBits = 2048
    @Option(help: "power-cut: readings in the outbox phase (31 fill a sector; 135 go round a 4-sector ring).")
    var readings = 135
    @Option(
        name: .customLong("copy-forward-meters"),
        help: "power-cut: meters in the copy-forward hunt (acks held back 1-3 days, random cuts); 0 skips it.")
    var copyForwardMeters = 6
    @Option(name: .customLong("copy-forward-labels"), help: "power-cut: labels each copy-forward meter lives.")
    var copyForwardLabels = 1500
    @Option(help: "wear: simulated years over which erase cycles are counted.")
    var years = 1.0
    @Option(name: .customLong("rated-cycles"), help: "wear: rated erase cycles for the projected lifetime.")
    var ratedCycles: UInt32 = 10_000
    @Option(name: .customLong("wear-out-cycles"), help: "wear: endurance of the flash worn out in the accelerated run.")
    var wearOutCycles: UInt32 = 250
    @Option(help: "random: meters, each its own run.")
    var meters = 20
    @Option(help: "random: simulated days per meter (96 readings a day).")
    var days = 14
    @Option(help: "Worker threads.")
    var threads = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Print only a JSON summary.")
    var json = false

    func validate() throws {
        guard flips >= 1, flipsPerRun >= 1 else {
            throw ValidationError("--flips and --flips-per-run must be at least 1")
        }
        guard years > 0, ratedCycles > 0, wearOutCycles > 0 else {
            throw ValidationError("--years, --rated-cycles and --wear-out-cycles must be positive")
        }
        guard meters >= 1, days >= 1, threads >= 1, readings >= 3 else {
            throw ValidationError("--meters, --days, --threads must be at least 1, --readings at least 3")
        }
        if scheme == .paillier {
            guard campaign == .powerCut || campaign == .wear else {
                throw ValidationError("--scheme paillier runs the power-cut and wear campaigns")
            }
            guard keyBits == 2048 || keyBits == 3072 else { throw ValidationError("--key-bits must be 2048 or 3072") }
        }
    }

    func run() throws {
        var options = FaultCampaignOptions()
        options.seed = seed
        options.replay = replay
        options.flips = flips
        options.flipsPerRun = flipsPerRun
        options.keyMode = keyMode == .seed ? .seed : .expanded
        options.scheme = scheme == .paillier ? .paillier : .lwrPSA
        options.paillierBits = keyBits
        options.readings = readings
        options.copyForwardMeters = copyForwardMeters
        options.copyForwardLabels = copyForwardLabels
        options.years = years
        options.ratedCycles = ratedCycles
        options.wearOutCycles = wearOutCycles
        options.randomMeters = meters
        options.randomDays = days
        options.threads = threads
        let log = Log(quiet: json)
        log.line(
            "PrivateMetering fault campaign: \(campaign.rawValue)\(scheme == .paillier ? " (Paillier, \(keyBits)-bit keys)" : ""), seed \(seed)\(replay.map { ", replaying run \($0)" } ?? "")"
        )
        let bar = ProgressBar(title: campaign.rawValue, total: 1)
        let report = try FaultCampaigns.run(campaign, options: options) { done, total in
            bar.total = total
            bar.update(done)
        }
        bar.finish()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            printTable(report)
        }
        let hunt = report.copyForward
        let failed =
            report.silentCorruptions + report.lostReadings + report.labelsEncryptedTwice
            + (hunt.map { $0.readingsInStatusFrames + $0.energyLostWarnedWh } ?? 0)
        if failed > 0 || (campaign == .powerCut && (report.brickedMeters > 0 || report.detectedCorruptions > 0)) {
            throw ExitCode(1)
        }
    }

    func printTable(_ r: FaultCampaignReport) {
        func row(_ name: String, _ value: CustomStringConvertible?) {
            guard let value else { return }
            // A name longer than the column keeps one space before its value.
            print(name.padding(toLength: max(34, name.count + 1), withPad: " ", startingAt: 0) + "\(value)")
        }
        print("")
        row("meters", r.meters)
        row(r.meters == nil ? "runs" : "runs (faults, each then a boot)", r.runs)
        if let points = r.cutPoints {
            row(
                "cut points (program/erase steps)",
                "\(points) × \(r.cutModes?.count ?? 0) modes (\(r.cutModes?.joined(separator: ", ") ?? ""))")
            for (phase, n) in (r.cutPointsByPhase ?? [:]).sorted(by: { $0.key < $1.key }) { row("  \(phase)", n) }
        }
        row("flips per run", r.flipsPerRun)
        row("flips on live data", r.flipsOnLiveData)
        row("flips on superseded data", r.flipsOnSupersededData)
        row("flips on erased flash", r.flipsOnErasedFlash)
        row("power cuts", r.powerCuts)
        row("bit flips", r.bitFlips)
        row("lost acks", r.lostAcks)
        row("recovered with old state", r.recoveredOld)
        row("recovered with new state", r.recoveredNew)
        row("detected corruptions", r.detectedCorruptions)
        row("corrected and reported (intact)", r.corrected)
        row("silent corruptions", r.silentCorruptions)
        row("lost readings", r.lostReadings)
        row("labels encrypted twice", r.labelsEncryptedTwice)
        row("bricked meters", r.brickedMeters)
        if let w = r.wear {
            row("erase cycles/sector/year, outbox", String(format: "%.1f", w.outboxErasesPerSectorPerYear))
            row("erase cycles/sector/year, keys", String(format: "%.1f", w.keyStoreErasesPerSectorPerYear))
            row(
                "projected lifetime",
                String(format: "%.1f years at %u cycles", w.projectedLifetimeYears, w.ratedCycles))
            row("wear-out run", "flash rated \(w.wearOutCycles) cycles")
            row("  first worn erase", w.firstWornEraseDay.map { "day \($0)" } ?? "none")
            row("  first sector retired", w.firstRetiredSectorDay.map { "day \($0)" } ?? "none")
            row("  stopped storing readings", w.stoppedStoringDay.map { "day \($0)" } ?? "no")
            row("  readings stored / refused", "\(w.readingsStored) / \(w.readingsRefused)")
            row("  how it degrades", w.degradation)
        }
        if let c = r.copyForward {
            row("copy-forward hunt", "\(c.meters) meters × \(c.labelsPerMeter) labels, acks held 1-3 days")
            row("  power cuts (warned)", "\(c.powerCuts) (\(c.warnedCuts))")
            row("  cuts during copy-forward", c.cutsDuringCopyForward)
            row("  acks lost / held", "\(c.lostAcks) / \(c.heldAcks)")
            row("  failed stores", c.failedStores)
            row("  stalled meters", c.stalledMeters)
            row("  dropped readings", c.droppedReadings)
            row("  labels skipped at cut boundaries", c.labelsSkipped)
            row("  energy lost, sudden / warned (Wh)", "\(c.energyLostSuddenWh) / \(c.energyLostWarnedWh)")
            row("  readings in status frames", c.readingsInStatusFrames)
            row("  labels encrypted twice", c.labelsEncryptedTwice)
        }
        row("time", String(format: "%.1f s", r.seconds))
        if let replayed = r.replayed {
            print(
                "\nrun \(replayed.run): \(replayed.fault)\n  \(replayed.outcome)\(replayed.detail.isEmpty ? "" : ": \(replayed.detail)")"
            )
        } else if !r.notRecovered.isEmpty {
            print("\nnot recovered cleanly (replay with --replay RUN):")
            for n in r.notRecovered { print("  run \(n.run): \(n.fault): \(n.outcome) \(n.detail)") }
        }
    }
}

extension FaultCampaignKind: ExpressibleByArgument {}
