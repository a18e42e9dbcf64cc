//! Deadlines of blocking loops (`Parallel::timeout`): past it no item starts, running
//! ones finish, and the loop returns `TimedOut` (or the error built from it). Bounds are
//! generous: the machine is small and shared.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use autopar::{Parallel, TimedOut};

#[test]
fn a_blocking_loop_stops_starting_items_at_its_deadline() {
    let started = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let t = Instant::now();
    let r = Parallel::io()
        .workers(4)
        .timeout(Duration::from_millis(60))
        .for_each(0..1000, |_| {
            started.fetch_add(1, Ordering::SeqCst);
            sleep(Duration::from_millis(20));
            finished.fetch_add(1, Ordering::SeqCst);
        });
    let elapsed = t.elapsed();
    assert_eq!(r, Err(TimedOut));
    assert!(elapsed >= Duration::from_millis(60), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    // Every item that started also finished: blocking items are waited for.
    assert_eq!(
        started.load(Ordering::SeqCst),
        finished.load(Ordering::SeqCst)
    );
    assert!(started.load(Ordering::SeqCst) < 1000);
}

#[test]
fn try_map_gives_unstarted_items_timed_out_and_keeps_the_rest() {
    let r: Vec<Result<u32, TimedOut>> = Parallel::io()
        .workers(2)
        .timeout(Duration::from_millis(40))
        .try_map(0..400u32, |i| {
            sleep(Duration::from_millis(5));
            Ok(i)
        });
    assert_eq!(r.len(), 400);
    let done = r.iter().filter(|x| x.is_ok()).count();
    assert!((1..400).contains(&done), "{done}");
    for (i, x) in r.iter().enumerate() {
        assert!(*x == Ok(i as u32) || *x == Err(TimedOut), "{i}: {x:?}");
    }
    assert_eq!(r[399], Err(TimedOut));
}

#[test]
fn an_earlier_item_error_wins_over_the_deadline() {
    let r: Result<(), std::io::Error> = Parallel::seq()
        .timeout(Duration::from_millis(30))
        .try_for_each(0..1000, |i| {
            if i == 2 {
                return Err(std::io::Error::other("item two"));
            }
            sleep(Duration::from_millis(1));
            Ok(())
        });
    assert_eq!(r.unwrap_err().to_string(), "item two");
}

#[test]
fn map_within_its_deadline_is_the_plain_map() {
    for parallel in [
        Parallel::auto(),
        Parallel::cpu(),
        Parallel::io(),
        Parallel::seq(),
    ] {
        let v = parallel
            .timeout(Duration::from_secs(3600))
            .map(0..10_000u64, |x| x * 2);
        assert_eq!(v, Ok((0..10_000).map(|x| x * 2).collect::<Vec<_>>()));
    }
}

#[test]
fn an_expired_deadline_runs_nothing() {
    let ran = AtomicUsize::new(0);
    let r = Parallel::auto()
        .timeout(Duration::ZERO)
        .for_each(0..100, |_| {
            ran.fetch_add(1, Ordering::SeqCst);
        });
    assert_eq!(r, Err(TimedOut));
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}
