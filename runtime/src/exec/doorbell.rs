//! The I/O pool's doorbell: idle pool threads sleep on it, and a caller that queued `n`
//! jobs wakes `n` of them with one call.
//!
//! An event count. A thread that looks for work first takes a [`ticket`](Doorbell::ticket),
//! then checks the job queue, and sleeps with [`wait`](Doorbell::wait) only if the queue was
//! empty: `wait` returns at once if anyone [`ring`](Doorbell::ring)s after the ticket was
//! taken, so a job queued between the check and the sleep is never missed.
//!
//! Why not block in the job channel's `recv`: waking its receivers one send at a time costs
//! the sender a lock, a queue walk and an unpark per job, and on a 2-vCPU VM a 31-job call
//! started its last helper 350-460 µs after the first send; a futex wake of the same 31
//! threads, 200-260 µs (`ring` is one system call on Linux however many it wakes).

use crate::sync::{AtomicU32, Ordering};
#[cfg(any(loom, not(target_os = "linux")))]
use std::sync::PoisonError;
use std::time::Duration;

/// Idle threads sleep here until jobs are queued.
pub(crate) struct Doorbell {
    /// Rings so far (wrapping): the futex word on Linux.
    rings: AtomicU32,
    /// Elsewhere (and under loom): the lock and condition variable a sleeper waits on.
    #[cfg(any(loom, not(target_os = "linux")))]
    sleepers: crate::sync::Mutex<()>,
    #[cfg(any(loom, not(target_os = "linux")))]
    bell: crate::sync::Condvar,
}

impl Doorbell {
    pub(crate) fn new() -> Self {
        Self {
            rings: AtomicU32::new(0),
            #[cfg(any(loom, not(target_os = "linux")))]
            sleepers: crate::sync::Mutex::new(()),
            #[cfg(any(loom, not(target_os = "linux")))]
            bell: crate::sync::Condvar::new(),
        }
    }

    /// The ticket to [`wait`](Self::wait) with; take it *before* looking for work.
    pub(crate) fn ticket(&self) -> u32 {
        // Acquire pairs with `ring`'s Release: a ticket that shows a ring shows the jobs
        // queued before it.
        self.rings.load(Ordering::Acquire)
    }

    /// Wakes up to `n` threads sleeping in [`wait`](Self::wait), and makes every `wait`
    /// with an older ticket return at once. Call after queuing the jobs.
    pub(crate) fn ring(&self, n: usize) {
        if n == 0 {
            return;
        }
        self.rings.fetch_add(1, Ordering::Release);
        self.wake(n);
    }

    /// Sleeps until a [`ring`](Self::ring) after `ticket` was taken, or `timeout`; may also
    /// return early for no reason (the caller looks for work again either way).
    pub(crate) fn wait(&self, ticket: u32, timeout: Duration) {
        self.sleep_unless_rung(ticket, timeout);
    }

    #[cfg(all(target_os = "linux", not(loom)))]
    fn wake(&self, n: usize) {
        let n = libc::c_int::try_from(n).unwrap_or(libc::c_int::MAX);
        // SAFETY: FUTEX_WAKE reads no memory of ours: it only wakes up to `n` threads
        // waiting on the address of `rings`, which lives as long as `self`.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.rings.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                n,
            );
        }
    }

    #[cfg(all(target_os = "linux", not(loom)))]
    fn sleep_unless_rung(&self, ticket: u32, timeout: Duration) {
        let timeout = libc::timespec {
            tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: timeout.subsec_nanos().into(),
        };
        // SAFETY: `rings` is a live, aligned u32 for the whole call and `timeout` a valid
        // relative timespec. The kernel sleeps only if `rings` still holds `ticket`, checked
        // atomically with queuing this thread, so a `ring` (increment, then wake) either
        // changed the word first or finds this thread queued. Errors (EAGAIN: rung
        // already; EINTR; ETIMEDOUT) all mean "look for work again".
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.rings.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                ticket,
                &raw const timeout,
            );
        }
    }

    #[cfg(any(loom, not(target_os = "linux")))]
    fn wake(&self, n: usize) {
        // Taking the lock orders this ring after any sleeper's check-then-wait below: the
        // sleeper either saw the new count or is already waiting on the condition variable.
        drop(self.sleepers.lock().unwrap_or_else(PoisonError::into_inner));
        for _ in 0..n {
            self.bell.notify_one();
        }
    }

    #[cfg(any(loom, not(target_os = "linux")))]
    fn sleep_unless_rung(&self, ticket: u32, timeout: Duration) {
        let guard = self.sleepers.lock().unwrap_or_else(PoisonError::into_inner);
        if self.rings.load(Ordering::Acquire) != ticket {
            return;
        }
        // loom models no time: there a sleeper waits for a ring.
        #[cfg(loom)]
        {
            let _ = timeout;
            drop(self.bell.wait(guard));
        }
        #[cfg(not(loom))]
        drop(self.bell.wait_timeout(guard, timeout));
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Arc, Barrier};
    use std::time::Instant;

    #[test]
    fn a_ring_after_the_ticket_makes_wait_return_at_once() {
        let bell = Doorbell::new();
        let ticket = bell.ticket();
        bell.ring(1);
        let start = Instant::now();
        bell.wait(ticket, Duration::from_secs(10));
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn wait_times_out_without_a_ring() {
        let bell = Doorbell::new();
        let start = Instant::now();
        bell.wait(bell.ticket(), Duration::from_millis(20));
        assert!(start.elapsed() >= Duration::from_millis(19));
    }

    #[test]
    fn ring_wakes_sleepers() {
        let bell = Arc::new(Doorbell::new());
        let woken = Arc::new(AtomicUsize::new(0));
        let ready = Arc::new(Barrier::new(4));
        let sleepers: Vec<_> = (0..3)
            .map(|_| {
                let (bell, woken, ready) = (bell.clone(), woken.clone(), ready.clone());
                std::thread::spawn(move || {
                    let ticket = bell.ticket();
                    ready.wait();
                    // Rung or not, 30 s is far beyond this test's run: returning means woken.
                    bell.wait(ticket, Duration::from_secs(30));
                    woken.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        ready.wait();
        bell.ring(3);
        for sleeper in sleepers {
            sleeper.join().unwrap();
        }
        assert_eq!(woken.load(Ordering::Relaxed), 3);
    }
}

/// The doorbell with a job queue, as the pool uses it: no job is left behind by sleepers.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::{Arc, Mutex};
    use loom::thread;

    /// Two idle threads look for one job each; the caller queues two jobs and rings for
    /// two. A lost wake-up leaves a thread asleep with a job queued: loom reports the
    /// deadlock.
    #[test]
    fn loom_ring_after_queuing_wakes_every_needed_sleeper() {
        loom::model(|| {
            let bell = Arc::new(Doorbell::new());
            let jobs = Arc::new(Mutex::new(0usize));
            let idle: Vec<_> = (0..2)
                .map(|_| {
                    let (bell, jobs) = (Arc::clone(&bell), Arc::clone(&jobs));
                    thread::spawn(move || {
                        loop {
                            let ticket = bell.ticket();
                            {
                                let mut queued = jobs.lock().unwrap();
                                if *queued > 0 {
                                    *queued -= 1;
                                    return;
                                }
                            }
                            bell.wait(ticket, Duration::MAX);
                        }
                    })
                })
                .collect();
            *jobs.lock().unwrap() += 2;
            bell.ring(2);
            for thread in idle {
                thread.join().unwrap();
            }
            assert_eq!(*jobs.lock().unwrap(), 0);
        });
    }
}
