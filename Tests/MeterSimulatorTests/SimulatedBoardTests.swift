import MeterFirmware
import MeterSimulator
import Testing

@Suite("Simulator toolkit: the simulated board's owner")
struct SimulatedBoardTests {
    func board(sectors: UInt32 = 4, seed: UInt64 = 1) throws -> SimulatedBoard {
        try SimulatedBoard(SimulatedBoard.Configuration(sectorCount: sectors, rngSeed: seed))
    }

    @Test("clock and ADC: the load profile is read at the board's time")
    func clockAndADC() throws {
        let b = try board()
        try b.setLoadProfile([100, 200, 300], ticksPerStep: 10)
        let hal = b.hal
        #expect(b.ticks == 0 && hal.ticks == 0)
        #expect(hal.sampleMilliwatts() == 100)
        b.advance(ticks: 25)
        #expect(hal.ticks == 25 && hal.sampleMilliwatts() == 300)
        b.advance(ticks: 5)
        #expect(hal.sampleMilliwatts() == 100)
        #expect(throws: SimulatorError.emptyLoadProfile) { try b.setLoadProfile([], ticksPerStep: 10) }
    }

    @Test("radio: frames delivered reach the firmware's receive, frames sent come back in order")
    func radio() throws {
        let b = try board()
        let hal = b.hal
        try b.deliver([1, 2, 3])
        #expect(b.inboxPending == 1)
        var buffer = [UInt8](repeating: 0, count: 16)
        var span = buffer.mutableSpan
        #expect(try hal.receive(into: &span) == 3)
        #expect(buffer[0..<3] == [1, 2, 3])
        try hal.send([9].span)
        try hal.send([8, 7].span)
        #expect(b.sentPending == 2)
        #expect(b.takeSent() == [[9], [8, 7]])
        #expect(b.takeSent().isEmpty)
    }

    @Test("power cuts by mode: before leaves the flash as it was, after completes the program")
    func cutModes() throws {
        let b = try board()
        let hal = b.hal
        let data: [UInt8] = [0x0F, 0xF0, 0x55, 0xAA]
        for (mode, expected) in [(PowerCutMode.before, [UInt8](repeating: 0xFF, count: 4)), (.after, data)] {
            try hal.erase(sector: 0)
            b.armPowerCut(afterOperations: 0, mode: mode)
            #expect(throws: BoardError.powerLoss) { try hal.program(0, data.span) }
            #expect(!b.powered)
            b.powerOn()
            #expect(b.powered)
            #expect(b.flashSnapshot(0..<4) == expected)
        }
        #expect(b.powerCuts == 2)
        #expect(PowerCutMode.allCases.map(\.description) == ["partial", "before", "after"])
    }

    @Test("snapshots: flash and RNG state restored replay what the firmware would read and draw")
    func snapshots() throws {
        let b = try board(seed: 5)
        let hal = b.hal
        try hal.program(100, [1, 2, 3, 4].span)
        let flash = b.flashSnapshot()
        let rng = b.rngState
        var first = [UInt8](repeating: 0, count: 32)
        var span = first.mutableSpan
        hal.randomBytes(into: &span)
        b.restoreFlash([UInt8](repeating: 0, count: flash.count))
        #expect(b.flashSnapshot(100..<104) == [0, 0, 0, 0])
        b.restoreFlash(flash)
        #expect(b.flashSnapshot(100..<104) == [1, 2, 3, 4])
        b.rngState = rng
        var again = [UInt8](repeating: 0, count: 32)
        var againSpan = again.mutableSpan
        hal.randomBytes(into: &againSpan)
        #expect(again == first)
        #expect(b.flashSize == 4 * 4096 && b.sectorSize == 4096)
    }

    @Test("faults at rest: a flip changes one bit, a stuck bit no longer flips")
    func flips() throws {
        let b = try board()
        try b.hal.erase(sector: 1)
        b.flipBit(address: 4096, bit: 3)
        #expect(b.flashSnapshot(4096..<4097) == [0xFF ^ 0x08])
        b.stickBit(address: 4097, bit: 0, value: true)
        b.flipBit(address: 4097, bit: 0)
        #expect(b.flashSnapshot(4097..<4098) == [0xFF])
    }
}
