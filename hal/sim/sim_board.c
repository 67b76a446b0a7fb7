// Simulated meter board: see meter_sim.h.
#include "meter_sim.h"
#include "sim_internal.h"

#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------- queues

static int queue_init(frame_queue *q, uint32_t capacity, uint32_t mtu) {
    q->slots = malloc((size_t)capacity * mtu);
    q->lengths = calloc(capacity, sizeof(uint32_t));
    q->capacity = capacity;
    q->mtu = mtu;
    q->head = q->count = 0;
    return q->slots != NULL && q->lengths != NULL;
}

static void queue_free(frame_queue *q) {
    free(q->slots);
    free(q->lengths);
}

static mh_status queue_push(frame_queue *q, const uint8_t *frame, uint32_t len) {
    if (len > q->mtu) return MH_ERR_TOO_LONG;
    if (q->count == q->capacity) return MH_ERR_BUSY;
    uint32_t slot = (q->head + q->count) % q->capacity;
    memcpy(q->slots + (size_t)slot * q->mtu, frame, len);
    q->lengths[slot] = len;
    q->count++;
    return MH_OK;
}

static mh_status queue_pop(frame_queue *q, uint8_t *out, uint32_t cap, uint32_t *len) {
    if (q->count == 0) return MH_ERR_EMPTY;
    uint32_t n = q->lengths[q->head];
    q->head = (q->head + 1) % q->capacity;
    q->count--;
    if (n > cap) return MH_ERR_TOO_LONG;  // dropped: reported once (meter_hal.h)
    memcpy(out, q->slots + (size_t)((q->head + q->capacity - 1) % q->capacity) * q->mtu, n);
    *len = n;
    return MH_OK;
}

// ---------------------------------------------------------------- rng

// ---------------------------------------------------------------- HAL calls

static uint64_t hal_clock_ticks(void *ctx) { return ((sim_board *)ctx)->now; }

static uint32_t hal_adc_sample_mw(void *ctx) {
    sim_board *b = ctx;
    if (b->profile_count == 0) return 0;
    return b->profile[(b->now / b->ticks_per_step) % b->profile_count];
}

static int flash_range_ok(const sim_board *b, uint32_t addr, uint32_t len) {
    uint64_t size = (uint64_t)b->hal.flash.sector_size * b->hal.flash.sector_count;
    return (uint64_t)addr + len <= size;
}

static mh_status hal_flash_read(void *ctx, uint32_t addr, uint8_t *out, uint32_t len) {
    sim_board *b = ctx;
    if (!flash_range_ok(b, addr, len)) return MH_ERR_RANGE;
    if (!b->faults.powered) return MH_ERR_POWER;
    memcpy(out, b->flash + addr, len);
    return MH_OK;
}

static mh_status hal_flash_program(void *ctx, uint32_t addr, const uint8_t *data, uint32_t len) {
    sim_board *b = ctx;
    if (!flash_range_ok(b, addr, len)) return MH_ERR_RANGE;
    uint32_t ss = b->hal.flash.sector_size;
    if (len > 0 && addr / ss != (addr + len - 1) / ss) return MH_ERR_RANGE;
    if (!b->faults.powered) return MH_ERR_POWER;
    if (b->hook) {
        mh_status s = b->hook(b->hook_user, SIM_FLASH_PROGRAM, addr, data, len);
        if (s != MH_OK) return s;
    }
    return sim_faults_program(b, addr, data, len);
}

static mh_status hal_flash_erase(void *ctx, uint32_t sector) {
    sim_board *b = ctx;
    if (sector >= b->hal.flash.sector_count) return MH_ERR_RANGE;
    uint32_t ss = b->hal.flash.sector_size;
    if (!b->faults.powered) return MH_ERR_POWER;
    if (b->hook) {
        mh_status s = b->hook(b->hook_user, SIM_FLASH_ERASE, sector * ss, NULL, ss);
        if (s != MH_OK) return s;
    }
    return sim_faults_erase(b, sector);
}

static void hal_rng_fill(void *ctx, uint8_t *out, uint32_t len) {
    xoshiro_fill(((sim_board *)ctx)->rng, out, len);
}

static int hal_power_failing(void *ctx) {
    sim_board *b = ctx;
    return b->faults.powered && b->faults.power_failing;
}

static mh_status hal_radio_send(void *ctx, const uint8_t *frame, uint32_t len) {
    sim_board *b = ctx;
    if (!b->faults.powered) return MH_ERR_POWER;  // a dead meter transmits nothing
    return queue_push(&b->sent, frame, len);
}

static mh_status hal_radio_receive(void *ctx, uint8_t *out, uint32_t cap, uint32_t *len) {
    sim_board *b = ctx;
    if (!b->faults.powered) return MH_ERR_POWER;
    return queue_pop(&b->inbox, out, cap, len);
}

// ---------------------------------------------------------------- host API

sim_board *sim_board_create(const sim_board_config *config) {
    sim_board_config c = *config;
    if (c.ticks_per_second == 0) c.ticks_per_second = 1000;
    if (c.flash_sector_size == 0) c.flash_sector_size = 4096;
    if (c.flash_sector_count == 0) c.flash_sector_count = 64;
    if (c.radio_mtu == 0) c.radio_mtu = 2048;
    if (c.radio_queue_capacity == 0) c.radio_queue_capacity = 64;
    if (c.power_fail_flash_ops == 0) c.power_fail_flash_ops = 4;

    sim_board *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    size_t flash_size = (size_t)c.flash_sector_size * c.flash_sector_count;
    b->flash = malloc(flash_size);
    b->erase_counts = calloc(c.flash_sector_count, sizeof(uint64_t));
    int ok = b->flash && b->erase_counts && queue_init(&b->sent, c.radio_queue_capacity, c.radio_mtu) &&
             queue_init(&b->inbox, c.radio_queue_capacity, c.radio_mtu);
    if (!ok) {
        sim_board_destroy(b);
        return NULL;
    }
    memset(b->flash, 0xFF, flash_size);  // a new device comes erased

    uint64_t seed = c.rng_seed;
    for (int i = 0; i < 4; i++) b->rng[i] = splitmix64(&seed);
    sim_faults_init(b, c.rng_seed ^ 0x46415553ull);  // a fault stream apart from the RNG
    b->faults.warn_budget = c.power_fail_flash_ops;

    b->hal.ctx = b;
    b->hal.clock_ticks = hal_clock_ticks;
    b->hal.ticks_per_second = c.ticks_per_second;
    b->hal.adc_sample_mw = hal_adc_sample_mw;
    b->hal.flash.sector_size = c.flash_sector_size;
    b->hal.flash.sector_count = c.flash_sector_count;
    b->hal.flash_read = hal_flash_read;
    b->hal.flash_program = hal_flash_program;
    b->hal.flash_erase = hal_flash_erase;
    b->hal.rng_fill = hal_rng_fill;
    b->hal.radio_send = hal_radio_send;
    b->hal.radio_receive = hal_radio_receive;
    b->hal.power_failing = hal_power_failing;
    b->hal.power_fail_flash_ops = c.power_fail_flash_ops;
    return b;
}

void sim_board_destroy(sim_board *b) {
    if (!b) return;
    free(b->profile);
    free(b->flash);
    free(b->erase_counts);
    sim_faults_free(b);
    queue_free(&b->sent);
    queue_free(&b->inbox);
    free(b);
}

const mh_board *sim_board_hal(const sim_board *b) { return &b->hal; }

void sim_board_advance(sim_board *b, uint64_t ticks) { b->now += ticks; }

uint64_t sim_board_now(const sim_board *b) { return b->now; }

mh_status sim_board_set_load_profile(sim_board *b, const uint32_t *mw, size_t count,
                                     uint64_t ticks_per_step) {
    if (count == 0 || ticks_per_step == 0) return MH_ERR_RANGE;
    uint32_t *copy = malloc(count * sizeof(uint32_t));
    if (!copy) return MH_ERR_RANGE;
    memcpy(copy, mw, count * sizeof(uint32_t));
    free(b->profile);
    b->profile = copy;
    b->profile_count = count;
    b->ticks_per_step = ticks_per_step;
    return MH_OK;
}

uint8_t *sim_board_flash_bytes(sim_board *b) { return b->flash; }

size_t sim_board_flash_size(const sim_board *b) {
    return (size_t)b->hal.flash.sector_size * b->hal.flash.sector_count;
}

void sim_board_set_flash_hook(sim_board *b, sim_flash_hook hook, void *user) {
    b->hook = hook;
    b->hook_user = user;
}

uint64_t sim_board_flash_erase_count(const sim_board *b, uint32_t sector) {
    return sector < b->hal.flash.sector_count ? b->erase_counts[sector] : 0;
}

uint64_t sim_board_flash_program_count(const sim_board *b) { return b->program_count; }

mh_status sim_board_radio_take_sent(sim_board *b, uint8_t *out, uint32_t cap, uint32_t *len) {
    return queue_pop(&b->sent, out, cap, len);
}

mh_status sim_board_radio_deliver(sim_board *b, const uint8_t *frame, uint32_t len) {
    return queue_push(&b->inbox, frame, len);
}

uint32_t sim_board_radio_sent_pending(const sim_board *b) { return b->sent.count; }

uint32_t sim_board_radio_inbox_pending(const sim_board *b) { return b->inbox.count; }
