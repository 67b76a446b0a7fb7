#include "copenssl_shake.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>

struct pm_openssl_shake {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
};

pm_openssl_shake *pm_openssl_shake128_new(void) {
    pm_openssl_shake *shake = calloc(1, sizeof *shake);
    if (shake == NULL) return NULL;
    shake->md = EVP_MD_fetch(NULL, "SHAKE128", NULL);
    shake->ctx = EVP_MD_CTX_new();
    if (shake->md == NULL || shake->ctx == NULL) {
        pm_openssl_shake128_free(shake);
        return NULL;
    }
    return shake;
}

void pm_openssl_shake128_free(pm_openssl_shake *shake) {
    if (shake == NULL) return;
    EVP_MD_CTX_free(shake->ctx);
    EVP_MD_free(shake->md);
    free(shake);
}

int pm_openssl_shake128(pm_openssl_shake *shake, const uint8_t *input, size_t input_length, uint8_t *output,
                        size_t output_length) {
    return EVP_DigestInit_ex(shake->ctx, shake->md, NULL) == 1 &&
           EVP_DigestUpdate(shake->ctx, input, input_length) == 1 &&
           EVP_DigestFinalXOF(shake->ctx, output, output_length) == 1;
}

const char *pm_openssl_version(void) { return OpenSSL_version(OPENSSL_VERSION); }
