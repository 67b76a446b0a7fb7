// The seeded generators of the simulated board (splitmix64 to seed, xoshiro256** to
// draw): simulation devices, not cryptographic sources. Shared with hal/mps2, whose
// `rng-seed=` mode draws the same stream as a sim_board with that rng_seed.
#ifndef PRIVATEMETERING_SIM_PRNG_H
#define PRIVATEMETERING_SIM_PRNG_H

#include <stdint.h>

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t xoshiro_next(uint64_t s[4]) {
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/// Fills out with the stream's next bytes: one draw per 8 bytes, little-endian, the
/// last draw cut short.
static inline void xoshiro_fill(uint64_t s[4], uint8_t *out, uint32_t len) {
    while (len > 0) {
        uint64_t r = xoshiro_next(s);
        uint32_t n = len < 8 ? len : 8;
        for (uint32_t i = 0; i < n; i++) out[i] = (uint8_t)(r >> (8 * i));
        out += n;
        len -= n;
    }
}

#endif
