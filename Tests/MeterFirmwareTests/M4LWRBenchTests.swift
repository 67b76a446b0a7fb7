import Aggregation
import Foundation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning
import Testing

/// Ciphertexts across the ISA boundary (issue 11, item 5): the LWR-PSA firmware core,
/// `Meter<LWRScheme>`, runs on the emulated Cortex-M4 (bench/m4/LWRBench.swift on QEMU's
/// mps2-an386) as one member of a group of three; the other two are host-simulated meters.
/// The x86 key setup and aggregator take the M4's frames with the host meters' and must
/// decrypt every label's sum exactly.
///
/// Runs only when scripts/m4-lwr-bench.sh sets M4_LWR_BENCH_ELF (the built image) and
/// M4_LWR_BENCH_DIR (a work folder); the script sets M4_LWR_BENCH_REQUIRED=1 so a
/// missing image fails instead of skipping.
@Suite("LWR-PSA frames from the emulated Cortex-M4")
struct M4LWRBenchTests {
    static let environment = ProcessInfo.processInfo.environment
    static let enabled = environment["M4_LWR_BENCH_ELF"] != nil || environment["M4_LWR_BENCH_REQUIRED"] == "1"

    /// The constant power the M4's ADC reads: 20 kW for 15 minutes is 5 000 Wh per label.
    static let m4Milliwatts: UInt32 = 20_000_000
    static let m4WattHours: UInt64 = 5_000
    static let labels = 5

    /// One run of the bench: the group's key mode, and whether the meter bills its readings
    /// (a signed three-rate tariff for labels 1 ... 96 after key setup: every reading of the
    /// run is added to the billing journal, docs/spec/billing.md).
    struct BenchCase: Sendable, CustomStringConvertible {
        let keyMode: KeyMode
        let billed: Bool
        var description: String { (keyMode == .seed ? "seed" : "expanded") + (billed ? "-billed" : "") }
    }

    /// The cases the bench runs: seed, expanded and seed-billed by default;
    /// M4_LWR_BENCH_MODES=seed (a comma-separated list of those names) runs fewer.
    static let cases: [BenchCase] = {
        let names = (environment["M4_LWR_BENCH_MODES"] ?? "seed,expanded,seed-billed").split(separator: ",")
        return [
            BenchCase(keyMode: .seed, billed: false), BenchCase(keyMode: .expanded, billed: false),
            BenchCase(keyMode: .seed, billed: true),
        ].filter { names.contains(Substring($0.description)) }
    }()

    @Test("the x86 aggregator decrypts the M4 meter's frames exactly", .enabled(if: enabled), arguments: cases)
    func crossISA(case benchCase: BenchCase) throws {
        let keyMode = benchCase.keyMode
        let env = Self.environment
        let elf = try #require(env["M4_LWR_BENCH_ELF"], "M4_LWR_BENCH_ELF not set")
        let base = URL(fileURLWithPath: try #require(env["M4_LWR_BENCH_DIR"], "M4_LWR_BENCH_DIR not set"))
        // One work folder per case: the runs may go in parallel.
        let work = base.appendingPathComponent(benchCase.description)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let qemuRun = root.appendingPathComponent("scripts/qemu-run.sh").path

        let authority = ProvisioningAuthority(seed: 11)
        let model = LoadModel(maxWattHoursPerInterval: 5_000)
        var hostMeters: [SimulatedMeter] = []
        var expected: [[UInt64]] = []
        for id in UInt32(1)...2 {
            let profile = model.household(seed: 77 &+ UInt64(id))
            hostMeters.append(
                try SimulatedMeter(
                    factory: authority.manufacture(meter: id), seed: UInt64(id) &* 1_000_003, profile: profile,
                    sampleSeconds: 1, scheme: .lwrPSA))
            expected.append(
                ExpectedMetering(profile: profile, ticksPerSecond: 1000, sampleSeconds: 1).readings(
                    count: Self.labels + 2))
        }
        let m4ID: UInt32 = 3
        let m4Factory = authority.manufacture(meter: m4ID)
        let epoch = authority.issueEpoch()
        let members = try authority.members(group: 1, epoch: epoch, scheme: .lwrPSA, meters: [1, 2, m4ID])
        let setup = try LWRKeySetup(
            members: members, parameters: .standard, maxReading: 5_000, keyMode: keyMode.rawValue)

        // The M4 meter's board files.
        let flash = work.appendingPathComponent("flash.bin")
        try? FileManager.default.removeItem(at: flash)
        var adc = Data()
        for _ in 0..<4 { withUnsafeBytes(of: Self.m4Milliwatts.littleEndian) { adc.append(contentsOf: $0) } }
        try adc.write(to: work.appendingPathComponent("adc.bin"))
        let boardOptions = ["flash=flash.bin", "adc=adc.bin", "rng-seed=3", "radio-in=in.bin", "radio-out=out.bin"]

        // 1. Factory keys and the enrolment request: the M4 answers with its public key.
        var factoryFrame: [UInt8] = [0x46, 0x4B, 0x45, 0x59]
        withUnsafeBytes(of: m4ID.littleEndian) { factoryFrame += $0 }
        factoryFrame += m4Factory.frameSecret + m4Factory.enrolmentKey + m4Factory.authorityKey
        #expect(factoryFrame.count == 104)
        let enrol = setup.enrolFrames()
        for meter in hostMeters {
            for request in enrol where request.meter == meter.id { try meter.handle(request.frame) }
            for frame in meter.takeSent() where Self.type(frame) == .publicKey { _ = try setup.receivePublicKey(frame) }
        }
        let m4Enrol = enrol.filter { $0.meter == m4ID }.map(\.frame)
        let run1 = try Self.runQEMU(
            qemuRun, elf: elf, work: work, input: [factoryFrame] + m4Enrol,
            options: boardOptions + ["factory=1", "passes=\(m4Enrol.count + 2)"])
        let m4Keys = run1.sent.filter { Self.type($0) == .publicKey }
        try #require(m4Keys.count == 1, "the M4 sent \(m4Keys.count) public keys; its report:\n\(run1.report)")
        _ = try setup.receivePublicKey(m4Keys[0])

        // 2. The authority signs the group; statement and roster to every meter.
        let signed = try authority.signGroup(
            group: 1, epoch: epoch, parameterID: setup.parameterByte, keyMode: setup.keyMode,
            maxReading: setup.maxReading, enrolments: setup.enrolments)
        try setup.install(signed)
        var hostSent: [[[UInt8]]] = [[], []]
        for (i, meter) in hostMeters.enumerated() {
            for frame in try setup.setupFrames(for: meter.id) { try meter.handle(frame) }
            hostSent[i] = meter.takeSent()
            #expect(meter.firmware.phase == .ready)
        }
        // With billing, the signed tariff follows the roster (its statement verified on the M4
        // during the setup passes, not in any label's figure).
        let tariffFrames =
            benchCase.billed
            ? FrameIntake(members: members).statementFrames(
                authority.signTariff(.threeRate, group: 1, period: 1...96, epoch: epoch).statement, to: m4ID) : []
        let m4Setup = try setup.setupFrames(for: m4ID) + tariffFrames
        // The aggregator's acknowledgements, as it sends them for each authentic reading, for
        // every label but the last (labels 1-3): the meter lets those readings go; label 4 stays
        // unacknowledged (as if its ack were lost) for the power-cut case's resend.
        let peer = AckPeer(
            intake: FrameIntake(members: members), out: work.appendingPathComponent("out.bin"),
            inbox: work.appendingPathComponent("in.bin"), acknowledgeBelow: UInt64(Self.labels - 1))
        let run2 = try Self.runQEMU(
            qemuRun, elf: elf, work: work, input: m4Setup,
            options: boardOptions + [
                "passes=\(m4Setup.count + 2)", "labels=\(Self.labels)", "acks=\(Self.labels - 2)",
            ], peer: peer)
        #expect(peer.acknowledged == Array(1..<UInt64(Self.labels - 1)), "acknowledged: \(peer.acknowledged)")
        #expect(run2.report.contains("ready 1"), "the M4 meter is not ready; its report:\n\(run2.report)")
        // Billed: labels 1-4 stored, each counted once in the open period; otherwise none.
        let metered = "billing-metered-labels \(benchCase.billed ? Self.labels - 1 : 0)\n"
        #expect(run2.report.contains(metered), "expected \(metered)in the report:\n\(run2.report)")
        let m4Sent = Self.unique(run2.sent)
        for frame in hostSent.joined() + m4Sent where Self.type(frame) == .keyShare {
            _ = try setup.receiveKeyShare(frame)
        }
        let aggregator = try LWRAggregator(
            members: members, parameters: .standard, bounds: setup.bounds, aggregateKey: setup.aggregateKey(),
            currentLabel: 0)

        // 3. Labels: the host meters sample their load profiles; the M4 sent its readings.
        var hostReadings: [[[UInt8]]] = [[], []]
        for _ in 0..<(Self.labels + 2) {  // two more for the power-cut case's labels 5 and 6
            for (i, meter) in hostMeters.enumerated() {
                for _ in 0..<900 {
                    meter.advance(ticks: 1000)
                    _ = meter.firmware.poll()
                    meter.firmware.idle()
                }
                hostReadings[i] += meter.takeSent().filter { Self.type($0) == .reading }
            }
        }
        let m4Readings = m4Sent.filter { Self.type($0) == .reading }
        var m4Labels: Set<UInt64> = []
        for frame in m4Readings { m4Labels.insert(try Frame.parseHeader(frame.span).label) }
        // Unacknowledged readings are resent byte-identical: each counted once.
        // Every full label (the first one may have begun before the meter was ready).
        let full = (1..<UInt64(Self.labels)).filter { m4Labels.contains($0) }
        #expect(full == Array(1..<UInt64(Self.labels)), "the M4 sent readings for labels \(m4Labels.sorted())")
        for label in full {
            let sum = try Self.decryptSum(aggregator, label: label, frames: hostReadings.joined() + m4Readings)
            let truth = expected[0][Int(label)] + expected[1][Int(label)] + Self.m4WattHours
            #expect(sum == truth, "label \(label): decrypted \(sum), readings sum to \(truth)")
        }

        // 4. A power cut in the middle of the outbox write (seed mode only: one case is
        // enough, the exhaustive campaigns are the host's).
        var cutReport = ""
        if keyMode == .seed && !benchCase.billed {
            let cut = try Self.powerCut(qemuRun, elf: elf, work: work, options: boardOptions)
            cutReport = cut.report
            #expect(
                cut.report.contains("boot-count 2") && cut.report.contains("after-cut 1"),
                "no reset after the cut; the report:\n\(cut.report)")
            // Per label, one frame only, whatever was resent before or after the cut.
            var byLabel: [UInt64: Set<[UInt8]>] = [:]
            for frame in run2.sent + cut.sent where Self.type(frame) == .reading {
                byLabel[try Frame.parseHeader(frame.span).label, default: []].insert(frame)
            }
            for (label, frames) in byLabel.sorted(by: { $0.key < $1.key }) {
                #expect(frames.count == 1, "label \(label): \(frames.count) different frames")
            }
            // The unacknowledged reading of label 4 is sent again after the cut, byte-identical;
            // the acknowledged ones (labels 1-3) are not.
            var cutLabels: [UInt64: Int] = [:]
            for frame in cut.sent where Self.type(frame) == .reading {
                cutLabels[try Frame.parseHeader(frame.span).label, default: 0] += 1
            }
            let last = UInt64(Self.labels - 1)
            #expect(cutLabels[last, default: 0] >= 1, "label \(last) not resent: \(cutLabels)")
            for label in full where label < last {
                #expect(cutLabels[label] == nil, "label \(label) was acknowledged, yet resent: \(cutLabels)")
            }
            // Label 6 (after the reboot) is there, and every label after 4 decrypts exactly.
            #expect(cutLabels[6] != nil, "no reading for label 6 after the cut: \(cutLabels)")
            let m4Late = cut.sent.filter { Self.type($0) == .reading }
            for label in UInt64(Self.labels)...UInt64(Self.labels + 1) where cutLabels[label] != nil {
                let sum = try Self.decryptSum(aggregator, label: label, frames: hostReadings.joined() + m4Late)
                let truth = expected[0][Int(label)] + expected[1][Int(label)] + Self.m4WattHours
                #expect(sum == truth, "label \(label) after the cut: decrypted \(sum), readings sum to \(truth)")
            }
            cutReport =
                "power-cut-labels " + cutLabels.keys.sorted().map(String.init).joined(separator: ",")
                + " (cut-after=\(cut.cutAfter))\n" + cut.report
        }
        try (run1.report + run2.report + cutReport).write(
            to: base.appendingPathComponent("report-\(benchCase).txt"), atomically: true,
            encoding: .utf8)
    }

    /// The power-cut case on the emulated board: a dry run on a copy of the flash file finds
    /// the flash operations before the first boundary's outbox write (label 5, the clock set
    /// past run 2's); the real run cuts the power in the middle of that write's first
    /// operation (cut-mode=half) and resets the board in the same QEMU (the flash is the
    /// file, kept): the meter boots again, resends what is pending and meters label 6.
    static func powerCut(
        _ qemuRun: String, elf: String, work: URL, options: [String]
    ) throws -> (sent: [[UInt8]], report: String, cutAfter: UInt64) {
        let fm = FileManager.default
        let flash = work.appendingPathComponent("flash.bin")
        let kept = work.appendingPathComponent("flash-before-cut.bin")
        try? fm.removeItem(at: kept)
        try fm.copyItem(at: flash, to: kept)
        let clock = ["rtc=\(5 * 900_000 + 100_000)", "labels=1", "phases=0"]
        let dry = try runQEMU(qemuRun, elf: elf, work: work, input: [], options: options + clock)
        let line = dry.report.split(separator: "\n").first { $0.hasPrefix("first-write-flash-ops-before ") }
        let before = try #require(line.flatMap { UInt64($0.split(separator: " ")[1]) }, "dry run:\n\(dry.report)")
        try fm.removeItem(at: flash)
        try fm.copyItem(at: kept, to: flash)
        let cut = try runQEMU(
            qemuRun, elf: elf, work: work, input: [],
            options: options + clock + ["cut-after=\(before)", "cut-mode=half", "cut-action=reset"])
        return (cut.sent, cut.report, before)
    }

    /// Gives the aggregator every frame of `label` among `frames` (byte-identical resends
    /// once) and returns the decrypted sum.
    static func decryptSum(_ aggregator: LWRAggregator, label: UInt64, frames: [[UInt8]]) throws -> UInt64 {
        try aggregator.advance(to: label)
        for frame in unique(frames) where try Frame.parseHeader(frame.span).label == label {
            _ = try aggregator.accept(frame)
        }
        return try aggregator.decryptSum(label: label)
    }

    static func type(_ frame: [UInt8]) -> FrameType? {
        (try? Frame.parseHeader(frame.span))?.type
    }

    /// Byte-identical resends once.
    static func unique(_ frames: [[UInt8]]) -> [[UInt8]] {
        var seen: Set<[UInt8]> = []
        return frames.filter { seen.insert($0).inserted }
    }

    /// Writes the radio input, runs the image on QEMU in `work`, returns what it sent and printed.
    static func runQEMU(
        _ qemuRun: String, elf: String, work: URL, input: [[UInt8]], options: [String], peer: AckPeer? = nil
    ) throws -> (sent: [[UInt8]], report: String) {
        var data = Data()
        for frame in input {
            withUnsafeBytes(of: UInt32(frame.count).littleEndian) { data.append(contentsOf: $0) }
            data.append(contentsOf: frame)
        }
        try data.write(to: work.appendingPathComponent("in.bin"))
        try? FileManager.default.removeItem(at: work.appendingPathComponent("out.bin"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: qemuRun)
        process.arguments = ["--shift", "0", elf] + options
        process.currentDirectoryURL = work
        let pipe = Pipe()
        process.standardOutput = pipe
        peer?.start()
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        peer?.stop()
        let report = String(decoding: output, as: UTF8.self)
        try #require(process.terminationStatus == 0, "QEMU exited with \(process.terminationStatus):\n\(report)")
        let out = (try? Data(contentsOf: work.appendingPathComponent("out.bin"))) ?? Data()
        var frames: [[UInt8]] = []
        var bytes = [UInt8](out)[...]
        while bytes.count >= 4 {
            let n =
                Int(bytes[bytes.startIndex]) | Int(bytes[bytes.startIndex + 1]) << 8
                | Int(bytes[bytes.startIndex + 2]) << 16 | Int(bytes[bytes.startIndex + 3]) << 24
            bytes = bytes.dropFirst(4)
            guard bytes.count >= n else { break }
            frames.append(Array(bytes.prefix(n)))
            bytes = bytes.dropFirst(n)
        }
        return (frames, report)
    }
}

/// The aggregator's side of the radio while the M4 runs: reads the frames the meter appends
/// to radio-out and answers each authentic reading of a label below `acknowledgeBelow` with
/// the acknowledgement the aggregator sends (`FrameIntake.open`, then
/// `acknowledgement(to:label:)`, as `acceptAndAcknowledge` does), appended to radio-in. The
/// bench (`acks=N`) waits for each of its first N readings' acks before the next sample.
final class AckPeer: @unchecked Sendable {
    let intake: FrameIntake
    let out: URL
    let inbox: URL
    let acknowledgeBelow: UInt64
    private let lock = NSLock()
    private var running = false
    private var done: DispatchSemaphore? = nil
    private var labels: [UInt64] = []

    init(intake: FrameIntake, out: URL, inbox: URL, acknowledgeBelow: UInt64) {
        self.intake = intake
        self.out = out
        self.inbox = inbox
        self.acknowledgeBelow = acknowledgeBelow
    }

    /// The labels acknowledged, in order.
    var acknowledged: [UInt64] { lock.withLock { labels } }

    func start() {
        lock.withLock { running = true }
        let finished = DispatchSemaphore(value: 0)
        done = finished
        let thread = Thread { [self] in
            serve()
            finished.signal()
        }
        thread.start()
    }

    func stop() {
        lock.withLock { running = false }
        done?.wait()
        done = nil
    }

    private func serve() {
        var position = 0
        var answered: Set<UInt64> = []
        while lock.withLock({ running }) {
            let data = [UInt8]((try? Data(contentsOf: out)) ?? Data())
            var progressed = false
            while data.count >= position + 4 {
                let n =
                    Int(data[position]) | Int(data[position + 1]) << 8 | Int(data[position + 2]) << 16
                    | Int(data[position + 3]) << 24
                guard data.count >= position + 4 + n else { break }
                let frame = Array(data[(position + 4)..<(position + 4 + n)])
                position += 4 + n
                progressed = true
                guard let opened = try? intake.open(frame, expecting: .reading),
                    opened.header.label < acknowledgeBelow, answered.insert(opened.header.label).inserted
                else { continue }
                let ack = intake.acknowledgement(to: opened.header.meter, label: opened.header.label)
                var record = Data()
                withUnsafeBytes(of: UInt32(ack.count).littleEndian) { record.append(contentsOf: $0) }
                record.append(contentsOf: ack)
                if let handle = try? FileHandle(forWritingTo: inbox) {
                    _ = try? handle.seekToEnd()
                    try? handle.write(contentsOf: record)  // one write: the board reads whole frames
                    try? handle.close()
                }
                lock.withLock { labels.append(opened.header.label) }
            }
            if !progressed { Thread.sleep(forTimeInterval: 0.001) }
        }
    }
}
