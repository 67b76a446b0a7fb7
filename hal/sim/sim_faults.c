// The simulated NOR flash's fault model: power cuts inside program/erase, bit flips
// and stuck bits, wear-out. See meter_sim.h ("flash faults").
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

static uint64_t fault_next(sim_board *b) { return xoshiro_next(b->faults.rng); }

/// A uniform draw in [0, 1).
static double fault_unit(sim_board *b) { return (double)(fault_next(b) >> 11) * 0x1.0p-53; }

static size_t flash_bytes(const sim_board *b) {
    return (size_t)b->hal.flash.sector_size * b->hal.flash.sector_count;
}

static int ensure_stuck_maps(sim_board *b) {
    if (b->faults.stuck0) return 1;
    size_t n = (flash_bytes(b) + 7) / 8 * 8;
    b->faults.stuck0 = calloc(n, 1);
    b->faults.stuck1 = calloc(n, 1);
    if (!b->faults.stuck0 || !b->faults.stuck1) {
        free(b->faults.stuck0);
        free(b->faults.stuck1);
        b->faults.stuck0 = b->faults.stuck1 = NULL;
        return 0;
    }
    return 1;
}

/// A stuck bit reads its stuck value whatever was programmed or erased.
static uint8_t apply_stuck(const sim_board *b, size_t addr, uint8_t v) {
    if (!b->faults.stuck0) return v;
    return (uint8_t)((v | b->faults.stuck1[addr]) & ~b->faults.stuck0[addr]);
}

static void seed_faults(sim_board *b, uint64_t seed) {
    for (int i = 0; i < 4; i++) b->faults.rng[i] = splitmix64(&seed);
}

void sim_faults_init(sim_board *b, uint64_t seed) {
    memset(&b->faults, 0, sizeof b->faults);
    b->faults.powered = 1;
    seed_faults(b, seed);
}

void sim_faults_free(sim_board *b) {
    free(b->faults.sector_endurance);
    free(b->faults.stuck0);
    free(b->faults.stuck1);
}

/// Raises the warning and arms the cut after the budget (ops already counted for the
/// operation in progress, which completes).
static void raise_warning(sim_board *b, sim_cut_mode mode) {
    b->faults.power_failing = 1;
    b->faults.warn_at = 0;
    b->faults.cut_at = b->faults.ops + b->faults.warn_budget + 1;
    b->faults.cut_mode = mode;
}

/// True when this operation is the one the armed cut interrupts (ops already counted).
static int cut_now(sim_board *b) {
    if (b->faults.warn_at != 0 && b->faults.ops == b->faults.warn_at) raise_warning(b, b->faults.warn_mode);
    if (b->faults.cut_at == 0 || b->faults.ops != b->faults.cut_at) return 0;
    b->faults.cut_at = 0;
    b->faults.powered = 0;
    b->faults.cuts++;
    return 1;
}

mh_status sim_faults_program(sim_board *b, uint32_t addr, const uint8_t *data, uint32_t len) {
    b->faults.ops++;
    if (!cut_now(b)) {
        for (uint32_t i = 0; i < len; i++) {
            b->flash[addr + i] = apply_stuck(b, addr + i, b->flash[addr + i] & data[i]);
        }
        b->program_count++;
        return MH_OK;
    }
    switch (b->faults.cut_mode) {
    case SIM_CUT_BEFORE:
        break;
    case SIM_CUT_AFTER:
        for (uint32_t i = 0; i < len; i++) {
            b->flash[addr + i] = apply_stuck(b, addr + i, b->flash[addr + i] & data[i]);
        }
        b->program_count++;
        break;
    case SIM_CUT_RANDOM:
    default: {
        // Every bit ends between old and old AND new. Either the bits were being
        // programmed in address order and the cut fell after bit k, or the cells were
        // charging together and each had reached the threshold with probability u.
        if (fault_next(b) & 1) {
            uint64_t k = fault_next(b) % ((uint64_t)len * 8 + 1);
            for (uint32_t i = 0; i < len; i++) {
                uint8_t mask = 0;  // bits of byte i that completed (MSB first)
                for (int bit = 0; bit < 8; bit++) {
                    if ((uint64_t)i * 8 + (uint64_t)bit < k) mask |= (uint8_t)(0x80 >> bit);
                }
                uint8_t old = b->flash[addr + i];
                b->flash[addr + i] = apply_stuck(b, addr + i, old & (uint8_t)(data[i] | ~mask));
            }
        } else {
            double u = fault_unit(b);
            for (uint32_t i = 0; i < len; i++) {
                uint8_t old = b->flash[addr + i];
                uint8_t clear = old & (uint8_t)~data[i];  // bits this program would clear
                uint8_t done = 0;
                for (int bit = 0; bit < 8; bit++) {
                    if ((clear >> bit) & 1 && fault_unit(b) < u) done |= (uint8_t)(1 << bit);
                }
                b->flash[addr + i] = apply_stuck(b, addr + i, old & (uint8_t)~done);
            }
        }
        break;
    }
    }
    return MH_ERR_POWER;
}

/// A sector left between its old content and erased: each bit erased with probability
/// u, otherwise keeping its old value or reading at random (weakly charged cells).
static void partial_erase(sim_board *b, uint32_t sector) {
    uint32_t ss = b->hal.flash.sector_size;
    size_t base = (size_t)sector * ss;
    double u = fault_unit(b);
    for (uint32_t i = 0; i < ss; i++) {
        uint8_t v = b->flash[base + i];
        uint64_t r = fault_next(b);
        for (int bit = 0; bit < 8; bit++) {
            double x = fault_unit(b);
            if (x < u) {
                v |= (uint8_t)(1 << bit);
            } else if ((r >> bit) & 1) {
                v = (uint8_t)((v & ~(1 << bit)) | (((r >> (8 + bit)) & 1) << bit));
            }
        }
        b->flash[base + i] = apply_stuck(b, base + i, v);
    }
}

static void full_erase(sim_board *b, uint32_t sector) {
    uint32_t ss = b->hal.flash.sector_size;
    size_t base = (size_t)sector * ss;
    memset(b->flash + base, 0xFF, ss);
    if (b->faults.stuck0) {
        for (uint32_t i = 0; i < ss; i++) b->flash[base + i] = apply_stuck(b, base + i, 0xFF);
    }
    b->erase_counts[sector]++;
}

/// New stuck bits in a worn sector: 1 to 4, each at 0 or 1.
static void wear_sticks(sim_board *b, uint32_t sector) {
    if (!ensure_stuck_maps(b)) return;
    uint32_t ss = b->hal.flash.sector_size;
    int n = 1 + (int)(fault_next(b) % 4);
    for (int k = 0; k < n; k++) {
        uint64_t r = fault_next(b);
        size_t addr = (size_t)sector * ss + (size_t)(r % ss);
        uint8_t bit = (uint8_t)(1 << ((r >> 32) % 8));
        if ((r >> 40) & 1) {
            b->faults.stuck0[addr] |= bit;
            b->faults.stuck1[addr] &= (uint8_t)~bit;
        } else {
            b->faults.stuck1[addr] |= bit;
            b->faults.stuck0[addr] &= (uint8_t)~bit;
        }
        b->flash[addr] = apply_stuck(b, addr, b->flash[addr]);
    }
}

mh_status sim_faults_erase(sim_board *b, uint32_t sector) {
    b->faults.ops++;
    if (cut_now(b)) {
        switch (b->faults.cut_mode) {
        case SIM_CUT_BEFORE: break;
        case SIM_CUT_AFTER: full_erase(b, sector); break;
        case SIM_CUT_RANDOM:
        default: partial_erase(b, sector); break;
        }
        return MH_ERR_POWER;
    }
    if (b->faults.sector_endurance && b->erase_counts[sector] >= b->faults.sector_endurance[sector]) {
        b->faults.worn_erases++;
        if (fault_next(b) & 1) {
            partial_erase(b, sector);
            return MH_ERR_WORN;
        }
        full_erase(b, sector);
        wear_sticks(b, sector);
        return MH_OK;  // silently imperfect: only a read-back shows it
    }
    full_erase(b, sector);
    return MH_OK;
}

// ---------------------------------------------------------------- host API

void sim_board_fault_seed(sim_board *b, uint64_t seed) { seed_faults(b, seed); }

void sim_board_arm_cut(sim_board *b, uint64_t after_ops, sim_cut_mode mode) {
    b->faults.cut_at = b->faults.ops + after_ops + 1;
    b->faults.cut_mode = mode;
}

void sim_board_disarm_cut(sim_board *b) { b->faults.cut_at = 0; }

uint64_t sim_board_flash_op_count(const sim_board *b) { return b->faults.ops; }

uint64_t sim_board_cut_count(const sim_board *b) { return b->faults.cuts; }

int sim_board_powered(const sim_board *b) { return b->faults.powered; }

void sim_board_raise_power_fail(sim_board *b, sim_cut_mode mode) {
    if (!b->faults.powered) return;
    raise_warning(b, mode);
}

void sim_board_arm_power_fail(sim_board *b, uint64_t after_ops, sim_cut_mode mode) {
    b->faults.warn_at = b->faults.ops + after_ops + 1;
    b->faults.warn_mode = mode;
}

int sim_board_power_failing(const sim_board *b) { return b->faults.power_failing; }

void sim_board_power_on(sim_board *b) {
    if (b->faults.power_failing || b->faults.warn_at) b->faults.cut_at = 0;
    b->faults.power_failing = 0;
    b->faults.warn_at = 0;
    b->faults.powered = 1;
    b->inbox.head = b->inbox.count = 0;
}

mh_status sim_board_flip_bit(sim_board *b, uint32_t addr, uint32_t bit) {
    if (addr >= flash_bytes(b) || bit > 7) return MH_ERR_RANGE;
    b->flash[addr] = apply_stuck(b, addr, b->flash[addr] ^ (uint8_t)(1 << bit));
    return MH_OK;
}

mh_status sim_board_stick_bit(sim_board *b, uint32_t addr, uint32_t bit, int value) {
    if (addr >= flash_bytes(b) || bit > 7) return MH_ERR_RANGE;
    if (!ensure_stuck_maps(b)) return MH_ERR_RANGE;
    uint8_t m = (uint8_t)(1 << bit);
    if (value) {
        b->faults.stuck1[addr] |= m;
        b->faults.stuck0[addr] &= (uint8_t)~m;
    } else {
        b->faults.stuck0[addr] |= m;
        b->faults.stuck1[addr] &= (uint8_t)~m;
    }
    b->flash[addr] = apply_stuck(b, addr, b->flash[addr]);
    return MH_OK;
}

void sim_board_set_endurance(sim_board *b, uint32_t endurance, uint32_t spread_percent) {
    free(b->faults.sector_endurance);
    b->faults.sector_endurance = NULL;
    b->faults.endurance = endurance;
    if (endurance == 0) return;
    uint32_t n = b->hal.flash.sector_count;
    b->faults.sector_endurance = calloc(n, sizeof(uint32_t));
    if (!b->faults.sector_endurance) return;
    for (uint32_t s = 0; s < n; s++) {
        double spread = spread_percent / 100.0 * (2 * fault_unit(b) - 1);
        double e = endurance * (1 + spread);
        b->faults.sector_endurance[s] = e < 1 ? 1 : (uint32_t)e;
    }
}

uint64_t sim_board_worn_erase_count(const sim_board *b) { return b->faults.worn_erases; }

void sim_board_set_flash_erase_count(sim_board *b, uint32_t sector, uint64_t count) {
    if (sector < b->hal.flash.sector_count) b->erase_counts[sector] = count;
}

void sim_board_rng_state(const sim_board *b, uint64_t state[4]) { memcpy(state, b->rng, sizeof b->rng); }

void sim_board_set_rng_state(sim_board *b, const uint64_t state[4]) { memcpy(b->rng, state, sizeof b->rng); }
