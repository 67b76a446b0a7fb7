// libFuzzer's driver entry (compiler-rt, linked by -sanitize=fuzzer). SwiftPM links every
// executable with `--defsym main=<Product>_main`, so a harness cannot use libFuzzer's own
// main: its `<Product>_main` calls this instead (see FuzzSupport/Driver.swift).
#ifndef PRIVATEMETERING_FUZZ_DRIVER_H
#define PRIVATEMETERING_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
