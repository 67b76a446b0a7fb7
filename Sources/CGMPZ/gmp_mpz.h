// The host's mpz_* layer of GMP: readable names for the entry points Sources/BigNum uses.
// mpz_* allocates inside GMP, so this module is apart from the firmware's mpn shim
// (Sources/CGMP) and only BigNum imports it. GMP's public names are macros that Swift
// cannot see; these static inline wrappers give them plain C names.
#ifndef PRIVATEMETERING_CGMP_MPZ_H
#define PRIVATEMETERING_CGMP_MPZ_H

#include <gmp.h>
#include <string.h>

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
