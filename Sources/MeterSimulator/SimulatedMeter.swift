import MeterCrypto
import MeterFirmware
import MeterHAL

/// One meter: the firmware running on its own simulated board.
///
/// Not thread-safe; the fleet gives each instance to one thread at a time (hence
/// `@unchecked Sendable`).
public final class SimulatedMeter: @unchecked Sendable {
    public let id: UInt32
    let board: OpaquePointer
    public var firmware: Meter
    public let profile: [UInt32]
    public let timing: MeterTiming
    public let frameKey: [UInt8]

    /// A new board (erased flash, RNG seeded from `seed`), the firmware booted on it and
    /// provisioned with `frameKey` and the group's `provisioningKey`.
    public init(
        id: UInt32, group: UInt32, seed: UInt64, profile: [UInt32], sampleSeconds: UInt64,
        frameKey: [UInt8], provisioningKey: [UInt8], flashSectors: UInt32 = 64
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
        self.id = id
        self.profile = profile
        self.frameKey = frameKey
        timing = MeterTiming(ticksPerSecond: 1000, sampleSeconds: sampleSeconds)
        firmware = try Meter(board: Board(hal: sim_board_hal(b)), timing: timing)
        try firmware.provision(
            meter: id, group: group, frameKey: frameKey.span, provisioningKey: provisioningKey.span)
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
    public func reboot() throws {
        firmware = try Meter(board: Board(hal: sim_board_hal(board)), timing: timing)
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
