//! Clocks: wall time from `Instant`, CPU time of the calling thread from the OS.

use std::fs::File;
use std::sync::{Mutex, PoisonError};

/// CPU time consumed by the calling thread, in nanoseconds, or `None` where the platform
/// has no per-thread CPU clock (the engine then assumes CPU-bound work).
///
/// About 250-650 ns per read on Linux (a real syscall), so the engine reads it only at
/// the start and end of profiling, never per item. `getrusage`, read anyway for
/// [`voluntary_switches`], also reports CPU time, but not the running slice (it lags by
/// up to a scheduler tick): reading it instead, the 1 ms sleeps of a process's first
/// loop measured 8-13% CPU-bound.
pub(crate) fn thread_cpu_ns() -> Option<u64> {
    #[cfg(unix)]
    {
        clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Reads clock `id`, in nanoseconds; `None` if the OS refuses (e.g. an invalid id).
#[cfg(unix)]
fn clock_ns(id: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime writes only into it and
    // reports an unknown or invalid clock id as an error rather than misbehaving.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// How many times the calling thread has blocked (voluntary context switches: sleeping,
/// waiting for I/O or a lock), or `None` where the platform does not count them.
///
/// Tells blocking from preemption: a thread that lost wall time without ever blocking
/// was waiting for a CPU (other threads ran), not for I/O. One syscall (~0.3 µs).
pub(crate) fn voluntary_switches() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `usage` is a valid, writable rusage; RUSAGE_THREAD asks for the calling
        // thread only, and getrusage writes only into `usage`.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
        (rc == 0).then_some(usage.ru_nvcsw as u64)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// The calling thread's id in the kernel (Linux only), to look it up in `/proc`.
///
/// Kept per thread after the first ask: a thread's id never changes, and the syscall
/// costs ~0.2 µs on every cold call of the same thread.
pub(crate) fn current_tid() -> Option<i32> {
    #[cfg(target_os = "linux")]
    {
        thread_local! {
            static TID: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
        }
        let mut tid = TID.get();
        if tid == 0 {
            // SAFETY: gettid takes no argument and cannot fail.
            tid = unsafe { libc::gettid() };
            TID.set(tid);
        }
        Some(tid)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Whether thread `tid` of this process is blocked right now (sleeping or waiting for
/// I/O) rather than running or waiting for a CPU; `None` if that cannot be read.
///
/// Reads `/proc/self/task/<tid>/stat`: for a thread that is not the caller. The files of
/// the last few threads asked about stay open (see [`StatFiles`]).
pub(crate) fn thread_is_blocked(tid: i32) -> Option<bool> {
    let stat = STAT_FILES.read(tid)?;
    // "tid (name) S ...": the name may hold spaces and parentheses, the state follows
    // the last ')'.
    let state = stat[stat.rfind(')')? + 1..].trim_start().chars().next()?;
    if matches!(state, 'Z' | 'X') {
        // Exiting: its `join` may already have returned (the kernel wakes joiners before
        // the thread is reaped), and it will never run again.
        STAT_FILES.forget(tid);
        return None;
    }
    Some(matches!(state, 'S' | 'D'))
}

static STAT_FILES: StatFiles = StatFiles(Mutex::new(Vec::new()));

/// Open `/proc/self/task/<tid>/stat` files of the threads asked about most recently.
///
/// Opening one costs 15–30 µs on a 2-vCPU VM (a path walk through procfs), re-reading an
/// open one 2–4 µs, and the standby asks about the same few caller threads call after
/// call, on the path of a cold call's first helpers.
///
/// A kept file always describes the thread it was opened for: once that thread exits, its
/// reads fail (even if the kernel gives the id to a new thread), and the file is opened
/// again by id.
struct StatFiles(Mutex<Vec<(i32, File)>>);

/// Files kept open at most (least recently used closed first).
const STAT_FILES_KEPT: usize = 4;

impl StatFiles {
    /// Closes the file kept for `tid`, if any.
    fn forget(&self, tid: i32) {
        let mut files = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        files.retain(|(kept, _)| *kept != tid);
    }

    fn read(&self, tid: i32) -> Option<String> {
        let mut files = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = files.iter().position(|(kept, _)| *kept == tid) {
            let (_, file) = files.remove(at);
            if let Some(stat) = read_from_start(&file) {
                files.insert(0, (tid, file));
                return Some(stat);
            }
        }
        let file = File::open(format!("/proc/self/task/{tid}/stat")).ok()?;
        let stat = read_from_start(&file)?;
        files.insert(0, (tid, file));
        files.truncate(STAT_FILES_KEPT);
        Some(stat)
    }
}

/// The whole of a small `/proc` file, read again from its start; `None` if empty or
/// unreadable (its thread exited).
fn read_from_start(file: &File) -> Option<String> {
    let mut buf = [0u8; 1024];
    #[cfg(unix)]
    let len = std::os::unix::fs::FileExt::read_at(file, &mut buf, 0).ok()?;
    #[cfg(not(unix))]
    let len = {
        let _ = (file, &mut buf);
        0
    };
    (len > 0).then(|| String::from_utf8_lossy(&buf[..len]).into_owned())
}

/// The CPU clock of one thread, readable from any other thread while that one lives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ThreadClock {
    #[cfg(unix)]
    id: libc::clockid_t,
}

impl ThreadClock {
    /// The calling thread's CPU clock, or `None` where the platform has none.
    pub(crate) fn current() -> Option<ThreadClock> {
        #[cfg(unix)]
        {
            let mut id: libc::clockid_t = 0;
            // SAFETY: `pthread_self()` is the live calling thread and `id` a valid,
            // writable clockid_t; the call writes only into `id`.
            let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut id) };
            (rc == 0).then_some(ThreadClock { id })
        }
        #[cfg(not(unix))]
        {
            None
        }
    }

    /// CPU time the thread has consumed, in nanoseconds. The thread must still be alive
    /// (its clock id is not reused while it is), else the result is meaningless or `None`.
    pub(crate) fn read_ns(self) -> Option<u64> {
        #[cfg(unix)]
        {
            clock_ns(self.id)
        }
        #[cfg(not(unix))]
        {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spins until this thread's CPU clock reads `ns` past `from`; false if 10 s of wall
    /// time were not enough.
    fn spin_until_cpu_advances(from: u64, ns: u64) -> bool {
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < give_up {
            for _ in 0..1000 {
                std::hint::spin_loop();
            }
            if thread_cpu_ns().unwrap() >= from + ns {
                return true;
            }
        }
        false
    }

    #[test]
    fn thread_cpu_clock_counts_work_not_sleep() {
        let Some(start) = thread_cpu_ns() else { return };
        std::thread::sleep(std::time::Duration::from_millis(20));
        let after_sleep = thread_cpu_ns().unwrap();
        assert!(after_sleep - start < 10_000_000, "sleeping used CPU time");
        // Spin until the clock shows 20 ms of work: on a loaded machine that takes more
        // wall time, never forever, unless the clock does not count work.
        assert!(
            spin_until_cpu_advances(after_sleep, 20_000_000),
            "spinning for seconds used no CPU time"
        );
    }

    #[test]
    fn sleeping_counts_as_blocking_and_spinning_does_not() {
        let Some(start) = voluntary_switches() else {
            return;
        };
        let spin_until = std::time::Instant::now() + std::time::Duration::from_millis(5);
        while std::time::Instant::now() < spin_until {
            std::hint::spin_loop();
        }
        let after_spin = voluntary_switches().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1));
        let after_sleep = voluntary_switches().unwrap();
        assert_eq!(after_spin, start, "spinning blocked");
        assert!(after_sleep > after_spin, "sleeping did not block");
    }

    #[test]
    fn a_sleeping_thread_reads_as_blocked_and_a_spinning_one_does_not() {
        let Some(me) = current_tid() else {
            return;
        };
        assert_eq!(thread_is_blocked(me), Some(false), "this thread is running");
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let sleeper = std::thread::spawn(move || {
            tid_tx.send(current_tid().unwrap()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(300));
        });
        let tid = tid_rx.recv().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(thread_is_blocked(tid), Some(true), "the sleeper is blocked");
        sleeper.join().unwrap();
    }

    #[test]
    fn a_kept_stat_file_follows_its_thread_until_it_exits() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let Some(_) = current_tid() else {
            return;
        };
        let spinning = AtomicBool::new(false);
        let stop = AtomicBool::new(false);
        let kept = |tid| {
            let files = STAT_FILES.0.lock().unwrap();
            files.iter().any(|(t, _)| *t == tid)
        };
        let (spinning, stop) = (&spinning, &stop);
        std::thread::scope(|s| {
            let (tid_tx, tid_rx) = std::sync::mpsc::channel();
            let worker = s.spawn(move || {
                tid_tx.send(current_tid().unwrap()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(200));
                spinning.store(true, Ordering::Release);
                while !stop.load(Ordering::Acquire) {
                    std::hint::spin_loop();
                }
            });
            let tid = tid_rx.recv().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert_eq!(thread_is_blocked(tid), Some(true), "asleep");
            assert!(kept(tid), "the file stays open");
            while !spinning.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
            assert_eq!(thread_is_blocked(tid), Some(false), "spinning, read again");
            stop.store(true, Ordering::Release);
            worker.join().unwrap();
            // `join` returns as the thread starts exiting, before the kernel has reaped
            // it: it may still read as running for a moment.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
            while thread_is_blocked(tid).is_some() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            assert_eq!(thread_is_blocked(tid), None, "the thread exited");
            assert!(!kept(tid), "a dead thread's file is closed");
        });
    }

    #[test]
    fn another_thread_reads_this_threads_cpu_clock() {
        let Some(clock) = ThreadClock::current() else {
            return;
        };
        let mine = thread_cpu_ns().unwrap();
        assert!(spin_until_cpu_advances(mine, 20_000_000));
        let seen = std::thread::scope(|s| s.spawn(|| clock.read_ns()).join().unwrap()).unwrap();
        assert!(
            seen >= mine + 10_000_000,
            "read {seen} ns, this thread had {mine} ns before spinning 20 ms of CPU"
        );
    }
}
