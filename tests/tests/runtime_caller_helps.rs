//! CPU plans called from outside rayon's pool: the caller runs items too, pool threads
//! join when they can, and the call never waits for one that cannot.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use autopar::Parallel;

/// Keeps every thread of rayon's global pool busy until the returned flag is set.
fn occupy_rayon_pool() -> Arc<AtomicBool> {
    let release = Arc::new(AtomicBool::new(false));
    let busy = Arc::new(AtomicUsize::new(0));
    for _ in 0..rayon::current_num_threads() {
        let (release, busy) = (Arc::clone(&release), Arc::clone(&busy));
        rayon::spawn(move || {
            busy.fetch_add(1, Ordering::SeqCst);
            while !release.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(1));
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while busy.load(Ordering::SeqCst) < rayon::current_num_threads() {
        assert!(Instant::now() < deadline, "rayon's threads never started");
        thread::sleep(Duration::from_millis(1));
    }
    release
}

#[test]
fn a_cpu_call_finishes_on_the_caller_while_every_pool_thread_is_busy() {
    let release = occupy_rayon_pool();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let call = thread::spawn(move || {
        let caller = thread::current().id();
        let out = Parallel::cpu()
            .chunk(10)
            .map(0..1000usize, |i| (i, thread::current().id()));
        done_tx.send(()).unwrap();
        (caller, out)
    });
    // Fork-join from outside the pool would wait until a pool thread is free: that is,
    // until the release below.
    let finished = done_rx.recv_timeout(Duration::from_secs(5)).is_ok();
    release.store(true, Ordering::SeqCst);
    let (caller, out) = call.join().unwrap();
    assert!(finished, "the call waited for the busy pool");
    assert_eq!(
        out.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        (0..1000).collect::<Vec<_>>()
    );
    assert!(out.iter().all(|(_, thread)| *thread == caller));
}

#[test]
fn pool_threads_help_the_caller_when_they_are_free() {
    if rayon::current_num_threads() < 2 {
        return; // No pool thread beyond the caller's share.
    }
    let caller = thread::current().id();
    let helped = (0..20).any(|_| {
        let out = Parallel::cpu().chunk(1).map(0..200usize, |i| {
            autopar_tests::spin_for(Duration::from_micros(50));
            (i, thread::current().id(), rayon::current_thread_index())
        });
        assert_eq!(
            out.iter().map(|(i, ..)| *i).collect::<Vec<_>>(),
            (0..200).collect::<Vec<_>>()
        );
        // Every item ran on the caller or on one of rayon's threads.
        assert!(
            out.iter()
                .all(|(_, t, index)| *t == caller || index.is_some())
        );
        out.iter().any(|(_, _, index)| index.is_some()) && out.iter().any(|(_, t, _)| *t == caller)
    });
    assert!(
        helped,
        "in 20 calls of 10 ms, no pool thread ever helped the caller"
    );
}
