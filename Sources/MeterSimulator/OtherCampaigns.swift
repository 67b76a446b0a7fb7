import Foundation
import MeterCrypto
import MeterFirmware

extension FaultCampaigns {
    /// Flash wear for the cost report: erase cycles per sector per year of the outbox and
    /// the key store at 96 readings a day, measured on the simulated meter over `years` of
    /// readings, and the projected lifetime of a flash rated for `ratedCycles`.
    public static func measureFlashWear(
        years: Double = 0.25, ratedCycles: UInt32 = 10_000, keyMode: KeyMode = .seed, seed: UInt64 = 1
    ) throws -> WearReport {
        var wear = WearReport()
        wear.rated_cycles = ratedCycles
        wear.simulated_years = years
        let bench = try FaultBench(seed: seed, keyMode: keyMode)
        _ = try WearCampaign.measureRate(
            bench: bench, readings: Int(years * 365 * Double(WearCampaign.perDay)), into: &wear)
        return wear
    }
}

/// Flash wear: erase cycles per sector per year at 96 readings a day, the projected
/// lifetime of a flash rated for `ratedCycles`, then an accelerated run on a flash that
/// endures only `wearOutCycles` until the meter can no longer store readings.
struct WearCampaign {
    static let perDay = 96
    let options: FaultCampaignOptions

    /// Erase cycles per sector per year over `readings` readings (96 a day, each acked),
    /// into `wear`; returns the highest rate of any sector.
    static func measureRate(
        bench: FaultBench, readings: Int, into wear: inout WearReport, progress: (Int) -> Void = { _ in }
    ) throws -> Double {
        let layout = bench.layout
        let meter = try bench.makeMeter(1, provision: true)
        let peer = try bench.makeMeter(2, provision: true)
        try bench.runSetup(dut: meter, peer: peer)
        let start = (0..<bench.endSector).map { meter.board.eraseCount(sector: $0) }
        let programsBefore = meter.board.flashPrograms
        var label = meter.firmware.nextLabel
        for i in 0..<readings {
            try meter.firmware.encryptAndSend(label: label, reading: label % FaultBench.maxReading)
            _ = meter.takeSent()
            _ = try meter.handle(bench.ack(label: label, for: meter))
            label += 1
            if i % 2000 == 0 { progress(i) }
        }
        func rate(_ sectors: Range<UInt32>) -> Double {
            sectors.map { Double(meter.board.eraseCount(sector: $0) - start[Int($0)]) }.max()!
                / (Double(readings) / Double(365 * Self.perDay))
        }
        wear.outbox_erases_per_sector_per_year = rate(bench.outboxSectors)
        wear.key_store_erases_per_sector_per_year = rate(layout.keyStoreSector..<(layout.keyStoreSector + 2))
        wear.program_operations_per_year =
            Double(meter.board.flashPrograms - programsBefore) / (Double(readings) / Double(365 * Self.perDay))
        let worst = max(wear.outbox_erases_per_sector_per_year, wear.key_store_erases_per_sector_per_year)
        wear.projected_lifetime_years = worst > 0 ? Double(wear.rated_cycles) / worst : .infinity
        return worst
    }

    func run(progress: @escaping @Sendable (Int, Int) -> Void) throws -> FaultCampaignReport {
        var report = FaultCampaignReport(.wear, seed: options.seed)
        var wear = WearReport()
        wear.rated_cycles = options.ratedCycles
        wear.wear_out_cycles = options.wearOutCycles
        wear.simulated_years = options.years
        let bench = try FaultBench(
            seed: options.seed, keyMode: options.keyMode, scheme: options.scheme, paillierBits: options.paillierBits)
        let rateReadings = Int(options.years * 365 * Double(Self.perDay))
        // The wear-out run is expected to take wearOutCycles / (rate per day) days; allow 3×.
        let total = rateReadings * 2

        // 1. Erase rate with an unlimited flash.
        let worst = try Self.measureRate(bench: bench, readings: rateReadings, into: &wear) { progress($0, total) }

        // 2. Wear-out on a flash rated for wearOutCycles.
        var label: UInt64
        let worn = try bench.makeMeter(1, provision: false)
        worn.board.setEndurance(options.wearOutCycles, spreadPercent: 10)
        try worn.provisionFirmware()
        let peer2 = try bench.makeMeter(2, provision: true)
        try bench.runSetup(dut: worn, peer: peer2)
        guard let record = worn.firmware.storedRecord else { throw FaultCampaignError.referenceRun("no state") }
        let expectedDays = Int(Double(options.wearOutCycles) / max(worst, 1) * 365) + 1
        let maxDays = 3 * expectedDays + 30
        var log = RadioLog()
        var accepted: [UInt64: UInt64] = [:]
        var refusedDays = 0
        label = worn.firmware.nextLabel
        var day = 0
        while day < maxDays && refusedDays < 7 {
            var refusedToday = 0
            for _ in 0..<Self.perDay {
                let reading = label % FaultBench.maxReading
                do {
                    try worn.firmware.encryptAndSend(label: label, reading: reading)
                    accepted[label] = reading
                    wear.readings_stored += 1
                } catch {
                    refusedToday += 1
                    wear.readings_refused += 1
                    if wear.stopped_storing_day == nil { wear.stopped_storing_day = day }
                }
                log.collect(worn)
                _ = try? worn.handle(bench.ack(label: label, for: worn))
                label += 1
            }
            if wear.first_worn_erase_day == nil && worn.board.wornErases > 0 { wear.first_worn_erase_day = day }
            if wear.first_retired_sector_day == nil && worn.firmware.retiredOutboxSectors > 0 {
                wear.first_retired_sector_day = day
            }
            refusedDays = refusedToday == Self.perDay ? refusedDays + 1 : 0
            day += 1
            if day % 10 == 0 { progress(rateReadings + min(day * Self.perDay, rateReadings - 1), total) }
        }
        progress(total, total)
        // Ground truth: every label the meter accepted left it once, with the ciphertext
        // recomputed from the truth; no other label did.
        let wrong = wrongFrames(log, bench: bench, record: record) { accepted[$0].map { [$0] } ?? [] }
        let lost = Set(accepted.keys).subtracting(log.readings.keys)
        var result = RunResult(run: 0, fault: "wear-out at \(options.wearOutCycles) cycles", outcome: .recoveredNew)
        if !wrong.isEmpty {
            result.outcome = .silent
            result.detail = "wrong ciphertexts for labels \(wrong.prefix(10))"
        }
        result.lost = lost.count
        result.twice = log.labelsEncryptedTwice
        result.bricked = false  // a worn-out meter refusing to store is the expected end, reported below
        report.add(result)
        let retired = worn.firmware.retiredOutboxSectors
        wear.degradation =
            (wear.stopped_storing_day.map {
                "after \($0) days the outbox could no longer be written (\(retired) of \(bench.outboxSectors.count) sectors retired): the meter reports keyStoreWriteFailed and refuses to encrypt, so no label is used without its reading stored"
            } ?? "still storing readings after \(day) days (\(retired) sectors retired)")
            + (wear.first_worn_erase_day.map { "; first erase on a worn sector on day \($0)" } ?? "")
        report.wear = wear
        return report
    }
}

/// Several meters, each living `randomDays` days with power cuts at random flash
/// operations, bit flips at rest and lost acks mixed in; one fault at a time, every one
/// followed by a boot compared with the truth.
struct RandomCampaign {
    let options: FaultCampaignOptions

    func run(progress: @escaping @Sendable (Int, Int) -> Void) throws -> FaultCampaignReport {
        var report = FaultCampaignReport(.random, seed: options.seed)
        report.power_cuts = 0
        report.bit_flips = 0
        report.lost_acks = 0
        let runs = options.randomMeters
        if let r = options.replay {
            guard r >= 0 && r < runs else { throw FaultCampaignError.noSuchRun(r, runs: runs) }
            let (result, counts) = try life(r)
            report.addLife(result, counts)
            report.replayed = FaultRunRecord(
                run: r, fault: result.fault, outcome: result.outcome.rawValue, detail: result.detail)
            return report
        }
        let threads = max(1, min(options.threads, runs))
        let lock = NSLock()
        let done = ManagedCounter()
        nonisolated(unsafe) var shared = report
        nonisolated(unsafe) var failure: Error? = nil
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            var run = t
            while run < runs {
                do {
                    let (result, counts) = try life(run)
                    lock.lock()
                    shared.addLife(result, counts)
                    lock.unlock()
                } catch {
                    lock.lock()
                    failure = error
                    lock.unlock()
                }
                progress(done.increment(), runs)
                run += threads
            }
        }
        if let failure { throw failure }
        shared.not_recovered.sort { $0.run < $1.run }
        return shared
    }

    /// What one meter's life went through: faults injected, and how each boot after one ended.
    struct LifeCounts {
        var cuts = 0, flips = 0, lostAcks = 0
        var old = 0, new = 0, detected = 0, silent = 0
    }

    /// One meter's life. Returns its result and the faults injected.
    func life(_ run: Int) throws -> (RunResult, LifeCounts) {
        let bench = try FaultBench(seed: options.seed &* 1_000_003 &+ UInt64(run), keyMode: options.keyMode)
        var rng = SplitMix64(seed: options.seed ^ (UInt64(run) &* 0xA24B_AED4_963E_E407))
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
        recovered_old += c.old
        recovered_new += c.new
        detected_corruptions += c.detected
        silent_corruptions += c.silent
        lost_readings += r.lost
        labels_encrypted_twice += r.twice
        if r.bricked { bricked_meters += 1 }
        power_cuts = (power_cuts ?? 0) + c.cuts
        bit_flips = (bit_flips ?? 0) + c.flips
        lost_acks = (lost_acks ?? 0) + c.lostAcks
        if !r.clean && not_recovered.count < 20 {
            not_recovered.append(
                FaultRunRecord(run: r.run, fault: r.fault, outcome: r.outcome.rawValue, detail: r.detail))
        }
    }
}

extension SimulatedMeter {
    /// Labels of the readings still in the outbox.
    func pendingLabelsList() -> [UInt64] { (0..<firmware.pendingReadings).map { firmware.pendingLabel($0) } }
}
