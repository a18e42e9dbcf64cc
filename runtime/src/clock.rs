//! Clocks: wall time from `Instant`, CPU time of the calling thread from the OS.

/// CPU time consumed by the calling thread, in nanoseconds, or `None` where the platform
/// has no per-thread CPU clock (the engine then assumes CPU-bound work).
///
/// About 250 ns per read on Linux (a real syscall), so the engine reads it only at the
/// start and end of profiling, never per item.
pub(crate) fn thread_cpu_ns() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec and CLOCK_THREAD_CPUTIME_ID is a
        // clock id every supported Unix defines; clock_gettime writes only into `ts`.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        if rc == 0 {
            return Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
        }
        None
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_cpu_clock_counts_work_not_sleep() {
        let Some(start) = thread_cpu_ns() else { return };
        std::thread::sleep(std::time::Duration::from_millis(20));
        let after_sleep = thread_cpu_ns().unwrap();
        let spin_until = std::time::Instant::now() + std::time::Duration::from_millis(20);
        while std::time::Instant::now() < spin_until {
            std::hint::spin_loop();
        }
        let after_spin = thread_cpu_ns().unwrap();
        assert!(after_sleep - start < 10_000_000, "sleeping used CPU time");
        assert!(
            after_spin - after_sleep > 10_000_000,
            "spinning used no CPU time"
        );
    }
}
