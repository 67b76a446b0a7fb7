// Arm semihosting calls: see semihost.h. Operation numbers from Arm's "Semihosting for
// AArch32 and AArch64" specification.
#include "semihost.h"

#include <string.h>

enum {
    SYS_OPEN = 0x01,
    SYS_CLOSE = 0x02,
    SYS_WRITE0 = 0x04,
    SYS_WRITE = 0x05,
    SYS_READ = 0x06,
    SYS_SEEK = 0x0A,
    SYS_FLEN = 0x0C,
    SYS_REMOVE = 0x0E,
    SYS_GET_CMDLINE = 0x15,
    SYS_EXIT_EXTENDED = 0x20,
    ADP_STOPPED_APPLICATION_EXIT = 0x20026
};

static long sh_call(int op, void *args) {
    register long r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = args;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

int sh_open(const char *path, int mode) {
    uint32_t args[3] = {(uint32_t)path, (uint32_t)mode, (uint32_t)strlen(path)};
    return (int)sh_call(SYS_OPEN, args);
}

int sh_close(int fd) {
    uint32_t args[1] = {(uint32_t)fd};
    return (int)sh_call(SYS_CLOSE, args);
}

int sh_write(int fd, const void *data, size_t len) {
    uint32_t args[3] = {(uint32_t)fd, (uint32_t)data, (uint32_t)len};
    return (int)sh_call(SYS_WRITE, args);  // bytes NOT written
}

long sh_read(int fd, void *out, size_t len) {
    uint32_t args[3] = {(uint32_t)fd, (uint32_t)out, (uint32_t)len};
    long left = sh_call(SYS_READ, args);  // bytes NOT read
    if (left < 0 || (size_t)left > len) return -1;
    return (long)len - left;
}

int sh_seek(int fd, uint32_t pos) {
    uint32_t args[2] = {(uint32_t)fd, pos};
    return (int)sh_call(SYS_SEEK, args);
}

long sh_flen(int fd) {
    uint32_t args[1] = {(uint32_t)fd};
    return sh_call(SYS_FLEN, args);
}

int sh_remove(const char *path) {
    uint32_t args[2] = {(uint32_t)path, (uint32_t)strlen(path)};
    return (int)sh_call(SYS_REMOVE, args);
}

void sh_write0(const char *text) { sh_call(SYS_WRITE0, (void *)text); }

int sh_get_cmdline(char *out, uint32_t cap) {
    uint32_t args[2] = {(uint32_t)out, cap};
    return (int)sh_call(SYS_GET_CMDLINE, args);
}

void sh_exit(int status) {
    uint32_t args[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    for (;;) sh_call(SYS_EXIT_EXTENDED, args);
}
