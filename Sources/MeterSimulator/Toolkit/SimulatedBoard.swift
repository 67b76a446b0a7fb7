// The one Swift owner of a simulated board (hal/sim, meter_sim.h): the only file that
// imports the simulated board's C module. Everything else (meters, campaigns, the cost
// report, tests) drives a board through this class, in typed Swift.
internal import CSimulatedBoard
import MeterFirmware

/// What a power cut leaves of the flash operation it interrupts (`sim_cut_mode`).
public enum PowerCutMode: Sendable, CaseIterable, CustomStringConvertible {
    /// A partial result drawn from the board's fault seed: a program leaves every bit
    /// between old and old AND new, an erase leaves the sector partly erased.
    case partial
    /// Nothing of the operation reached the flash.
    case before
    /// The operation completed; power died before it returned.
    case after

    var raw: sim_cut_mode {
        switch self {
        case .partial: return SIM_CUT_RANDOM
        case .before: return SIM_CUT_BEFORE
        case .after: return SIM_CUT_AFTER
        }
    }

    public var description: String {
        switch self {
        case .partial: return "partial"
        case .before: return "before"
        case .after: return "after"
        }
    }
}

/// A simulated meter board (meter_sim.h): a clock that ticks when told, an ADC fed by a
/// load profile, NOR flash in memory with a seeded fault model, a seeded RNG (not a
/// cryptographic source), and two bounded radio queues. Owns the C board and destroys it
/// in deinit; `hal` is the firmware's view of it.
///
/// Not thread-safe: one thread at a time drives a board (hence `@unchecked Sendable`).
public final class SimulatedBoard: @unchecked Sendable {
    /// The board's fixed properties.
    public struct Configuration: Sendable, Equatable {
        public var ticksPerSecond: UInt32 = 1000
        public var sectorSize: UInt32 = 4096
        public var sectorCount: UInt32 = 64
        /// Seed of the board RNG (the firmware's keys come from it).
        public var rngSeed: UInt64 = 0
        /// The largest frame the radio carries, in bytes.
        public var radioMTU: UInt32 = 2048
        /// Frames per radio direction.
        public var radioQueueCapacity: UInt32 = 64
        /// Program operations the board grants after its power-fail warning.
        public var powerFailFlashOperations: UInt32 = 4

        public init(sectorCount: UInt32 = 64, rngSeed: UInt64 = 0) {
            self.sectorCount = sectorCount
            self.rngSeed = rngSeed
        }
    }

    private let handle: OpaquePointer
    public let configuration: Configuration

    /// A board with erased flash, its clock at 0 and no load.
    public init(_ configuration: Configuration = Configuration()) throws(SimulatorError) {
        var config = sim_board_config()
        config.ticks_per_second = configuration.ticksPerSecond
        config.flash_sector_size = configuration.sectorSize
        config.flash_sector_count = configuration.sectorCount
        config.rng_seed = configuration.rngSeed
        config.radio_mtu = configuration.radioMTU
        config.radio_queue_capacity = configuration.radioQueueCapacity
        config.power_fail_flash_ops = configuration.powerFailFlashOperations
        guard let board = sim_board_create(&config) else { throw .boardCreation }
        handle = board
        self.configuration = configuration
    }

    deinit { sim_board_destroy(handle) }

    /// The firmware's handle on this board's HAL table (valid while the board lives).
    public var hal: Board { Board(hal: sim_board_hal(handle)) }

    // MARK: - clock and ADC

    /// Ticks since the label epoch.
    public var ticks: UInt64 { sim_board_now(handle) }

    public func advance(ticks: UInt64) { sim_board_advance(handle, ticks) }

    /// The ADC returns `milliwatts[(now / ticksPerStep) % count]` from now on.
    public func setLoadProfile(_ milliwatts: [UInt32], ticksPerStep: UInt64) throws(SimulatorError) {
        let status = milliwatts.withUnsafeBufferPointer { p in
            sim_board_set_load_profile(handle, p.baseAddress, p.count, ticksPerStep)
        }
        guard status == MH_OK else { throw .emptyLoadProfile }
    }

    // MARK: - radio

    /// Queues a frame for the meter to receive.
    public func deliver(_ frame: [UInt8]) throws(SimulatorError) {
        let status = frame.withUnsafeBufferPointer { p in
            sim_board_radio_deliver(handle, p.baseAddress, UInt32(p.count))
        }
        guard status == MH_OK else { throw .radio(status.rawValue) }
    }

    /// Takes every frame the meter has sent, oldest first.
    public func takeSent() -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: Int(configuration.radioMTU))
        var length: UInt32 = 0
        while buffer.withUnsafeMutableBufferPointer({ p in
            sim_board_radio_take_sent(handle, p.baseAddress, UInt32(p.count), &length)
        }) == MH_OK {
            frames.append(Array(buffer[0..<Int(length)]))
        }
        return frames
    }

    /// Frames the meter has sent that nobody took yet.
    public var sentPending: Int { Int(sim_board_radio_sent_pending(handle)) }
    /// Frames waiting in the meter's inbox.
    public var inboxPending: Int { Int(sim_board_radio_inbox_pending(handle)) }

    // MARK: - flash

    /// Bytes per flash sector.
    public var sectorSize: Int { Int(configuration.sectorSize) }
    /// Bytes of flash.
    public var flashSize: Int { sim_board_flash_size(handle) }

    /// The raw flash array, for fault injection and inspection.
    public func withFlash<R, E: Error>(_ body: (UnsafeMutableBufferPointer<UInt8>) throws(E) -> R) throws(E) -> R {
        try body(UnsafeMutableBufferPointer(start: sim_board_flash_bytes(handle), count: flashSize))
    }

    /// A copy of the flash bytes in `range` (all of them by default).
    public func flashSnapshot(_ range: Range<Int>? = nil) -> [UInt8] {
        withFlash { Array($0[range ?? 0..<$0.count]) }
    }

    /// Writes `bytes` back at `offset` (a snapshot taken with `flashSnapshot`).
    public func restoreFlash(_ bytes: [UInt8], at offset: Int = 0) {
        withFlash { flash in
            precondition(offset >= 0 && offset + bytes.count <= flash.count, "snapshot outside the flash")
            guard !bytes.isEmpty else { return }
            bytes.withUnsafeBufferPointer { src in
                UnsafeMutableRawPointer(flash.baseAddress! + offset).copyMemory(
                    from: src.baseAddress!, byteCount: src.count)
            }
        }
    }

    /// Completed erases of one sector so far.
    public func eraseCount(sector: UInt32) -> UInt64 { sim_board_flash_erase_count(handle, sector) }

    /// Overwrites a sector's erase counter (to restore a snapshot).
    public func setEraseCount(sector: UInt32, to count: UInt64) {
        sim_board_set_flash_erase_count(handle, sector, count)
    }

    /// Completed program operations so far.
    public var flashPrograms: UInt64 { sim_board_flash_program_count(handle) }
    /// Program and erase operations that reached the fault model so far (while powered).
    public var flashOperations: UInt64 { sim_board_flash_op_count(handle) }

    // MARK: - faults (hal/sim/sim_faults.c)

    /// Reseeds the fault model (partial writes, wear spread, stuck bits).
    public func seedFaults(_ seed: UInt64) { sim_board_fault_seed(handle, seed) }

    /// Cuts power at the (afterOperations + 1)-th flash program/erase from now.
    public func armPowerCut(afterOperations: UInt64, mode: PowerCutMode) {
        sim_board_arm_cut(handle, afterOperations, mode.raw)
    }

    /// Disarms a cut that has not happened yet.
    public func disarmPowerCut() { sim_board_disarm_cut(handle) }

    /// False after a power cut, until `powerOn`.
    public var powered: Bool { sim_board_powered(handle) != 0 }
    /// Power cuts so far.
    public var powerCuts: UInt64 { sim_board_cut_count(handle) }

    /// Restores power: the inbox (the meter's RAM) is cleared, frames already sent stay;
    /// a power-fail warning and the cut it announced are cleared.
    public func powerOn() { sim_board_power_on(handle) }

    /// Raises the power-fail warning now: `powerFailFlashOperations` more flash operations
    /// complete, then power is cut in `mode` at the next one.
    public func raisePowerFail(mode: PowerCutMode = .partial) { sim_board_raise_power_fail(handle, mode.raw) }

    /// Raises the warning during the (afterOperations + 1)-th flash operation from now.
    public func armPowerFail(afterOperations: UInt64, mode: PowerCutMode = .partial) {
        sim_board_arm_power_fail(handle, afterOperations, mode.raw)
    }

    /// True while the power-fail warning is raised.
    public var powerFailing: Bool { sim_board_power_failing(handle) != 0 }

    /// Flips one flash bit at rest (a stuck bit does not flip).
    public func flipBit(address: UInt32, bit: UInt32) {
        precondition(sim_board_flip_bit(handle, address, bit) == MH_OK, "bit outside the flash")
    }

    /// Sticks one flash bit at `value` from now on.
    public func stickBit(address: UInt32, bit: UInt32, value: Bool) {
        precondition(sim_board_stick_bit(handle, address, bit, value ? 1 : 0) == MH_OK, "bit outside the flash")
    }

    /// Rated erase cycles per sector (0: unlimited), each sector ± `spreadPercent`.
    public func setEndurance(_ cycles: UInt32, spreadPercent: UInt32 = 10) {
        sim_board_set_endurance(handle, cycles, spreadPercent)
    }

    /// Erases that hit a worn sector so far.
    public var wornErases: UInt64 { sim_board_worn_erase_count(handle) }

    /// The board RNG's state, 4 words (to replay key generation from a snapshot).
    public var rngState: [UInt64] {
        get {
            var state = [UInt64](repeating: 0, count: 4)
            state.withUnsafeMutableBufferPointer { sim_board_rng_state(handle, $0.baseAddress) }
            return state
        }
        set {
            precondition(newValue.count == 4, "the RNG state has 4 words")
            newValue.withUnsafeBufferPointer { sim_board_set_rng_state(handle, $0.baseAddress) }
        }
    }
}
