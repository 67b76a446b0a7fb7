import Aggregation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import TestSupport
import Testing

/// Values from the air and from flash are never trusted: findings 9 and 10.
@Suite("Untrusted input: too-long downlinks, crafted flash")
struct UntrustedInputTests {
    /// Finding 9: the HAL kept a too-long frame at the head of the queue and the firmware
    /// never discarded it, so every later downlink (acks, setup, keys) waited behind it.
    @Test("after a too-long downlink (1065 ... 2048 bytes), later acks still arrive", arguments: [1065, 1500, 2048])
    func tooLongDownlink(length: Int) throws {
        let f = try FaultFixture()
        let label = f.meter.firmware.nextLabel
        try f.meter.firmware.encryptAndSend(label: label, reading: 10)
        #expect(f.meter.firmware.pendingReadings == 1)
        try f.meter.deliver([UInt8](repeating: 0x5A, count: length))
        try f.meter.deliver(f.ack(label))
        _ = f.meter.firmware.poll()
        _ = f.meter.firmware.poll()
        #expect(f.meter.firmware.pendingReadings == 0)
    }

    @Test("the HAL drops a frame longer than the buffer and says so once (meter_hal.h)")
    func halDropsTooLong() throws {
        let board = try SimulatedBoard(SimulatedBoard.Configuration(sectorCount: 2))
        try board.deliver([UInt8](repeating: 1, count: 100))
        try board.deliver([UInt8](repeating: 2, count: 10))
        let hal = board.hal
        var out = [UInt8](repeating: 0, count: 50)
        var first: BoardError? = nil
        do {
            var span = out.mutableSpan
            _ = try hal.receive(into: &span)
        } catch {
            first = error
        }
        #expect(first == .tooLong)
        var span = out.mutableSpan
        let second = try hal.receive(into: &span)
        #expect(second == 10 && out[0] == 2)
    }

    /// Finding 10: `newest + 1` overflowed in boot(): the checksum is unkeyed, so anyone who
    /// can write flash bricked the meter instead of getting a "corrupt store" report.
    @Test("a checksum-valid outbox entry with label 2^64 − 1 boots as a corrupt store, not a trap")
    func maxLabelEntry() throws {
        let f = try FaultFixture()
        let layout = f.meter.firmware.layout
        var outbox = try Outbox(board: f.meter.firmware.board, firstSector: layout.outboxSector)
        try outbox.load()
        let frame = try f.expectedFrame(label: 3, reading: 1)
        _ = try outbox.append(label: .max, frame: frame.span)
        try f.meter.reboot()
        #expect(f.meter.firmware.storeError == .corrupt)
        _ = f.meter.takeSent()
        _ = f.meter.firmware.poll()
        #expect(f.meter.takeSent().compactMap(statusCode) == [.keyStoreCorrupt])
        #expect(throws: MeterError.keyStoreCorrupt) { try f.meter.firmware.encryptAndSend(label: 5, reading: 1) }
        // The API refuses the last label rather than let the counter wrap.
        let g = try FaultFixture()
        #expect(throws: MeterError.labelAlreadyEncrypted(label: .max, next: g.meter.firmware.nextLabel)) {
            try g.meter.firmware.encryptAndSend(label: .max, reading: 1)
        }
    }

    @Test("a key-store record with group size 0 (or a minimum below 2) is corrupt, never arithmetic")
    func groupSizeZero() throws {
        for (size, minimum) in [(UInt32(0), UInt32(2)), (1, 2), (5, 0)] {
            let f = try FaultFixture()
            var store = try KeyStore(board: f.meter.firmware.board)
            var r = try store.load()
            r.parameterID = DMCFE.parameterID
            r.groupSize = size
            r.minGroupSize = minimum
            try store.save(r)
            try f.meter.reboot()
            #expect(f.meter.firmware.storeError == .corrupt)
            _ = f.meter.firmware.poll()
            _ = f.meter.firmware.idle()
        }
    }

    @Test("an LWR-PSA outbox with no formatted sector under a ready key store is corrupt, not 'no labels used'")
    func erasedOutbox() throws {
        let f = try FaultFixture()
        try f.meter.firmware.encryptAndSend(label: f.meter.firmware.nextLabel + 4, reading: 1)
        let layout = f.meter.firmware.layout
        f.meter.board.withFlash { flash in
            for i in (Int(layout.outboxSector) * 4096)..<(Int(layout.endSector) * 4096) { flash[i] = 0xFF }
        }
        try f.meter.reboot()
        #expect(f.meter.firmware.storeError == .corrupt)
    }
}
