//! Panics and errors: propagated, prompt, and leaving the site usable.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use autopar::Parallel;
use autopar_tests::spin_for;

fn plans() -> Vec<Parallel> {
    vec![
        Parallel::auto(),
        Parallel::seq(),
        Parallel::cpu().chunk(16),
        Parallel::io().workers(8),
    ]
}

#[test]
fn a_panic_reaches_the_caller_with_its_payload_and_the_site_still_works() {
    for plan in plans() {
        for _ in 0..3 {
            let payload = catch_unwind(AssertUnwindSafe(|| {
                plan.for_each(0..1000usize, |i| {
                    if i == 517 {
                        std::panic::panic_any(format!("item {i} failed"));
                    }
                })
            }))
            .expect_err("the panic must propagate");
            assert_eq!(
                payload.downcast_ref::<String>().unwrap(),
                "item 517 failed",
                "{plan:?}"
            );
            // The same site runs normally afterwards.
            assert_eq!(plan.map(0..100usize, |i| i).len(), 100);
        }
    }
}

#[test]
fn fail_fast_stops_handing_out_items() {
    const N: usize = 100_000;
    for plan in plans() {
        let ran = AtomicUsize::new(0);
        let result = plan.try_for_each(0..N, |i| {
            ran.fetch_add(1, Ordering::Relaxed);
            spin_for(Duration::from_micros(5));
            if i == 3 {
                Err(format!("item {i}"))
            } else {
                Ok(())
            }
        });
        assert_eq!(result, Err("item 3".to_string()), "{plan:?}");
        let ran = ran.into_inner();
        assert!(
            ran < N / 10,
            "{plan:?} ran {ran} of {N} items after the failure"
        );
    }
}

#[test]
fn the_earliest_error_wins_when_several_fail() {
    for plan in plans() {
        let r = plan.try_for_each(
            &[1, 2, -3, 4, -5, 6],
            |&x| if x < 0 { Err(x) } else { Ok(()) },
        );
        // Any error the sequential loop could have produced is acceptable; on one
        // chunk the earliest is found.
        assert!(matches!(r, Err(-3) | Err(-5)), "{plan:?}: {r:?}");
    }
}

#[test]
fn concurrent_calls_at_one_site_are_correct() {
    let site = |n: usize| Parallel::auto().label("shared").map(0..n, |i| i * 2);
    std::thread::scope(|s| {
        for t in 0..8 {
            s.spawn(move || {
                for k in 0..200 {
                    let n = (t * 131 + k * 17) % 3000;
                    let out = site(n);
                    assert!(out.iter().copied().eq((0..n).map(|i| i * 2)));
                }
            });
        }
    });
}
