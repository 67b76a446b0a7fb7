import Foundation
import MeterCrypto
import MeterFirmware

/// A power cut at every program/erase operation of the meter's life, in each cut mode:
/// provisioning, key setup, outbox appends and acknowledgements (going round the whole
/// outbox ring, with an entry carried forward), a key rotation, and readings after it.
/// Then (LWR-PSA) the copy-forward hunt (`CopyForwardHunt`): long lives through the main
/// loop with acks held back for days, so the outbox copies old entries forward, and
/// random cuts, some of them in the middle of a copy.
///
/// The fault-free reference run is cut into sessions (a boot and the steps until the
/// next boot); each records the flash and RNG before it, the operations of every step
/// and the state the firmware meant to persist after every step. A run restores one
/// session on a fresh board, cuts power at one operation, reboots, and compares the
/// booted state with the states before and after the interrupted step; then it lets the
/// meter recover (resend, retry the reading with a different value, take acks, encrypt
/// the next label) and checks every frame that left the meter against ciphertexts
/// recomputed from the truth.
struct PowerCutCampaign {
    static let modes: [PowerCutMode] = [.before, .partial, .after]

    struct Session {
        let phase: String
        let flash: [UInt8]
        let rng: [UInt64]
        let steps: [Step]
        let operations: [Int]
        /// truths[i] before step i, truths[i + 1] after it.
        let truths: [StoreTruth]
    }

    /// One cut: session, step, operation within the step, mode.
    struct CutPoint {
        let session: Int
        let step: Int
        let operation: Int
        let mode: Int
    }

    let options: FaultCampaignOptions
    let bench: FaultBench

    init(options: FaultCampaignOptions) throws {
        self.options = options
        bench = try FaultBench(
            seed: options.seed, keyMode: options.keyMode, scheme: options.scheme, paillierBits: options.paillierBits)
    }

    /// Golden readings: label → reading.
    static func reading(_ label: UInt64) -> UInt64 { (label &* 37 &+ 11) % FaultBench.maxReading }

    /// The fault-free reference run.
    func reference() throws -> (sessions: [Session], setupFrames: [[[UInt8]]]) {
        let dut = try bench.makeMeter(1, provision: false)
        let peer = try bench.makeMeter(2, provision: true)
        var sessions: [Session] = []
        // Per setup, the downlinks that brought meter 1 into the group, for the recovery.
        var setups: [[[UInt8]]] = []

        func session(_ phase: String, _ body: (inout [Step], inout [Int], inout [StoreTruth]) throws -> Void) throws {
            let flash = dut.board.flashSnapshot()
            let rng = dut.board.rngState
            try dut.reboot()
            var steps: [Step] = []
            var ops: [Int] = []
            var truths = [try StoreTruth.intent(of: dut)]
            try body(&steps, &ops, &truths)
            sessions.append(
                Session(phase: phase, flash: flash, rng: rng, steps: steps, operations: ops, truths: truths))
        }
        func run(_ step: Step, _ steps: inout [Step], _ ops: inout [Int], _ truths: inout [StoreTruth]) throws {
            let before = dut.board.flashOperations
            step.perform(on: dut)
            steps.append(step)
            ops.append(Int(dut.board.flashOperations - before))
            truths.append(try StoreTruth.intent(of: dut))
        }
        func setup(_ phase: String) throws {
            let rotation = !setups.isEmpty
            if bench.scheme == .paillier {
                // Key delivery: one signed statement in chunks; the rotation delivers the second key.
                let frames = try bench.paillierKeyFrames(meter: 1, index: setups.count)
                try session(phase) { steps, ops, truths in
                    _ = dut.takeSent()
                    for (c, frame) in frames.enumerated() {
                        try run(.downlink(frame, "statement chunk \(c)"), &steps, &ops, &truths)
                    }
                    _ = dut.takeSent()
                    guard dut.firmware.paillierReady else {
                        throw FaultCampaignError.referenceRun("\(phase) did not finish")
                    }
                }
                setups.append(frames)
                return
            }
            try session(phase) { steps, ops, truths in
                let s = try bench.newSetup(epoch: rotation ? FaultBench.rotationEpoch : FaultBench.setupEpoch)
                let enrols = s.enrolFrames()
                _ = dut.takeSent()
                try run(.downlink(enrols[0].frame, "enrolRequest"), &steps, &ops, &truths)
                for f in dut.takeSent() where f[1] == FrameType.publicKey.rawValue { try s.receivePublicKey(f) }
                if rotation { peer.advance(ticks: 86_400_000) }  // enrolments: at most one a day
                _ = try peer.handle(enrols[1].frame)
                for f in peer.takeSent() where f[1] == FrameType.publicKey.rawValue { try s.receivePublicKey(f) }
                try s.install(
                    bench.authority.signGroup(
                        group: FaultBench.group, epoch: s.epoch, parameterID: s.parameterByte, keyMode: s.keyMode,
                        maxReading: s.maxReading, enrolments: s.enrolments))
                for f in try s.setupFrames(for: 2) { try peer.handle(f) }
                _ = peer.takeSent()
                let frames = try s.setupFrames(for: 1)
                for (c, frame) in frames.enumerated() {
                    let what = c < Statement.chunkCount ? "statement chunk" : "roster entry"
                    try run(.downlink(frame, "setup \(what) \(c)"), &steps, &ops, &truths)
                }
                _ = dut.takeSent()
                guard dut.firmware.phase == .ready else {
                    throw FaultCampaignError.referenceRun("\(phase) did not finish")
                }
                setups.append([enrols[0].frame] + frames)
            }
        }
        func readings(_ phase: String, count: Int, holdBack: UInt64?) throws {
            let first = dut.firmware.nextLabel
            var log = RadioLog()
            for i in 0..<UInt64(count) {
                let label = first + i
                try session(phase) { steps, ops, truths in
                    try run(.encrypt(label: label, reading: Self.reading(label)), &steps, &ops, &truths)
                }
                log.collect(dut)
                // Acks lag two labels; `holdBack`'s ack is "lost" until the end, so its
                // entry is carried forward when the ring comes round to its sector.
                if i >= 2 && first + i - 2 != holdBack {
                    try session(phase) { steps, ops, truths in
                        let ack = bench.ack(label: label - 2, for: dut)
                        try run(.downlink(ack, "ack label \(label - 2)"), &steps, &ops, &truths)
                    }
                }
            }
            if let held = holdBack {
                try session(phase) { steps, ops, truths in
                    try run(.downlink(bench.ack(label: held, for: dut), "ack label \(held)"), &steps, &ops, &truths)
                }
            }
            guard let record = dut.firmware.storedRecord else { throw FaultCampaignError.referenceRun("no state") }
            log.readings = log.readings.filter { $0.key >= first }  // resent ones from before a rotation
            let wrong = wrongFrames(log, bench: bench, record: record) { [Self.reading($0)] }
            guard wrong.isEmpty, log.labelsEncryptedTwice == 0 else {
                throw FaultCampaignError.referenceRun("\(phase): frames differ from the recomputed ones: \(wrong)")
            }
        }

        try session("provisioning") { steps, ops, truths in try run(.provision, &steps, &ops, &truths) }
        try setup(bench.scheme == .paillier ? "key delivery" : "key setup")
        let n = max(options.readings, 3)
        try readings("outbox", count: n, holdBack: dut.firmware.nextLabel + 1)
        try setup("key rotation")
        try readings("after rotation", count: 4, holdBack: nil)
        return (sessions, setups)
    }

    func run(progress: @escaping @Sendable (Int, Int) -> Void) throws -> FaultCampaignReport {
        let (sessions, setups) = try reference()
        var points: [CutPoint] = []
        var byPhase: [String: Int] = [:]
        for (s, session) in sessions.enumerated() {
            for (j, ops) in session.operations.enumerated() {
                byPhase[session.phase, default: 0] += ops
                for k in 0..<ops {
                    for m in 0..<Self.modes.count {
                        points.append(CutPoint(session: s, step: j, operation: k, mode: m))
                    }
                }
            }
        }
        var report = FaultCampaignReport(.powerCut, seed: options.seed)
        report.cutPoints = byPhase.values.reduce(0, +)
        report.cutPointsByPhase = byPhase
        report.cutModes = Self.modes.map(\.description)
        if let r = options.replay {
            guard r >= 0 && r < points.count else { throw FaultCampaignError.noSuchRun(r, runs: points.count) }
            let result = try cut(points[r], run: r, sessions: sessions, setups: setups)
            report.add(result)
            report.replayed = FaultRunRecord(
                run: r, fault: result.fault, outcome: result.outcome.rawValue, detail: result.detail)
            return report
        }
        for (i, point) in points.enumerated() {
            report.add(try cut(point, run: i, sessions: sessions, setups: setups))
            if i % 50 == 0 || i == points.count - 1 { progress(i + 1, points.count) }
        }
        if options.copyForwardMeters > 0 && options.scheme == .lwrPSA {
            let hunt = try CopyForwardHunt(options: options).run()
            report.copyForward = hunt
            report.labelsEncryptedTwice += hunt.labelsEncryptedTwice
            report.brickedMeters += hunt.stalledMeters
        }
        return report
    }

    func cut(_ p: CutPoint, run: Int, sessions: [Session], setups: [[[UInt8]]]) throws
        -> RunResult
    {
        let session = sessions[p.session]
        let step = session.steps[p.step]
        let mode = Self.modes[p.mode]
        let fault =
            "\(session.phase): \(step.name), flash operation \(p.operation + 1) of \(session.operations[p.step]), cut \(mode)"
        let meter = try bench.makeMeter(1, provision: false)
        meter.board.restoreFlash(session.flash)
        meter.board.rngState = session.rng
        try meter.reboot()
        var log = RadioLog()
        for earlier in session.steps[0..<p.step] { earlier.perform(on: meter) }
        log.collect(meter)
        meter.board.armPowerCut(afterOperations: UInt64(p.operation), mode: mode)
        step.perform(on: meter)
        log.collect(meter)
        guard !meter.board.powered else {
            meter.board.disarmPowerCut()
            return RunResult(
                run: run, fault: fault, outcome: .silent,
                detail: "the step used fewer flash operations than in the reference run")
        }
        try meter.reboot()
        let before = session.truths[p.step]
        let after = session.truths[p.step + 1]
        var result = RunResult(run: run, fault: fault, outcome: .silent)
        switch Observation(meter) {
        case .state(let s) where s.matches(after): result.outcome = .recoveredNew
        case .state(let s) where s.matches(before): result.outcome = .recoveredOld
        case .state(let s):
            result.detail =
                "booted \(s.describe()); vs before: \(before.differences(s).joined(separator: ", ")); vs after: \(after.differences(s).joined(separator: ", "))"
        case .corrupt:
            result.outcome = .detected
            result.detail = "the meter found its store corrupt"
        case .unreadable(let why): result.detail = why
        }

        // Recovery: what a real meter goes through next.
        _ = meter.firmware.poll()  // boot report, outbox resent
        log.collect(meter)
        var allowed: [UInt64: [UInt64]] = [:]
        var expectedDelivered = Set(before.pending.keys)
        switch step {
        case .encrypt(let label, let reading):
            // The interval's energy is still known: try again, with a different reading,
            // which the meter must refuse if the first one was committed.
            do { try meter.firmware.encryptAndSend(label: label, reading: (reading + 1) % FaultBench.maxReading) } catch
            {
                result.detail += " retry: \(error)"
            }
            log.collect(meter)
            allowed[label] = [reading, (reading + 1) % FaultBench.maxReading]
            expectedDelivered.insert(label)
        case .provision:
            if meter.firmware.storeError != nil { try? meter.provisionFirmware() }
        case .downlink(_, let what)
        where what == "enrolRequest" || what.hasPrefix("setup ") || what.hasPrefix("statement"):
            let rotation = session.phase == "key rotation"
            // Under Paillier a meter that kept the old key is ready too: it gets the new one again.
            let oldKey =
                bench.scheme == .paillier && rotation
                && !(meter.firmware.storedRecord.map { r in after.record.map { bench.sameKeys(r, $0) } ?? false }
                    ?? false)
            if !bench.ready(meter) || oldKey {
                // The aggregator restarts key setup (or delivers the key again) for a meter
                // that did not take it.
                for frame in setups[rotation ? setups.count - 1 : 0] { _ = try? meter.handle(frame) }
                if bench.scheme != .paillier && meter.firmware.phase != .ready {
                    // The enrolled key was lost with the cut: the meter enrols anew and
                    // the group is signed again, at a later epoch.
                    log.collect(meter)
                    meter.advance(ticks: 86_400_000)
                    do { try bench.joinFresh(dut: meter, epoch: FaultBench.rejoinEpoch) } catch {
                        result.detail += " rejoin: \(error)"
                    }
                }
                log.collect(meter)
            }
        case .downlink: break
        }
        let lostLabels = expectedDelivered.subtracting(log.readings.keys)
        result.lost = lostLabels.count
        result.twice = log.labelsEncryptedTwice
        // Every frame that left the meter: a pending one byte-identical to the truth's
        // (verified against recomputed ciphertexts in the reference run), a new one equal to
        // the ciphertext recomputed from the truth's seed.
        var wrong: [UInt64] = []
        for (label, frames) in log.readings {
            if let stored = before.pending[label] ?? after.pending[label], allowed[label] == nil {
                if frames != [stored] { wrong.append(label) }
            } else if let record = after.record ?? before.record, bench.ready(record),
                meter.firmware.storedRecord.map({ bench.sameKeys($0, record) }) ?? false
            {
                let ok = allowed[label] ?? [Self.reading(label)]
                if !frames.allSatisfy({ bench.allows($0, record: record, label: label, readings: ok) }) {
                    wrong.append(label)
                }
            }
        }
        if !wrong.isEmpty {
            result.outcome = .silent
            result.detail += " frames for labels \(wrong.sorted()) are not the truth's"
        }
        // Not bricked: after acks, the meter still encrypts its next label.
        acknowledgeAll(log, bench: bench, meter: meter)
        if bench.ready(meter) {
            let next = meter.firmware.nextLabel
            do { try meter.firmware.encryptAndSend(label: next, reading: 1) } catch {
                result.bricked = true
                result.detail += " cannot encrypt label \(next) after recovery: \(error)"
            }
        } else if meter.firmware.storeError == .corrupt || session.phase != "provisioning"
            || meter.firmware.phase == nil
        {
            result.bricked = true
            result.detail += " not ready after recovery"
        }
        if !lostLabels.isEmpty { result.detail += " lost readings \(lostLabels.sorted())" }
        return result
    }
}

extension Span where Element == UInt8 {
    func elementsEqual(_ other: Span<UInt8>) -> Bool {
        guard count == other.count else { return false }
        for i in 0..<count where self[i] != other[i] { return false }
        return true
    }
}
