//! Async loops (feature `async`): results in input order, the earliest error, dropped
//! futures, deadlines, pinned concurrency, panics, and the report. Everything runs on
//! `futures_executor::block_on`: one thread, deterministic polling.
#![cfg(feature = "async")]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use autopar::{Parallel, TimedOut};
use futures_executor::block_on;
use proptest::prelude::*;

/// Ready after being polled `n` times (waking itself in between): a future that waits
/// without a clock, so the finishing order is set by the test.
struct YieldTimes(u32);

impl Future for YieldTimes {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            Poll::Ready(())
        } else {
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Counts its drops, so a test sees that a future was dropped (cancelled).
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Counts futures in flight and the most seen at once.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl InFlight {
    fn enter(&self) -> impl Drop + '_ {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        struct Leave<'a>(&'a AtomicUsize);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        Leave(&self.now)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn map_async_keeps_input_order(waits in prop::collection::vec(0u32..20, 0..200), workers in prop::option::of(1usize..40)) {
        let mut parallel = Parallel::io();
        if let Some(n) = workers {
            parallel = parallel.workers(n);
        }
        let out = block_on(parallel.map_async(waits.iter().enumerate(), |(i, &w)| async move {
            YieldTimes(w).await;
            i * 3
        }));
        prop_assert_eq!(out, (0..waits.len()).map(|i| i * 3).collect::<Vec<_>>());
    }

    #[test]
    fn try_for_each_async_returns_the_earliest_error_in_input_order(
        waits in prop::collection::vec(0u32..20, 1..100),
        fails in prop::collection::vec(any::<bool>(), 1..100),
    ) {
        let expected = fails.iter().take(waits.len()).position(|&f| f);
        let r = block_on(Parallel::io().try_for_each_async(waits.iter().enumerate(), |(i, &w)| {
            let fail = fails.get(i).copied().unwrap_or(false);
            async move {
                YieldTimes(w).await;
                if fail { Err(i) } else { Ok(()) }
            }
        }));
        prop_assert_eq!(r.err(), expected);
    }

    #[test]
    fn fold_async_folds_in_input_order(waits in prop::collection::vec(0u32..20, 0..100)) {
        let s = block_on(Parallel::io().fold_async(
            waits.iter().enumerate(),
            Vec::new(),
            |(i, &w)| async move { YieldTimes(w).await; i },
            |mut acc, i| { acc.push(i); acc },
        ));
        prop_assert_eq!(s, (0..waits.len()).collect::<Vec<_>>());
    }
}

#[test]
fn a_later_failure_drops_the_futures_after_it_and_waits_for_earlier_ones() {
    let dropped = Arc::new(AtomicUsize::new(0));
    // Item 0 fails late, item 1 fails at once, items 2.. never finish.
    let r = block_on(Parallel::io().workers(8).try_for_each_async(0..8, |i| {
        let guard = DropCount(dropped.clone());
        async move {
            let _guard = guard;
            match i {
                0 => {
                    YieldTimes(50).await;
                    Err("zero")
                }
                1 => Err("one"),
                _ => std::future::pending().await,
            }
        }
    }));
    assert_eq!(r, Err("zero"));
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        8,
        "every future was dropped"
    );
}

#[test]
fn workers_pins_the_futures_in_flight_and_seq_runs_one_at_a_time() {
    for (parallel, most) in [(Parallel::io().workers(5), 5), (Parallel::seq(), 1)] {
        let in_flight = InFlight::default();
        block_on(parallel.for_each_async(0..100, |i| {
            let in_flight = &in_flight;
            async move {
                let _in = in_flight.enter();
                YieldTimes(i % 7 + 1).await;
            }
        }));
        assert_eq!(in_flight.most.load(Ordering::SeqCst), most);
    }
}

#[test]
fn waiting_items_run_concurrently_when_tuned() {
    let in_flight = InFlight::default();
    block_on(Parallel::io().for_each_async(0..200, |_| {
        let in_flight = &in_flight;
        async move {
            let _in = in_flight.enter();
            YieldTimes(3).await;
        }
    }));
    assert!(in_flight.most.load(Ordering::SeqCst) >= 2);
}

#[test]
fn ready_and_waiting_items_mix() {
    let out = block_on(Parallel::io().map_async(0..1000u32, |i| async move {
        if i % 10 == 3 {
            YieldTimes(i % 5).await;
        }
        i
    }));
    assert_eq!(out, (0..1000).collect::<Vec<_>>());
}

#[test]
fn a_panicking_item_panics_the_caller() {
    let r = std::panic::catch_unwind(|| {
        block_on(Parallel::io().for_each_async(0..10, |i| async move {
            YieldTimes(i).await;
            assert_ne!(i, 6, "item six");
        }))
    });
    assert!(r.is_err());
}

#[test]
fn the_loop_future_is_send_when_the_items_are() {
    fn assert_send<T: Send>(_: &T) {}
    let data = vec![1u64, 2, 3];
    let fut = Parallel::io().map_async(&data, |x| async move { x + 1 });
    assert_send(&fut);
    let fut = Parallel::io()
        .timeout(Duration::from_secs(1))
        .try_for_each_async(0..3, |_| async { Ok::<(), TimedOut>(()) });
    assert_send(&fut);
    assert_eq!(
        block_on(Parallel::io().map_async(&data, |x| async move { x + 1 })),
        [2, 3, 4]
    );
}

#[test]
fn a_deadline_drops_the_running_futures_and_starts_no_more() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let started = AtomicUsize::new(0);
    let timeout = Duration::from_millis(50);
    let t = Instant::now();
    let r = block_on(
        Parallel::io()
            .workers(4)
            .timeout(timeout)
            .for_each_async(0..100, |_| {
                started.fetch_add(1, Ordering::SeqCst);
                let guard = DropCount(dropped.clone());
                async move {
                    let _guard = guard;
                    std::future::pending::<()>().await
                }
            }),
    );
    let elapsed = t.elapsed();
    assert_eq!(r, Err(TimedOut));
    assert!(elapsed >= timeout, "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_eq!(started.load(Ordering::SeqCst), 4);
    assert_eq!(dropped.load(Ordering::SeqCst), 4);
}

#[test]
fn try_map_async_gives_each_unfinished_item_timed_out() {
    let r: Vec<Result<usize, TimedOut>> = block_on(
        Parallel::io()
            .workers(3)
            .timeout(Duration::from_millis(30))
            .try_map_async(0..10usize, |i| async move {
                if i < 2 {
                    Ok(i)
                } else {
                    std::future::pending().await
                }
            }),
    );
    assert_eq!(r.len(), 10);
    assert_eq!(r[..2], [Ok(0), Ok(1)]);
    assert!(r[2..].iter().all(|x| *x == Err(TimedOut)));
}

#[test]
fn an_item_error_before_the_deadline_wins_over_timed_out() {
    #[derive(Debug, PartialEq)]
    enum E {
        Item(u32),
        TimedOut,
    }
    impl From<TimedOut> for E {
        fn from(_: TimedOut) -> E {
            E::TimedOut
        }
    }
    let r = block_on(
        Parallel::io()
            .timeout(Duration::from_millis(30))
            .try_for_each_async(0..10u32, |i| async move {
                if i == 0 {
                    YieldTimes(3).await;
                    Err(E::Item(0))
                } else {
                    std::future::pending().await
                }
            }),
    );
    assert_eq!(r, Err(E::Item(0)));
    let r = block_on(
        Parallel::io()
            .timeout(Duration::from_millis(30))
            .try_for_each_async(0..10u32, |_| std::future::pending::<Result<(), E>>()),
    );
    assert_eq!(r, Err(E::TimedOut));
}

#[test]
fn a_deadline_that_never_comes_changes_nothing() {
    let v = block_on(Parallel::io().timeout(Duration::from_secs(3600)).map_async(
        0..100u32,
        |i| async move {
            YieldTimes(i % 3).await;
            i
        },
    ));
    assert_eq!(v, Ok((0..100).collect::<Vec<_>>()));
}

#[test]
fn the_report_shows_the_limit_and_why() {
    for _ in 0..3 {
        block_on(
            Parallel::io()
                .label("async report")
                .for_each_async(0..300, |_| YieldTimes(2)),
        );
    }
    let report = autopar::report();
    let site = report
        .sites
        .iter()
        .find(|s| s.label.as_deref() == Some("async report"))
        .expect("the site is reported");
    let a = site.async_loop.as_ref().expect("an async loop");
    assert_eq!(a.calls, 3);
    assert_eq!(a.items, 900);
    assert!(a.limit >= 1);
    let text = report.to_string();
    assert!(
        text.contains("async ") && text.contains("(async report)"),
        "{text}"
    );
}

#[test]
fn a_pinned_site_reports_pinned() {
    block_on(
        Parallel::io()
            .workers(7)
            .label("pinned async")
            .for_each_async(0..10, |_| YieldTimes(1)),
    );
    let report = autopar::report();
    let a = report
        .sites
        .iter()
        .find(|s| s.label.as_deref() == Some("pinned async"))
        .and_then(|s| s.async_loop.clone())
        .unwrap();
    assert_eq!(a.limit, 7);
    assert_eq!(a.reason, autopar::LimitReason::Pinned);
}
