// The simulated meter board: an implementation of meter_hal.h in memory,
// driven by the host (simulator, tests, fault campaigns).
//
// - the clock advances only when the host calls sim_board_advance;
// - the ADC follows a load profile the host gives it (milliwatts per step);
// - flash is an in-memory NOR array (erase -> 0xFF, program ANDs bits in),
//   with a hook called before every program and erase (fault injection);
// - the RNG is a seeded xoshiro256** stream, so runs are reproducible
//   (a simulation device, not a cryptographic source: a real board has a TRNG);
// - the radio is two bounded frame queues, meter->host and host->meter.
#ifndef PRIVATEMETERING_METER_SIM_H
#define PRIVATEMETERING_METER_SIM_H

#include "meter_hal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sim_board sim_board;

typedef struct sim_board_config {
    uint32_t ticks_per_second;      ///< 0 -> 1000
    uint32_t flash_sector_size;     ///< 0 -> 4096
    uint32_t flash_sector_count;    ///< 0 -> 64
    uint64_t rng_seed;
    uint32_t radio_mtu;             ///< largest frame in bytes; 0 -> 2048
    uint32_t radio_queue_capacity;  ///< frames per direction; 0 -> 64
} sim_board_config;

/// Flash operations reported to the fault hook.
typedef enum sim_flash_op { SIM_FLASH_PROGRAM = 0, SIM_FLASH_ERASE = 1 } sim_flash_op;

/// Called before every program/erase. Returning MH_OK lets the operation run;
/// any other status makes the operation fail with that status without
/// touching the array (the fault-injection layer may have changed the array
/// itself through sim_board_flash_bytes, e.g. to model a partial write).
typedef mh_status (*sim_flash_hook)(void *user, sim_flash_op op, uint32_t addr,
                                    const uint8_t *data, uint32_t len);

/// NULL when out of memory or the configuration is inconsistent.
sim_board *sim_board_create(const sim_board_config *config);
void sim_board_destroy(sim_board *board);

/// The HAL view the firmware runs against. Valid until sim_board_destroy.
const mh_board *sim_board_hal(const sim_board *board);

// ---- clock ----
void sim_board_advance(sim_board *board, uint64_t ticks);
uint64_t sim_board_now(const sim_board *board);

// ---- ADC ----
/// The ADC returns mw[(now / ticks_per_step) % count]. The profile is copied.
/// Returns MH_ERR_RANGE for count == 0 or ticks_per_step == 0.
mh_status sim_board_set_load_profile(sim_board *board, const uint32_t *mw, size_t count,
                                     uint64_t ticks_per_step);

// ---- flash ----
uint8_t *sim_board_flash_bytes(sim_board *board);
size_t sim_board_flash_size(const sim_board *board);
void sim_board_set_flash_hook(sim_board *board, sim_flash_hook hook, void *user);
/// Completed erases of one sector since creation.
uint64_t sim_board_flash_erase_count(const sim_board *board, uint32_t sector);
/// Completed program operations since creation.
uint64_t sim_board_flash_program_count(const sim_board *board);

// ---- radio ----
/// Takes the oldest frame the meter sent. MH_ERR_EMPTY if none.
mh_status sim_board_radio_take_sent(sim_board *board, uint8_t *out, uint32_t cap, uint32_t *len);
/// Queues a frame for the meter to receive. MH_ERR_BUSY when the queue is full.
mh_status sim_board_radio_deliver(sim_board *board, const uint8_t *frame, uint32_t len);
/// Frames waiting in each direction.
uint32_t sim_board_radio_sent_pending(const sim_board *board);
uint32_t sim_board_radio_inbox_pending(const sim_board *board);

#ifdef __cplusplus
}
#endif

#endif
