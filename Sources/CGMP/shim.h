// Readable names for the GMP entry points PrivateMetering uses.
// GMP's public names are macros that Swift cannot see; these static inline
// wrappers give them plain C names. Only files that wrap GMP import CGMP.
#ifndef PRIVATEMETERING_CGMP_SHIM_H
#define PRIVATEMETERING_CGMP_SHIM_H

#include <gmp.h>

// ---- mpn layer: caller-owned buffers, no allocation (used by the firmware) ----

/// Scratch limbs needed by pm_mpn_sec_powm for an n-limb modulus and an
/// exponent of enb bits.
static inline mp_size_t pm_mpn_sec_powm_itch(mp_size_t bn, mp_bitcnt_t enb, mp_size_t n) {
    return mpn_sec_powm_itch(bn, enb, n);
}

/// rp = bp^ep mod mp in time independent of the exponent's value (mp odd).
static inline void pm_mpn_sec_powm(mp_limb_t *rp, const mp_limb_t *bp, mp_size_t bn,
                                   const mp_limb_t *ep, mp_bitcnt_t enb,
                                   const mp_limb_t *mp, mp_size_t n, mp_limb_t *tp) {
    mpn_sec_powm(rp, bp, bn, ep, enb, mp, n, tp);
}

static inline int pm_mpn_cmp(const mp_limb_t *ap, const mp_limb_t *bp, mp_size_t n) {
    return mpn_cmp(ap, bp, n);
}

/// Sets {rp, n} to zero. Used to wipe scratch that held secret-dependent values:
/// the call goes to libgmp, so the compiler cannot drop it as a dead store.
static inline void pm_mpn_zero(mp_limb_t *rp, mp_size_t n) {
    mpn_zero(rp, n);
}

#endif
