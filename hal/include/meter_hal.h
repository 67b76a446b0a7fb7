// The meter's hardware contract.
//
// A board is a struct of function pointers plus a context pointer, so that
// many boards (one per simulated meter) live in one process. The firmware sees
// only this header (through MeterFirmware/Board.swift); the simulated board in
// hal/sim implements it, and a real board would implement it the same way.
#ifndef PRIVATEMETERING_METER_HAL_H
#define PRIVATEMETERING_METER_HAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Result codes of the HAL calls that can fail.
typedef enum mh_status {
    MH_OK = 0,
    MH_ERR_RANGE = 1,     ///< address, length or sector outside the device
    MH_ERR_POWER = 2,     ///< power was cut during the operation (fault injection)
    MH_ERR_WORN = 3,      ///< the sector no longer erases or programs reliably
    MH_ERR_EMPTY = 4,     ///< nothing to receive
    MH_ERR_TOO_LONG = 5,  ///< a frame longer than the radio or the buffer takes (see radio_receive)
    MH_ERR_BUSY = 6       ///< the radio queue is full
} mh_status;

/// NOR flash geometry, fixed for the lifetime of a board.
typedef struct mh_flash_geometry {
    uint32_t sector_size;   ///< bytes per erase sector
    uint32_t sector_count;  ///< number of sectors
} mh_flash_geometry;

typedef struct mh_board {
    void *ctx;  ///< passed back to every call

    // ---- clock ----
    /// Monotonic ticks since the label epoch (a battery-backed real-time
    /// clock on a real board): keeps counting across power cuts and never goes
    /// backwards. The firmware derives the 15-minute label from it.
    uint64_t (*clock_ticks)(void *ctx);
    /// Ticks per second of clock_ticks (constant).
    uint32_t ticks_per_second;

    // ---- ADC power sampler ----
    /// Instantaneous active power at the meter's terminals, in milliwatts.
    uint32_t (*adc_sample_mw)(void *ctx);

    // ---- NOR flash ----
    mh_flash_geometry flash;
    /// Reads len bytes at addr.
    mh_status (*flash_read)(void *ctx, uint32_t addr, uint8_t *out, uint32_t len);
    /// Programs len bytes at addr: each bit can only go from 1 to 0
    /// (the result is old AND new). Must not cross a sector boundary.
    mh_status (*flash_program)(void *ctx, uint32_t addr, const uint8_t *data, uint32_t len);
    /// Erases one sector: every byte becomes 0xFF.
    mh_status (*flash_erase)(void *ctx, uint32_t sector);

    // ---- RNG ----
    /// Fills out with len bytes from a cryptographically secure generator: a hardware
    /// TRNG, or a CSPRNG (e.g. a DRBG per NIST SP 800-90A) seeded from a hardware entropy
    /// source at every boot, never from a fixed or stored seed alone. The firmware draws
    /// its DH private keys and PSA seeds from it. The simulated board (hal/sim) does NOT
    /// meet this: it is a seeded xoshiro256** stream so test runs are reproducible.
    void (*rng_fill)(void *ctx, uint8_t *out, uint32_t len);

    // ---- radio ----
    /// Queues one frame for transmission.
    mh_status (*radio_send)(void *ctx, const uint8_t *frame, uint32_t len);
    /// Takes the oldest received frame into out (capacity cap) and stores its
    /// length in *len. MH_ERR_EMPTY when nothing is waiting. A frame longer than cap
    /// is dropped by this call, which returns MH_ERR_TOO_LONG once for it (out and
    /// *len untouched); the next call returns the frame after it. A too-long frame
    /// never stays at the head of the queue.
    mh_status (*radio_receive)(void *ctx, uint8_t *out, uint32_t cap, uint32_t *len);

    // ---- power-fail warning ----
    /// Nonzero once the supply has dropped below the board's warning threshold (a
    /// comparator on the input rail, with hold-up capacitance behind it); latched until
    /// the board resets. From the first call that returns nonzero, the board guarantees
    /// that at least power_fail_flash_ops further flash_program calls of up to 64 bytes
    /// each complete before power is lost (no erase is guaranteed). The firmware checks
    /// it before every program and erase, stops what it was writing (every flash
    /// structure is safe against a cut between two operations) and spends the budget on
    /// its energy register (docs/spec/flash-format.md). May be NULL: no warning, power
    /// cuts come unannounced. If the supply recovers, the board resets the firmware.
    int (*power_failing)(void *ctx);
    /// Flash program operations guaranteed after the warning (see power_failing).
    uint32_t power_fail_flash_ops;
} mh_board;

#ifdef __cplusplus
}
#endif

#endif
