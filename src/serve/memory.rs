//! The server's memory (内存): what the process holds, read from `/proc/self/status` for the health
//! check and the benchmark, and handing back to the system what the allocator keeps after a new
//! state is built.
//!
//! Building a state (all villages' tile pieces in parallel at start, a village's on a change) leaves
//! freed memory in the allocator's per-thread arenas; glibc gives it back only when asked
//! (`malloc_trim`), so without [`release`] a server that has built its state once keeps tens of
//! megabytes it no longer uses.

/// A figure of `/proc/self/status` (`VmRSS`, `VmHWM`), in bytes; `None` where there is none.
fn status(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resident memory now, in bytes.
pub fn rss_bytes() -> Option<u64> {
    status("VmRSS:")
}

/// The most resident memory so far, in bytes.
pub fn peak_bytes() -> Option<u64> {
    status("VmHWM:")
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn malloc_trim(pad: usize) -> std::os::raw::c_int;
    fn mallopt(param: std::os::raw::c_int, value: std::os::raw::c_int) -> std::os::raw::c_int;
}

/// glibc's `M_ARENA_MAX`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const M_ARENA_MAX: std::os::raw::c_int = -8;

/// Lets the allocator keep at most `n` arenas (glibc on Linux; elsewhere nothing). By default
/// glibc keeps up to eight per core, each holding on to memory its threads freed; a server that
/// builds its state on every core keeps far less with one or two. Call it before threads start.
pub fn limit_arenas(n: i32) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt sets an allocator parameter under the allocator's own lock.
    unsafe {
        mallopt(M_ARENA_MAX, n);
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = n;
}

/// Hands memory the allocator holds but does not use back to the system (glibc on Linux; elsewhere
/// nothing). Takes a few milliseconds: call it off the async threads.
pub fn release() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists, under its locks; it takes
    // no pointer and is safe to call from any thread at any time.
    unsafe {
        malloc_trim(0);
    }
}
