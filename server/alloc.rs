//! Memory: keep Berth's resident set small on glibc.
//!
//! Seen with the benchmark: every login verifies Argon2id with 19 MiB on a blocking thread.
//! glibc raises its mmap threshold after the first large free (up to 32 MiB), so later 19 MiB
//! blocks come from per-thread arenas and stay resident: after 11 logins and 10 clients' load,
//! a debug build held 121 MB while idle. A fixed mmap threshold gives large blocks back to the system when freed, and two
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

/// Returns freed memory of every arena to the system (after a burst: a full listing, a load).
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages; it takes the arenas' locks itself.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The allocator's own account: bytes handed out to Berth (small blocks and mmapped ones) and
/// bytes held free inside its arenas (fragmentation the trim could not return). None off glibc.
pub fn heap() -> Option<(u64, u64)> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads the allocator's counters (it takes the arenas' locks).
        let m = unsafe { libc::mallinfo2() };
        Some(((m.uordblks + m.hblkhd) as u64, m.fordblks as u64))
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    None
}

/// Resident set of this process, anonymous and file-backed (the binary's mapped text), in bytes.
pub fn resident() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = |key: &str| -> Option<u64> {
        s.lines()
            .find(|l| l.starts_with(key))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
            .map(|k| k * 1024)
    };
    Some((
        kb("RssAnon:")?,
        kb("RssFile:")? + kb("RssShmem:").unwrap_or(0),
    ))
}

/// Every `every` until `stop`: runs `before` (dropping caches), then trims, so that what a burst
/// of requests left behind is given back while Berth is idle.
pub async fn trimmer(
    every: std::time::Duration,
    stop: tokio_util::sync::CancellationToken,
    before: impl Fn() + Send + 'static,
) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {
                before();
                let _ = tokio::task::spawn_blocking(trim).await;
            }
        }
    }
}
