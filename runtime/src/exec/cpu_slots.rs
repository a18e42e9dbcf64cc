//! A bound on the CPU work that I/O-pool threads start.
//!
//! An I/O plan runs many more workers than cores: most of them wait most of the time.
//! When their items run CPU loops of their own (a nested loop with a CPU plan), each of
//! those workers would compute beside rayon's threads, and a dozen workers on two cores
//! would fight over them. So a CPU plan (or the profiling of a loop) started on an
//! I/O-pool thread first takes one of
//! [`cores`](crate::machine::cores) slots, waiting if none is free, and the rayon
//! threads that help it take a slot each too (or leave when none is free): CPU plans
//! started from I/O workers never run more threads at once than there are cores.
//!
//! Only a thread that holds no slot ever waits for one, and only at the start of such a
//! plan. A thread gives its slot back for autopar's own waits (a nested loop's caller
//! waiting for its helpers) and takes a free one again after them without waiting (or
//! goes on without one). So a slot holder never waits for a thread that waits for a
//! slot, and the bound cannot deadlock. Rayon's work stealing may still lend a loop
//! nested in such a plan's items to a rayon thread that holds no slot: rayon's threads
//! are themselves as many as the cores.

use std::cell::Cell;
use std::sync::{OnceLock, PoisonError};

use super::io_pool;
use crate::sync::{Condvar, Mutex};

thread_local! {
    /// Slots this thread holds: 0 or 1 (a nested CPU plan on a holder reuses its slot).
    static HELD: Cell<u32> = const { Cell::new(0) };
    /// True while this thread runs items of an I/O plan as its caller.
    static IO_CALLER: Cell<bool> = const { Cell::new(false) };
}

/// The slots: a counting semaphore.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

fn slots() -> &'static Slots {
    static SLOTS: OnceLock<Slots> = OnceLock::new();
    SLOTS.get_or_init(|| Slots::new(crate::machine::cores()))
}

impl Slots {
    fn new(slots: usize) -> Self {
        Slots {
            free: Mutex::new(slots),
            freed: Condvar::new(),
        }
    }

    fn take(&self) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self
                .freed
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
    }

    fn try_take(&self) -> bool {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if *free == 0 {
            return false;
        }
        *free -= 1;
        true
    }

    fn give_back(&self) {
        *self.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.freed.notify_one();
    }
}

/// A slot held by this thread; given back on drop (also when unwinding).
pub(crate) struct Slot {
    /// False when the thread held a slot already: the outer holder gives it back.
    owned: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Not held any more if a wait gave it back and found none free after it.
        if self.owned && HELD.get() > 0 {
            HELD.set(0);
            slots().give_back();
        }
    }
}

/// Whether a CPU plan started on this thread must hold a slot: on a thread that runs
/// an I/O plan's items (a pool thread, or the plan's caller, which works beside them).
pub(crate) fn needed_here() -> bool {
    io_pool::on_worker_thread() || IO_CALLER.get()
}

/// Runs `io_plan`, the calling thread's part of an I/O plan, as one of its runners:
/// CPU plans started in its items hold a slot like those on the pool's threads.
pub(crate) fn as_io_caller<R>(io_plan: impl FnOnce() -> R) -> R {
    /// Restores the flag, also when unwinding.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            IO_CALLER.set(self.0);
        }
    }
    let _restore = Restore(IO_CALLER.replace(true));
    io_plan()
}

/// Takes a slot for this thread, waiting for one if none is free; a thread that holds
/// one already keeps using it.
pub(crate) fn take() -> Slot {
    if HELD.get() > 0 {
        return Slot { owned: false };
    }
    slots().take();
    HELD.set(1);
    Slot { owned: true }
}

/// Takes a slot if one is free now.
pub(crate) fn try_take() -> Option<Slot> {
    if HELD.get() > 0 {
        return Some(Slot { owned: false });
    }
    if !slots().try_take() {
        return None;
    }
    HELD.set(1);
    Some(Slot { owned: true })
}

/// Runs `wait` (an autopar wait for other threads) with this thread's slot given back,
/// if it holds one, and takes a free slot again afterwards; if none is free then, the
/// thread finishes its work without one rather than wait (see the module).
pub(crate) fn released_while<R>(wait: impl FnOnce() -> R) -> R {
    if HELD.get() == 0 {
        return wait();
    }
    slots().give_back();
    HELD.set(0);
    /// Takes a slot back even if `wait` unwinds, for the outer [`Slot`] to give back.
    struct Retake;
    impl Drop for Retake {
        fn drop(&mut self) {
            if slots().try_take() {
                HELD.set(1);
            }
        }
    }
    let _retake = Retake;
    wait()
}

/// Slots free now (for tests).
#[cfg(test)]
pub(crate) fn free() -> usize {
    *slots().free.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn slots_are_taken_once_per_thread_and_given_back() {
        let before = free();
        {
            let _outer = take();
            assert_eq!(free(), before - 1);
            let _inner = take();
            let _helper = try_take().expect("a holder reuses its slot");
            assert_eq!(free(), before - 1, "nested plans reuse the slot");
            released_while(|| assert_eq!(free(), before, "given back while waiting"));
            assert_eq!(free(), before - 1, "taken again after the wait");
        }
        assert_eq!(free(), before);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::thread;

    /// Two threads share one slot: one waits for it, the other takes it if it is free
    /// (else the main thread waits for it too). Never more than one holds it, a waiter is
    /// always woken when it is given back (a lost wake-up is a deadlock loom reports),
    /// and the slot comes back.
    #[test]
    fn loom_slots_bound_the_holders_and_wake_waiters() {
        loom::model(|| {
            let slots = Arc::new(Slots::new(1));
            let holding = Arc::new(AtomicUsize::new(0));
            let hold = |slots: &Slots, holding: &AtomicUsize| {
                assert_eq!(holding.fetch_add(1, Ordering::SeqCst), 0, "over the bound");
                holding.fetch_sub(1, Ordering::SeqCst);
                slots.give_back();
            };
            let threads: Vec<_> = (0..2)
                .map(|i| {
                    let (slots, holding) = (Arc::clone(&slots), Arc::clone(&holding));
                    thread::spawn(move || {
                        if i == 0 || !slots.try_take() {
                            slots.take();
                        }
                        hold(&slots, &holding);
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            assert_eq!(*slots.free.lock().unwrap(), 1);
        });
    }
}
