// The firmware's view of the hardware: the only file that imports the HAL header.
public import MeterHAL

/// Why a hardware operation failed.
public enum BoardError: Error, Equatable, Sendable {
    /// Address, length or sector outside the device.
    case outOfRange
    /// Power was cut during the operation.
    case powerLoss
    /// The flash sector no longer erases or programs reliably.
    case wornOut
    /// A frame longer than the radio or the buffer takes.
    case tooLong
    /// The radio queue is full.
    case busy
    /// The board raised its power-fail warning: the operation was not started (the
    /// firmware keeps the remaining flash budget for its energy register).
    case powerFailing
    /// A status code this firmware does not know.
    case unknown(UInt32)

    init(_ status: mh_status) {
        switch status {
        case MH_ERR_RANGE: self = .outOfRange
        case MH_ERR_POWER: self = .powerLoss
        case MH_ERR_WORN: self = .wornOut
        case MH_ERR_TOO_LONG: self = .tooLong
        case MH_ERR_BUSY: self = .busy
        default: self = .unknown(status.rawValue)
        }
    }
}

/// A handle on one board's HAL function table. The table outlives the handle.
///
/// Program and erase refuse to start (`powerFailing`) once the board has raised its
/// power-fail warning, so whatever the firmware was writing stops between two operations
/// (every flash structure is safe against that) and the granted budget is left for the
/// energy register, which writes through `forPowerFailSave`.
public struct Board {
    @usableFromInline let hal: UnsafePointer<mh_board>
    /// False for the handle that spends the power-fail budget.
    let honoursPowerFail: Bool

    /// Wraps a board's HAL table (from the simulator, or a real board's startup code).
    public init(hal: UnsafePointer<mh_board>) {
        self.hal = hal
        honoursPowerFail = true
    }

    /// Wraps the HAL table at `table` (an `mh_board`), for an image's entry point, which
    /// sees no C type.
    public init(table: UnsafeRawPointer) {
        self.init(hal: table.assumingMemoryBound(to: mh_board.self))
    }

    init(hal: UnsafePointer<mh_board>, honoursPowerFail: Bool) {
        self.hal = hal
        self.honoursPowerFail = honoursPowerFail
    }

    /// The same board, for the writes made after the power-fail warning.
    var forPowerFailSave: Board { Board(hal: hal, honoursPowerFail: false) }

    /// True once the board has raised its power-fail warning (false on boards without one).
    public var powerFailing: Bool {
        guard let check = hal.pointee.power_failing else { return false }
        return check(hal.pointee.ctx) != 0
    }

    /// Program operations the board guarantees after its warning (0 without one).
    public var powerFailFlashOperations: UInt32 {
        hal.pointee.power_failing == nil ? 0 : hal.pointee.power_fail_flash_ops
    }

    /// Ticks since the label epoch.
    @inlinable public var ticks: UInt64 { hal.pointee.clock_ticks!(hal.pointee.ctx) }
    public var ticksPerSecond: UInt32 { hal.pointee.ticks_per_second }

    /// Instantaneous power in milliwatts.
    @inlinable public func sampleMilliwatts() -> UInt32 { hal.pointee.adc_sample_mw!(hal.pointee.ctx) }

    public var sectorSize: UInt32 { hal.pointee.flash.sector_size }
    public var sectorCount: UInt32 { hal.pointee.flash.sector_count }

    public func read(_ address: UInt32, into out: inout MutableSpan<UInt8>) throws(BoardError) {
        let ctx = hal.pointee.ctx
        let read = hal.pointee.flash_read!
        let status = out.withUnsafeMutableBufferPointer { p in
            read(ctx, address, p.baseAddress, UInt32(p.count))
        }
        guard status == MH_OK else { throw BoardError(status) }
    }

    /// Reads the first `count` bytes of `out` (count ≤ out.count).
    public func read(_ address: UInt32, into out: inout MutableSpan<UInt8>, count: Int) throws(BoardError) {
        precondition(count >= 0 && count <= out.count, "read beyond the buffer")
        let ctx = hal.pointee.ctx
        let read = hal.pointee.flash_read!
        let status = out.withUnsafeMutableBufferPointer { p in
            read(ctx, address, p.baseAddress, UInt32(count))
        }
        guard status == MH_OK else { throw BoardError(status) }
    }

    public func program(_ address: UInt32, _ data: Span<UInt8>) throws(BoardError) {
        if honoursPowerFail && powerFailing { throw .powerFailing }
        let ctx = hal.pointee.ctx
        let program = hal.pointee.flash_program!
        let status = data.withUnsafeBufferPointer { p in
            program(ctx, address, p.baseAddress, UInt32(p.count))
        }
        guard status == MH_OK else { throw BoardError(status) }
    }

    public func erase(sector: UInt32) throws(BoardError) {
        if honoursPowerFail && powerFailing { throw .powerFailing }
        let status = hal.pointee.flash_erase!(hal.pointee.ctx, sector)
        guard status == MH_OK else { throw BoardError(status) }
    }

    public func randomBytes(into out: inout MutableSpan<UInt8>) {
        let ctx = hal.pointee.ctx
        let fill = hal.pointee.rng_fill!
        out.withUnsafeMutableBufferPointer { p in fill(ctx, p.baseAddress, UInt32(p.count)) }
    }

    public func send(_ frame: Span<UInt8>) throws(BoardError) {
        let ctx = hal.pointee.ctx
        let send = hal.pointee.radio_send!
        let status = frame.withUnsafeBufferPointer { p in send(ctx, p.baseAddress, UInt32(p.count)) }
        guard status == MH_OK else { throw BoardError(status) }
    }

    /// Takes the next received frame into `out`; nil when nothing is waiting.
    public func receive(into out: inout MutableSpan<UInt8>) throws(BoardError) -> Int? {
        let ctx = hal.pointee.ctx
        let receive = hal.pointee.radio_receive!
        var length: UInt32 = 0
        let status = out.withUnsafeMutableBufferPointer { p in
            receive(ctx, p.baseAddress, UInt32(p.count), &length)
        }
        if status == MH_ERR_EMPTY { return nil }
        guard status == MH_OK else { throw BoardError(status) }
        return Int(length)
    }
}
