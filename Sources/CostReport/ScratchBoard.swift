// A bare simulated board for phase measurements that need the HAL (reading an expanded
// key from flash) without a whole meter. The only file of this module that sees the HAL.
import MeterFirmware
import MeterHAL

/// A simulated board with erased flash, owned by this object.
final class ScratchBoard {
    private let handle: OpaquePointer
    let board: Board

    /// Why a scratch board could not be made.
    enum Failure: Error {
        /// sim_board_create returned NULL (out of memory or a bad configuration).
        case creation
    }

    init(sectorSize: UInt32 = 4096, sectorCount: UInt32 = 16) throws(Failure) {
        var config = sim_board_config()
        config.ticks_per_second = 1000
        config.flash_sector_size = sectorSize
        config.flash_sector_count = sectorCount
        config.rng_seed = 1
        guard let b = sim_board_create(&config) else { throw .creation }
        handle = b
        board = Board(hal: sim_board_hal(b))
    }

    deinit { sim_board_destroy(handle) }
}
