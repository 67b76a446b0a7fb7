// Declarations only (include/fuzz_driver.h); libFuzzer provides the definition.
#include "fuzz_driver.h"
