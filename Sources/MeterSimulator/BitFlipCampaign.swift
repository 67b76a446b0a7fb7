import MeterCrypto
import MeterFirmware

/// Random bit flips at rest in the firmware's flash area, each run followed by a boot.
///
/// The meter under test has lived a while (key setup, readings, a rotation), so its
/// flash holds live records, superseded ones and erased space. Each run restores that
/// flash, flips `flipsPerRun` random bits (position from the seed and the run number),
/// boots, and compares: the booted state with the truth (the state in RAM before the
/// flip), every resent frame with the truth's, and, when a flip hit live data, the
/// next reading's ciphertext with one recomputed from the truth.
struct BitFlipCampaign {
    /// Where a flip landed.
    enum Region: Int {
        case erased = 0, superseded = 1, live = 2
    }

    let options: FaultCampaignOptions

    /// Which bytes are live, superseded or erased: parsed here from the layout's
    /// documented offsets, independently of the firmware's loader.
    static func regions(_ flash: [UInt8], layout: MeterFlashLayout, keyMode: KeyMode, outboxEntryBytes: Int) -> [UInt8]
    {
        let ss = Int(layout.sectorSize)
        var map = [UInt8](repeating: 0, count: flash.count)
        for (i, b) in flash.enumerated() where b != 0xFF { map[i] = UInt8(Region.superseded.rawValue) }
        // Whole slots and entries count: their padding is covered by their checksums.
        func live(_ range: Range<Int>) { for i in range { map[i] = UInt8(Region.live.rawValue) } }
        func load64(_ at: Int) -> UInt64 { flash[at..<(at + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
        func load32(_ at: Int) -> UInt32 { flash[at..<(at + 4)].reduce(0) { $0 << 8 | UInt32($1) } }
        // Key store: the committed slot with the highest sequence; the markers.
        var newest: (seq: UInt32, at: Int)? = nil
        for s in 0..<2 {
            let base = (Int(layout.keyStoreSector) + s) * ss
            if flash[base + ss - 16] != 0xFF { live((base + ss - 16)..<(base + ss)) }
            for index in 0..<((ss - 16) / KeyStore.slotBytes) {
                let at = base + index * KeyStore.slotBytes
                if flash[at..<(at + KeyStore.slotBytes)].contains(where: { $0 != 0xFF }) {
                    for i in at..<(at + KeyStore.slotBytes) { map[i] = UInt8(Region.superseded.rawValue) }
                }
                guard flash[at + KeyStore.slotBytes - 1] == 0, load32(at) == 0x504D_4B32 else { continue }
                let seq = load32(at + 4)
                if newest == nil || seq > newest!.seq { newest = (seq, at) }
            }
        }
        if let n = newest { live(n.at..<(n.at + KeyStore.slotBytes)) }
        // Expanded key (key mode expanded).
        if keyMode == .expanded {
            let base = Int(layout.expandedKeySector) * ss
            live(base..<(base + LWRParameters.maxLambda * 8))
        }
        // Outbox: unacknowledged entries, the entry with the newest label, the markers.
        let e = outboxEntryBytes
        var newestLabel: (label: UInt64, at: Int)? = nil
        for s in 0..<Int(layout.outboxSectors) {
            let base = (Int(layout.outboxSector) + s) * ss
            if flash[base + ss - 16] != 0xFF { live((base + ss - 16)..<(base + ss)) }
            for slot in 0..<((ss - 16) / e) {
                let at = base + slot * e
                if flash[at..<(at + e)].contains(where: { $0 != 0xFF }) {
                    for i in at..<(at + e) { map[i] = UInt8(Region.superseded.rawValue) }
                }
                guard flash[at + e - 2] == 0, flash[at] == 0x52 else { continue }
                let label = load64(at + 8)
                if flash[at + e - 1] == 0xFF { live(at..<(at + e)) }
                if newestLabel == nil || label >= newestLabel!.label { newestLabel = (label, at) }
            }
        }
        if let n = newestLabel { live(n.at..<(n.at + e)) }
        return map
    }

    func run(progress: @escaping @Sendable (Int, Int) -> Void) throws -> FaultCampaignReport {
        let bench = try FaultBench(seed: options.seed, keyMode: options.keyMode)
        let (reference, _) = try bench.referenceLife(readings: 40)
        let truth = try StoreTruth.intent(of: reference)
        guard let record = truth.record else { throw FaultCampaignError.referenceRun("no state") }
        let flash = reference.board.flashSnapshot()
        let entryBytes = Outbox.entryBytes(forFrame: Frame.size(payloadLength: 8))
        let map = Self.regions(flash, layout: bench.layout, keyMode: options.keyMode, outboxEntryBytes: entryBytes)
        let runs = options.flips
        var report = FaultCampaignReport(.bitFlip, seed: options.seed)
        report.flipsPerRun = options.flipsPerRun
        if let r = options.replay {
            guard r >= 0 && r < runs else { throw FaultCampaignError.noSuchRun(r, runs: runs) }
            let meter = try bench.makeMeter(1, provision: false)
            let (result, region, fixed) = try flipRun(
                r, meter: meter, bench: bench, flash: flash, map: map, truth: truth, record: record)
            add(result, region: region, corrected: fixed, to: &report)
            report.replayed = FaultRunRecord(
                run: r, fault: result.fault, outcome: result.outcome.rawValue, detail: result.detail)
            return report
        }
        // Runs are independent: split them over threads, each with its own board.
        let runner = ParallelRunner(threads: options.threads)
        let outcomes = try runner.map(
            runs,
            worker: { (_: Int) throws -> (bench: FaultBench, meter: SimulatedMeter) in
                let local = try FaultBench(seed: options.seed, keyMode: options.keyMode)
                return (bench: local, meter: try local.makeMeter(1, provision: false))
            },
            progress: { done, total in if done % 1000 == 0 || done == total { progress(done, total) } }
        ) { (worker: inout (bench: FaultBench, meter: SimulatedMeter), run: Int) throws in
            try flipRun(
                run, meter: worker.meter, bench: worker.bench, flash: flash, map: map, truth: truth, record: record)
        }
        for (result, region, fixed) in outcomes { add(result, region: region, corrected: fixed, to: &report) }
        return report
    }

    func add(_ r: RunResult, region: Region, corrected: Bool, to report: inout FaultCampaignReport) {
        report.add(r)
        switch region {
        case .live: report.flipsOnLiveData = (report.flipsOnLiveData ?? 0) + 1
        case .superseded: report.flipsOnSupersededData = (report.flipsOnSupersededData ?? 0) + 1
        case .erased: report.flipsOnErasedFlash = (report.flipsOnErasedFlash ?? 0) + 1
        }
        if corrected { report.corrected = (report.corrected ?? 0) + 1 }
        // A flip on live data that the meter neither corrected-and-reported nor refused
        // to use is not detected: count it as silent.
    }

    /// One run: restore, flip, boot, compare.
    func flipRun(
        _ run: Int, meter: SimulatedMeter, bench: FaultBench, flash: [UInt8], map: [UInt8], truth: StoreTruth,
        record: MeterRecord
    ) throws -> (RunResult, Region, Bool) {
        meter.board.restoreFlash(flash)
        var rng = SeededGenerator(seed: options.seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(run))
        var region = Region.erased
        var where_: [String] = []
        for _ in 0..<options.flipsPerRun {
            let address = Int(rng.next() % UInt64(flash.count))
            let bit = UInt32(rng.next() % 8)
            meter.board.flipBit(address: UInt32(address), bit: bit)
            let r = Region(rawValue: Int(map[address]))!
            if r.rawValue > region.rawValue { region = r }
            where_.append("0x\(String(address, radix: 16)) bit \(bit) (\(r))")
        }
        try meter.reboot()
        _ = meter.firmware.poll()  // boot report and resend
        var log = RadioLog()
        log.collect(meter)
        var result = RunResult(run: run, fault: "flip at " + where_.joined(separator: ", "), outcome: .silent)
        var reported = log.statuses.contains(.keyStoreRepaired)
        switch Observation(meter) {
        case .corrupt:
            result.outcome = .detected
            result.detail = "store reported corrupt, nothing encrypted"
        case .state(let s) where s.matches(truth):
            result.outcome = .recoveredOld
        case .state(let s): result.detail = "booted a different state: " + truth.differences(s).joined(separator: ", ")
        case .unreadable(let why): result.detail = why
        }
        // Resent frames must be the truth's, byte for byte.
        for (label, frames) in log.readings where frames != [truth.pending[label] ?? []] {
            result.outcome = .silent
            result.detail += " resent a wrong frame for label \(label)"
        }
        // When live data was hit and the meter still encrypts: is it the truth's ciphertext?
        if region == .live && meter.firmware.storeError == nil && meter.firmware.phase == .ready {
            let label = truth.nextLabel
            if (try? meter.firmware.encryptAndSend(label: label, reading: 5)) != nil {
                var after = RadioLog()
                after.collect(meter)
                let expected = bench.expectedFrame(record: record, label: label, reading: 5)
                if after.readings[label] != [expected] {
                    result.outcome = .silent
                    result.detail += " encrypted label \(label) under a corrupt state"
                }
                if after.statuses.contains(.keyStoreRepaired) && !reported {
                    // The expanded key is checked when it is used, not at boot.
                    reported = true
                    result.detail += " (expanded key repaired on use)"
                }
            } else {
                result.detail += " refused to encrypt label \(label)"
            }
        }
        if region == .live && !reported && result.outcome == .recoveredOld {
            result.outcome = .silent
            result.detail = "a flip on live data was neither reported nor refused"
        }
        let fixed = reported && result.outcome == .recoveredOld
        return (result, region, fixed)
    }
}
