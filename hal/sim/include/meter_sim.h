// The simulated meter board: an implementation of meter_hal.h in memory,
// driven by the host (simulator, tests, fault campaigns).
//
// - the clock advances only when the host calls sim_board_advance;
// - the ADC follows a load profile the host gives it (milliwatts per step);
// - flash is an in-memory NOR array (erase -> 0xFF, program ANDs bits in),
//   with a hook called before every program and erase (fault injection);
// - the RNG is a seeded xoshiro256** stream, so runs are reproducible
//   (a simulation device, not a cryptographic source: meter_hal.h asks a real board
//   for a TRNG or a CSPRNG seeded per boot);
// - the radio is two bounded frame queues, meter->host and host->meter.
#ifndef PRIVATEMETERING_METER_SIM_H
#define PRIVATEMETERING_METER_SIM_H

// The contract this board implements (module MeterHAL, hal/include).
#include "../../include/meter_hal.h"

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
    uint32_t power_fail_flash_ops;  ///< program operations granted after the warning; 0 -> 4
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

// ---- flash faults (hal/sim/sim_faults.c) ----
//
// A NOR fault model, deterministic from a seed (its own stream, apart from the board
// RNG, so faults never change the keys a board generates):
// - power cut at a chosen program/erase operation: a cut program leaves every target
//   bit between old and old AND new (bit granularity: either a prefix of the bits in
//   address order, or a random subset, drawn from the seed); a cut erase leaves the
//   sector partly erased (each bit erased with a drawn probability, otherwise its old
//   value or a random one). After a cut the board is off: every flash, radio call fails
//   with MH_ERR_POWER until sim_board_power_on (the firmware must be rebooted then);
// - bit flips at rest in either direction, and bits stuck at 0 or 1;
// - wear: each sector endures a rated number of erase cycles (with a seeded spread);
//   an erase beyond that either fails with MH_ERR_WORN, leaving the sector partly
//   erased, or reports success but leaves new stuck bits (at 0: not erased; at 1: a
//   later program cannot clear them). Only read-back verification sees the latter.

/// What a power cut leaves of the operation it interrupts.
typedef enum sim_cut_mode {
    SIM_CUT_RANDOM = 0,  ///< a partial result drawn from the fault seed
    SIM_CUT_BEFORE = 1,  ///< nothing of the operation reached the array
    SIM_CUT_AFTER = 2    ///< the operation completed, power died before it returned
} sim_cut_mode;

/// Reseeds the fault stream (partial results, wear spread, stuck bits).
void sim_board_fault_seed(sim_board *board, uint64_t seed);
/// Arms a power cut at the (after_ops + 1)-th program/erase operation from now.
void sim_board_arm_cut(sim_board *board, uint64_t after_ops, sim_cut_mode mode);
/// Disarms a cut that has not happened yet.
void sim_board_disarm_cut(sim_board *board);
/// Program/erase operations that reached the fault model since creation (while powered).
uint64_t sim_board_flash_op_count(const sim_board *board);
/// Power cuts applied since creation.
uint64_t sim_board_cut_count(const sim_board *board);
/// 0 after a cut, until sim_board_power_on.
int sim_board_powered(const sim_board *board);
/// Restores power: the radio inbox (the meter's RAM) is cleared; frames already sent stay.
/// Clears a power-fail warning and the cut it announced.
void sim_board_power_on(sim_board *board);

// ---- power-fail warning (meter_hal.h, power_failing) ----
//
// The warning is raised either now (sim_board_raise_power_fail) or during a chosen
// program/erase operation, which itself completes (sim_board_arm_power_fail). After it the
// board lets power_fail_flash_ops more program/erase operations complete and cuts power at
// the next one (in the given mode), as sim_board_arm_cut does. An erase counts as one
// operation here; meter_hal.h guarantees only programs.

/// Raises the warning now; the cut follows after the budget.
void sim_board_raise_power_fail(sim_board *board, sim_cut_mode mode);
/// Raises the warning during the (after_ops + 1)-th program/erase operation from now.
void sim_board_arm_power_fail(sim_board *board, uint64_t after_ops, sim_cut_mode mode);
/// 1 while the warning is raised (until sim_board_power_on).
int sim_board_power_failing(const sim_board *board);
/// Flips one bit at rest (a stuck bit does not flip). MH_ERR_RANGE outside the device.
mh_status sim_board_flip_bit(sim_board *board, uint32_t addr, uint32_t bit);
/// Sticks one bit at value (0 or 1) from now on. MH_ERR_RANGE outside the device.
mh_status sim_board_stick_bit(sim_board *board, uint32_t addr, uint32_t bit, int value);
/// Rated erase cycles per sector (0: unlimited); each sector gets endurance ± spread_percent.
void sim_board_set_endurance(sim_board *board, uint32_t endurance, uint32_t spread_percent);
/// Erases that hit a worn sector (failed, or succeeded with new stuck bits).
uint64_t sim_board_worn_erase_count(const sim_board *board);
/// Copies out / restores the board RNG's state (4 words), to replay key generation
/// from a snapshot.
void sim_board_rng_state(const sim_board *board, uint64_t state[4]);
void sim_board_set_rng_state(sim_board *board, const uint64_t state[4]);
/// Overwrites a sector's erase counter (to restore a snapshot).
void sim_board_set_flash_erase_count(sim_board *board, uint32_t sector, uint64_t count);

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
