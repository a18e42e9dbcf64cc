//! Integer ranges at the edges of their type: a full-width inclusive range
//! (`0..=u64::MAX`, `i64::MIN..=i64::MAX`) has one item more than `usize` can count, yet
//! the plain loop over it runs, and stops at the first `?`. Every such loop must give
//! the plain loop's result, whatever the plan. Each call runs under a watchdog: a loop
//! that fails to stop fails the test instead of stalling the suite.

use std::ops::RangeInclusive;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use autopar::{Parallel, parallel};

/// Runs `f` on a thread of its own and fails if it has not returned within a minute.
fn within_a_minute<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(result)) => result,
        Ok(Err(payload)) => std::panic::resume_unwind(payload),
        Err(_) => panic!("{what}: no answer within a minute (hang)"),
    }
}

/// Makes the `Parallel` of one plan (a fresh one per call: the builder is consumed).
type MakePlan = fn() -> Parallel;

fn plans() -> Vec<(&'static str, MakePlan)> {
    vec![
        ("auto", Parallel::auto),
        ("cpu", Parallel::cpu),
        ("cpu, chunk 3", || Parallel::cpu().chunk(3)),
        ("io", || Parallel::io().workers(4)),
        ("seq", Parallel::seq),
    ]
}

/// The plain loop: stops at the fifth item after `start` (if the range has one).
fn plain<T: Copy + PartialEq>(range: RangeInclusive<T>, stop: T) -> Result<usize, T>
where
    RangeInclusive<T>: Iterator<Item = T>,
{
    let mut seen = 0;
    for i in range {
        if i == stop {
            return Err(i);
        }
        seen += 1;
    }
    Ok(seen)
}

macro_rules! full_width_stops_at_the_error {
    ($name:ident, $t:ty) => {
        #[test]
        fn $name() {
            let stop = <$t>::MIN.wrapping_add(5);
            let expected = plain(<$t>::MIN..=<$t>::MAX, stop);
            assert_eq!(expected, Err(stop));
            for (what, plan) in plans() {
                let result = within_a_minute(what, move || {
                    plan().try_for_each(<$t>::MIN..=<$t>::MAX, |i| {
                        if i == stop { Err(i) } else { Ok(()) }
                    })
                });
                assert_eq!(result, Err(stop), "{what}");
                // The general form, counting the items before the error.
                let folded = within_a_minute(what, move || {
                    plan().try_fold(
                        <$t>::MIN..=<$t>::MAX,
                        || 0usize,
                        |n, i| if i == stop { Err(i) } else { Ok(n + 1) },
                        |a, b| a + b,
                    )
                });
                assert_eq!(folded, Err(stop), "{what}");
            }
        }
    };
}

full_width_stops_at_the_error!(full_width_u64, u64);
full_width_stops_at_the_error!(full_width_i64, i64);
full_width_stops_at_the_error!(full_width_usize, usize);
full_width_stops_at_the_error!(full_width_isize, isize);
full_width_stops_at_the_error!(full_width_u32, u32);
full_width_stops_at_the_error!(full_width_u8, u8);

#[test]
fn ranges_ending_at_the_maximum_run_every_item_once() {
    for (what, plan) in plans() {
        let items: Vec<u64> = plan().map(u64::MAX - 3..=u64::MAX, |i| i);
        assert_eq!(
            items,
            [u64::MAX - 3, u64::MAX - 2, u64::MAX - 1, u64::MAX],
            "{what}"
        );
        let items: Vec<i64> = plan().map(i64::MIN..=i64::MIN + 2, |i| i);
        assert_eq!(items, [i64::MIN, i64::MIN + 1, i64::MIN + 2], "{what}");
        let sum = plan().reduce(
            u64::MAX - 3..=u64::MAX,
            || 0u128,
            |a, i| a + u128::from(i),
            |a, b| a + b,
        );
        assert_eq!(
            sum,
            (u64::MAX - 3..=u64::MAX).map(u128::from).sum::<u128>(),
            "{what}"
        );
        let items: Vec<u64> = plan().map(u64::MAX..=u64::MAX, |i| i);
        assert_eq!(items, [u64::MAX], "{what}");
        // Far more than `usize::MAX / 2` items, yet indexable: stops at the error too.
        let half = plan().try_for_each(1..=u64::MAX, |i| if i == 6 { Err(i) } else { Ok(()) });
        assert_eq!(half, Err(6), "{what}");
    }
}

#[test]
fn empty_and_exhausted_ranges_run_nothing() {
    for (what, plan) in plans() {
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = u64::MAX..=0;
        assert_eq!(plan().map(reversed, |i| i), Vec::<u64>::new(), "{what}");
        // A `RangeInclusive` iterated to its end is empty, though its bounds are not.
        let mut exhausted = u64::MAX..=u64::MAX;
        exhausted.next();
        assert!(exhausted.is_empty());
        assert_eq!(plan().map(exhausted, |i| i), Vec::<u64>::new(), "{what}");
        let mut full = i64::MIN..=i64::MAX;
        full.next();
        // One item fewer than the full width: fits `usize`, starts one later.
        let r = plan().try_for_each(full, |i| if i == i64::MIN + 5 { Err(i) } else { Ok(()) });
        assert_eq!(r, Err(i64::MIN + 5), "{what}");
    }
}

#[parallel]
fn first_over_auto(range: RangeInclusive<u64>, stop: u64) -> Result<u64, u64> {
    let mut total = 0;
    for i in range {
        if i == stop {
            Err(i)?;
        }
        total += 1;
    }
    Ok(total)
}

#[parallel(cpu)]
fn first_over_cpu(range: RangeInclusive<i64>, stop: i64) -> Result<u64, i64> {
    let mut total = 0;
    for i in range {
        if i == stop {
            Err(i)?;
        }
        total += 1;
    }
    Ok(total)
}

#[parallel(seq)]
fn first_over_seq(range: RangeInclusive<usize>, stop: usize) -> Result<u64, usize> {
    let mut total = 0;
    for i in range {
        if i == stop {
            Err(i)?;
        }
        total += 1;
    }
    Ok(total)
}

#[parallel(io, workers = 4)]
fn first_over_io(range: RangeInclusive<u64>, stop: u64) -> Result<u64, u64> {
    let mut total = 0;
    for i in range {
        if i == stop {
            Err(i)?;
        }
        total += 1;
    }
    Ok(total)
}

#[test]
fn the_attribute_gives_the_plain_loops_result() {
    assert_eq!(
        within_a_minute("auto", || first_over_auto(0..=u64::MAX, 5)),
        Err(5)
    );
    assert_eq!(
        within_a_minute("cpu", || first_over_cpu(i64::MIN..=i64::MAX, i64::MIN + 5)),
        Err(i64::MIN + 5)
    );
    assert_eq!(
        within_a_minute("seq", || first_over_seq(0..=usize::MAX, 5)),
        Err(5)
    );
    assert_eq!(
        within_a_minute("io", || first_over_io(0..=u64::MAX, 5)),
        Err(5)
    );
    // Short ranges at the top of the type run to the end.
    assert_eq!(first_over_auto(u64::MAX - 3..=u64::MAX, 0), Ok(4));
    assert_eq!(first_over_cpu(i64::MAX - 3..=i64::MAX, 0), Ok(4));
    assert_eq!(first_over_seq(usize::MAX - 3..=usize::MAX, 0), Ok(4));
    assert_eq!(first_over_io(u64::MAX - 3..=u64::MAX, 0), Ok(4));
    #[allow(clippy::reversed_empty_ranges)]
    let empty = 1..=0;
    assert_eq!(first_over_auto(empty, 0), Ok(0));
}
