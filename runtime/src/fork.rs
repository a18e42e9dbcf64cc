//! Processes forked after autopar's pools started.
//!
//! `fork()` copies only the calling thread: in the child, rayon's threads and the I/O
//! pool's are gone, yet the pools' bookkeeping (and any lock another thread held at that
//! moment) says otherwise. A loop there that waited for a helper, or for a lock, would
//! wait forever (libgomp is known for exactly this). So a child runs every loop as the
//! plain loop on its calling thread, touching none of the engine's shared state.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set in a child process by the `pthread_atfork` handler.
static IN_CHILD: AtomicBool = AtomicBool::new(false);

/// True in a process forked from one in which autopar had started a pool.
#[inline]
pub(crate) fn in_child() -> bool {
    IN_CHILD.load(Ordering::Relaxed)
}

/// Makes a later `fork()` mark its child (see [`in_child`]). Called when a pool starts
/// its first thread: before that, a child has no missing threads to wait for.
pub(crate) fn watch() {
    static WATCHING: Once = Once::new();
    WATCHING.call_once(|| {
        #[cfg(unix)]
        {
            extern "C" fn mark_child() {
                // Async-signal-safe: one atomic store, no allocation, no lock.
                IN_CHILD.store(true, Ordering::Relaxed);
            }
            // SAFETY: `mark_child` is a plain `extern "C"` function that stays valid for the
            // life of the process and does only an atomic store, which is allowed in a child
            // of a multithreaded process. A failure (ENOMEM) only means a child is not
            // marked, as before this call.
            unsafe {
                libc::pthread_atfork(None, None, Some(mark_child));
            }
        }
    });
}
