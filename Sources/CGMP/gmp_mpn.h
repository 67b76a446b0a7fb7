// The firmware's door to GMP: readable names for the mpn_* entry points it uses, on
// limb buffers the caller owns (nothing here allocates). GMP's public names are macros
// that Swift cannot see; these static inline wrappers give them plain C names. The
// allocating mpz_* layer is a separate module (Sources/CGMPZ) that only the host's BigNum
// imports, so the firmware cannot reach it. Imported only by firmware/MeterCrypto/MPN.swift.
#ifndef PRIVATEMETERING_CGMP_MPN_H
#define PRIVATEMETERING_CGMP_MPN_H

#include <gmp.h>

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

/// rp (an + bn limbs) = ap · bp in time independent of the values; tp: mpn_sec_mul_itch.
static inline void pm_mpn_sec_mul(mp_limb_t *rp, const mp_limb_t *ap, mp_size_t an,
                                  const mp_limb_t *bp, mp_size_t bn, mp_limb_t *tp) {
    mpn_sec_mul(rp, ap, an, bp, bn, tp);
}

static inline mp_size_t pm_mpn_sec_mul_itch(mp_size_t an, mp_size_t bn) {
    return mpn_sec_mul_itch(an, bn);
}

/// {np, dn} = {np, nn} mod {dp, dn} in time independent of the values (top limb of d
/// nonzero); tp: mpn_sec_div_r_itch.
static inline void pm_mpn_sec_div_r(mp_limb_t *np, mp_size_t nn, const mp_limb_t *dp,
                                    mp_size_t dn, mp_limb_t *tp) {
    mpn_sec_div_r(np, nn, dp, dn, tp);
}

static inline mp_size_t pm_mpn_sec_div_r_itch(mp_size_t nn, mp_size_t dn) {
    return mpn_sec_div_r_itch(nn, dn);
}

static inline mp_size_t pm_mpn_sec_sqr_itch(mp_size_t an) { return mpn_sec_sqr_itch(an); }

/// {rp, 2an} = {ap, an}^2, constant time.
static inline void pm_mpn_sec_sqr(mp_limb_t *rp, const mp_limb_t *ap, mp_size_t an, mp_limb_t *tp) {
    mpn_sec_sqr(rp, ap, an, tp);
}

static inline mp_size_t pm_mpn_sec_invert_itch(mp_size_t n) { return mpn_sec_invert_itch(n); }

/// rp = ap^-1 mod mp in constant time; returns 1 if the inverse exists, else 0.
/// Destroys {ap, n}; mp must be odd; nbcnt >= bits(a) + bits(m).
static inline int pm_mpn_sec_invert(mp_limb_t *rp, mp_limb_t *ap, const mp_limb_t *mp, mp_size_t n,
                                    mp_bitcnt_t nbcnt, mp_limb_t *tp) {
    return mpn_sec_invert(rp, ap, mp, n, nbcnt, tp);
}

/// {rp, n} = {up, n} * v; returns the carry limb. Time independent of the values.
static inline mp_limb_t pm_mpn_mul_1(mp_limb_t *rp, const mp_limb_t *up, mp_size_t n, mp_limb_t v) {
    return mpn_mul_1(rp, up, n, v);
}

/// {rp, n} = {ap, n} - {bp, n}; returns the borrow (0 or 1).
static inline mp_limb_t pm_mpn_sub_n(mp_limb_t *rp, const mp_limb_t *ap, const mp_limb_t *bp, mp_size_t n) {
    return mpn_sub_n(rp, ap, bp, n);
}

/// {rp, n} = {ap, n} + {bp, n}; returns the carry (0 or 1).
static inline mp_limb_t pm_mpn_add_n(mp_limb_t *rp, const mp_limb_t *ap, const mp_limb_t *bp, mp_size_t n) {
    return mpn_add_n(rp, ap, bp, n);
}

#endif
