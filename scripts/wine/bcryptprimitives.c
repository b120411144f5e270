/* A stand-in bcryptprimitives.dll for Wine 8.0, which lacks it. Rust's standard library takes
 * its randomness from ProcessPrng (exported by bcryptprimitives.dll on Windows 10 and Server
 * 2016 and later); this one asks BCryptGenRandom, which Wine has. Built by scripts/windows.sh
 * and copied into the test's temporary Wine prefix only: berth.exe ships without it. */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
