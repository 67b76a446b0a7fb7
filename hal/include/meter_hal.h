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
    MH_ERR_TOO_LONG = 5,  ///< a frame longer than the radio or the buffer takes
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
    /// Fills out with len random bytes.
    void (*rng_fill)(void *ctx, uint8_t *out, uint32_t len);

    // ---- radio ----
    /// Queues one frame for transmission.
    mh_status (*radio_send)(void *ctx, const uint8_t *frame, uint32_t len);
    /// Takes the oldest received frame into out (capacity cap) and stores its
    /// length in *len. MH_ERR_EMPTY when nothing is waiting.
    mh_status (*radio_receive)(void *ctx, uint8_t *out, uint32_t cap, uint32_t *len);
} mh_board;

#ifdef __cplusplus
}
#endif

#endif
