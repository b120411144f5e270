//! Memory: keep Berth's resident set small on glibc.
//!
//! Seen with the benchmark: every login verifies Argon2id with 19 MiB on a blocking thread.
//! glibc raises its mmap threshold after the first large free (up to 32 MiB), so later 19 MiB
//! blocks come from per-thread arenas and stay resident: after 11 logins Berth held ~120 MB
//! while idle. A fixed mmap threshold gives large blocks back to the system when freed, and two
//! arenas bound what the worker and blocking threads keep between requests.

/// Call once, early in `main` (mallopt takes the allocator's lock: safe with threads running).
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; mallopt is thread-safe.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
