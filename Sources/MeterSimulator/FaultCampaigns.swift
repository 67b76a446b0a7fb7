import Aggregation
import Foundation
import MeterCrypto
import MeterFirmware

/// The fault-injection campaigns of `metering faults`.
public enum FaultCampaignKind: String, CaseIterable, Sendable, Codable {
    /// A power cut at every program/erase step of provisioning, key setup, outbox
    /// appends and acknowledgements, and key rotation: exhaustive, three cut modes each.
    case powerCut = "power-cut"
    /// Random bit flips at rest, then a boot.
    case bitFlip = "bit-flip"
    /// Years of readings until the flash wears out.
    case wear
    /// Mixed faults over a long run of several meters.
    case random
}

public struct FaultCampaignOptions: Sendable {
    public var seed: UInt64 = 1
    /// Run only this run index (`--replay`).
    public var replay: Int? = nil
    /// bit-flip: runs (one boot each).
    public var flips = 100_000
    /// bit-flip: flips per run.
    public var flipsPerRun = 1
    /// Key mode of the meter under test.
    public var keyMode: KeyMode = .seed
    /// The scheme of the meter under test: LWR-PSA, or Paillier (power-cut and wear).
    public var scheme: SchemeID = .lwrPSA
    /// Paillier: bits of the supplier's keys.
    public var paillierBits = 2048
    /// power-cut: readings appended in the outbox phase (enough to go round the ring).
    public var readings = 135
    /// power-cut, copy-forward part: meters (one seed each) and labels each (acks held
    /// back 1–3 days, cuts every 1–4 intervals); 0 meters skips it.
    public var copyForwardMeters = 6
    public var copyForwardLabels = 1500
    /// wear: simulated years over which erase cycles are counted.
    public var years = 1.0
    /// wear: rated erase cycles of the flash for the projected lifetime.
    public var ratedCycles: UInt32 = 10_000
    /// wear: endurance of the flash in the accelerated wear-out run.
    public var wearOutCycles: UInt32 = 250
    /// random: meters (runs) and days each.
    public var randomMeters = 20
    public var randomDays = 14
    /// Worker threads (bit-flip, random).
    public var threads = ProcessInfo.processInfo.activeProcessorCount

    public init() {}
}

/// One run that did not end cleanly (or the replayed one).
public struct FaultRunRecord: Codable, Sendable {
    public let run: Int
    public let fault: String
    public let outcome: String
    public let detail: String
}

/// The wear campaign's figures.
public struct WearReport: Codable, Sendable {
    public var readingsPerDay = 96
    public var simulatedYears = 0.0
    /// Erase cycles per year of the most erased outbox and key-store sector.
    public var outboxErasesPerSectorPerYear = 0.0
    public var keyStoreErasesPerSectorPerYear = 0.0
    /// Flash program operations per year (every sector).
    public var programOperationsPerYear = 0.0
    public var ratedCycles: UInt32 = 0
    /// rated cycles / the highest erase rate of any sector.
    public var projectedLifetimeYears = 0.0
    /// The accelerated wear-out run.
    public var wearOutCycles: UInt32 = 0
    public var firstWornEraseDay: Int? = nil
    public var firstRetiredSectorDay: Int? = nil
    public var stoppedStoringDay: Int? = nil
    public var readingsStored = 0
    public var readingsRefused = 0
    public var degradation = ""

    /// The JSON names (snake_case, as `metering faults --json` has always printed them).
    enum CodingKeys: String, CodingKey {
        case readingsPerDay = "readings_per_day", simulatedYears = "simulated_years"
        case outboxErasesPerSectorPerYear = "outbox_erases_per_sector_per_year"
        case keyStoreErasesPerSectorPerYear = "key_store_erases_per_sector_per_year"
        case programOperationsPerYear = "program_operations_per_year", ratedCycles = "rated_cycles"
        case projectedLifetimeYears = "projected_lifetime_years", wearOutCycles = "wear_out_cycles"
        case firstWornEraseDay = "first_worn_erase_day", firstRetiredSectorDay = "first_retired_sector_day"
        case stoppedStoringDay = "stopped_storing_day", readingsStored = "readings_stored"
        case readingsRefused = "readings_refused", degradation
    }
}

/// What a campaign measured.
public struct FaultCampaignReport: Codable, Sendable {
    public var campaign: String
    public var seed: UInt64
    public var runs = 0
    public var recoveredOld = 0
    public var recoveredNew = 0
    public var detectedCorruptions = 0
    public var silentCorruptions = 0
    public var lostReadings = 0
    public var labelsEncryptedTwice = 0
    public var brickedMeters = 0
    /// power-cut: program/erase steps cut (each in every mode of `cutModes`).
    public var cutPoints: Int? = nil
    public var cutPointsByPhase: [String: Int]? = nil
    public var cutModes: [String]? = nil
    /// bit-flip
    public var flipsPerRun: Int? = nil
    public var flipsOnLiveData: Int? = nil
    public var flipsOnSupersededData: Int? = nil
    public var flipsOnErasedFlash: Int? = nil
    /// Runs where the meter corrected a flip and reported the repair (part of detected).
    public var corrected: Int? = nil
    /// random: meters (each its own run number for --replay); `runs` counts the faults,
    /// each followed by a boot.
    public var meters: Int? = nil
    /// random: faults injected.
    public var powerCuts: Int? = nil
    public var bitFlips: Int? = nil
    public var lostAcks: Int? = nil
    public var wear: WearReport? = nil
    /// power-cut: the copy-forward hunt (LWR-PSA), see `CopyForwardHunt`.
    public var copyForward: CopyForwardReport? = nil
    /// Up to 20 runs that were not recovered cleanly: replay one with --replay RUN.
    public var notRecovered: [FaultRunRecord] = []
    public var replayed: FaultRunRecord? = nil
    public var seconds = 0.0

    /// The JSON names (snake_case, as `metering faults --json` has always printed them).
    enum CodingKeys: String, CodingKey {
        case campaign, seed, runs, recoveredOld = "recovered_old", recoveredNew = "recovered_new"
        case detectedCorruptions = "detected_corruptions", silentCorruptions = "silent_corruptions"
        case lostReadings = "lost_readings", labelsEncryptedTwice = "labels_encrypted_twice"
        case brickedMeters = "bricked_meters", cutPoints = "cut_points", cutPointsByPhase = "cut_points_by_phase"
        case cutModes = "cut_modes", flipsPerRun = "flips_per_run", flipsOnLiveData = "flips_on_live_data"
        case flipsOnSupersededData = "flips_on_superseded_data", flipsOnErasedFlash = "flips_on_erased_flash"
        case corrected, meters, powerCuts = "power_cuts", bitFlips = "bit_flips", lostAcks = "lost_acks", wear
        case copyForward = "copy_forward", notRecovered = "not_recovered", replayed, seconds
    }

    init(_ kind: FaultCampaignKind, seed: UInt64) {
        campaign = kind.rawValue
        self.seed = seed
    }

    mutating func add(_ r: RunResult) {
        runs += 1
        switch r.outcome {
        case .recoveredOld: recoveredOld += 1
        case .recoveredNew: recoveredNew += 1
        case .detected: detectedCorruptions += 1
        case .silent: silentCorruptions += 1
        }
        lostReadings += r.lost
        labelsEncryptedTwice += r.twice
        if r.bricked { brickedMeters += 1 }
        if !r.clean && notRecovered.count < 20 {
            notRecovered.append(
                FaultRunRecord(run: r.run, fault: r.fault, outcome: r.outcome.rawValue, detail: r.detail))
        }
    }
}

/// How one run ended.
enum Outcome: String {
    case recoveredOld = "recovered old state"
    case recoveredNew = "recovered new state"
    case detected = "detected corruption"
    case silent = "silent corruption"
}

struct RunResult {
    var run: Int
    var fault: String
    var outcome: Outcome
    var lost = 0
    var twice = 0
    var bricked = false
    var detail = ""
    /// A clean run for a single fault: old or new state, nothing lost, nothing twice.
    var clean: Bool { (outcome == .recoveredOld || outcome == .recoveredNew) && lost == 0 && twice == 0 && !bricked }
}

/// Failures of the campaign harness itself (not of the firmware under test).
public enum FaultCampaignError: Error, CustomStringConvertible {
    /// The fault-free reference run did not behave as expected.
    case referenceRun(String)
    /// --replay names a run the campaign does not have.
    case noSuchRun(Int, runs: Int)

    public var description: String {
        switch self {
        case .referenceRun(let s): return "fault-free reference run failed: \(s)"
        case .noSuchRun(let r, let n): return "run \(r) does not exist (the campaign has \(n) runs: 0 ..< \(n))"
        }
    }
}

/// The harness's view of the radio: every reading frame per label, statuses.
struct RadioLog {
    var readings: [UInt64: Set<[UInt8]>] = [:]
    /// The customer's sealed detail per label: a second, different frame for a label would
    /// reuse its GCM nonce (counted with the readings in `labelsEncryptedTwice`).
    var details: [UInt64: Set<[UInt8]>] = [:]
    var statuses: [StatusCode] = []

    mutating func collect(_ meter: SimulatedMeter) {
        for frame in meter.takeSent() {
            guard let header = try? Frame.parseHeader(frame.span) else { continue }
            switch header.type {
            case .reading: readings[header.label, default: []].insert(frame)
            case .customerDetail: details[header.label, default: []].insert(frame)
            case .status:
                if let code = StatusCode(rawValue: UInt16(frame[24]) << 8 | UInt16(frame[25])) { statuses.append(code) }
            default: break
            }
        }
    }

    /// Labels with more than one distinct ciphertext: encrypted twice (a reading, or the
    /// customer's detail under one nonce).
    var labelsEncryptedTwice: Int {
        readings.values.filter { $0.count > 1 }.count + details.values.filter { $0.count > 1 }.count
    }
}

public enum FaultCampaigns {
    /// Runs a campaign. `progress(done, total)` is called from time to time.
    public static func run(
        _ kind: FaultCampaignKind, options: FaultCampaignOptions,
        progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws -> FaultCampaignReport {
        let start = monotonicSeconds()
        var report: FaultCampaignReport
        switch kind {
        case .powerCut: report = try PowerCutCampaign(options: options).run(progress: progress)
        case .bitFlip: report = try BitFlipCampaign(options: options).run(progress: progress)
        case .wear: report = try WearCampaign(options: options).run(progress: progress)
        case .random: report = try RandomCampaign(options: options).run(progress: progress)
        }
        report.seconds = monotonicSeconds() - start
        return report
    }
}

// MARK: - shared steps

/// One operation on the meter under test.
enum Step {
    case provision
    /// A downlink frame (enrolRequest, statement chunk, roster entry, ack) and what it is.
    case downlink([UInt8], String)
    case encrypt(label: UInt64, reading: UInt64)

    var name: String {
        switch self {
        case .provision: return "provision"
        case .downlink(_, let what): return what
        case .encrypt(let label, _): return "encrypt label \(label)"
        }
    }

    func perform(on meter: SimulatedMeter) {
        switch self {
        case .provision: try? meter.provisionFirmware()
        case .downlink(let frame, _): _ = try? meter.handle(frame)
        case .encrypt(let label, let reading): try? meter.firmware.encryptAndSend(label: label, reading: reading)
        }
    }
}

/// Acknowledges every reading the harness has seen, one per poll, until the inbox is empty.
func acknowledgeAll(_ log: RadioLog, bench: FaultBench, meter: SimulatedMeter) {
    for label in log.readings.keys.sorted() {
        try? meter.deliver(bench.ack(label: label, for: meter))
        _ = meter.firmware.poll()
    }
}

/// Checks every reading frame in `log` against the frame computed from the truth.
/// Returns the labels whose frame is not one the truth allows.
func wrongFrames(_ log: RadioLog, bench: FaultBench, record: MeterRecord, readings: (UInt64) -> [UInt64]) -> [UInt64] {
    var wrong: [UInt64] = []
    for (label, frames) in log.readings {
        let allowed = readings(label)
        if !frames.allSatisfy({ bench.allows($0, record: record, label: label, readings: allowed) }) {
            wrong.append(label)
        }
    }
    return wrong.sorted()
}
