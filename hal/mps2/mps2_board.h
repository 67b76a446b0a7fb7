// The meter board for QEMU's mps2-an386 (Cortex-M4, 25 MHz): meter_hal.h on an emulated
// MCU, with the host reached through Arm semihosting. docs/m4.md has the memory map and
// what each piece does; the command-line options below come from scripts/qemu-run.sh.
//
// Board options (key=value words of the semihosting command line, after the image name):
//   flash=FILE            NOR flash image, loaded at boot and written through on every
//                         program and erase (so it persists across a reset or a new QEMU);
//                         without it the flash lives only in emulated memory
//   flash-sectors=N       sectors (default 64), flash-sector-size=BYTES (default 4096)
//   adc=FILE              ADC samples: little-endian uint32 milliwatts, one per step
//   adc-step=TICKS        clock ticks per sample (default 900 000: 15 minutes)
//   radio-out=FILE        frames the meter sends, appended as [uint32 LE length][bytes]
//   radio-in=FILE         frames for the meter, same format; read as the host appends
//   radio-mtu=BYTES       largest frame (default 2048)
//   rng-seed=N            RNG: the simulated board's seeded xoshiro256** stream (tests);
//                         without it, entropy from the host (rng-source=FILE, default
//                         /dev/urandom) through semihosting. Neither is a TRNG: see below.
//   rtc=TICKS             clock_ticks at a cold start (the battery-backed RTC's value)
//   icount-shift=N        QEMU's -icount shift, so mps2_instructions() can convert time
//   cut-after=N           power cut at the (N+1)-th flash program/erase since the cold start
//   cut-mode=before|half|after   what the cut leaves of that operation (default half:
//                         the first half of its bytes programmed, or of its sector erased)
//   cut-action=exit|reset exit: QEMU ends with MPS2_EXIT_POWER_CUT (power off; the host
//                         starts it again); reset: a system reset through AIRCR (the
//                         image boots again in the same QEMU, the cut does not re-arm)
//
// RNG: QEMU's mps2-an386 has no TRNG. The board's entropy source is the host's
// /dev/urandom read over semihosting: a real CSPRNG, but on the host, outside the MCU, and
// readable by whoever runs QEMU. It stands in for a hardware TRNG so the firmware's code
// paths run; it is not one, and an emulated meter's keys are not secret.
#ifndef PRIVATEMETERING_MPS2_BOARD_H
#define PRIVATEMETERING_MPS2_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "meter_hal.h"

#ifdef __cplusplus
extern "C" {
#endif

/// QEMU's exit status after a power cut with cut-action=exit.
#define MPS2_EXIT_POWER_CUT 3
/// What an unused stack word holds (stack painting).
#define MPS2_STACK_PAINT 0xA5A5A5A5u
/// Ticks per second of the HAL clock (clock_ticks).
#define MPS2_TICKS_PER_SECOND 1000u
/// The CMSDK timers' clock (the board's system clock).
#define MPS2_TIMER_HZ 25000000u

/// Sets up the board from the command line; the startup code calls it before main.
void mps2_board_init(void);
/// The HAL table the firmware is given.
const mh_board *mps2_board_hal(void);

// ---- command line ----
int mps2_argc(void);
char **mps2_argv(void);
/// The value of a key=value board option, NULL when absent.
const char *mps2_option(const char *key);
/// mps2_option parsed as a decimal (or 0x hexadecimal) number, fallback when absent.
uint64_t mps2_option_u64(const char *key, uint64_t fallback);

// ---- time and instruction counts ----
/// 25 MHz ticks of CMSDK timer0 since boot (64 bits: timer0's wraps are counted).
uint64_t mps2_timer_ticks(void);
/// Virtual nanoseconds since boot (40 per timer tick).
uint64_t mps2_elapsed_ns(void);
/// Instructions executed since boot: exact to 40 ns of virtual time, i.e. to
/// 40 >> icount-shift instructions, when QEMU runs with -icount shift=N and the image
/// was given icount-shift=N (scripts/qemu-run.sh does both). Instructions, not cycles.
uint64_t mps2_instructions(void);
/// The -icount shift the image was told (icount-shift=, default 0).
uint32_t mps2_icount_shift(void);
/// Moves the HAL clock forward (the host's way to let 15-minute labels pass).
void mps2_clock_advance(uint64_t ticks);

// ---- stack painting ----
/// Repaints the unused part of the stack (below the caller's frame) with MPS2_STACK_PAINT.
/// The startup code paints the whole stack before anything runs.
void mps2_stack_paint(void);
/// The deepest the stack has been since the last paint, in bytes from its top.
uint32_t mps2_stack_high_water(void);
/// The stack's reserved size in bytes (the linker script's __stack_size).
uint32_t mps2_stack_size(void);

// ---- flash, radio and boot statistics ----
/// Program/erase operations since the cold start (the count cut-after= compares with).
uint64_t mps2_flash_op_count(void);
/// Erases of a sector since this boot.
uint32_t mps2_flash_erase_count(uint32_t sector);
/// Boots since the cold start: 1 on a cold start, +1 after each reset in the same QEMU.
uint32_t mps2_boot_count(void);
/// 1 when this boot follows a power cut of cut-action=reset.
int mps2_after_cut(void);

// ---- console, reset and exit ----
/// Writes text to QEMU's standard output (semihosting).
void mps2_puts(const char *text);
/// Writes an unsigned decimal number.
void mps2_put_u64(uint64_t value);
/// Writes text, then a newline (for callers without string formatting, e.g. Swift).
void mps2_print_line(const char *text);
/// Writes `key value\n` (a machine-readable report line).
void mps2_report(const char *key, uint64_t value);
/// Writes len bytes to a host file (created or truncated); 0 on success.
int mps2_write_file(const char *path, const uint8_t *data, uint32_t len);
/// A system reset through the NVIC's AIRCR (RAM is kept; the image boots again).
__attribute__((noreturn)) void mps2_reset(void);
/// Ends QEMU with this status (after flushing the console).
__attribute__((noreturn)) void mps2_exit(int status);

#ifdef __cplusplus
}
#endif

#endif
