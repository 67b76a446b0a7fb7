import MeterCrypto
import MeterFirmware
import MeterHAL
import Provisioning

/// One meter: the firmware running on its own simulated board.
///
/// Not thread-safe; the fleet gives each instance to one thread at a time (hence
/// `@unchecked Sendable`).
public final class SimulatedMeter: @unchecked Sendable {
    public let id: UInt32
    let board: OpaquePointer
    /// The firmware image the board runs (one scheme's: `scheme`).
    public private(set) var firmware: any MeterImage
    /// The scheme of the image the board was flashed with.
    public private(set) var scheme: SchemeID
    public let profile: [UInt32]
    public let timing: MeterTiming
    /// What the factory wrote (and writes again when the meter is re-provisioned).
    public let factory: FactoryKeys
    /// Where every frame crossing this meter's radio is recorded, both directions (nil: nowhere).
    public var trace: (any RadioTrace)?

    /// A new board (erased flash, RNG seeded from `seed`), the firmware image of `scheme`
    /// booted on it and, unless `provision` is false, provisioned with the factory keys of
    /// `factory`.
    public init(
        factory: FactoryKeys, seed: UInt64, profile: [UInt32], sampleSeconds: UInt64, flashSectors: UInt32 = 64,
        scheme: SchemeID = .lwrPSA, provision: Bool = true
    ) throws {
        var config = sim_board_config()
        config.ticks_per_second = 1000
        config.flash_sector_size = 4096
        config.flash_sector_count = flashSectors
        config.rng_seed = seed
        guard let b = sim_board_create(&config) else { throw SimulatorError.boardCreation }
        board = b
        profile.withUnsafeBufferPointer { p in
            _ = sim_board_set_load_profile(b, p.baseAddress, p.count, LoadModel.stepSeconds * 1000)
        }
        id = factory.meter
        self.factory = factory
        self.profile = profile
        timing = MeterTiming(ticksPerSecond: 1000, sampleSeconds: sampleSeconds)
        self.scheme = scheme
        firmware = try bootImage(scheme: scheme, board: Board(hal: sim_board_hal(b)), timing: timing)
        if provision { try provisionFirmware() }
    }

    /// Provisions the firmware with this meter's identity and keys (the factory step).
    public func provisionFirmware(minGroupSize: UInt32 = 2) throws {
        let keys = factory
        try firmware.provision(
            meter: keys.meter, frameSecret: keys.frameSecret.span, enrolmentKey: keys.enrolmentKey.span,
            authorityKey: keys.authorityKey.span, minGroupSize: minGroupSize)
    }

    deinit { sim_board_destroy(board) }

    public var ticks: UInt64 { sim_board_now(board) }

    public func advance(ticks: UInt64) { sim_board_advance(board, ticks) }

    /// Puts a frame in the meter's radio inbox.
    public func deliver(_ frame: [UInt8]) throws {
        let status = frame.withUnsafeBufferPointer { p in
            sim_board_radio_deliver(board, p.baseAddress, UInt32(p.count))
        }
        guard status == MH_OK else { throw SimulatorError.radio(status.rawValue) }
        trace?.record(.downlink, meter: id, frame: frame)
    }

    /// Takes every frame the meter has sent.
    public func takeSent() -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        var length: UInt32 = 0
        while buffer.withUnsafeMutableBufferPointer({ p in
            sim_board_radio_take_sent(board, p.baseAddress, UInt32(p.count), &length)
        }) == MH_OK {
            frames.append(Array(buffer[0..<Int(length)]))
        }
        if let trace { for frame in frames { trace.record(.uplink, meter: id, frame: frame) } }
        return frames
    }

    /// Delivers a frame and lets the firmware handle it.
    @discardableResult
    public func handle(_ frame: [UInt8]) throws -> MeterEvent {
        try deliver(frame)
        return firmware.poll()
    }

    /// Flash erase cycles of one sector so far.
    public func eraseCount(sector: UInt32) -> UInt64 { sim_board_flash_erase_count(board, sector) }

    /// The raw flash array, for fault injection and inspection.
    public func withFlash<R>(_ body: (UnsafeMutableBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: sim_board_flash_bytes(board), count: sim_board_flash_size(board)))
    }

    /// Reboots the firmware (power cycle): RAM state is lost, flash and clock remain.
    /// Restores power first if a cut had switched the board off.
    public func reboot() throws {
        if sim_board_powered(board) == 0 || sim_board_power_failing(board) != 0 { sim_board_power_on(board) }
        firmware = try bootImage(scheme: scheme, board: Board(hal: sim_board_hal(board)), timing: timing)
    }

    /// Flashes the image of another scheme and boots it on the same flash (commissioning a
    /// meter for another scheme). Its key store is kept, but the new image's outbox ring
    /// was never formatted under it, so the meter reports its store corrupt and encrypts
    /// nothing until it is provisioned again (`provisionFirmware`).
    public func reflash(scheme: SchemeID) throws {
        self.scheme = scheme
        try reboot()
    }

    // MARK: - faults (hal/sim/sim_faults.c)

    /// Flash program/erase operations so far.
    public var flashOperations: UInt64 { sim_board_flash_op_count(board) }
    /// Flash program operations completed so far.
    public var flashPrograms: UInt64 { sim_board_flash_program_count(board) }
    /// False after a power cut, until `reboot`.
    public var powered: Bool { sim_board_powered(board) != 0 }
    /// Power cuts so far.
    public var powerCuts: UInt64 { sim_board_cut_count(board) }

    /// Cuts power at the (afterOperations + 1)-th flash program/erase from now.
    public func armPowerCut(afterOperations: UInt64, mode: sim_cut_mode) {
        sim_board_arm_cut(board, afterOperations, mode)
    }

    public func disarmPowerCut() { sim_board_disarm_cut(board) }

    /// Raises the board's power-fail warning now: the firmware may complete the board's
    /// budget of flash operations (4), then power is cut in `mode` at the next one.
    public func raisePowerFail(mode: sim_cut_mode = SIM_CUT_RANDOM) { sim_board_raise_power_fail(board, mode) }

    /// Raises the warning during the (afterOperations + 1)-th flash operation from now.
    public func armPowerFail(afterOperations: UInt64, mode: sim_cut_mode = SIM_CUT_RANDOM) {
        sim_board_arm_power_fail(board, afterOperations, mode)
    }

    /// True while the power-fail warning is raised.
    public var powerFailing: Bool { sim_board_power_failing(board) != 0 }

    /// A power failure announced by the warning: the firmware sees it at its next poll,
    /// saves its energy register, and the board loses power; then it boots again.
    public func powerFailAndReboot(mode: sim_cut_mode = SIM_CUT_RANDOM) throws {
        raisePowerFail(mode: mode)
        _ = firmware.poll()
        try reboot()
    }

    /// Reseeds the fault model (partial writes, wear spread, stuck bits).
    public func seedFaults(_ seed: UInt64) { sim_board_fault_seed(board, seed) }

    /// Flips one flash bit at rest.
    public func flipBit(address: UInt32, bit: UInt32) {
        precondition(sim_board_flip_bit(board, address, bit) == MH_OK, "bit outside the flash")
    }

    /// Sticks one flash bit at `value` from now on.
    public func stickBit(address: UInt32, bit: UInt32, value: Bool) {
        precondition(sim_board_stick_bit(board, address, bit, value ? 1 : 0) == MH_OK, "bit outside the flash")
    }

    /// Rated erase cycles per sector (0: unlimited), each sector ± `spreadPercent`.
    public func setEndurance(_ cycles: UInt32, spreadPercent: UInt32 = 10) {
        sim_board_set_endurance(board, cycles, spreadPercent)
    }

    /// Erases that hit a worn sector so far.
    public var wornErases: UInt64 { sim_board_worn_erase_count(board) }

    /// Bytes per flash sector.
    public var sectorSize: Int { Int(sim_board_hal(board).pointee.flash.sector_size) }

    /// A copy of the flash bytes in `range`.
    public func flashSnapshot(_ range: Range<Int>? = nil) -> [UInt8] {
        withFlash { Array($0[range ?? 0..<$0.count]) }
    }

    /// Writes `bytes` back at `offset` (a snapshot taken with `flashSnapshot`).
    public func restoreFlash(_ bytes: [UInt8], at offset: Int = 0) {
        withFlash { flash in
            precondition(offset >= 0 && offset + bytes.count <= flash.count, "snapshot outside the flash")
            bytes.withUnsafeBufferPointer { src in
                UnsafeMutableRawPointer(flash.baseAddress! + offset).copyMemory(
                    from: src.baseAddress!, byteCount: src.count)
            }
        }
    }

    /// The board RNG's state (to replay key generation from a snapshot).
    public var rngState: [UInt64] {
        get {
            var state = [UInt64](repeating: 0, count: 4)
            state.withUnsafeMutableBufferPointer { sim_board_rng_state(board, $0.baseAddress) }
            return state
        }
        set {
            precondition(newValue.count == 4, "the RNG state has 4 words")
            newValue.withUnsafeBufferPointer { sim_board_set_rng_state(board, $0.baseAddress) }
        }
    }

    /// The frames the firmware holds unacknowledged in its outbox, oldest label first.
    public func pendingFrames() throws -> [(label: UInt64, frame: [UInt8])] {
        var out: [(UInt64, [UInt8])] = []
        var buffer = [UInt8](repeating: 0, count: Frame.maxFrameBytes)
        for i in 0..<firmware.pendingReadings {
            var span = buffer.mutableSpan
            let n = try firmware.pendingFrame(i, into: &span)
            out.append((firmware.pendingLabel(i), Array(buffer[0..<n])))
        }
        return out
    }
}

/// Failures of the simulation harness itself.
public enum SimulatorError: Error, Equatable, CustomStringConvertible {
    /// The C board could not be created (out of memory).
    case boardCreation
    /// A radio queue refused a frame (HAL status code).
    case radio(UInt32)
    /// A meter did not answer a key-setup step as expected.
    case setupStalled(meter: UInt32, detail: String)
    /// A meter sent no reading for a label.
    case missingReading(meter: UInt32, label: UInt64)
    /// The fleet cannot run this scheme (yet).
    case unsupportedScheme(SchemeID)

    public var description: String {
        switch self {
        case .boardCreation: return "could not create a simulated board"
        case .radio(let s): return "radio queue refused a frame (status \(s))"
        case .setupStalled(let m, let d): return "key setup stalled at meter \(m): \(d)"
        case .missingReading(let m, let l): return "meter \(m) sent no reading for label \(l)"
        case .unsupportedScheme(let s): return "the fleet does not run scheme \(s) yet"
        }
    }
}
