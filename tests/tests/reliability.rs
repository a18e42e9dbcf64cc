//! Reliability under failure: drops, thread counts, fail-safe outcomes at scale.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};

use autopar::Parallel;

fn plans() -> Vec<Parallel> {
    vec![
        Parallel::auto(),
        Parallel::seq(),
        Parallel::cpu().chunk(8),
        Parallel::io().workers(6).chunk(3),
    ]
}

/// Deliberate panics by the thousand would flood the output; silence the default hook
/// (every test in this file panics on purpose).
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .unwrap_or("");
            if !message.starts_with("deliberate") {
                default(info);
            }
        }))
    });
}

static CREATED: AtomicUsize = AtomicUsize::new(0);
static DROPPED: AtomicUsize = AtomicUsize::new(0);

/// Counts its creations and drops.
struct Tracked(#[allow(dead_code)] usize);

impl Tracked {
    fn new(i: usize) -> Self {
        CREATED.fetch_add(1, Ordering::SeqCst);
        Tracked(i)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn outputs_made_before_a_panic_are_dropped_exactly_once() {
    quiet_panics();
    for plan in plans() {
        for fail_at in [0, 1, 500, 1999] {
            CREATED.store(0, Ordering::SeqCst);
            DROPPED.store(0, Ordering::SeqCst);
            let result = catch_unwind(AssertUnwindSafe(|| {
                plan.map(0..2000usize, |i| {
                    if i == fail_at {
                        panic!("deliberate: boom at {i}");
                    }
                    Tracked::new(i)
                })
            }));
            assert!(result.is_err(), "{plan:?}");
            assert_eq!(
                CREATED.load(Ordering::SeqCst),
                DROPPED.load(Ordering::SeqCst),
                "{plan:?} failing at {fail_at}"
            );
        }
    }
}

#[test]
fn many_panicking_calls_leave_the_thread_count_bounded() {
    quiet_panics();
    let threads = || {
        std::fs::read_dir("/proc/self/task")
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let before = threads();
    for (plan, calls) in [
        (Parallel::auto(), 10_000),
        (Parallel::cpu().chunk(4), 10_000),
        (Parallel::io().workers(8), 2_000),
    ] {
        for call in 0..calls {
            let r = catch_unwind(AssertUnwindSafe(|| {
                plan.for_each(0..16usize, |i| {
                    if i == call % 16 {
                        panic!("deliberate: call {call}");
                    }
                })
            }));
            assert!(r.is_err());
        }
    }
    if cfg!(target_os = "linux") {
        // rayon's pool + the I/O workers this test asked for + slack for other tests.
        assert!(threads() <= before + 64, "{before} → {} threads", threads());
    }
}

#[test]
fn fail_safe_returns_one_outcome_per_input_in_order_at_scale() {
    let fails = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15).is_multiple_of(7);
    for plan in [
        Parallel::auto(),
        Parallel::cpu(),
        Parallel::io().workers(4).chunk(4096),
    ] {
        let out = plan.try_map(
            0..1_000_000u64,
            |i| if fails(i) { Err(i) } else { Ok(i * 2) },
        );
        assert_eq!(out.len(), 1_000_000);
        for (i, r) in out.iter().enumerate() {
            let i = i as u64;
            assert_eq!(*r, if fails(i) { Err(i) } else { Ok(i * 2) });
        }
    }
}
