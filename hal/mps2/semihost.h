// Arm semihosting (the "bkpt 0xAB" calls QEMU answers with -semihosting): the board's
// channel to the host for files (flash image, ADC samples, radio frames, entropy), the
// console and the exit status. Each call traps into QEMU; what QEMU does there costs no
// guest instructions beyond the call's own few, so it does not distort -icount figures.
#ifndef PRIVATEMETERING_MPS2_SEMIHOST_H
#define PRIVATEMETERING_MPS2_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// fopen-style modes of SYS_OPEN.
enum {
    SH_MODE_RB = 1,   ///< "rb"
    SH_MODE_RPB = 3,  ///< "r+b"
    SH_MODE_WB = 5,   ///< "wb" (create or truncate)
    SH_MODE_WPB = 7,  ///< "w+b"
    SH_MODE_AB = 9,   ///< "ab" (create, append)
    SH_MODE_APB = 11  ///< "a+b" (create, read anywhere, append)
};

/// Opens a host file (relative to QEMU's working directory); -1 on failure.
int sh_open(const char *path, int mode);
int sh_close(int fd);
/// Writes len bytes; returns 0 when all were written.
int sh_write(int fd, const void *data, size_t len);
/// Reads up to len bytes; returns how many were read (0 at end of file, -1 on error).
long sh_read(int fd, void *out, size_t len);
/// Moves to an absolute position; 0 on success.
int sh_seek(int fd, uint32_t pos);
/// The file's length, -1 on error.
long sh_flen(int fd);
/// Deletes a host file; 0 on success.
int sh_remove(const char *path);
/// Writes a NUL-terminated string to the console.
void sh_write0(const char *text);
/// The command line QEMU was given (-semihosting-config ...,arg=...); 0 on success.
int sh_get_cmdline(char *out, uint32_t cap);
/// Ends the QEMU process with this exit status (SYS_EXIT_EXTENDED).
__attribute__((noreturn)) void sh_exit(int status);

#ifdef __cplusplus
}
#endif

#endif
