// mpn_sec_powm on the M4 (scripts/m4/check-gmp-sec-powm.sh): reads cases from the host
// file cases= through semihosting, writes each result and the instructions it took to
// results=, so Python can compare them with its own pow(). Buffers are static: no heap.
//
// cases file: uint32 count, then per case uint32 limbs n, uint32 exponent bits e, the
// base (n limbs), the odd modulus (n limbs), the exponent (ceil(e / 32) limbs); limbs
// little-endian, least significant first. results file: per case the n limbs of
// base^exponent mod modulus, then a uint64 instruction count.
#include <gmp.h>
#include <stdint.h>

#include "mps2_board.h"
#include "semihost.h"

enum { MAX_LIMBS = 96, MAX_SCRATCH = 16384 };

static mp_limb_t base[MAX_LIMBS], mod[MAX_LIMBS], exp_[MAX_LIMBS], result[MAX_LIMBS];
static mp_limb_t scratch[MAX_SCRATCH];

static void read_exact(int fd, void *out, uint32_t len) {
    if (sh_read(fd, out, len) != (long)len) {
        mps2_print_line("sec_powm_check: short read of the cases file");
        mps2_exit(2);
    }
}

int main(void) {
    const char *in_path = mps2_option("cases"), *out_path = mps2_option("results");
    if (!in_path || !out_path) {
        mps2_print_line("sec_powm_check: needs cases= and results=");
        return 2;
    }
    int in = sh_open(in_path, SH_MODE_RB), out = sh_open(out_path, SH_MODE_WB);
    if (in < 0 || out < 0) return 2;
    uint32_t count;
    read_exact(in, &count, 4);
    for (uint32_t c = 0; c < count; c++) {
        uint32_t head[2];
        read_exact(in, head, 8);
        uint32_t n = head[0], ebits = head[1], en = (ebits + 31) / 32;
        if (n == 0 || n > MAX_LIMBS || en == 0 || en > MAX_LIMBS) return 3;
        read_exact(in, base, n * 4);
        read_exact(in, mod, n * 4);
        read_exact(in, exp_, en * 4);
        mp_size_t itch = mpn_sec_powm_itch((mp_size_t)n, (mp_bitcnt_t)ebits, (mp_size_t)n);
        if (itch > MAX_SCRATCH) return 4;
        uint64_t t0 = mps2_instructions();
        mpn_sec_powm(result, base, (mp_size_t)n, exp_, (mp_bitcnt_t)ebits, mod, (mp_size_t)n, scratch);
        uint64_t spent = mps2_instructions() - t0;
        if (sh_write(out, result, n * 4) != 0 || sh_write(out, &spent, 8) != 0) return 5;
    }
    sh_close(out);
    mps2_report("cases", count);
    return 0;
}
