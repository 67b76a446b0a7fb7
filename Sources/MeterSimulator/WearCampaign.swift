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
        wear.ratedCycles = ratedCycles
        wear.simulatedYears = years
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
        wear.outboxErasesPerSectorPerYear = rate(bench.outboxSectors)
        wear.keyStoreErasesPerSectorPerYear = rate(layout.keyStoreSector..<(layout.keyStoreSector + 2))
        wear.programOperationsPerYear =
            Double(meter.board.flashPrograms - programsBefore) / (Double(readings) / Double(365 * Self.perDay))
        let worst = max(wear.outboxErasesPerSectorPerYear, wear.keyStoreErasesPerSectorPerYear)
        wear.projectedLifetimeYears = worst > 0 ? Double(wear.ratedCycles) / worst : .infinity
        return worst
    }

    func run(progress: @escaping @Sendable (Int, Int) -> Void) throws -> FaultCampaignReport {
        var report = FaultCampaignReport(.wear, seed: options.seed)
        var wear = WearReport()
        wear.ratedCycles = options.ratedCycles
        wear.wearOutCycles = options.wearOutCycles
        wear.simulatedYears = options.years
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
                    wear.readingsStored += 1
                } catch {
                    refusedToday += 1
                    wear.readingsRefused += 1
                    if wear.stoppedStoringDay == nil { wear.stoppedStoringDay = day }
                }
                log.collect(worn)
                _ = try? worn.handle(bench.ack(label: label, for: worn))
                label += 1
            }
            if wear.firstWornEraseDay == nil && worn.board.wornErases > 0 { wear.firstWornEraseDay = day }
            if wear.firstRetiredSectorDay == nil && worn.firmware.retiredOutboxSectors > 0 {
                wear.firstRetiredSectorDay = day
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
            (wear.stoppedStoringDay.map {
                "after \($0) days the outbox could no longer be written (\(retired) of \(bench.outboxSectors.count) sectors retired): the meter reports keyStoreWriteFailed and refuses to encrypt, so no label is used without its reading stored"
            } ?? "still storing readings after \(day) days (\(retired) sectors retired)")
            + (wear.firstWornEraseDay.map { "; first erase on a worn sector on day \($0)" } ?? "")
        report.wear = wear
        return report
    }
}
