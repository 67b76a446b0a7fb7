import Aggregation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning
import Testing

/// One firmware image per scheme: each takes only its own scheme's statements and downlinks,
/// and a meter commissioned again for another scheme starts from a fresh provisioning.
@Suite("Scheme images")
struct SchemeImageTests {
    @Test("an LWR-PSA image refuses a signed Paillier key: nothing stored changes, the refusal names the scheme")
    func lwrImageRefusesPaillierKey() throws {
        let bench = try PaillierBench(meterCount: 2, groups: [1: [1, 2]])
        let meter = bench.meters[0]
        try meter.reflash(scheme: .lwrPSA)
        try meter.provisionFirmware()
        let before = try #require(meter.firmware.storedRecord)
        _ = meter.takeSent()
        try bench.deliver(bench.keyFrames(for: meter), to: meter)
        let sent = meter.takeSent()
        // Chunk 0 is refused for its kind, before any signature work; the chunks after it
        // continue no statement.
        #expect(sent.compactMap(statusCode).allSatisfy { $0 == .statementRejected })
        #expect(sent.first.map { $0[Frame.headerBytes + 9] } == StatementRejection.wrongScheme.rawValue)
        #expect(sent.dropFirst().allSatisfy { $0[Frame.headerBytes + 9] == StatementRejection.outOfOrder.rawValue })
        #expect(meter.firmware.storedRecord == before)
        #expect(meter.firmware.paillierReady == false)
        #expect(throws: MeterError.notReady) { try meter.firmware.encryptAndSend(label: 5, reading: 1) }
    }

    @Test("a Paillier image refuses enrolment and roster entries: it runs no group key setup")
    func paillierImageRefusesGroupSetup() throws {
        let bench = try TestBench(meters: 2)
        let meter = bench.meters[0]
        try meter.reflash(scheme: .paillier)
        try meter.provisionFirmware()
        let before = try #require(meter.firmware.storedRecord)
        _ = meter.takeSent()
        for frame in try bench.setup.setupFrames(for: meter.id) { try meter.handle(frame) }
        for (id, frame) in bench.setup.enrolFrames() where id == meter.id { try meter.handle(frame) }
        let codes = meter.takeSent().compactMap(statusCode)
        #expect(codes.allSatisfy { $0 == .statementRejected })
        #expect(meter.firmware.storedRecord == before)
        #expect(meter.firmware.phase == .provisioned)
    }

    @Test("re-flashing a meter with another scheme's image: corrupt until provisioned again, then no label reused")
    func reflashNeedsCommissioning() throws {
        let bench = try TestBench(meters: 2)
        let aggregator = try bench.completeSetup()
        _ = aggregator
        _ = bench.runInterval()
        _ = bench.runInterval()
        let meter = bench.meters[0]
        let used = meter.firmware.nextLabel
        #expect(used >= 2)
        try meter.reflash(scheme: .paillier)
        #expect(meter.firmware.scheme == .paillier)
        #expect(meter.firmware.storeError == .corrupt, "the Paillier ring was never formatted under this key store")
        #expect(throws: MeterError.keyStoreCorrupt) { try meter.firmware.encryptAndSend(label: used + 1, reading: 1) }
        try meter.provisionFirmware()
        #expect(meter.firmware.storeError == nil)
        #expect(meter.firmware.nextLabel >= used, "the re-provisioned record starts at or after the labels used")
    }

    @Test("a peer seed corrupted in flash before the share is computed stops key setup with a typed error")
    func corruptPeerSeed() throws {
        let bench = try TestBench(meters: 3)
        let meter = bench.meters[0]
        let frames = try bench.setup.setupFrames(for: meter.id)
        // Everything but the last roster entry: the seeds of the peers seen so far are stored.
        for frame in frames.dropLast() { try meter.handle(frame) }
        #expect(meter.firmware.peersProcessed >= 1)
        let layout = meter.firmware.layout
        meter.board.withFlash { flash in
            let slot = Int(layout.peerSeedSector * layout.sectorSize)
            flash[slot + 10] ^= 0x01  // one flipped bit in the first peer's seed
        }
        _ = meter.takeSent()
        try meter.handle(frames.last!)
        let sent = meter.takeSent()
        #expect(sent.allSatisfy { frameType($0) != .keyShare }, "no share chunk leaves the meter")
        #expect(sent.compactMap(statusCode) == [.keyStoreCorrupt])
        #expect(meter.firmware.phase != .ready)
    }
}
