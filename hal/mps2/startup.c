// Startup for QEMU's mps2-an386 (Cortex-M4): the vector table, Reset_Handler (paints the
// stack, copies .data, zeroes .bss, starts the board, calls main), the timer0 wrap
// interrupt, the stack high-water mark, _sbrk (a heap in PSRAM for test programs; the
// firmware never calls malloc) and _exit (the exit status through semihosting).
#include <stdint.h>
#include <stddef.h>

#include "mps2_board.h"
#include "mps2_internal.h"

extern uint32_t __stack_top[], __stack_limit[], __stack_size[];
extern uint32_t __data_start[], __data_end[], __data_load[];
extern uint32_t __bss_start[], __bss_end[];
extern char __heap_start[], __heap_end[];

int main(int argc, char **argv);
// Present when the image links newlib's semihosting library (rdimon.specs).
extern void initialise_monitor_handles(void) __attribute__((weak));
extern void __libc_init_array(void) __attribute__((weak));
// newlib's exit (atexit handlers, stdio flush) when the program links it anyway, e.g. a
// test that calls exit itself; images that never do keep newlib's stdio out of flash.
extern void exit(int status) __attribute__((weak, noreturn));

void Reset_Handler(void);
static void fault_handler(void);
static void default_handler(void);

// 16 system exceptions, then the external interrupts of the AN386 (timer0 is IRQ 8).
__attribute__((section(".vectors"), used)) static void (*const vector_table[16 + 32])(void) = {
    (void (*)(void))__stack_top,
    Reset_Handler,
    default_handler,     // NMI
    fault_handler,       // HardFault
    fault_handler,       // MemManage
    fault_handler,       // BusFault
    fault_handler,       // UsageFault
    0, 0, 0, 0,          // reserved
    default_handler,     // SVCall
    default_handler,     // DebugMonitor
    0,                   // reserved
    default_handler,     // PendSV
    default_handler,     // SysTick
    [16 + 0] = default_handler,
    [16 + 8] = mps2_timer0_irq,
};

// Paints the whole stack before the first push, then continues in C on it.
__attribute__((naked, noreturn)) void Reset_Handler(void) {
    __asm__ volatile(
        "ldr r0, =__stack_limit\n"
        "ldr r1, =__stack_top\n"
        "ldr r2, =0xA5A5A5A5\n"
        "1: cmp r0, r1\n"
        "bhs 2f\n"
        "str r2, [r0], #4\n"
        "b 1b\n"
        "2: ldr r0, =__stack_top\n"
        "mov sp, r0\n"
        "b mps2_c_start\n");
}

__attribute__((noreturn, used)) void mps2_c_start(void) {
    for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) *dst++ = *src++;
    for (uint32_t *dst = __bss_start; dst < __bss_end;) *dst++ = 0;
    if (initialise_monitor_handles) initialise_monitor_handles();
    mps2_timer_start();
    mps2_board_init();
    if (__libc_init_array) __libc_init_array();
    int status = main(mps2_argc(), mps2_argv());
    if (exit) exit(status);
    mps2_exit(status);
}

// Prints what the fault left on the stack and in the fault status registers, then exits.
__attribute__((used)) static void fault_report(const uint32_t *frame) {
    mps2_puts("mps2: fault: pc ");
    mps2_put_u64(frame[6]);
    mps2_puts(" lr ");
    mps2_put_u64(frame[5]);
    mps2_puts(" cfsr ");
    mps2_put_u64(*(volatile uint32_t *)0xE000ED28u);
    mps2_puts(" hfsr ");
    mps2_put_u64(*(volatile uint32_t *)0xE000ED2Cu);
    mps2_puts(" bfar ");
    mps2_put_u64(*(volatile uint32_t *)0xE000ED38u);
    mps2_puts(" (decimal; arm-none-eabi-addr2line -e IMAGE 0x<pc>)\n");
    mps2_exit(134);
}

__attribute__((naked)) static void fault_handler(void) {
    __asm__ volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "b fault_report\n");
}

static void default_handler(void) {
    mps2_puts("mps2: unexpected exception\n");
    mps2_exit(134);
}

// ---- stack painting ----

void mps2_stack_paint(void) {
    // Below the caller's frame: leave a margin for this function's own frame.
    uint32_t *sp = (uint32_t *)__builtin_frame_address(0) - 16;
    for (uint32_t *p = __stack_limit; p < sp; p++) *p = MPS2_STACK_PAINT;
}

uint32_t mps2_stack_high_water(void) {
    uint32_t *p = __stack_limit;
    while (p < __stack_top && *p == MPS2_STACK_PAINT) p++;
    return (uint32_t)((char *)__stack_top - (char *)p);
}

uint32_t mps2_stack_size(void) { return (uint32_t)(uintptr_t)__stack_size; }

// ---- newlib hooks ----

void *_sbrk(ptrdiff_t increment) {
    static char *brk = __heap_start;
    if (increment < 0 || (size_t)increment > (size_t)(__heap_end - brk)) return (void *)-1;
    char *previous = brk;
    brk += increment;
    return previous;
}

void _exit(int status) { mps2_exit(status); }

// newlib's __libc_init_array and __libc_fini_array call these (crti.o has them, but the
// images link with -nostartfiles): nothing to do here.
__attribute__((weak)) void _init(void) {}
__attribute__((weak)) void _fini(void) {}

// The Embedded Swift stdlib refers to arc4random_buf (Hasher's seed, random numbers) even
// when nothing reachable calls it; newlib's would pull in its stdio and malloc, and would
// need getentropy. The firmware's randomness comes from the board RNG (rng_fill) only:
// reaching this is a bug, and scripts/build-m4.sh fails the build where it can see it.
void arc4random_buf(void *out, size_t len) {
    (void)out;
    (void)len;
    mps2_puts("mps2: arc4random_buf called; the firmware must use the board RNG\n");
    mps2_exit(134);
}
