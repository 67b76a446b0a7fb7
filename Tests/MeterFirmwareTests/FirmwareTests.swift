import Aggregation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning
import TestSupport
import Testing

/// A small group on simulated boards, driven step by step so tests can interfere.
struct TestBench {
    let authority: ProvisioningAuthority
    let meters: [SimulatedMeter]
    let setup: LWRKeySetup
    let members: GroupMembers

    /// Boards with a constant load of `watts`, sampled every minute; enrolled and signed
    /// by the authority (public keys collected by the aggregator, the group signed).
    init(meters n: Int, watts: UInt32 = 1000, maxReading: UInt64 = 1000, keyMode: KeyMode = .seed) throws {
        let authority = ProvisioningAuthority(seed: 42)
        self.authority = authority
        meters = try (1...n).map { i in
            try SimulatedMeter(
                factory: authority.manufacture(meter: UInt32(i)), seed: UInt64(i), profile: [watts * 1000],
                sampleSeconds: 60)
        }
        members = try authority.members(
            group: 1, epoch: authority.issueEpoch(), scheme: .lwrPSA, meters: meters.map(\.id))
        setup = try LWRKeySetup(
            members: members, parameters: .standard, maxReading: maxReading, keyMode: keyMode.rawValue)
        try SignedSetup.enrolAndSign(meters: meters, relay: setup, authority: authority)
    }

    /// Relays the statement and the roster and collects the key shares; returns the aggregator.
    func completeSetup() throws -> LWRAggregator {
        for sent in try SignedSetup.distribute(meters: meters, relay: setup) {
            for frame in sent { try setup.receiveKeyShare(frame) }
        }
        return try LWRAggregator(
            members: members, parameters: .standard, bounds: setup.bounds, aggregateKey: setup.aggregateKey(),
            currentLabel: 0)
    }

    /// Runs every meter through one 15-minute interval and returns what they sent.
    func runInterval() -> [[[UInt8]]] {
        meters.map { m in
            for _ in 0..<15 {
                m.advance(ticks: 60_000)
                _ = m.firmware.poll()
            }
            m.firmware.idle()
            return m.takeSent()
        }
    }
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
            for (i, frames) in sent.enumerated() {
                #expect(frames.count == 1)
                #expect(frames.first.map(frameType) == .reading)
                let receipt = try aggregator.acceptAndAcknowledge(frames[0])
                #expect(receipt.reported != nil)
                // Acknowledged readings leave the outbox and are not sent again.
                #expect(try bench.meters[i].handle(receipt.ack) == .acknowledged(label: label))
                #expect(bench.meters[i].firmware.pendingReadings == 0)
            }
            // 1 kW for 15 minutes is 250 Wh per meter.
            #expect(try aggregator.decryptSum(label: label) == 750)
            aggregator.advance(to: label + 1)
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

    @Test("a reading above the group's maximum is refused and reported, and uses no label")
    func readingAboveMaximum() throws {
        // 2 kW for 15 minutes is 500 Wh, above the agreed 400 Wh.
        let bench = try TestBench(meters: 2, watts: 2000, maxReading: 400)
        _ = try bench.completeSetup()
        let sent = bench.runInterval()
        #expect(sent[0].compactMap(statusCode) == [.readingAboveMaximum])
        #expect(!sent[0].contains { frameType($0) == .reading })
        #expect(bench.meters[0].firmware.nextLabel == 0)
        #expect(throws: MeterError.readingAboveMaximum(reading: 401, maximum: 400)) {
            try bench.meters[0].firmware.encryptAndSend(label: 1, reading: 401)
        }
    }

    @Test("a meter with no key store refuses to encrypt and asks for provisioning")
    func unprovisioned() throws {
        let bench = try TestBench(meters: 2)
        _ = try bench.completeSetup()
        let meter = bench.meters[0]
        meter.withFlash { flash in
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
        meter.withFlash { flash in
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
