//! Where a helper thread runs, relative to the thread it helps.
//!
//! Some kernels queue a woken thread on the CPU of the thread that woke it even while
//! another CPU is idle; VMs that pack work onto few vCPUs (so that idle ones stay
//! halted) do it on purpose. A helper (a rayon or I/O-pool thread) woken to compute
//! beside a busy caller then shares the caller's CPU, and usually preempts it, until the
//! load balancer moves one of them: a scheduler tick or more, during which the
//! "parallel" call runs at sequential speed (`examples/wake_placement.rs` measures it).
//! [`move_off`] moves the helper to another CPU it may use at once, then gives it back
//! its affinity, so the scheduler stays free to place it later; elsewhere it finds the
//! helper on another CPU already and does nothing.
//!
//! A helper can only move once it runs, and one queued behind a busy caller may not run
//! until the caller's time slice ends (milliseconds). [`Crew`] ties the two ends
//! together: helpers move off as they join, and a caller whose helpers have not joined
//! [`NUDGE_AFTER`] after it woke them yields its CPU once, so that a helper waiting
//! behind it runs now and moves away. Where helpers wake on other CPUs, they have
//! usually joined by then, and otherwise the yield finds nothing else to run here and
//! returns at once. I/O-pool threads never preempt the thread that wakes them (they
//! sleep as batch threads, see `exec::idle_priority`): for them the yield is what lets a
//! helper queued behind its caller run and move away.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

/// A caller whose helpers have not joined this long after it woke them yields once.
///
/// Longer than a helper woken on this CPU takes to preempt the caller when the kernel
/// lets it (~12 µs on a 2-vCPU VM), shorter than the scheduler tick a helper that does
/// not preempt it waits for; near a wake-up on another CPU (~60 µs), so a caller whose
/// helpers are merely slow to wake rarely makes the (cheap) syscall.
pub(crate) const NUDGE_AFTER: Duration = Duration::from_micros(50);

/// A calling thread and the helpers it wakes to compute beside it.
pub(crate) struct Crew {
    caller: ThreadId,
    /// The CPU the caller ran on when it woke its helpers.
    caller_cpu: Option<usize>,
    /// Whether any helper has started.
    joined: AtomicBool,
}

impl Crew {
    /// The crew of the calling thread, made just before it wakes its helpers.
    pub(crate) fn here() -> Crew {
        Crew::of(thread::current().id(), current_cpu())
    }

    /// The crew of `caller`, which ran on `caller_cpu`.
    pub(crate) fn of(caller: ThreadId, caller_cpu: Option<usize>) -> Crew {
        Crew {
            caller,
            caller_cpu,
            joined: AtomicBool::new(false),
        }
    }

    /// Whether this thread is the caller.
    pub(crate) fn is_caller(&self) -> bool {
        thread::current().id() == self.caller
    }

    /// On a helper as it starts: counts it as joined and, if the kernel put it on the
    /// caller's CPU, moves it off (for helpers that compute: one that waits for I/O may
    /// share the caller's CPU, see [`joined_to_wait`](Self::joined_to_wait)).
    pub(crate) fn joined_to_compute(&self) {
        self.joined_to_wait();
        if let Some(cpu) = self.caller_cpu {
            move_off(cpu);
        }
    }

    /// On a helper whose items wait rather than compute: counts it as joined.
    pub(crate) fn joined_to_wait(&self) {
        self.joined.store(true, Ordering::Relaxed);
    }

    /// Whether any helper has started.
    pub(crate) fn any_joined(&self) -> bool {
        self.joined.load(Ordering::Relaxed)
    }

    /// The caller's side, to [`poll`](Nudge::poll) between its batches.
    pub(crate) fn nudge(&self) -> Nudge<'_> {
        Nudge {
            crew: self,
            due: Instant::now() + NUDGE_AFTER,
            pending: true,
        }
    }
}

/// The caller's one yield to helpers that have not joined (see the module docs).
pub(crate) struct Nudge<'c> {
    crew: &'c Crew,
    due: Instant,
    pending: bool,
}

impl Nudge<'_> {
    /// Between two batches of the caller: once [`NUDGE_AFTER`] has passed, yields the
    /// CPU if no helper has joined yet; never again after that. True if it yielded.
    #[inline]
    pub(crate) fn poll(&mut self) -> bool {
        if !self.pending || Instant::now() < self.due {
            return false;
        }
        self.pending = false;
        if self.crew.any_joined() {
            return false;
        }
        thread::yield_now();
        true
    }
}

/// The CPU this thread runs on now (it may move at any time).
#[cfg(target_os = "linux")]
pub(crate) fn current_cpu() -> Option<usize> {
    // SAFETY: sched_getcpu takes no arguments and only reports this thread's CPU.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).ok()
}

/// The CPU this thread runs on now: unknown on this OS.
#[cfg(not(target_os = "linux"))]
pub(crate) fn current_cpu() -> Option<usize> {
    None
}

/// If this thread runs on `cpu`, moves it to another CPU its affinity allows and restores
/// that affinity; true if it moved. Nothing happens if it runs elsewhere already, or if
/// `cpu` is the only CPU it may use.
#[cfg(target_os = "linux")]
pub(crate) fn move_off(cpu: usize) -> bool {
    if current_cpu() != Some(cpu) || cpu >= libc::CPU_SETSIZE as usize {
        return false;
    }
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `cpu_set_t` is a plain bit set; all zeroes is the empty set.
    let mut allowed: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is the calling thread; the kernel writes at most `size` bytes into
    // `allowed`, which is that large.
    if unsafe { libc::sched_getaffinity(0, size, &mut allowed) } != 0 {
        return false;
    }
    let mut others = allowed;
    // SAFETY: `cpu < CPU_SETSIZE` (checked above), so CPU_CLR stays inside the set, and
    // CPU_COUNT only reads it.
    let any_other = unsafe {
        libc::CPU_CLR(cpu, &mut others);
        libc::CPU_COUNT(&others) > 0
    };
    if !any_other {
        return false;
    }
    // SAFETY: pid 0 is the calling thread; the kernel reads `size` bytes of `others`. A
    // thread running on a CPU outside its new set is moved before the call returns.
    if unsafe { libc::sched_setaffinity(0, size, &others) } != 0 {
        return false;
    }
    // SAFETY: as above, with the set the thread had; it stays where it was moved to.
    unsafe { libc::sched_setaffinity(0, size, &allowed) };
    true
}

/// Moving threads is Linux-only: elsewhere, never moves.
#[cfg(not(target_os = "linux"))]
pub(crate) fn move_off(_cpu: usize) -> bool {
    false
}

#[cfg(all(test, target_os = "linux", not(loom)))]
mod tests {
    use super::*;

    /// The thread's affinity, as CPU numbers.
    fn affinity() -> Vec<usize> {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: as in `move_off`.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::sched_getaffinity(0, size, &mut set) }, 0);
        (0..libc::CPU_SETSIZE as usize)
            // SAFETY: every index is below CPU_SETSIZE.
            .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
            .collect()
    }

    #[test]
    fn the_caller_yields_once_if_no_helper_joined_in_time() {
        let crew = Crew::here();
        assert!(crew.is_caller());
        let mut nudge = crew.nudge();
        assert!(!nudge.poll(), "not before NUDGE_AFTER");
        std::thread::sleep(NUDGE_AFTER);
        assert!(nudge.poll(), "no helper joined: yields");
        assert!(!nudge.poll(), "only once");
    }

    #[test]
    fn the_caller_does_not_yield_once_a_helper_joined() {
        let crew = Crew::here();
        let mut nudge = crew.nudge();
        std::thread::scope(|s| {
            s.spawn(|| {
                assert!(!crew.is_caller());
                crew.joined_to_compute();
            });
        });
        assert!(crew.any_joined());
        std::thread::sleep(NUDGE_AFTER);
        assert!(!nudge.poll());
    }

    #[test]
    fn moves_to_another_cpu_and_keeps_its_affinity() {
        // On a thread of its own: the test harness's thread keeps its placement.
        std::thread::spawn(|| {
            let before = affinity();
            let here = current_cpu().expect("Linux reports the current CPU");
            assert!(before.contains(&here));
            let moved = move_off(here);
            assert_eq!(moved, before.len() > 1, "{before:?}");
            if moved {
                // The kernel moves the thread before sched_setaffinity returns; it
                // could have moved back since only if rescheduled meanwhile, which a
                // just-moved thread rarely is.
                let now = current_cpu().unwrap();
                assert!(before.contains(&now));
            }
            assert_eq!(affinity(), before, "the affinity is given back");
            // Already elsewhere: nothing to do.
            let here = current_cpu().unwrap();
            let elsewhere = before.iter().copied().find(|&cpu| cpu != here);
            if let Some(cpu) = elsewhere {
                assert!(!move_off(cpu) || current_cpu() != Some(cpu));
            }
        })
        .join()
        .unwrap();
    }
}
