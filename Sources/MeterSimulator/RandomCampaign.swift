import MeterCrypto
import MeterFirmware

/// Several meters, each living `randomDays` days with power cuts at random flash
/// operations, bit flips at rest and lost acks mixed in; one fault at a time, every one
/// followed by a boot compared with the truth.
struct RandomCampaign {
    let options: FaultCampaignOptions

    func run(progress: @escaping @Sendable (Int, Int) -> Void) throws -> FaultCampaignReport {
        var report = FaultCampaignReport(.random, seed: options.seed)
        report.powerCuts = 0
        report.bitFlips = 0
        report.lostAcks = 0
        let runs = options.randomMeters
        if let r = options.replay {
            guard r >= 0 && r < runs else { throw FaultCampaignError.noSuchRun(r, runs: runs) }
            let (result, counts) = try life(r)
            report.addLife(result, counts)
            report.replayed = FaultRunRecord(
                run: r, fault: result.fault, outcome: result.outcome.rawValue, detail: result.detail)
            return report
        }
        let lives = try ParallelRunner(threads: options.threads).map(runs, progress: progress) { run in try life(run) }
        for (result, counts) in lives { report.addLife(result, counts) }
        return report
    }

    /// What one meter's life went through: faults injected, and how each boot after one ended.
    struct LifeCounts {
        var cuts = 0, flips = 0, lostAcks = 0
        var old = 0, new = 0, detected = 0, silent = 0
    }

    /// One meter's life. Returns its result and the faults injected.
    func life(_ run: Int) throws -> (RunResult, LifeCounts) {
        let bench = try FaultBench(seed: options.seed &* 1_000_003 &+ UInt64(run), keyMode: options.keyMode)
        var rng = SeededGenerator(seed: options.seed ^ (UInt64(run) &* 0xA24B_AED4_963E_E407))
        let meter = try bench.makeMeter(1, provision: true)
        meter.board.seedFaults(rng.next())
        let peer = try bench.makeMeter(2, provision: true)
        try bench.runSetup(dut: meter, peer: peer)
        guard var record = meter.firmware.storedRecord else { throw FaultCampaignError.referenceRun("no state") }
        var truth = try StoreTruth.intent(of: meter)
        var detected = 0
        var silent = 0
        var log = RadioLog()
        var allowed: [UInt64: Set<UInt64>] = [:]  // label → readings the meter may have encrypted
        var result = RunResult(run: run, fault: "\(options.randomDays) days of mixed faults", outcome: .recoveredNew)
        var cuts = 0
        var flips = 0
        var lostAcks = 0
        var old = 0
        var new = 0
        var notes: [String] = []
        let area = UInt64(meter.board.sectorSize) * UInt64(bench.layout.endSector)

        func fail(_ what: String) {
            silent += 1
            result.outcome = .silent
            if notes.count < 5 { notes.append(what) }
        }
        func rebootAndCheck(before: StoreTruth, after: StoreTruth?) throws {
            try meter.reboot()
            switch Observation(meter) {
            case .corrupt:
                detected += 1
                result.outcome = result.outcome == .silent ? .silent : .detected
                notes.append("store corrupt after a fault: re-provisioned")
                try? meter.provisionFirmware()
                try? bench.runSetup(dut: meter, peer: peer)
                if meter.firmware.phase != .ready { result.bricked = true }
                if let r = meter.firmware.storedRecord { record = r }
                truth = try StoreTruth.intent(of: meter)
            case .state(let s) where after.map { s.matches($0) } ?? false:
                new += 1
                truth = s
            case .state(let s) where s.matches(before):
                old += 1
                truth = s
            case .state(let s):
                fail("booted a state that is neither: \(before.differences(s).joined(separator: ", "))")
                truth = s
            case .unreadable(let why):
                fail(why)
            }
            _ = meter.firmware.poll()
            log.collect(meter)
        }

        for _ in 0..<(options.randomDays * 96) {
            if rng.next() % 200 == 0 {
                flips += 1
                meter.board.flipBit(address: UInt32(rng.next() % area), bit: UInt32(rng.next() % 8))
                try rebootAndCheck(before: truth, after: nil)
            }
            guard meter.firmware.phase == .ready else { break }
            let label = meter.firmware.nextLabel
            let reading = rng.next() % FaultBench.maxReading
            var after = truth
            after.nextLabel = label + 1
            after.pending[label] = bench.expectedFrame(record: record, label: label, reading: reading)
            allowed[label, default: []].insert(reading)
            let cut = rng.next() % 50 == 0
            if cut {
                let modes: [PowerCutMode] = [.partial, .before, .after]
                meter.board.armPowerCut(afterOperations: rng.next() % 3, mode: modes[Int(rng.next() % 3)])
            }
            try? meter.firmware.encryptAndSend(label: label, reading: reading)
            log.collect(meter)
            if cut && !meter.board.powered {
                cuts += 1
                try rebootAndCheck(before: truth, after: after)
                if meter.firmware.nextLabel == label, meter.firmware.phase == .ready {
                    // Not committed: the energy is still known, encrypt it (again) with a new value.
                    let retry = (reading + 1) % FaultBench.maxReading
                    allowed[label, default: []].insert(retry)
                    try? meter.firmware.encryptAndSend(label: label, reading: retry)
                    log.collect(meter)
                }
            } else {
                if cut { meter.board.disarmPowerCut() }
            }
            // The aggregator acks what it received; one ack in ten is lost on the way.
            for l in meter.pendingLabelsList() where log.readings[l] != nil {
                if rng.next() % 10 == 0 {
                    lostAcks += 1
                    continue
                }
                _ = try? meter.handle(bench.ack(label: l, for: meter))
            }
            meter.firmware.resendPending()
            log.collect(meter)
            truth = try StoreTruth.intent(of: meter)
        }
        // Drain: everything still pending is resent and acknowledged.
        meter.firmware.resendPending()
        log.collect(meter)
        for l in meter.pendingLabelsList() { _ = try? meter.handle(bench.ack(label: l, for: meter)) }
        let wrong = wrongFrames(log, bench: bench, record: record) { Array(allowed[$0] ?? []) }
        if !wrong.isEmpty { fail("frames for labels \(wrong.prefix(5)) are not the truth's") }
        // Every label the meter used (below its counter) must have reached the aggregator.
        let used = allowed.keys.filter { $0 < meter.firmware.nextLabel }
        result.lost = Set(used).subtracting(log.readings.keys).count
        result.twice = log.labelsEncryptedTwice
        if result.outcome == .recoveredNew && new == 0 && old > 0 { result.outcome = .recoveredOld }
        result.detail =
            "cuts \(cuts) (old \(old), new \(new)), flips \(flips), lost acks \(lostAcks)"
            + (notes.isEmpty ? "" : ": " + notes.joined(separator: "; "))
        return (
            result,
            LifeCounts(
                cuts: cuts, flips: flips, lostAcks: lostAcks, old: old, new: new, detected: detected, silent: silent)
        )
    }
}

extension FaultCampaignReport {
    /// Adds one meter's life: `runs` counts the faults (each followed by a boot), the
    /// outcomes are those boots'; lost readings and labels twice are per meter.
    mutating func addLife(_ r: RunResult, _ c: RandomCampaign.LifeCounts) {
        meters = (meters ?? 0) + 1
        runs += c.cuts + c.flips
        recoveredOld += c.old
        recoveredNew += c.new
        detectedCorruptions += c.detected
        silentCorruptions += c.silent
        lostReadings += r.lost
        labelsEncryptedTwice += r.twice
        if r.bricked { brickedMeters += 1 }
        powerCuts = (powerCuts ?? 0) + c.cuts
        bitFlips = (bitFlips ?? 0) + c.flips
        lostAcks = (lostAcks ?? 0) + c.lostAcks
        if !r.clean && notRecovered.count < 20 {
            notRecovered.append(
                FaultRunRecord(run: r.run, fault: r.fault, outcome: r.outcome.rawValue, detail: r.detail))
        }
    }
}

extension SimulatedMeter {
    /// Labels of the readings still in the outbox.
    func pendingLabelsList() -> [UInt64] { (0..<firmware.pendingReadings).map { firmware.pendingLabel($0) } }
}
