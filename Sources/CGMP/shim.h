// Readable names for the GMP entry points PrivateMetering uses.
// GMP's public names are macros that Swift cannot see; these static inline
// wrappers give them plain C names. Only files that wrap GMP import CGMP.
#ifndef PRIVATEMETERING_CGMP_SHIM_H
#define PRIVATEMETERING_CGMP_SHIM_H

#include <gmp.h>
#include <string.h>

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

// ---- mpz layer: host only (Sources/BigNum), allocates inside GMP ----

static inline void pm_mpz_init(mpz_ptr x) { mpz_init(x); }
static inline void pm_mpz_clear(mpz_ptr x) { mpz_clear(x); }
static inline void pm_mpz_set(mpz_ptr r, mpz_srcptr a) { mpz_set(r, a); }
static inline void pm_mpz_set_ui(mpz_ptr r, unsigned long a) { mpz_set_ui(r, a); }
static inline int pm_mpz_set_str(mpz_ptr r, const char *s, int base) { return mpz_set_str(r, s, base); }
static inline char *pm_mpz_get_str(char *s, int base, mpz_srcptr a) { return mpz_get_str(s, base, a); }
static inline size_t pm_mpz_sizeinbase(mpz_srcptr a, int base) { return mpz_sizeinbase(a, base); }
static inline unsigned long pm_mpz_get_ui(mpz_srcptr a) { return mpz_get_ui(a); }
static inline int pm_mpz_fits_ulong_p(mpz_srcptr a) { return mpz_fits_ulong_p(a); }
static inline void pm_mpz_add(mpz_ptr r, mpz_srcptr a, mpz_srcptr b) { mpz_add(r, a, b); }
static inline void pm_mpz_add_ui(mpz_ptr r, mpz_srcptr a, unsigned long b) { mpz_add_ui(r, a, b); }
static inline void pm_mpz_sub(mpz_ptr r, mpz_srcptr a, mpz_srcptr b) { mpz_sub(r, a, b); }
static inline void pm_mpz_sub_ui(mpz_ptr r, mpz_srcptr a, unsigned long b) { mpz_sub_ui(r, a, b); }
static inline void pm_mpz_mul(mpz_ptr r, mpz_srcptr a, mpz_srcptr b) { mpz_mul(r, a, b); }
static inline void pm_mpz_mul_ui(mpz_ptr r, mpz_srcptr a, unsigned long b) { mpz_mul_ui(r, a, b); }
static inline void pm_mpz_neg(mpz_ptr r, mpz_srcptr a) { mpz_neg(r, a); }
/// r = a mod m with 0 <= r < |m|.
static inline void pm_mpz_mod(mpz_ptr r, mpz_srcptr a, mpz_srcptr m) { mpz_mod(r, a, m); }
/// Truncating division: q = trunc(a / b), r = a - q b.
static inline void pm_mpz_tdiv_qr(mpz_ptr q, mpz_ptr r, mpz_srcptr a, mpz_srcptr b) { mpz_tdiv_qr(q, r, a, b); }
/// q = a / b when b divides a exactly.
static inline void pm_mpz_divexact(mpz_ptr q, mpz_srcptr a, mpz_srcptr b) { mpz_divexact(q, a, b); }
static inline void pm_mpz_powm(mpz_ptr r, mpz_srcptr b, mpz_srcptr e, mpz_srcptr m) { mpz_powm(r, b, e, m); }
/// Like pm_mpz_powm but in time and access pattern independent of the exponent (m odd, e > 0).
static inline void pm_mpz_powm_sec(mpz_ptr r, mpz_srcptr b, mpz_srcptr e, mpz_srcptr m) {
    mpz_powm_sec(r, b, e, m);
}
static inline int pm_mpz_invert(mpz_ptr r, mpz_srcptr a, mpz_srcptr m) { return mpz_invert(r, a, m); }
static inline void pm_mpz_gcd(mpz_ptr r, mpz_srcptr a, mpz_srcptr b) { mpz_gcd(r, a, b); }
static inline int pm_mpz_cmp(mpz_srcptr a, mpz_srcptr b) { return mpz_cmp(a, b); }
static inline int pm_mpz_cmp_ui(mpz_srcptr a, unsigned long b) { return mpz_cmp_ui(a, b); }
static inline int pm_mpz_sgn(mpz_srcptr a) { return mpz_sgn(a); }
static inline int pm_mpz_probab_prime_p(mpz_srcptr a, int reps) { return mpz_probab_prime_p(a, reps); }
static inline mp_bitcnt_t pm_mpz_bitlength(mpz_srcptr a) { return mpz_sgn(a) == 0 ? 0 : mpz_sizeinbase(a, 2); }
/// r = floor(sqrt(a)) for a >= 0.
static inline void pm_mpz_sqrt(mpz_ptr r, mpz_srcptr a) { mpz_sqrt(r, a); }
static inline int pm_mpz_perfect_square_p(mpz_srcptr a) { return mpz_perfect_square_p(a); }
static inline int pm_mpz_tstbit(mpz_srcptr a, mp_bitcnt_t bit) { return mpz_tstbit(a, bit); }
static inline void pm_mpz_setbit(mpz_ptr a, mp_bitcnt_t bit) { mpz_setbit(a, bit); }
/// Reads count bytes, most significant first, as a non-negative integer.
static inline void pm_mpz_import_be(mpz_ptr r, const unsigned char *bytes, size_t count) {
    mpz_import(r, count, 1, 1, 1, 0, bytes);
}
/// Writes |a| big-endian into out (at least pm_mpz_sizeinbase(a, 256) bytes); returns the byte count.
static inline size_t pm_mpz_export_be(unsigned char *out, mpz_srcptr a) {
    size_t count = 0;
    mpz_export(out, &count, 1, 1, 1, 0, a);
    return count;
}
/// Frees a string returned by pm_mpz_get_str(NULL, ...) with GMP's own allocator.
static inline void pm_gmp_free_str(char *s) {
    void (*free_function)(void *, size_t);
    mp_get_memory_functions(NULL, NULL, &free_function);
    free_function(s, strlen(s) + 1);
}

#endif
