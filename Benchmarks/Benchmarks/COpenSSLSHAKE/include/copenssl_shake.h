// OpenSSL's SHAKE128 through its EVP interface, the reference the Keccak benchmark compares
// the firmware's XOF with (Benchmarks/Keccak). Needs Debian's libssl-dev (scripts/lib/setup.sh:
// setup_benchmark_packages). Only the benchmark package uses it.
#ifndef COPENSSL_SHAKE_H
#define COPENSSL_SHAKE_H

#include <stddef.h>
#include <stdint.h>

/// An EVP digest context with SHAKE128 fetched once, reused for every call.
typedef struct pm_openssl_shake pm_openssl_shake;

/// A new context, or NULL if OpenSSL has no SHAKE128.
pm_openssl_shake *pm_openssl_shake128_new(void);
void pm_openssl_shake128_free(pm_openssl_shake *shake);

/// SHAKE128(input) squeezed to `output_length` bytes: EVP_DigestInit_ex, EVP_DigestUpdate,
/// EVP_DigestFinalXOF on the reused context. Returns 1 on success, 0 on an OpenSSL error.
int pm_openssl_shake128(pm_openssl_shake *shake, const uint8_t *input, size_t input_length, uint8_t *output,
                        size_t output_length);

/// OpenSSL's version string (OpenSSL_version(OPENSSL_VERSION)).
const char *pm_openssl_version(void);

#endif
