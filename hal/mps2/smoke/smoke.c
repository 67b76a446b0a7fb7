// Smoke test of the mps2-an386 board (scripts/m4-smoke.sh runs it on QEMU): each check
// prints "ok NAME" or "FAIL NAME: why"; the exit status is the number of failures.
//
// The phase= option says which part runs (the script runs them in order on one flash file):
//   main      timer against a loop of known length, HAL clock, ADC feed, NOR semantics,
//             stack painting, seeded RNG against rng-expect=, radio round trip with the
//             host peer; writes record 1, resets through AIRCR, and on the warm boot
//             checks record 1 and writes record 2
//   persist   a new QEMU on the same flash file: records 1 and 2 are there; host entropy
//   cut       programs record 3 under an armed cut (the script arms cut-after= at it)
//   after-cut a new QEMU (or the warm boot of cut-action=reset): record 3 is half written
#include <stdint.h>
#include <string.h>

#include "mps2_board.h"

static int failures;

static void check(int ok, const char *name, const char *why) {
    mps2_puts(ok ? "ok " : "FAIL ");
    mps2_puts(name);
    if (!ok) {
        mps2_puts(": ");
        mps2_puts(why);
        failures++;
    }
    mps2_puts("\n");
}

// ---- records: 64-byte lines in sector 0, line k filled with bytes (k * 17 + i) ----

enum { RECORD = 64 };

static void record_bytes(uint32_t k, uint8_t out[RECORD]) {
    for (uint32_t i = 0; i < RECORD; i++) out[i] = (uint8_t)(k * 17u + i);
}

static int record_is(const mh_board *b, uint32_t k, uint32_t programmed) {
    uint8_t want[RECORD], got[RECORD];
    record_bytes(k, want);
    if (b->flash_read(b->ctx, k * RECORD, got, RECORD) != MH_OK) return 0;
    for (uint32_t i = 0; i < RECORD; i++) {
        uint8_t expect = i < programmed ? want[i] : 0xFF;
        if (got[i] != expect) return 0;
    }
    return 1;
}

static mh_status write_record(const mh_board *b, uint32_t k) {
    uint8_t data[RECORD];
    record_bytes(k, data);
    return b->flash_program(b->ctx, k * RECORD, data, RECORD);
}

// ---- checks ----

// 2 instructions per iteration (subs, bne): the timer's count of a loop of known length.
__attribute__((noinline)) static void spin(uint32_t n) {
    __asm__ volatile("1: subs %0, %0, #1\n bne 1b\n" : "+r"(n) : : "cc");
}

static void check_timer(void) {
    const uint32_t n = 500000;
    uint64_t t0 = mps2_instructions();
    spin(n);
    uint64_t t1 = mps2_instructions();
    uint64_t counted = t1 - t0, expect = 2ull * n;
    // Resolution: 40 ns of virtual time (40 >> shift instructions), plus the calls' own.
    uint64_t slack = (40u >> mps2_icount_shift()) + 64;
    check(counted + slack >= expect && counted <= expect + slack, "timer-counts-a-known-loop",
          "instructions over a 2-instruction loop differ from 2 per iteration");
    mps2_report("timer-loop-instructions", counted);
    mps2_report("timer-loop-expected", expect);
    uint64_t a = mps2_timer_ticks(), b = mps2_timer_ticks();
    check(b >= a, "timer-monotonic", "timer went backwards");
}

static void check_clock(const mh_board *b) {
    uint64_t c0 = b->clock_ticks(b->ctx);
    mps2_clock_advance(5000);
    uint64_t c1 = b->clock_ticks(b->ctx);
    check(b->ticks_per_second == MPS2_TICKS_PER_SECOND, "clock-rate", "ticks_per_second");
    check(c1 >= c0 + 5000 && c1 < c0 + 5100, "clock-advance", "mps2_clock_advance(5000) not seen");
    check(c0 >= mps2_option_u64("rtc", 0), "clock-rtc", "clock below rtc=");
}

// adc= holds 1000, 2000, 3000, 4000 mW; adc-step= is 10^6 ticks and the clock starts at 0.
static void check_adc(const mh_board *b) {
    uint32_t seen[5];
    for (int i = 0; i < 5; i++) {
        seen[i] = b->adc_sample_mw(b->ctx);
        mps2_clock_advance(1000000);
    }
    check(seen[0] == 1000 && seen[1] == 2000 && seen[2] == 3000 && seen[3] == 4000 && seen[4] == 1000,
          "adc-feed", "samples differ from the adc= file, step by step, wrapping");
}

static void check_flash(const mh_board *b) {
    uint32_t ss = b->flash.sector_size;
    check(ss == 4096 && b->flash.sector_count == 64, "flash-geometry", "not 64 x 4096");
    uint8_t buf[16], pat[16];
    // erase -> 0xFF
    check(b->flash_erase(b->ctx, 2) == MH_OK, "flash-erase", "erase failed");
    b->flash_read(b->ctx, 2 * ss + 100, buf, 16);
    int all_ff = 1;
    for (int i = 0; i < 16; i++) all_ff &= buf[i] == 0xFF;
    check(all_ff, "flash-erase-is-ff", "erased bytes are not 0xFF");
    // program clears bits only: 0xF0 then 0x3C gives 0x30
    memset(pat, 0xF0, 16);
    b->flash_program(b->ctx, 2 * ss + 100, pat, 16);
    memset(pat, 0x3C, 16);
    b->flash_program(b->ctx, 2 * ss + 100, pat, 16);
    b->flash_read(b->ctx, 2 * ss + 100, buf, 16);
    int anded = 1;
    for (int i = 0; i < 16; i++) anded &= buf[i] == 0x30;
    check(anded, "flash-program-ands", "programming set bits back to 1");
    // refusals
    check(b->flash_program(b->ctx, 3 * ss - 8, pat, 16) == MH_ERR_RANGE, "flash-no-sector-crossing",
          "a program across a sector boundary was accepted");
    check(b->flash_program(b->ctx, 64 * ss - 8, pat, 16) == MH_ERR_RANGE, "flash-range", "past the end accepted");
    check(b->flash_erase(b->ctx, 64) == MH_ERR_RANGE, "flash-erase-range", "sector 64 accepted");
    check(b->flash_read(b->ctx, 64 * ss, buf, 1) == MH_ERR_RANGE, "flash-read-range", "read past the end");
    check(mps2_flash_erase_count(2) == 1, "flash-erase-count", "sector 2 erase count");
}

// Uses about `bytes` of stack below the caller.
__attribute__((noinline)) static uint32_t deep(uint32_t bytes) {
    volatile uint8_t frame[4096];
    for (uint32_t i = 0; i < bytes && i < sizeof frame; i++) frame[i] = (uint8_t)i;
    return frame[sizeof frame - 1];
}

static void check_stack(void) {
    mps2_stack_paint();
    uint32_t before = mps2_stack_high_water();
    deep(4096);
    uint32_t after = mps2_stack_high_water();
    mps2_report("stack-high-water-before", before);
    mps2_report("stack-high-water-after", after);
    // `before` includes mps2_stack_paint's own frame and margin, which deep's frame reuses.
    check(after >= before + 4096 - 128 && after <= before + 4096 + 256, "stack-painting",
          "a 4 KiB frame did not move the high-water mark by 4 KiB");
    check(mps2_stack_size() == 256u * 1024u, "stack-size", "not the linker script's 256 KiB");
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static void check_rng_seeded(const mh_board *b) {
    const char *hex = mps2_option("rng-expect");
    uint8_t got[20];
    b->rng_fill(b->ctx, got, 20);  // 20: two whole draws and a cut one
    int ok = hex && strlen(hex) == 40;
    for (int i = 0; ok && i < 20; i++) ok = hex_digit(hex[2 * i]) * 16 + hex_digit(hex[2 * i + 1]) == got[i];
    check(ok, "rng-seeded-stream", "rng-seed= stream differs from rng-expect= (the simulated board's)");
}

static void check_rng_host(const mh_board *b) {
    uint8_t x[32], y[32];
    b->rng_fill(b->ctx, x, 32);
    b->rng_fill(b->ctx, y, 32);
    check(memcmp(x, y, 32) != 0, "rng-host-entropy", "two 32-byte draws are equal");
}

// The host peer (scripts/m4/radio-peer.py) answers each frame with its bytes reversed,
// and first with a frame of radio-mtu + 1 bytes that the board must drop once.
static void check_radio(const mh_board *b) {
    uint8_t frame[100], got[2048];
    for (int i = 0; i < 100; i++) frame[i] = (uint8_t)(i * 7 + 1);
    uint32_t len = 0;
    check(b->radio_receive(b->ctx, got, sizeof got, &len) == MH_ERR_EMPTY, "radio-empty", "inbox not empty");
    check(b->radio_send(b->ctx, frame, 100) == MH_OK, "radio-send", "send failed");
    check(b->radio_send(b->ctx, got, 2049) == MH_ERR_TOO_LONG, "radio-send-too-long", "accepted 2049 bytes");
    mh_status s = MH_ERR_EMPTY;
    int too_long = 0;
    for (uint32_t polls = 0; polls < 2000000; polls++) {
        s = b->radio_receive(b->ctx, got, sizeof got, &len);
        if (s == MH_ERR_TOO_LONG) too_long++;
        else if (s != MH_ERR_EMPTY) break;
    }
    check(too_long == 1, "radio-too-long-dropped-once", "the over-long frame was not reported exactly once");
    int reversed = s == MH_OK && len == 100;
    for (int i = 0; reversed && i < 100; i++) reversed = got[i] == frame[99 - i];
    check(reversed, "radio-round-trip", "the host peer's answer did not arrive reversed");
}

int main(void) {
    const mh_board *b = mps2_board_hal();
    const char *phase = mps2_option("phase");
    if (!phase) phase = "main";
    if (strcmp(phase, "cut") == 0 && mps2_after_cut()) phase = "after-cut";  // cut-action=reset
    mps2_report("boot", mps2_boot_count());

    if (strcmp(phase, "main") == 0 && mps2_boot_count() == 1) {
        check_timer();
        check_clock(b);
        check_adc(b);
        check_flash(b);
        check_stack();
        check_rng_seeded(b);
        check_radio(b);
        check(b->flash_erase(b->ctx, 0) == MH_OK && write_record(b, 1) == MH_OK, "record-1-written", "program");
        if (failures) mps2_exit(failures);
        mps2_print_line("resetting");
        mps2_reset();
    } else if (strcmp(phase, "main") == 0) {
        check(mps2_boot_count() == 2, "warm-boot", "boot count after one reset is not 2");
        check(record_is(b, 1, RECORD), "persist-across-reset", "record 1 lost in a system reset");
        check(write_record(b, 2) == MH_OK, "record-2-written", "program");
    } else if (strcmp(phase, "persist") == 0) {
        check(record_is(b, 1, RECORD) && record_is(b, 2, RECORD), "persist-across-qemu-runs",
              "records 1 and 2 are not in the flash file");
        check(record_is(b, 3, 0), "record-3-erased", "record 3 is not erased yet");
        check_rng_host(b);
    } else if (strcmp(phase, "cut") == 0) {
        mps2_report("flash-ops-before-record-3", mps2_flash_op_count());
        write_record(b, 3);  // the armed cut ends the run here
        check(0, "power-cut", "the armed cut did not happen");
    } else if (strcmp(phase, "after-cut") == 0) {
        check(record_is(b, 1, RECORD) && record_is(b, 2, RECORD), "old-records-intact", "records 1, 2");
        check(record_is(b, 3, RECORD / 2), "cut-left-half", "record 3 is not exactly half programmed");
    } else {
        check(0, "phase", "unknown phase=");
    }
    mps2_report("failures", (uint64_t)failures);
    return failures;
}
