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
    public var readings_per_day = 96
    public var simulated_years = 0.0
    /// Erase cycles per year of the most erased outbox and key-store sector.
    public var outbox_erases_per_sector_per_year = 0.0
    public var key_store_erases_per_sector_per_year = 0.0
    /// Flash program operations per year (every sector).
    public var program_operations_per_year = 0.0
    public var rated_cycles: UInt32 = 0
    /// rated cycles / the highest erase rate of any sector.
    public var projected_lifetime_years = 0.0
    /// The accelerated wear-out run.
    public var wear_out_cycles: UInt32 = 0
    public var first_worn_erase_day: Int? = nil
    public var first_retired_sector_day: Int? = nil
    public var stopped_storing_day: Int? = nil
    public var readings_stored = 0
    public var readings_refused = 0
    public var degradation = ""
}

/// What a campaign measured.
public struct FaultCampaignReport: Codable, Sendable {
    public var campaign: String
    public var seed: UInt64
    public var runs = 0
    public var recovered_old = 0
    public var recovered_new = 0
    public var detected_corruptions = 0
    public var silent_corruptions = 0
    public var lost_readings = 0
    public var labels_encrypted_twice = 0
    public var bricked_meters = 0
    /// power-cut: program/erase steps cut (each in every mode of `cut_modes`).
    public var cut_points: Int? = nil
    public var cut_points_by_phase: [String: Int]? = nil
    public var cut_modes: [String]? = nil
    /// bit-flip
    public var flips_per_run: Int? = nil
    public var flips_on_live_data: Int? = nil
    public var flips_on_superseded_data: Int? = nil
    public var flips_on_erased_flash: Int? = nil
    /// Runs where the meter corrected a flip and reported the repair (part of detected).
    public var corrected: Int? = nil
    /// random: meters (each its own run number for --replay); `runs` counts the faults,
    /// each followed by a boot.
    public var meters: Int? = nil
    /// random: faults injected.
    public var power_cuts: Int? = nil
    public var bit_flips: Int? = nil
    public var lost_acks: Int? = nil
    public var wear: WearReport? = nil
    /// power-cut: the copy-forward hunt (LWR-PSA), see `CopyForwardHunt`.
    public var copy_forward: CopyForwardReport? = nil
    /// Up to 20 runs that were not recovered cleanly: replay one with --replay RUN.
    public var not_recovered: [FaultRunRecord] = []
    public var replayed: FaultRunRecord? = nil
    public var seconds = 0.0

    init(_ kind: FaultCampaignKind, seed: UInt64) {
        campaign = kind.rawValue
        self.seed = seed
    }

    mutating func add(_ r: RunResult) {
        runs += 1
        switch r.outcome {
        case .recoveredOld: recovered_old += 1
        case .recoveredNew: recovered_new += 1
        case .detected: detected_corruptions += 1
        case .silent: silent_corruptions += 1
        }
        lost_readings += r.lost
        labels_encrypted_twice += r.twice
        if r.bricked { bricked_meters += 1 }
        if !r.clean && not_recovered.count < 20 {
            not_recovered.append(
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
    var statuses: [StatusCode] = []

    mutating func collect(_ meter: SimulatedMeter) {
        for frame in meter.takeSent() {
            guard let header = try? Frame.parseHeader(frame.span) else { continue }
            switch header.type {
            case .reading: readings[header.label, default: []].insert(frame)
            case .status:
                if let code = StatusCode(rawValue: UInt16(frame[24]) << 8 | UInt16(frame[25])) { statuses.append(code) }
            default: break
            }
        }
    }

    /// Labels with more than one distinct ciphertext: encrypted twice.
    var labelsEncryptedTwice: Int { readings.values.filter { $0.count > 1 }.count }
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
