// __gmpn_invert_limb for the Cortex-M4 build of GMP (scripts/build-gmp-m4.sh).
//
// With NO_ASM removed from config.h, longlong.h uses the ARM inline-asm umul_ppmm
// (umull) and declares udiv_qrnnd through mpn_invert_limb, which GMP provides only as
// ARM assembly (mpn/arm/invert_limb.asm, ARM mode, not assembled for Thumb-2
// M-profile). This is the same function in C.
//
// For a normalised divisor d (top bit set) it returns floor((B^2 - 1) / d) - B with
// B = 2^32, which equals floor(((B - 1 - d) * B + (B - 1)) / d): the numerator's high
// word is ~d, its low word all ones, and the quotient fits one limb. The 64-bit
// division goes through libgcc's __aeabi_uldivmod; its time depends on d, which GMP
// only inverts for public moduli and divisors (mpn_sec_* take the modulus as public).
#include <stdint.h>

uint32_t __gmpn_invert_limb(uint32_t d) {
    uint64_t numerator = ((uint64_t)(uint32_t)~d << 32) | 0xFFFFFFFFu;
    return (uint32_t)(numerator / d);
}
