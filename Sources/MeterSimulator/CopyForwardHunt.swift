import Foundation
import MeterCrypto
import MeterFirmware

/// What the copy-forward part of the power-cut campaign measured.
public struct CopyForwardReport: Codable, Sendable {
    /// Meters (one seed each) and labels each lived.
    public var meters = 0
    public var labelsPerMeter = 0
    public var powerCuts = 0
    /// Cuts announced by the power-fail warning (the energy register was saved).
    public var warnedCuts = 0
    /// Cuts that left a copy-forward entry written but not committed.
    public var cutsDuringCopyForward = 0
    public var lostAcks = 0
    /// Acks held back 1–3 days.
    public var heldAcks = 0
    /// Boundaries whose reading could not be stored (a status with the code only went out).
    public var failedStores = 0
    /// Meters that stopped storing readings: none of the last 96 boundaries stored one.
    public var stalledMeters = 0
    /// Unacknowledged readings the outbox dropped (full, or no sector's entries fit).
    public var droppedReadings = 0
    /// Labels without a reading: the interval's boundary was cut before its reading was
    /// stored (its energy goes with the next reading when the cut was announced).
    public var labelsSkipped = 0
    /// Energy measured and neither reported nor still carried, in Wh, lost to sudden cuts
    /// (the interval being closed and the carry, both in RAM).
    public var energyLostSuddenWh = 0
    /// Energy the meter held unreported before an announced cut and not after its boot:
    /// 0 when the energy register works.
    public var energyLostWarnedWh = 0
    /// Status frames whose detail field held a reading of the run.
    public var readingsInStatusFrames = 0
    /// Labels the aggregator saw two different ciphertexts for.
    public var labelsEncryptedTwice = 0

    /// The JSON names (snake_case, as `metering faults --json` has always printed them).
    enum CodingKeys: String, CodingKey {
        case meters, labelsPerMeter = "labels_per_meter", powerCuts = "power_cuts", warnedCuts = "warned_cuts"
        case cutsDuringCopyForward = "cuts_during_copy_forward", lostAcks = "lost_acks", heldAcks = "held_acks"
        case failedStores = "failed_stores", stalledMeters = "stalled_meters", droppedReadings = "dropped_readings"
        case labelsSkipped = "labels_skipped", energyLostSuddenWh = "energy_lost_sudden_wh"
        case energyLostWarnedWh = "energy_lost_warned_wh", readingsInStatusFrames = "readings_in_status_frames"
        case labelsEncryptedTwice = "labels_encrypted_twice"
    }
}

/// The copy-forward hunt: each meter lives `labels` intervals through its main loop with a
/// constant load, power cut every 1–4 intervals at a random flash operation of the boundary
/// (half of them announced by the power-fail warning), acks lost at random (1 in 10) and a
/// few held back for one to three days, so the outbox must copy old entries forward, with
/// cuts in the middle of it. Counts stalls, failed stores, skipped labels and lost energy.
struct CopyForwardHunt {
    let options: FaultCampaignOptions
    static let wattHoursPerInterval: UInt64 = 250  // FaultBench's 1 kW for 15 minutes

    func run() throws -> CopyForwardReport {
        var report = CopyForwardReport()
        report.labelsPerMeter = options.copyForwardLabels
        for m in 0..<options.copyForwardMeters { try life(m, into: &report) }
        return report
    }

    func life(_ run: Int, into report: inout CopyForwardReport) throws {
        let bench = try FaultBench(seed: options.seed &* 7_777_777 &+ UInt64(run), keyMode: options.keyMode)
        var rng = SeededGenerator(seed: options.seed ^ (UInt64(run) &* 0x9E37_79B9_7F4A_7C15) ^ 0xC0F1)
        let meter = try bench.makeMeter(1, provision: true)
        meter.board.seedFaults(rng.next())
        let peer = try bench.makeMeter(2, provision: true)
        try bench.runSetup(dut: meter, peer: peer)
        report.meters += 1
        // Start on a boundary: every interval of the run is measured whole.
        let interval: UInt64 = 900_000
        meter.advance(ticks: (interval - meter.ticks % interval) % interval)
        _ = meter.firmware.poll()
        _ = meter.takeSent()
        let firstLabel = meter.ticks / interval

        var delivered: [UInt64: UInt64] = [:]  // label → reading (decrypted via the truth)
        var frames: [UInt64: Set<[UInt8]>] = [:]
        var heldUntil: [UInt64: UInt64] = [:]  // label → the label at which its ack is released
        var nextCut = 1 + rng.next() % 4
        var lastStored = firstLabel
        var warnedLoss = 0  // Wh the meter held unreported before an announced cut and not after
        guard let record = meter.firmware.storedRecord else { throw FaultCampaignError.referenceRun("no state") }

        func collect(now label: UInt64) {
            for frame in meter.takeSent() {
                guard let header = try? Frame.parseHeader(frame.span) else { continue }
                if header.type == .status {
                    let detail = (26..<34).reduce(UInt64(0)) { $0 << 8 | UInt64(frame[$1]) }
                    if detail != 0 && detail % Self.wattHoursPerInterval == 0 && detail < 96_000 {
                        report.readingsInStatusFrames += 1
                    }
                    if frame[24] == 0 && frame[25] == UInt8(StatusCode.keyStoreWriteFailed.rawValue) {
                        report.failedStores += 1
                    }
                    continue
                }
                guard header.type == .reading else { continue }
                frames[header.label, default: []].insert(frame)
                if delivered[header.label] == nil {
                    delivered[header.label] = bench.reading(of: frame, record: record) ?? 0
                }
                // The aggregator acks what it receives, unless the ack is held or lost.
                if let until = heldUntil[header.label], until > label { continue }
                if rng.next() % 10 == 0 {
                    report.lostAcks += 1
                    continue
                }
                if meter.board.powered, !meter.board.powerFailing {
                    _ = try? meter.handle(bench.ack(label: header.label, for: meter))
                }
            }
            _ = meter.takeSent()
        }

        for i in 0..<UInt64(options.copyForwardLabels) {
            let label = firstLabel + i
            if rng.next() % 40 == 0 {
                heldUntil[label] = label + 96 + rng.next() % 193  // one to three days
                report.heldAcks += 1
            }
            nextCut -= 1
            let cut = nextCut == 0
            let warned = cut && rng.next() & 1 == 0
            if cut {
                nextCut = 1 + rng.next() % 4
                let modes: [PowerCutMode] = [.partial, .before, .after]
                let mode = modes[Int(rng.next() % 3)]
                let at = rng.next() % 10
                if warned {
                    meter.board.armPowerFail(afterOperations: at, mode: mode)
                } else {
                    meter.board.armPowerCut(afterOperations: at, mode: mode)
                }
            }
            meter.advance(ticks: interval)
            _ = meter.firmware.poll()
            if cut && warned && meter.board.powerFailing { _ = meter.firmware.poll() }
            collect(now: label)
            if cut && (!meter.board.powered || meter.board.powerFailing) {
                report.powerCuts += 1
                if warned { report.warnedCuts += 1 }
                if uncommittedCopy(meter, bench: bench) { report.cutsDuringCopyForward += 1 }
                // A warning raised while acks were handled: the main loop sees it at its next poll.
                if meter.board.powerFailing { _ = meter.firmware.poll() }
                let carriedBefore = meter.firmware.carriedEnergy
                try meter.reboot()
                // What the meter held unreported before the cut, and holds after the boot.
                if warned && meter.firmware.carriedEnergy < carriedBefore {
                    warnedLoss += Int(carriedBefore - meter.firmware.carriedEnergy)
                }
                _ = meter.firmware.poll()
                collect(now: label)
            } else if cut {
                meter.board.disarmPowerCut()
                try meter.reboot()  // clears a warning that was armed but never raised
                _ = meter.firmware.poll()
                collect(now: label)
            }
            if delivered[label] != nil { lastStored = label }
            // Released holds: the meter resends at every boundary, the ack then goes out.
        }
        // Drain: release every hold, let the meter resend and take the acks.
        heldUntil = [:]
        meter.firmware.resendPending()
        collect(now: .max)
        let end = firstLabel + UInt64(options.copyForwardLabels)
        if end - lastStored > 96 { report.stalledMeters += 1 }
        report.droppedReadings += meter.firmware.droppedReadings
        report.labelsEncryptedTwice += frames.values.filter { $0.count > 1 }.count
        let used = (firstLabel..<min(meter.firmware.nextLabel, end))
        report.labelsSkipped += used.filter { delivered[$0] == nil }.count
        // Energy: every interval measured 250 Wh; what is not in a reading is carried or lost.
        let measured = Self.wattHoursPerInterval * UInt64(options.copyForwardLabels)
        let reported = delivered.filter { $0.key >= firstLabel && $0.key < end }.values.reduce(0, +)
        let accounted = reported + meter.firmware.carriedEnergy + meter.firmware.lostWattHours
        let missing = measured > accounted ? Int(measured - accounted) : 0
        // Announced cuts were measured one by one above; the rest went with sudden cuts.
        report.energyLostWarnedWh += warnedLoss
        report.energyLostSuddenWh += max(0, missing - warnedLoss)
    }

    /// True when the outbox holds a copy entry written but not committed (a cut during
    /// copy-forward).
    func uncommittedCopy(_ meter: SimulatedMeter, bench: FaultBench) -> Bool {
        let layout = bench.layout
        return meter.board.withFlash { flash in
            for s in 0..<Int(layout.outboxSectors) {
                let base = (Int(layout.outboxSector) + s) * 4096
                for slot in 0..<31 {
                    let at = base + slot * 128
                    if flash[at] == 0x52 && flash[at + 1] == 0xFE && flash[at + 126].nonzeroBitCount > 3 { return true }
                }
            }
            return false
        }
    }
}
