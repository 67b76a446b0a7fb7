import Aggregation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import TestSupport
import Testing

/// Minutes of a 1 kW load through the main loop, one poll a minute.
func runMinutes(_ meter: SimulatedMeter, _ minutes: Int) {
    for _ in 0..<minutes {
        meter.advance(ticks: 60_000)
        _ = meter.firmware.poll()
    }
}

/// The readings the meter sent, by label, decrypted with the harness's own keys.
func sentReadings(_ f: FaultFixture) throws -> [UInt64: UInt64] {
    var out: [UInt64: UInt64] = [:]
    for frame in f.meter.takeSent() where frameType(frame) == .reading {
        let label = (12..<20).reduce(UInt64(0)) { $0 << 8 | UInt64(frame[$1]) }
        for x in UInt64(0)...1000 where try f.expectedFrame(label: label, reading: x) == frame {
            out[label] = x
            break
        }
    }
    return out
}

@Suite("Energy register across outages (power-fail warning)")
struct EnergyRegisterTests {
    @Test("a cut mid-interval with the warning loses no energy: the next reading carries it")
    func warnedCutMidInterval() throws {
        let f = try FaultFixture()
        let label = f.meter.firmware.nextLabel
        runMinutes(f.meter, 7)
        // The warning: the meter saves its register in two program operations, then the
        // board cuts power (4 granted) and the meter boots again at the same instant.
        try f.meter.powerFailAndReboot()
        runMinutes(f.meter, 8)
        // 7 + 8 minutes at 1 kW: 250 Wh, as if nothing had happened.
        #expect(try sentReadings(f) == [label: 250])
        #expect(f.meter.firmware.carriedEnergy == 0)
        // The record is stale once the reading is stored: another reboot restores nothing.
        try f.meter.reboot()
        runMinutes(f.meter, 15)
        #expect(try sentReadings(f)[label + 1] == 250)
    }

    @Test("without the warning the interval's energy in RAM is lost (the case the warning removes)")
    func suddenCutMidInterval() throws {
        let f = try FaultFixture()
        let label = f.meter.firmware.nextLabel
        runMinutes(f.meter, 7)
        try f.meter.reboot()
        runMinutes(f.meter, 8)
        let readings = try sentReadings(f)
        #expect(readings[label] == 133)  // 8 minutes at 1 kW: 133.3 Wh
    }

    @Test("the warning during a boundary's store: the store stops, the energy is saved and carried")
    func warnedCutDuringStore() throws {
        let f = try FaultFixture()
        let label = f.meter.firmware.nextLabel
        runMinutes(f.meter, 14)
        // Raised during the entry's program: the commit mark is refused, the register saved.
        f.meter.board.armPowerFail(afterOperations: 0, mode: .partial)
        runMinutes(f.meter, 1)
        #expect(f.meter.firmware.nextLabel == label)
        try f.meter.reboot()
        runMinutes(f.meter, 15)
        // The label whose store was cut has no reading; the next carries both intervals.
        #expect(try sentReadings(f) == [label + 1: 500])
    }

    @Test(
        "a cut during the energy record's save leaves the old or the new record, never garbage",
        arguments: 0..<6)
    func cutDuringSave(_ run: Int) throws {
        let operation = UInt64(run / 3)
        let mode: PowerCutMode = [.partial, .before, .after][run % 3]
        let f = try FaultFixture()
        let label = f.meter.firmware.nextLabel
        runMinutes(f.meter, 3)
        try f.meter.powerFailAndReboot()  // record 1: 50 Wh
        runMinutes(f.meter, 6)
        // The second warning's save is cut at its first or second program operation.
        f.meter.board.raisePowerFail()
        f.meter.board.armPowerCut(afterOperations: operation, mode: mode)
        _ = f.meter.firmware.poll()
        #expect(!f.meter.board.powered)
        try f.meter.reboot()
        runMinutes(f.meter, 6)
        // Old record: 3 + 6 minutes; new record: 3 + 6 + 6 minutes. Never anything else.
        let reading = try sentReadings(f)[label]
        #expect(reading == 150 || reading == 250)
    }

    @Test("the record is a checksum-protected journal: a flipped bit is corrected, garbage is ignored")
    func recordIntegrity() throws {
        let f = try FaultFixture()
        let label = f.meter.firmware.nextLabel
        runMinutes(f.meter, 6)
        try f.meter.powerFailAndReboot()  // 100 Wh saved
        let base = Int(f.meter.firmware.layout.energySector) * 4096
        // One flipped bit in the carried field of the newest slot (slot 0 of the first sector).
        f.meter.board.flipBit(address: UInt32(base + 30), bit: 3)
        try f.meter.reboot()
        runMinutes(f.meter, 9)
        #expect(try sentReadings(f)[label] == 250)
    }
}
