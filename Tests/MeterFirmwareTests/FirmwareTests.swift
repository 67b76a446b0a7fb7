import Aggregation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning
import TestSupport
import Testing

/// A small LWR-PSA group on simulated boards (`SimulatedGroup`), enrolled and signed by the
/// authority, driven step by step so tests can interfere.
struct TestBench {
    let group: SimulatedGroup
    let setup: LWRKeySetup
    var authority: ProvisioningAuthority { group.authority }
    var meters: [SimulatedMeter] { group.meters }
    var members: GroupMembers { group.members }

    /// Boards with a constant load of `watts` (or `profile`, mW per minute), sampled every
    /// minute; enrolled and signed by the authority (public keys collected by the
    /// aggregator, the group signed).
    init(
        meters n: Int, watts: UInt32 = 1000, profile: [UInt32]? = nil, maxReading: UInt64 = 1000,
        keyMode: KeyMode = .seed
    ) throws {
        group = try SimulatedGroup(
            authority: ProvisioningAuthority(seed: 42), ids: (1...n).map { UInt32($0) },
            profile: { _ in profile ?? [watts * 1000] })
        setup = try group.lwrKeySetup(maxReading: maxReading, keyMode: keyMode)
        try group.enrolAndSign(setup)
    }

    /// Relays the statement and the roster and collects the key shares; returns the aggregator.
    func completeSetup() throws -> LWRAggregator { try group.completeLWR(setup) }

    /// Runs every meter through one 15-minute interval and returns what they sent.
    func runInterval() -> [[[UInt8]]] { group.runInterval() }
}

func frameType(_ frame: [UInt8]) -> FrameType? { FrameType(rawValue: frame[1]) }

func statusCode(_ frame: [UInt8]) -> StatusCode? {
    guard frameType(frame) == .status else { return nil }
    return StatusCode(rawValue: UInt16(frame[24]) << 8 | UInt16(frame[25]))
}

@Suite("Meter firmware")
struct FirmwareTests {
    @Test("a group sets up keys and every interval's sum decrypts exactly", arguments: [KeyMode.seed, .expanded])
    func endToEnd(keyMode: KeyMode) throws {
        let bench = try TestBench(meters: 3, keyMode: keyMode)
        let aggregator = try bench.completeSetup()
        for m in bench.meters {
            #expect(m.firmware.phase == .ready)
            #expect(m.firmware.keyMode == keyMode)
        }
        for label in UInt64(0)..<3 {
            let sent = bench.runInterval()
            // runInterval ends with idle(): the next label's pad is ready before its boundary.
            for m in bench.meters {
                let ready = m.firmware.padPrecomputed
                #expect(ready)
            }
            for (i, all) in sent.enumerated() {
                // The reading, and the customer's sealed detail (CustomerDetailTests).
                #expect(all.map(frameType) == [.reading, .customerDetail])
                let frames = all.filter { frameType($0) == .reading }
                let receipt = try aggregator.acceptAndAcknowledge(frames[0])
                #expect(receipt.reported != nil)
                // Acknowledged readings leave the outbox and are not sent again.
                #expect(try bench.meters[i].handle(receipt.ack) == .acknowledged(label: label))
                #expect(bench.meters[i].firmware.pendingReadings == 0)
            }
            // 1 kW for 15 minutes is 250 Wh per meter.
            #expect(try aggregator.decryptSum(label: label) == 750)
            try aggregator.advance(to: label + 1)
        }
    }

    @Test("the firmware refuses to encrypt a label twice, across reboots")
    func labelOnlyOnce() throws {
        let bench = try TestBench(meters: 2)
        _ = try bench.completeSetup()
        let meter = bench.meters[0]
        try meter.firmware.encryptAndSend(label: 5, reading: 10)
        #expect(meter.firmware.nextLabel == 6)
        #expect(throws: MeterError.labelAlreadyEncrypted(label: 5, next: 6)) {
            try meter.firmware.encryptAndSend(label: 5, reading: 11)
        }
        #expect(throws: MeterError.labelAlreadyEncrypted(label: 4, next: 6)) {
            try meter.firmware.encryptAndSend(label: 4, reading: 11)
        }
        try meter.reboot()
        #expect(meter.firmware.phase == .ready)
        #expect(throws: MeterError.labelAlreadyEncrypted(label: 5, next: 6)) {
            try meter.firmware.encryptAndSend(label: 5, reading: 12)
        }
        try meter.firmware.encryptAndSend(label: 6, reading: 12)
        #expect(meter.takeSent().filter { frameType($0) == .reading }.count == 2)
    }

    @Test("a reading above the maximum is encrypted as the maximum, the excess carried: sums exact, no status")
    func readingAboveMaximum() throws {
        // 2 kW for the first 15 minutes of every hour: 500 Wh, above the agreed 400 Wh.
        let profile = [UInt32](repeating: 2_000_000, count: 15) + [UInt32](repeating: 0, count: 45)
        let bench = try TestBench(meters: 2, profile: profile, maxReading: 400)
        let aggregator = try bench.completeSetup()
        var sums: [UInt64] = []
        for label in UInt64(0)..<4 {
            let sent = bench.runInterval()
            for (i, frames) in sent.enumerated() {
                #expect(frames.compactMap(statusCode).isEmpty)
                #expect(frames.filter { frameType($0) == .reading }.count == 1)
                for frame in frames where frameType(frame) == .reading {
                    _ = try bench.meters[i].handle(try aggregator.acceptAndAcknowledge(frame).ack)
                }
            }
            sums.append(try aggregator.decryptSum(label: label))
            try aggregator.advance(to: label + 1)
        }
        // 15 one-minute samples at 2 kW per meter over the 4 intervals (the first interval
        // holds 14 of them: 467 Wh): 400 and the excess carried on, the total exact.
        #expect(sums[0] == 800)
        #expect(sums.allSatisfy { $0 <= 800 })
        #expect(sums.reduce(0, +) == 1000)
        #expect(bench.meters[0].firmware.carriedEnergy == 0)
        #expect(bench.meters[0].firmware.lostWattHours == 0)
        // The API still refuses (typed) a reading above the maximum; nothing is sent for it.
        _ = bench.meters[0].takeSent()
        #expect(throws: MeterError.readingAboveMaximum(reading: 401, maximum: 400)) {
            try bench.meters[0].firmware.encryptAndSend(label: 9, reading: 401)
        }
        #expect(bench.meters[0].takeSent().isEmpty)
    }

    /// The review's attack: the aggregator sets the maximum to 0, and every nonzero reading
    /// went out in clear as the detail of a `readingAboveMaximum` status (18 of 18).
    @Test("attack: with maximum 0 (or any), no status frame carries a reading", arguments: [UInt64(0), 100, 1000])
    func noReadingInStatusFrames(maximum: UInt64) throws {
        let bench = try TestBench(meters: 2, watts: 1234, maxReading: maximum)
        let aggregator = try bench.completeSetup()
        var statuses: [[UInt8]] = []
        var total: UInt64 = 0
        for label in UInt64(0)..<18 {
            for (i, frames) in bench.runInterval().enumerated() {
                statuses += frames.filter { frameType($0) == .status }
                for frame in frames where frameType(frame) == .reading {
                    _ = try bench.meters[i].handle(try aggregator.acceptAndAcknowledge(frame).ack)
                }
            }
            total += try aggregator.decryptSum(label: label)
            try aggregator.advance(to: label + 1)
        }
        // 1234 W for 15 minutes: 308 or 309 Wh. No status at all, so none carries one.
        #expect(statuses.isEmpty)
        for s in statuses { #expect(statusDetail(s) == 0) }
        // What was not reported is carried (at most a day of maxima) or counted as lost.
        let measured = 2 * (18 * 1234 * 15 / 60)  // Wh, both meters
        let kept = bench.meters.map { $0.firmware.carriedEnergy + $0.firmware.lostWattHours }.reduce(0, +)
        let accounted = total + kept
        #expect(accounted == UInt64(measured))
        if maximum == 0 { #expect(total == 0) }
    }

    @Test("a meter with no key store refuses to encrypt and asks for provisioning")
    func unprovisioned() throws {
        let bench = try TestBench(meters: 2)
        _ = try bench.completeSetup()
        let meter = bench.meters[0]
        meter.board.withFlash { flash in
            for i in 0..<(2 * 4096) { flash[i] = 0xFF }
        }
        try meter.reboot()
        #expect(meter.firmware.phase == nil)
        #expect(throws: MeterError.notProvisioned) { try meter.firmware.encryptAndSend(label: 0, reading: 1) }
        // Any downlink is answered with a request for provisioning.
        _ = meter.takeSent()
        _ = try meter.handle(try bench.setup.rosterFrames(for: 1)[0])
        #expect(meter.takeSent().compactMap(statusCode) == [.needsProvisioning])
    }

    @Test("a corrupt key store is detected and never used to encrypt")
    func corruptKeyStore() throws {
        let bench = try TestBench(meters: 2)
        _ = try bench.completeSetup()
        let meter = bench.meters[0]
        // Flip two bits (one is corrected, two are not) inside the body of every committed slot.
        meter.board.withFlash { flash in
            for sector in 0..<2 {
                for index in 0..<(4096 - 16) / KeyStore.slotBytes {
                    let slot = sector * 4096 + index * KeyStore.slotBytes
                    guard flash[slot + KeyStore.slotBytes - 1] == 0 else { continue }
                    flash[slot + 50] ^= 0x04
                    flash[slot + 90] ^= 0x10
                }
            }
        }
        try meter.reboot()
        #expect(meter.firmware.phase == nil)
        #expect(throws: MeterError.keyStoreCorrupt) { try meter.firmware.encryptAndSend(label: 0, reading: 1) }
    }

    @Test("metering follows the load profile: readings match the independent computation")
    func metering() throws {
        var config = FleetConfiguration()
        config.meters = 3
        config.maxReading = 3000
        config.sampleSeconds = 10
        config.threads = 1
        let fleet = try Fleet(config, labels: 4)
        _ = try fleet.runKeySetup()
        for label in UInt64(0)..<4 {
            let r = try fleet.runLabel(label)
            #expect(r.exact, "label \(label): \(r.decryptedSum) vs \(r.trueSum)")
            #expect(r.trueSum > 0)
        }
    }
}
