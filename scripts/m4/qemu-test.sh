#!/usr/bin/env bash
# Automake's LOG_COMPILER for GMP's test suite on the M4 (scripts/m4/check-gmp-m4.sh):
# runs one test program on QEMU's mps2-an386 without -icount (speed over counting) and
# passes its exit status on (0 pass, 77 skip, else fail).
exec "$(dirname "${BASH_SOURCE[0]}")/../qemu-run.sh" --no-icount --timeout "${GMP_TEST_TIMEOUT:-1200}" "$@"
