// Private to hal/sim: the simulated board's state, shared by sim_board.c (the HAL
// implementation) and sim_faults.c (the NOR fault model).
#ifndef PRIVATEMETERING_SIM_INTERNAL_H
#define PRIVATEMETERING_SIM_INTERNAL_H

#include "meter_sim.h"

typedef struct frame_queue {
    uint8_t *slots;     // capacity * mtu bytes
    uint32_t *lengths;  // capacity
    uint32_t capacity, mtu, head, count;
} frame_queue;

/// The fault model's state (see meter_sim.h, "flash faults").
typedef struct sim_faults {
    uint64_t rng[4];             // fault RNG (xoshiro256**), independent of the board RNG
    uint64_t ops;                // program/erase operations that reached the array
    uint64_t cut_at;             // cut power at this value of ops (0: none armed)
    sim_cut_mode cut_mode;
    int powered;                 // 0 after a cut until sim_board_power_on
    uint64_t cuts;               // power cuts so far
    uint32_t endurance;          // rated erase cycles (0: unlimited)
    uint32_t *sector_endurance;  // per sector, endurance with the seeded spread
    uint8_t *stuck0;             // one bit per flash bit: stuck at 0
    uint8_t *stuck1;             // one bit per flash bit: stuck at 1
    uint64_t worn_erases;        // erases on a worn sector (failed or left stuck bits)
    int power_failing;           // the power-fail warning is raised (until power-on)
    uint64_t warn_at;            // raise the warning at this value of ops (0: none armed)
    sim_cut_mode warn_mode;      // the mode of the cut the warning announces
    uint32_t warn_budget;        // program/erase operations granted after the warning
} sim_faults;

struct sim_board {
    mh_board hal;
    uint64_t now;
    uint32_t *profile;
    size_t profile_count;
    uint64_t ticks_per_step;
    uint8_t *flash;
    uint64_t *erase_counts;
    uint64_t program_count;
    sim_flash_hook hook;
    void *hook_user;
    uint64_t rng[4];
    frame_queue sent, inbox;
    sim_faults faults;
};

#include "sim_prng.h"

// sim_faults.c
void sim_faults_init(sim_board *b, uint64_t seed);
void sim_faults_free(sim_board *b);
/// Runs one program operation through the fault model (range already checked).
mh_status sim_faults_program(sim_board *b, uint32_t addr, const uint8_t *data, uint32_t len);
/// Runs one erase operation through the fault model (range already checked).
mh_status sim_faults_erase(sim_board *b, uint32_t sector);

#endif
