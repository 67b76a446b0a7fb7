import Aggregation
import BigNum
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning
import TestSupport
import Testing

/// Meters in Paillier mode on simulated boards, with the supplier key delivered over the radio.
struct PaillierBench {
    static let key: PaillierPrivateKey = {
        var generator = SeededGenerator(seed: 77)
        return try! PaillierPrivateKey.generate(bits: 2048, using: &generator)
    }()

    let authority: ProvisioningAuthority
    /// The layout's epoch: the Paillier key statements' and the frame keys'.
    let epoch: UInt32
    let meters: [SimulatedMeter]
    let layout: GroupLayout
    let aggregators: [UInt32: PaillierAggregator]
    let supplier: PaillierSupplier

    /// Meters 1...n (constant load `watts`, sampled every minute) in the layout's groups;
    /// every group's aggregator delivers the key frames of its meters whose home group it is.
    init(meterCount n: Int, groups: [UInt32: Set<UInt32>], watts: (UInt32) -> UInt32 = { _ in 1000 }) throws {
        let authority = ProvisioningAuthority(seed: 0x5A)
        self.authority = authority
        epoch = authority.issueEpoch()
        layout = try GroupLayout(
            signed: authority.signLayout(groups: groups, epoch: epoch), authorityKey: authority.publicKey)
        meters = try (1...n).map { i in
            try SimulatedMeter(
                factory: authority.manufacture(meter: UInt32(i)), seed: UInt64(i), profile: [watts(UInt32(i)) * 1000],
                sampleSeconds: 60, scheme: .paillier)
        }
        var aggregators: [UInt32: PaillierAggregator] = [:]
        for (g, members) in layout.groups {
            let groupMembers = try authority.members(
                group: g, epoch: epoch, scheme: .paillier, meters: members.sorted())
            aggregators[g] = try PaillierAggregator(
                members: groupMembers, publicKey: Self.key.publicKey, layout: layout, currentLabel: 0)
        }
        self.aggregators = aggregators
        supplier = PaillierSupplier(privateKey: Self.key, layout: layout)
    }

    /// The signed key statement for one meter, relayed by its first group's aggregator;
    /// `tamper` changes the body after signing, as an aggregator would.
    func keyFrames(for meter: SimulatedMeter, tamper: (inout [UInt8]) -> Void = { _ in }) throws -> [[UInt8]] {
        let groups = layout.groups(of: meter.id)
        let signed = try authority.signPaillierKey(meter: meter.id, publicKey: Self.key.publicKey, layoutEpoch: epoch)
        var body = signed.body
        tamper(&body)
        return aggregators[groups[0]]!.keyStatementFrames(
            SignedStatement(body: body, signature: signed.signature), meter: meter.id)
    }

    /// Delivers a statement's frames; the event of the last one.
    @discardableResult
    func deliver(_ frames: [[UInt8]], to meter: SimulatedMeter) throws -> MeterEvent {
        var event = MeterEvent.none
        for frame in frames { event = try meter.handle(frame) }
        return event
    }

    func deliverKeys() throws {
        for m in meters {
            #expect(try deliver(keyFrames(for: m), to: m) == .statementAccepted(.paillierKey))
            #expect(m.takeSent().compactMap(statusCode) == [.setupComplete])
            m.firmware.idle()
        }
    }

    /// One 15-minute interval on every meter; the frames each sent.
    func runInterval() -> [[[UInt8]]] {
        meters.map { SimulatedGroup.runInterval($0) }
    }

    /// Hands every reading frame to its group's aggregator and the aggregator's ack back
    /// to the meter (taken at its next poll).
    func collect(_ sent: [[[UInt8]]]) throws {
        for (i, frames) in sent.enumerated() {
            for frame in frames where frameType(frame) == .reading {
                let receipt = try aggregators[Self.group(of: frame)]!.acceptAndAcknowledge(frame)
                try meters[i].deliver(receipt.ack)
            }
        }
    }

    static func group(of frame: [UInt8]) -> UInt32 {
        UInt32(frame[4]) << 24 | UInt32(frame[5]) << 16 | UInt32(frame[6]) << 8 | UInt32(frame[7])
    }
}

@Suite("Meter firmware in Paillier mode")
struct PaillierFirmwareTests {
    @Test("the key arrives over the radio, survives a reboot, and every interval's group sum decrypts exactly")
    func endToEnd() throws {
        let bench = try PaillierBench(meterCount: 3, groups: [1: [1, 2, 3]]) { 400 * $0 }
        try bench.deliverKeys()
        for m in bench.meters {
            #expect(m.firmware.paillierReady == true)
            #expect(m.firmware.paillierKeyBits == 2048)
            #expect(m.firmware.paillierFreshRandomizers == 1)  // precomputed while idle
        }
        try bench.meters[1].reboot()
        #expect(bench.meters[1].firmware.paillierReady == true)
        #expect(bench.meters[1].firmware.paillierFreshRandomizers == 0)  // RAM only
        for label in UInt64(0)..<3 {
            let sent = bench.runInterval()
            for all in sent {
                let frames = all.filter { frameType($0) == .reading }
                #expect(frames.count == 1 && all.count == 2)  // and the customer's sealed detail
                #expect(frames.first.map { $0.count } == Frame.size(payloadLength: 512))
            }
            try bench.collect(sent)
            // 0.4, 0.8 and 1.2 kW for 15 minutes: 100 + 200 + 300 Wh.
            #expect(try bench.supplier.decryptSum(bench.aggregators[1]!.aggregate(label: label)) == 600)
            try bench.aggregators[1]!.advance(to: label + 1)
        }
    }

    @Test("a meter in several groups sends one ciphertext per group; every group's sum is exact")
    func multiGroup() throws {
        // Group 1 = {1,2,3,4}, group 2 = {3,4,5,6}: meters 3 and 4 report to both.
        let bench = try PaillierBench(meterCount: 6, groups: [1: [1, 2, 3, 4], 2: [3, 4, 5, 6]]) { 200 * $0 }
        try bench.deliverKeys()
        #expect(bench.meters[2].firmware.paillierGroupCount == 2)
        #expect(bench.meters[0].firmware.paillierGroupCount == 1)
        let sent = bench.runInterval()
        #expect(sent.map { $0.filter { frameType($0) == .reading }.count } == [1, 1, 2, 2, 1, 1])
        // One sealed detail frame per meter, for its first group.
        #expect(sent.map { $0.filter { frameType($0) == .customerDetail }.count } == [1, 1, 1, 1, 1, 1])
        try bench.collect(sent)
        // Meter i draws 200·i W: 50·i Wh per interval.
        #expect(try bench.supplier.decryptSum(bench.aggregators[1]!.aggregate(label: 0)) == 50 * (1 + 2 + 3 + 4))
        #expect(try bench.supplier.decryptSum(bench.aggregators[2]!.aggregate(label: 0)) == 50 * (3 + 4 + 5 + 6))
        // Both randomizers were used once and are precomputed again for the next label.
        #expect(bench.meters[2].firmware.paillierFreshRandomizers == 2)
    }

    @Test("a key the aggregator swapped, or groups it changed, are rejected by the meter (attack 4)")
    func tamperedKey() throws {
        let bench = try PaillierBench(meterCount: 2, groups: [1: [1, 2]])
        let meter = bench.meters[0]
        // The aggregator's own N in place of the supplier's: the signature no longer verifies.
        let other = PaillierFixturesForFirmware.otherKey.publicKey.n.bigEndianBytes(length: 256)!
        let swapped = try bench.keyFrames(for: meter) { $0.replaceSubrange(36..<292, with: other) }
        #expect(try bench.deliver(swapped, to: meter) == .statusSent(.statementRejected))
        let regrouped = try bench.keyFrames(for: meter) { $0[23] = 9 }
        #expect(try bench.deliver(regrouped, to: meter) == .statusSent(.statementRejected))
        #expect(meter.takeSent().compactMap(statusCode) == [.statementRejected, .statementRejected])
        #expect(meter.firmware.paillierReady == false)
        // No key, no readings.
        #expect(bench.runInterval()[0].filter { frameType($0) == .reading }.isEmpty)
    }

    @Test("the key lives in the key store: one flipped bit of N is corrected, two make the store corrupt and unused")
    func corruptKeyRecord() throws {
        let bench = try PaillierBench(meterCount: 2, groups: [1: [1, 2]])
        try bench.deliverKeys()
        let meter = bench.meters[0]
        let stored = try #require(meter.firmware.storedRecord?.paillierKey)
        #expect(stored.bits == 2048 && stored.groupCount == 1 && stored.groups[0] == 1)
        // Provisioning wrote slot 0 of the key store, the key delivery slot 1: N lies in its body.
        let slot = KeyStore.slotBytes
        meter.board.withFlash { flash in flash[slot + 400] ^= 0x10 }
        try meter.reboot()
        #expect(meter.firmware.paillierReady == true)
        #expect(meter.firmware.repairs == 1)
        // The repaired slot was rewritten: damage two bits of N in the newest slot.
        let newest = 2 * slot
        meter.board.withFlash { flash in
            flash[newest + 300] ^= 0x10
            flash[newest + 301] ^= 0x01
        }
        try meter.reboot()
        #expect(meter.firmware.storeError == .corrupt)
        #expect(meter.firmware.paillierReady == false)
        let sent = bench.runInterval()[0]
        #expect(sent.filter { frameType($0) == .reading }.isEmpty)
        #expect(sent.compactMap(statusCode).contains(.keyStoreCorrupt))
        // Re-provisioning and a new key delivery bring it back; the label counter never goes back.
        try meter.provisionFirmware()
        #expect(try bench.deliver(bench.keyFrames(for: meter), to: meter) == .statementAccepted(.paillierKey))
        try meter.reboot()
        #expect(meter.firmware.paillierReady == true)
        #expect(meter.firmware.storeError == nil)
    }

    @Test("every frame of a label is in the outbox before any leaves; unacknowledged ones are re-sent byte-identical")
    func outboxResend() throws {
        let bench = try PaillierBench(meterCount: 4, groups: [1: [1, 2, 3, 4], 2: [1, 2, 3, 4]])
        try bench.deliverKeys()
        let meter = bench.meters[0]
        try meter.firmware.encryptAndSend(label: 1, reading: 42)
        let first = meter.takeSent().filter { frameType($0) == .reading }
        #expect(first.count == 2)
        #expect(Set(first.map(PaillierBench.group(of:))) == [1, 2])
        #expect(meter.firmware.pendingReadings == 2)
        // A reboot: both frames go out again as stored, nothing is encrypted anew.
        try meter.reboot()
        _ = meter.firmware.poll()
        let again = meter.takeSent().filter { frameType($0) == .reading }
        #expect(Set(again) == Set(first))
        // Group 2's aggregator acks its frame only: group 1's stays pending.
        let frame2 = try #require(first.first { PaillierBench.group(of: $0) == 2 })
        #expect(try meter.handle(bench.aggregators[2]!.acceptAndAcknowledge(frame2).ack) == .acknowledged(label: 1))
        #expect(meter.firmware.pendingReadings == 1)
        #expect(meter.firmware.pendingGroup(0) == 1)
        // An authentic ack naming a group the meter does not report to is refused.
        let foreign = try bench.authority.members(group: 9, epoch: bench.epoch, scheme: .paillier, meters: [1])
        #expect(try meter.handle(FrameIntake(members: foreign).acknowledgement(to: 1, label: 1)) == .none)
        #expect(meter.firmware.pendingReadings == 1)
        for frame in first where PaillierBench.group(of: frame) == 1 {
            #expect(try meter.handle(bench.aggregators[1]!.acceptAndAcknowledge(frame).ack) == .acknowledged(label: 1))
        }
        #expect(meter.firmware.pendingReadings == 0)
        for frame in first {
            let c = try Self.ciphertext(frame, key: PaillierBench.key.publicKey)
            #expect(try PaillierBench.key.decrypt(c) == BigInt(42))
        }
    }

    @Test("the firmware refuses to encrypt a label twice in Paillier mode, across reboots")
    func labelOnlyOnce() throws {
        let bench = try PaillierBench(meterCount: 2, groups: [1: [1, 2]])
        try bench.deliverKeys()
        let meter = bench.meters[0]
        try meter.firmware.encryptAndSend(label: 5, reading: 10)
        #expect(meter.firmware.nextLabel == 6)
        try meter.reboot()
        #expect(throws: MeterError.labelAlreadyEncrypted(label: 5, next: 6)) {
            try meter.firmware.encryptAndSend(label: 5, reading: 11)
        }
        // Without a precomputed randomizer (lost in the reboot) the boundary computes one.
        try meter.firmware.encryptAndSend(label: 6, reading: 12)
        let frames = meter.takeSent().filter { frameType($0) == .reading }
        #expect(frames.count == 2)
        let c = try Self.ciphertext(frames[1], key: PaillierBench.key.publicKey)
        #expect(try PaillierBench.key.decrypt(c) == BigInt(12))
    }

    @Test("the fleet runs the same scenario under Paillier: every label exact", arguments: [2048, 3072])
    func fleet(bits: Int) throws {
        var config = FleetConfiguration()
        config.meters = 3
        config.maxReading = 3000
        config.sampleSeconds = 10
        config.threads = 1
        config.scheme = .paillier
        config.paillierKeyBits = bits
        let fleet = try Fleet(config, labels: 2)
        _ = try fleet.runKeySetup()
        for label in UInt64(0)..<2 {
            let r = try fleet.runLabel(label)
            #expect(r.exact, "label \(label): \(r.decryptedSum) vs \(r.trueSum)")
            #expect(r.trueSum > 0)
        }
        #expect(fleet.meters[0].firmware.paillierKeyBits == bits)
    }

    static func ciphertext(_ frame: [UInt8], key: PaillierPublicKey) throws -> PaillierCiphertext {
        try key.ciphertext(bigEndian: Array(frame[Frame.headerBytes..<(frame.count - Frame.tagBytes)]))
    }
}

enum PaillierFixturesForFirmware {
    static let otherKey: PaillierPrivateKey = {
        var generator = SeededGenerator(seed: 78)
        return try! PaillierPrivateKey.generate(bits: 2048, using: &generator)
    }()
}
