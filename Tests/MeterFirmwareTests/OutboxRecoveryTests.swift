import Aggregation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import TestSupport
import Testing

/// The status payload's detail field (bytes 2 ..< 10 of the payload).
func statusDetail(_ frame: [UInt8]) -> UInt64 {
    (26..<34).reduce(UInt64(0)) { $0 << 8 | UInt64(frame[$1]) }
}

/// A ready meter driven through its main loop, one 15-minute interval per step, with the
/// aggregator's acks for every reading except those it holds back.
struct HeldAckLoop {
    let fixture: FaultFixture
    var meter: SimulatedMeter { fixture.meter }
    /// Every reading frame per label, every status frame.
    var readings: [UInt64: Set<[UInt8]>] = [:]
    var statuses: [[UInt8]] = []

    init(watts: UInt32 = 1234) throws {
        fixture = try FaultFixture(watts: watts)
    }

    /// One interval through `poll`; returns the flash operations of the boundary.
    @discardableResult
    mutating func interval(hold: Set<UInt64>) -> UInt64 {
        let before = meter.board.flashOperations
        meter.advance(ticks: 900_000)
        _ = meter.firmware.poll()
        let ops = meter.board.flashOperations - before
        collectAndAck(hold: hold)
        return ops
    }

    /// Takes what the meter sent and acks the readings not held back (one poll per ack).
    mutating func collectAndAck(hold: Set<UInt64>) {
        for frame in meter.takeSent() {
            switch frameType(frame) {
            case .reading:
                let label = (12..<20).reduce(UInt64(0)) { $0 << 8 | UInt64(frame[$1]) }
                readings[label, default: []].insert(frame)
                if !hold.contains(label) && meter.board.powered { _ = try? meter.handle(fixture.ack(label)) }
            case .status: statuses.append(frame)
            default: break
            }
        }
        _ = meter.takeSent()
    }
}

@Suite("Outbox: copy-forward, failed stores, recovery")
struct OutboxRecoveryTests {
    /// Four held-back acks, one in each sector of the ring: when the ring comes round, the
    /// outbox copies the oldest forward. A cut during that copy wastes a slot; before the
    /// fix the active sector then had no room for any sector's unacknowledged entries,
    /// every later append threw `wornOut`, and every interval sent `keyStoreWriteFailed`
    /// with its reading as detail, for good.
    @Test("a cut while copying an old entry forward does not stop the meter storing readings")
    func copyForwardCut() throws {
        // The reference run finds the boundary that copies the held entry forward.
        func heldLabels(_ loop: HeldAckLoop) -> Set<UInt64> {
            let first = loop.meter.firmware.nextLabel
            return [first, first + 31, first + 62, first + 93]
        }
        var reference = try HeldAckLoop()
        let hold = heldLabels(reference)
        var rotations = 0
        var copyAt = 0
        // The readings' ring (LWR-PSA: sectors 8 ..< 12, flash-format.md): a rotation erases
        // its next sector. The customer's detail has a ring of its own with 192-byte entries
        // (21 a sector against 31), which rotates at other boundaries, so the readings' ring
        // is told by its own erases, not by the boundary's flash operations.
        func ringErases() -> UInt64 { (8..<12).reduce(0) { $0 + reference.meter.board.eraseCount(sector: $1) } }
        for i in 0..<140 {
            let erases = ringErases()
            // An append is 2 flash operations; a rotation adds a format (3) and 2 per copy.
            let ops = reference.interval(hold: hold)
            if ringErases() > erases {
                rotations += 1
                // The fourth comes round to the sector of the first held entry: it copies.
                if rotations == 4 {
                    #expect(ops >= 7, "a rotation that copies forward")
                    copyAt = i
                    break
                }
            }
        }
        #expect(rotations == 4)
        #expect(copyAt > 100)

        var loop = try HeldAckLoop()
        #expect(heldLabels(loop) == hold)
        for _ in 0..<copyAt { loop.interval(hold: hold) }
        // The copy of the oldest held entry is the boundary's first flash operation: power
        // dies after it is programmed, before its commit mark.
        loop.meter.board.armPowerCut(afterOperations: 0, mode: .after)
        loop.interval(hold: hold)
        #expect(!loop.meter.board.powered)
        try loop.meter.reboot()
        _ = loop.meter.firmware.poll()
        loop.collectAndAck(hold: hold)
        // The cut interval's reading was never committed (a sudden cut, no warning).
        let cut = loop.meter.firmware.nextLabel
        for _ in 0..<60 { loop.interval(hold: hold) }
        // Every interval after the cut is stored and sent.
        let sent = ((cut + 1)...(cut + 60)).filter { loop.readings[$0] != nil }
        #expect(sent.count == 60)
        #expect(loop.meter.firmware.nextLabel == cut + 61)
        // No status frame carries a reading (1234 W: 308 or 309 Wh per interval).
        for status in loop.statuses {
            #expect(![308, 309].contains(statusDetail(status)))
        }
        #expect(!loop.statuses.contains { statusCode($0) == .keyStoreWriteFailed })
    }
}
