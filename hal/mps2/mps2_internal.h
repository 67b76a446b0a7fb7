// Private to hal/mps2: what startup.c and mps2_board.c share.
#ifndef PRIVATEMETERING_MPS2_INTERNAL_H
#define PRIVATEMETERING_MPS2_INTERNAL_H

/// Starts CMSDK timer0 free-running (reload 0xFFFFFFFF) with its wrap interrupt.
void mps2_timer_start(void);
/// Timer0's interrupt: counts one wrap of the 32-bit down-counter.
void mps2_timer0_irq(void);
/// Writes out the console's line buffer (putchar).
void mps2_console_flush(void);

#endif
