// The meter board for QEMU's mps2-an386: meter_hal.h with the semantics of the simulated
// board (hal/sim), on emulated hardware. See mps2_board.h for the options and docs/m4.md.
#include "mps2_board.h"

#include <string.h>

#include "../sim/sim_prng.h"
#include "mps2_internal.h"
#include "semihost.h"

// ---------------------------------------------------------------- hardware

#define REG32(addr) (*(volatile uint32_t *)(addr))
// CMSDK APB timer0
#define TIMER0_CTRL REG32(0x40000000u)
#define TIMER0_VALUE REG32(0x40000004u)
#define TIMER0_RELOAD REG32(0x40000008u)
#define TIMER0_INTCLEAR REG32(0x4000000Cu)
#define TIMER_CTRL_ENABLE 1u
#define TIMER_CTRL_IRQ_ENABLE 8u
#define TIMER0_IRQ 8u
// System control block and NVIC
#define NVIC_ISER0 REG32(0xE000E100u)
#define SCB_AIRCR REG32(0xE000ED0Cu)
#define AIRCR_SYSRESETREQ 0x05FA0004u

extern uint8_t __board_flash_array[], __board_flash_array_size[];
extern uint8_t __board_adc_samples[], __board_adc_samples_size[];

// ---------------------------------------------------------------- state

enum { MAX_ARGS = 32, CMDLINE_CAP = 1024, MAX_SECTORS = 1024 };

typedef enum cut_mode { CUT_BEFORE, CUT_HALF, CUT_AFTER } cut_mode;

/// Survives a system reset (QEMU keeps RAM; the startup code does not touch .noinit):
/// what a warm boot needs to continue where the last one stopped.
typedef struct warm_record {
    uint32_t magic;
    uint32_t boots;
    uint32_t cut_fired;    // the armed cut has happened: do not re-arm
    uint32_t after_cut;    // this boot follows a cut of cut-action=reset
    uint64_t last_clock;   // the last clock_ticks value returned (an RTC keeps counting)
    uint64_t flash_ops;    // program/erase operations since the cold start
    uint32_t radio_in_pos; // bytes of radio-in already taken
    uint32_t check;        // magic ^ boots ^ ... : a torn record reads as a cold start
} warm_record;
#define WARM_MAGIC 0x4D505332u  // "MPS2"

__attribute__((section(".noinit"))) static warm_record warm;

/// Emulation-only buffers (the command line, per-sector erase counters, the console line):
/// in PSRAM's .board section, outside the RAM figure a real board's HAL would have.
__attribute__((section(".board"))) static struct {
    char cmdline[CMDLINE_CAP];
    char *argv[MAX_ARGS + 1];
    uint32_t erase_counts[MAX_SECTORS];
    char line[256];
} emu;

static struct {
    mh_board hal;
    int argc;
    uint32_t icount_shift;
    // clock
    volatile uint32_t timer_wraps;
    uint64_t clock_base;  // clock_ticks at this boot's start, plus mps2_clock_advance
    // ADC
    uint32_t *samples;
    uint32_t sample_count;
    uint64_t ticks_per_sample;
    // flash
    uint8_t *flash;
    uint32_t flash_size;
    int flash_fd;
    uint64_t cut_at;  // cut at this value of warm.flash_ops (0: none)
    cut_mode cut_mode;
    int cut_resets;   // cut-action=reset (else exit)
    int after_cut;    // this boot follows a cut of cut-action=reset
    // RNG
    int rng_seeded;
    uint64_t rng[4];
    int entropy_fd;
    // radio
    int radio_out_fd, radio_in_fd;
    uint32_t radio_mtu;
} board;

static uint32_t warm_check(const warm_record *w) {
    return w->magic ^ w->boots ^ (w->cut_fired << 1) ^ (w->after_cut << 2) ^ (uint32_t)w->last_clock ^
           (uint32_t)(w->last_clock >> 32) ^ (uint32_t)w->flash_ops ^ w->radio_in_pos ^ 0x5EA1u;
}

static void warm_seal(void) { warm.check = warm_check(&warm); }

static void board_fail(const char *why) {
    mps2_puts("mps2: ");
    mps2_puts(why);
    mps2_puts("\n");
    mps2_exit(2);
}

// ---------------------------------------------------------------- command line

static void parse_cmdline(void) {
    board.argc = 0;
    if (sh_get_cmdline(emu.cmdline, CMDLINE_CAP) != 0) emu.cmdline[0] = 0;
    emu.cmdline[CMDLINE_CAP - 1] = 0;
    char *p = emu.cmdline;
    while (*p && board.argc < MAX_ARGS) {
        while (*p == ' ') *p++ = 0;
        if (!*p) break;
        emu.argv[board.argc++] = p;
        while (*p && *p != ' ') p++;
    }
    if (board.argc == 0) {
        static char name[] = "mps2-image";
        emu.argv[board.argc++] = name;
    }
    emu.argv[board.argc] = NULL;
}

int mps2_argc(void) { return board.argc; }
char **mps2_argv(void) { return emu.argv; }

const char *mps2_option(const char *key) {
    size_t n = strlen(key);
    for (int i = 1; i < board.argc; i++) {
        if (strncmp(emu.argv[i], key, n) == 0 && emu.argv[i][n] == '=') return emu.argv[i] + n + 1;
    }
    return NULL;
}

uint64_t mps2_option_u64(const char *key, uint64_t fallback) {
    const char *v = mps2_option(key);
    if (!v || !*v) return fallback;
    uint64_t x = 0;
    int base = 10;
    if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        base = 16;
        v += 2;
    }
    for (; *v; v++) {
        int d;
        if (*v >= '0' && *v <= '9') d = *v - '0';
        else if (base == 16 && *v >= 'a' && *v <= 'f') d = *v - 'a' + 10;
        else if (base == 16 && *v >= 'A' && *v <= 'F') d = *v - 'A' + 10;
        else board_fail("a numeric board option is not a number");
        x = x * (uint64_t)base + (uint64_t)d;
    }
    return x;
}

// ---------------------------------------------------------------- timer and clock

void mps2_timer_start(void) {
    board.timer_wraps = 0;
    TIMER0_CTRL = 0;
    TIMER0_RELOAD = 0xFFFFFFFFu;
    TIMER0_VALUE = 0xFFFFFFFFu;
    TIMER0_INTCLEAR = 1;
    NVIC_ISER0 = 1u << TIMER0_IRQ;
    TIMER0_CTRL = TIMER_CTRL_ENABLE | TIMER_CTRL_IRQ_ENABLE;
}

void mps2_timer0_irq(void) {
    TIMER0_INTCLEAR = 1;
    board.timer_wraps++;
}

uint64_t mps2_timer_ticks(void) {
    uint32_t hi, lo;
    do {
        hi = board.timer_wraps;
        lo = TIMER0_VALUE;
    } while (hi != board.timer_wraps);
    return ((uint64_t)hi << 32) + (0xFFFFFFFFu - lo);
}

uint64_t mps2_elapsed_ns(void) { return mps2_timer_ticks() * (1000000000u / MPS2_TIMER_HZ); }

uint64_t mps2_instructions(void) { return mps2_elapsed_ns() >> board.icount_shift; }

uint32_t mps2_icount_shift(void) { return board.icount_shift; }

static uint64_t hal_clock_ticks(void *ctx) {
    (void)ctx;
    uint64_t now = board.clock_base + mps2_elapsed_ns() / (1000000000u / MPS2_TICKS_PER_SECOND);
    if (now < warm.last_clock) now = warm.last_clock;  // never backwards
    warm.last_clock = now;
    warm_seal();
    return now;
}

void mps2_clock_advance(uint64_t ticks) { board.clock_base += ticks; }

// ---------------------------------------------------------------- ADC

static uint32_t hal_adc_sample_mw(void *ctx) {
    if (board.sample_count == 0) return 0;
    uint64_t now = hal_clock_ticks(ctx);
    return board.samples[(now / board.ticks_per_sample) % board.sample_count];
}

static void load_samples(void) {
    board.samples = (uint32_t *)__board_adc_samples;
    board.ticks_per_sample = mps2_option_u64("adc-step", 900u * MPS2_TICKS_PER_SECOND);
    if (board.ticks_per_sample == 0) board_fail("adc-step=0");
    const char *path = mps2_option("adc");
    if (!path) return;
    int fd = sh_open(path, SH_MODE_RB);
    if (fd < 0) board_fail("cannot open the adc= file");
    long len = sh_flen(fd);
    if (len < 0 || (uint32_t)len > (uint32_t)(uintptr_t)__board_adc_samples_size || len % 4 != 0)
        board_fail("the adc= file is not a whole number of uint32 samples (at most 1 Mi)");
    if (sh_read(fd, board.samples, (size_t)len) != len) board_fail("cannot read the adc= file");
    sh_close(fd);
    board.sample_count = (uint32_t)len / 4;  // little-endian on both sides
}

// ---------------------------------------------------------------- flash

static int flash_range_ok(uint32_t addr, uint32_t len) { return (uint64_t)addr + len <= board.flash_size; }

static void flash_write_through(uint32_t addr, uint32_t len) {
    if (board.flash_fd < 0 || len == 0) return;
    if (sh_seek(board.flash_fd, addr) != 0 || sh_write(board.flash_fd, board.flash + addr, len) != 0)
        board_fail("cannot write the flash= file");
}

/// Counts one operation; cuts power if it is the armed one. Returns 1 when the caller
/// must apply only part of the operation (`keep` bytes of it) and then lose power.
static int flash_op_cut(uint32_t len, uint32_t *keep) {
    warm.flash_ops++;
    warm_seal();
    if (board.cut_at == 0 || warm.flash_ops != board.cut_at) return 0;
    switch (board.cut_mode) {
    case CUT_BEFORE: *keep = 0; break;
    case CUT_HALF: *keep = len / 2; break;
    case CUT_AFTER: *keep = len; break;
    }
    return 1;
}

__attribute__((noreturn)) static void power_cut(void) {
    warm.cut_fired = 1;
    warm.after_cut = board.cut_resets;
    warm_seal();
    if (board.cut_resets) {
        mps2_puts("mps2: power cut (reset)\n");
        mps2_reset();
    }
    mps2_puts("mps2: power cut (power off)\n");
    mps2_exit(MPS2_EXIT_POWER_CUT);
}

static mh_status hal_flash_read(void *ctx, uint32_t addr, uint8_t *out, uint32_t len) {
    (void)ctx;
    if (!flash_range_ok(addr, len)) return MH_ERR_RANGE;
    memcpy(out, board.flash + addr, len);
    return MH_OK;
}

static void program_bytes(uint32_t addr, const uint8_t *data, uint32_t len) {
    for (uint32_t i = 0; i < len; i++) board.flash[addr + i] &= data[i];
    flash_write_through(addr, len);
}

static mh_status hal_flash_program(void *ctx, uint32_t addr, const uint8_t *data, uint32_t len) {
    (void)ctx;
    if (!flash_range_ok(addr, len)) return MH_ERR_RANGE;
    uint32_t ss = board.hal.flash.sector_size;
    if (len > 0 && addr / ss != (addr + len - 1) / ss) return MH_ERR_RANGE;
    uint32_t keep;
    if (flash_op_cut(len, &keep)) {
        program_bytes(addr, data, keep);
        power_cut();
    }
    program_bytes(addr, data, len);
    return MH_OK;
}

static mh_status hal_flash_erase(void *ctx, uint32_t sector) {
    (void)ctx;
    if (sector >= board.hal.flash.sector_count) return MH_ERR_RANGE;
    uint32_t ss = board.hal.flash.sector_size;
    emu.erase_counts[sector]++;
    uint32_t keep;
    if (flash_op_cut(ss, &keep)) {
        memset(board.flash + sector * ss, 0xFF, keep);
        flash_write_through(sector * ss, keep);
        power_cut();
    }
    memset(board.flash + sector * ss, 0xFF, ss);
    flash_write_through(sector * ss, ss);
    return MH_OK;
}

static void setup_flash(void) {
    uint32_t count = (uint32_t)mps2_option_u64("flash-sectors", 64);
    uint32_t size = (uint32_t)mps2_option_u64("flash-sector-size", 4096);
    if (count == 0 || count > MAX_SECTORS || size == 0 || (uint64_t)count * size > (uintptr_t)__board_flash_array_size)
        board_fail("flash geometry: at most 1024 sectors and 4 MiB");
    board.hal.flash.sector_count = count;
    board.hal.flash.sector_size = size;
    board.flash = __board_flash_array;
    board.flash_size = count * size;
    memset(board.flash, 0xFF, board.flash_size);  // a new device comes erased
    board.flash_fd = -1;
    const char *path = mps2_option("flash");
    if (!path) return;
    int fd = sh_open(path, SH_MODE_RPB);
    if (fd < 0) fd = sh_open(path, SH_MODE_WPB);  // a new file: a new, erased device
    if (fd < 0) board_fail("cannot open or create the flash= file");
    long len = sh_flen(fd);
    if (len < 0) board_fail("cannot size the flash= file");
    uint32_t have = (uint32_t)len < board.flash_size ? (uint32_t)len : board.flash_size;
    if (have > 0 && (sh_seek(fd, 0) != 0 || sh_read(fd, board.flash, have) != (long)have))
        board_fail("cannot read the flash= file");
    board.flash_fd = fd;
    if (have < board.flash_size) flash_write_through(have, board.flash_size - have);  // extend, erased
}

// ---------------------------------------------------------------- RNG

static void hal_rng_fill(void *ctx, uint8_t *out, uint32_t len) {
    (void)ctx;
    if (board.rng_seeded) {
        xoshiro_fill(board.rng, out, len);
        return;
    }
    if (sh_read(board.entropy_fd, out, len) != (long)len) board_fail("the entropy source ran dry");
}

static void setup_rng(void) {
    if (mps2_option("rng-seed")) {
        uint64_t seed = mps2_option_u64("rng-seed", 0);
        for (int i = 0; i < 4; i++) board.rng[i] = splitmix64(&seed);  // as sim_board_create
        board.rng_seeded = 1;
        return;
    }
    const char *path = mps2_option("rng-source");
    board.entropy_fd = sh_open(path ? path : "/dev/urandom", SH_MODE_RB);
    if (board.entropy_fd < 0) board_fail("cannot open the entropy source (rng-source=, /dev/urandom)");
}

// ---------------------------------------------------------------- radio

static mh_status hal_radio_send(void *ctx, const uint8_t *frame, uint32_t len) {
    (void)ctx;
    if (len > board.radio_mtu) return MH_ERR_TOO_LONG;
    if (board.radio_out_fd < 0) return MH_OK;  // no listener: the frame goes nowhere
    uint8_t prefix[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24)};
    if (sh_write(board.radio_out_fd, prefix, 4) != 0 || sh_write(board.radio_out_fd, frame, len) != 0)
        board_fail("cannot write the radio-out= file");
    return MH_OK;
}

static mh_status hal_radio_receive(void *ctx, uint8_t *out, uint32_t cap, uint32_t *len) {
    (void)ctx;
    if (board.radio_in_fd < 0) return MH_ERR_EMPTY;
    long size = sh_flen(board.radio_in_fd);  // the host may have appended since
    uint32_t pos = warm.radio_in_pos;
    if (size < 0 || (uint64_t)pos + 4 > (uint64_t)size) return MH_ERR_EMPTY;
    uint8_t prefix[4];
    if (sh_seek(board.radio_in_fd, pos) != 0 || sh_read(board.radio_in_fd, prefix, 4) != 4) return MH_ERR_EMPTY;
    uint32_t n = prefix[0] | (uint32_t)prefix[1] << 8 | (uint32_t)prefix[2] << 16 | (uint32_t)prefix[3] << 24;
    if ((uint64_t)pos + 4 + n > (uint64_t)size) return MH_ERR_EMPTY;  // not all written yet
    warm.radio_in_pos = pos + 4 + n;
    warm_seal();
    if (n > cap || n > board.radio_mtu) return MH_ERR_TOO_LONG;  // dropped: reported once
    if (n > 0 && sh_read(board.radio_in_fd, out, n) != (long)n) board_fail("cannot read the radio-in= file");
    *len = n;
    return MH_OK;
}

static void setup_radio(void) {
    board.radio_mtu = (uint32_t)mps2_option_u64("radio-mtu", 2048);
    const char *out = mps2_option("radio-out");
    board.radio_out_fd = out ? sh_open(out, SH_MODE_AB) : -1;
    if (out && board.radio_out_fd < 0) board_fail("cannot open the radio-out= file");
    const char *in = mps2_option("radio-in");
    board.radio_in_fd = in ? sh_open(in, SH_MODE_APB) : -1;  // created empty if the host has not yet
    if (in && board.radio_in_fd < 0) board_fail("cannot open the radio-in= file");
}

// ---------------------------------------------------------------- board

void mps2_board_init(void) {
    memset(emu.erase_counts, 0, sizeof emu.erase_counts);  // .board is not zeroed at boot
    parse_cmdline();
    board.icount_shift = (uint32_t)mps2_option_u64("icount-shift", 0);
    int cold = warm.magic != WARM_MAGIC || warm.check != warm_check(&warm);
    if (cold) {
        memset(&warm, 0, sizeof warm);
        warm.magic = WARM_MAGIC;
        warm.last_clock = mps2_option_u64("rtc", 0);
    }
    board.after_cut = (int)warm.after_cut;  // this boot only
    warm.after_cut = 0;
    warm.boots++;
    warm_seal();
    board.clock_base = warm.last_clock;

    const char *mode = mps2_option("cut-mode");
    board.cut_mode = CUT_HALF;
    if (mode && strcmp(mode, "before") == 0) board.cut_mode = CUT_BEFORE;
    else if (mode && strcmp(mode, "after") == 0) board.cut_mode = CUT_AFTER;
    else if (mode && strcmp(mode, "half") != 0) board_fail("cut-mode= is before, half or after");
    const char *action = mps2_option("cut-action");
    board.cut_resets = action && strcmp(action, "reset") == 0;
    if (action && !board.cut_resets && strcmp(action, "exit") != 0) board_fail("cut-action= is exit or reset");
    board.cut_at = (mps2_option("cut-after") && !warm.cut_fired) ? mps2_option_u64("cut-after", 0) + 1 : 0;

    board.hal.ctx = &board;
    board.hal.clock_ticks = hal_clock_ticks;
    board.hal.ticks_per_second = MPS2_TICKS_PER_SECOND;
    board.hal.adc_sample_mw = hal_adc_sample_mw;
    board.hal.flash_read = hal_flash_read;
    board.hal.flash_program = hal_flash_program;
    board.hal.flash_erase = hal_flash_erase;
    board.hal.rng_fill = hal_rng_fill;
    board.hal.radio_send = hal_radio_send;
    board.hal.radio_receive = hal_radio_receive;
    board.hal.power_failing = NULL;  // no power-fail comparator: cuts come unannounced
    board.hal.power_fail_flash_ops = 0;
    setup_flash();
    load_samples();
    setup_rng();
    setup_radio();
}

const mh_board *mps2_board_hal(void) { return &board.hal; }

uint64_t mps2_flash_op_count(void) { return warm.flash_ops; }

uint32_t mps2_flash_erase_count(uint32_t sector) { return sector < MAX_SECTORS ? emu.erase_counts[sector] : 0; }

uint32_t mps2_boot_count(void) { return warm.boots; }

int mps2_after_cut(void) { return board.after_cut; }

// ---------------------------------------------------------------- console, reset, exit

static uint32_t line_len;

void mps2_console_flush(void) {
    if (line_len == 0) return;
    emu.line[line_len] = 0;
    sh_write0(emu.line);
    line_len = 0;
}

int putchar(int c) {
    emu.line[line_len++] = (char)c;
    if (c == '\n' || line_len == sizeof emu.line - 1) mps2_console_flush();
    return (unsigned char)c;
}

void mps2_puts(const char *text) {
    while (*text) putchar(*text++);
}

void mps2_put_u64(uint64_t value) {
    char digits[21];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    while (n) putchar(digits[--n]);
}

void mps2_print_line(const char *text) {
    mps2_puts(text);
    putchar('\n');
}

void mps2_report(const char *key, uint64_t value) {
    mps2_puts(key);
    putchar(' ');
    mps2_put_u64(value);
    putchar('\n');
}

int mps2_write_file(const char *path, const uint8_t *data, uint32_t len) {
    int fd = sh_open(path, SH_MODE_WB);
    if (fd < 0) return -1;
    int status = sh_write(fd, data, len);
    sh_close(fd);
    return status == 0 ? 0 : -1;
}

void mps2_reset(void) {
    mps2_console_flush();
    __asm__ volatile("dsb" ::: "memory");
    SCB_AIRCR = AIRCR_SYSRESETREQ;
    __asm__ volatile("dsb" ::: "memory");
    for (;;) {
    }
}

void mps2_exit(int status) {
    mps2_console_flush();
    sh_exit(status);
}
