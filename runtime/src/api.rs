//! The manual API: [`Parallel`], a small builder whose methods run a loop.

use std::any::type_name;
use std::convert::Infallible;
use std::ops::ControlFlow;
use std::panic::Location;

use crate::collect::{MapFold, Output, Part};
use crate::engine::{self, CallSpec};
use crate::input::{IntoParallelInput, ParallelInput};
use crate::progress::{NoProgress, ProgressMessage, ProgressSource};
use crate::site::Site;

/// How a loop may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Profile the first items, then choose sequential, the CPU pool or the I/O pool, and
    /// remember the choice for this call site.
    Auto,
    /// Always rayon's CPU pool (chunk size chosen by profiling unless given).
    Cpu,
    /// Always the I/O pool (worker count chosen by profiling unless given).
    Io,
    /// Always sequential, on the calling thread.
    Seq,
}

#[derive(Clone, Copy, Debug)]
enum SiteRef {
    Static(&'static Site),
    Caller(&'static Location<'static>),
}

/// A parallel loop about to run: pick a mode, optionally pin options, then call one of
/// the loop methods.
///
/// The call site (where `Parallel::auto()` and friends are written) identifies the loop:
/// what autopar learns about its cost is cached there, per input size class, so later
/// calls decide in nanoseconds.
///
/// ```
/// use autopar::Parallel;
///
/// let items: Vec<u64> = (0..10_000).collect();
/// // Profile, decide, cache:
/// let squares: Vec<u64> = Parallel::auto().map(&items, |x| x * x);
/// let total = Parallel::auto().reduce(&items, || 0u64, |acc, x| acc + x, |a, b| a + b);
/// assert_eq!(squares[3], 9);
/// assert_eq!(total, 49_995_000);
///
/// // Manual overrides:
/// Parallel::io().workers(50).for_each(0..100, |_| std::thread::sleep(std::time::Duration::from_micros(10)));
/// Parallel::cpu().chunk(256).for_each(&items, |x| assert!(*x < 10_000));
/// Parallel::seq().for_each(&items, |x| assert!(*x < 10_000));
/// ```
///
/// `Parallel` is `Copy` (a plan can be kept and reused) unless it carries an owned
/// progress message or the application's progress bar: its type parameter is what
/// [`progress`](Parallel::progress) was given ([`progress::NoProgress`] by default).
///
/// [`progress::NoProgress`]: crate::progress::NoProgress
#[derive(Clone, Copy, Debug)]
#[must_use = "a `Parallel` does nothing until one of its loop methods is called"]
pub struct Parallel<P = NoProgress> {
    mode: Mode,
    workers: Option<usize>,
    chunk: Option<usize>,
    /// Fewest items per task (see `__partial_items`).
    min_task: usize,
    label: Option<&'static str>,
    progress: P,
    site: SiteRef,
}

/// Items per task for each item's worth of a task's partial (see `__partial_items`):
/// filling and combining the partial then costs at most about a quarter of the task.
const PARTIAL_ITEMS_FACTOR: usize = 8;

impl Parallel {
    /// A loop in the given mode, keyed by the caller's source location.
    ///
    /// ```
    /// use autopar::{Mode, Parallel};
    /// let n = Parallel::new(Mode::Seq).reduce(1..=4u32, || 1, |a, x| a * x, |a, b| a * b);
    /// assert_eq!(n, 24);
    /// ```
    #[track_caller]
    #[inline]
    pub fn new(mode: Mode) -> Parallel {
        Parallel {
            mode,
            workers: None,
            chunk: None,
            min_task: 0,
            label: None,
            progress: NoProgress,
            site: SiteRef::Caller(Location::caller()),
        }
    }

    /// Profile, then decide sequential / CPU pool / I/O pool; cached per call site.
    ///
    /// ```
    /// let v: Vec<i32> = autopar::Parallel::auto().map(&[1, 2, 3], |x| x + 1);
    /// assert_eq!(v, [2, 3, 4]);
    /// ```
    #[track_caller]
    #[inline]
    pub fn auto() -> Parallel {
        Parallel::new(Mode::Auto)
    }

    /// Always on rayon's CPU pool.
    ///
    /// ```
    /// let v: Vec<u32> = autopar::Parallel::cpu().chunk(2).map(0..5u32, |x| x * 10);
    /// assert_eq!(v, [0, 10, 20, 30, 40]);
    /// ```
    #[track_caller]
    #[inline]
    pub fn cpu() -> Parallel {
        Parallel::new(Mode::Cpu)
    }

    /// Always on the I/O pool: for items that block (network, disk, sleeps).
    ///
    /// ```
    /// use std::time::Duration;
    /// autopar::Parallel::io().workers(20).for_each(0..20, |_| std::thread::sleep(Duration::from_millis(1)));
    /// ```
    #[track_caller]
    #[inline]
    pub fn io() -> Parallel {
        Parallel::new(Mode::Io)
    }

    /// Always sequential, on the calling thread: the same API, no threads.
    ///
    /// ```
    /// let mut seen = std::sync::Mutex::new(Vec::new());
    /// autopar::Parallel::seq().for_each(0..3, |i| seen.lock().unwrap().push(i));
    /// assert_eq!(seen.into_inner().unwrap(), [0, 1, 2]);
    /// ```
    #[track_caller]
    #[inline]
    pub fn seq() -> Parallel {
        Parallel::new(Mode::Seq)
    }

    /// Used by the `#[parallel]` macro: a loop keyed by a static site.
    #[inline]
    pub(crate) fn with_site(site: &'static Site, mode: Mode) -> Parallel {
        Parallel {
            mode,
            workers: None,
            chunk: None,
            min_task: 0,
            label: None,
            progress: NoProgress,
            site: SiteRef::Static(site),
        }
    }
}

impl<Pb: ProgressSource> Parallel<Pb> {
    /// Pins the number of threads (CPU plans) or concurrent workers (I/O plans).
    /// `0` counts as 1; values beyond 4096 are clamped with a warning.
    ///
    /// ```
    /// let n = autopar::Parallel::io().workers(8).map(0..8, |i| i).len();
    /// assert_eq!(n, 8);
    /// ```
    #[inline]
    pub fn workers(mut self, workers: usize) -> Parallel<Pb> {
        self.workers = Some(workers);
        self
    }

    /// Pins the number of items per task. `0` counts as 1.
    ///
    /// ```
    /// let v: Vec<usize> = autopar::Parallel::cpu().chunk(256).map(0..1000usize, |i| i);
    /// assert_eq!(v.len(), 1000);
    /// ```
    #[inline]
    pub fn chunk(mut self, chunk: usize) -> Parallel<Pb> {
        self.chunk = Some(chunk);
        self
    }

    /// Used by the `#[parallel]` macro: each task's partial result is as big as
    /// `items` items' work (an element reduction's array of its own, filled and combined
    /// once per task), so a task gets at least a few times that many items; with the
    /// chunk a loop of cheap items would get otherwise, filling and merging the partials
    /// cost many times the items themselves.
    #[doc(hidden)]
    #[inline]
    pub fn __partial_items(mut self, items: usize) -> Parallel<Pb> {
        self.min_task = self
            .min_task
            .max(items.saturating_mul(PARTIAL_ITEMS_FACTOR));
        self
    }

    /// Names the loop in [`report()`](crate::report()) and log lines.
    ///
    /// ```
    /// autopar::Parallel::auto().label("warm-up").for_each(0..10, |_| ());
    /// assert!(autopar::report().to_string().contains("warm-up"));
    /// ```
    #[inline]
    pub fn label(mut self, label: &'static str) -> Parallel<Pb> {
        self.label = Some(label);
        self
    }

    /// Shows a progress bar on stderr while the loop runs — items done / total, rate
    /// and ETA (a spinner with a count for inputs of unknown length) — prefixed with
    /// `message`, a `&'static str` or an owned `String` (the loop's label, or its
    /// location, when empty). Drawn only when stderr is a terminal (or into the
    /// application's `MultiProgress`, see [`progress::set_multi_progress`]), and
    /// finished when the call ends: `failed` on an error, `panicked` on a panic. Print
    /// from the loop body through [`progress::suspend`] so the bar is not torn.
    ///
    /// Needs the `progress` cargo feature; without it this compiles and does nothing,
    /// so code needs no `cfg`.
    ///
    /// ```
    /// let pages: Vec<u32> = autopar::Parallel::io()
    ///     .progress("Downloading")
    ///     .map(0..100u32, |i| i * 2);
    /// assert_eq!(pages[99], 198);
    /// let files = 3;
    /// autopar::Parallel::auto()
    ///     .progress(format!("Hashing {files} files"))
    ///     .for_each(0..files, |_| ());
    /// ```
    ///
    /// [`progress::set_multi_progress`]: crate::progress
    /// [`progress::suspend`]: crate::progress::suspend
    #[inline]
    pub fn progress<M: ProgressMessage>(self, message: M) -> Parallel<M> {
        self.with_progress(message)
    }

    /// Counts the loop's items on the application's own `bar` (feature `progress`): its
    /// style, message and place (a `MultiProgress` of the application's) stay as the
    /// application made them. autopar sets its length when it has none and the input's
    /// is known, and finishes it when the call ends (`finish_using_style` on success,
    /// `abandon` with `failed` or `panicked` in the message otherwise).
    ///
    /// ```
    /// let bar = indicatif::ProgressBar::hidden().with_message("Resizing");
    /// autopar::Parallel::cpu().progress_bar(bar.clone()).for_each(0..1000, |_| ());
    /// assert_eq!((bar.position(), bar.length()), (1000, Some(1000)));
    /// assert!(bar.is_finished());
    /// ```
    #[cfg(feature = "progress")]
    #[inline]
    pub fn progress_bar(self, bar: indicatif::ProgressBar) -> Parallel<indicatif::ProgressBar> {
        self.with_progress(bar)
    }

    #[inline]
    fn with_progress<Q>(self, progress: Q) -> Parallel<Q> {
        Parallel {
            mode: self.mode,
            workers: self.workers,
            chunk: self.chunk,
            min_task: self.min_task,
            label: self.label,
            progress,
            site: self.site,
        }
    }

    /// The mode this loop will run in.
    ///
    /// ```
    /// assert_eq!(autopar::Parallel::io().mode(), autopar::Mode::Io);
    /// ```
    pub fn mode(&self) -> Mode {
        self.mode
    }

    #[inline]
    pub(crate) fn spec(self) -> CallSpec {
        CallSpec {
            site: match self.site {
                SiteRef::Static(site) => site,
                SiteRef::Caller(location) => Site::for_location(location),
            },
            mode: self.mode,
            workers: self.workers,
            chunk: self.chunk,
            min_task: self.min_task,
            label: self.label,
            progress: self.progress.into_spec().map(Box::new),
        }
    }

    /// Runs `body` on every item.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// let sum = AtomicU64::new(0);
    /// autopar::Parallel::auto().for_each(1..=100u64, |x| { sum.fetch_add(x, Ordering::Relaxed); });
    /// assert_eq!(sum.into_inner(), 5050);
    /// ```
    #[inline]
    pub fn for_each<I, F>(self, input: I, body: F)
    where
        I: IntoParallelInput,
        F: Fn(I::Item) + Sync,
    {
        let result = engine::run::<_, _, Infallible, _, _, _>(
            self.spec(),
            type_name::<(F, I::Item)>(),
            input,
            |_| (),
            |(), item| {
                body(item);
                Ok(())
            },
            |(), ()| (),
        );
        match result {
            Ok(()) => {}
            Err(never) => match never {},
        }
    }

    /// Maps every item; the output is in input order.
    ///
    /// ```
    /// let lengths: Vec<usize> = autopar::Parallel::auto().map(vec!["a", "bcd"], |s| s.len());
    /// assert_eq!(lengths, [1, 3]);
    /// ```
    #[inline]
    pub fn map<I, R, F>(self, input: I, body: F) -> Vec<R>
    where
        I: IntoParallelInput,
        R: Send,
        F: Fn(I::Item) -> R + Sync,
    {
        let input = input.into_parallel_input();
        let output = Output::new(input.exact_len());
        let result = engine::run::<_, _, Infallible, _, _, _>(
            self.spec(),
            type_name::<(F, I::Item, R)>(),
            input,
            |start| output.part(start),
            MapFold(&body),
            Part::append,
        );
        let done = result.unwrap_or_else(|never| match never {}).done();
        output.finish(done)
    }

    /// Folds every item into an accumulator made by `identity`, then merges the
    /// accumulators of the parallel tasks with `combine`, in input order.
    ///
    /// `identity()` must be a neutral element of `combine`, as in rayon's `reduce`.
    /// With floats the result may differ from a sequential sum by rounding (the
    /// additions are grouped differently).
    ///
    /// ```
    /// let total = autopar::Parallel::auto().reduce(1..=100u64, || 0, |acc, x| acc + x, |a, b| a + b);
    /// assert_eq!(total, 5050);
    /// ```
    #[inline]
    pub fn reduce<I, A, Id, F, C>(self, input: I, identity: Id, fold: F, combine: C) -> A
    where
        I: IntoParallelInput,
        A: Send,
        Id: Fn() -> A + Sync,
        F: Fn(A, I::Item) -> A + Sync,
        C: Fn(A, A) -> A + Sync,
    {
        let result = engine::run::<_, _, Infallible, _, _, _>(
            self.spec(),
            type_name::<(F, I::Item, A)>(),
            input,
            |_| identity(),
            |acc, item| Ok(fold(acc, item)),
            combine,
        );
        match result {
            Ok(acc) => acc,
            Err(never) => match never {},
        }
    }

    /// Runs `body` on every item until one fails (fail-fast): then no further items are
    /// handed out, the running ones finish, and the error of the earliest failed task is
    /// returned.
    ///
    /// ```
    /// let r = autopar::Parallel::auto().try_for_each(0..100, |i| if i == 42 { Err(i) } else { Ok(()) });
    /// assert_eq!(r, Err(42));
    /// ```
    #[inline]
    pub fn try_for_each<I, E, F>(self, input: I, body: F) -> Result<(), E>
    where
        I: IntoParallelInput,
        E: Send,
        F: Fn(I::Item) -> Result<(), E> + Sync,
    {
        engine::run(
            self.spec(),
            type_name::<(F, I::Item, E)>(),
            input,
            |_| (),
            |(), item| body(item),
            |(), ()| (),
        )
    }

    /// Maps every item to a `Result`, running all of them (fail-safe): one outcome per
    /// input, in input order.
    ///
    /// ```
    /// let parsed: Vec<Result<i32, _>> = autopar::Parallel::auto().try_map(["1", "x", "3"], |s| s.parse::<i32>());
    /// assert!(parsed[0].is_ok() && parsed[1].is_err() && parsed[2].is_ok());
    /// ```
    #[inline]
    pub fn try_map<I, R, E, F>(self, input: I, body: F) -> Vec<Result<R, E>>
    where
        I: IntoParallelInput,
        R: Send,
        E: Send,
        F: Fn(I::Item) -> Result<R, E> + Sync,
    {
        self.map(input, body)
    }

    /// The general form every loop lowers to (and what `#[parallel]` generates):
    /// `init` makes an accumulator per task, `fold` feeds it items and may fail, and
    /// `combine(left, right)` merges two accumulators, `left` holding the earlier items.
    /// The first error stops the loop, as in [`try_for_each`](Self::try_for_each).
    ///
    /// ```
    /// // Sum and count in one pass, failing on a negative number.
    /// let r: Result<(i64, usize), String> = autopar::Parallel::auto().try_fold(
    ///     &[3i64, 4, 5],
    ///     || (0, 0),
    ///     |(sum, n), &x| if x < 0 { Err(format!("{x} < 0")) } else { Ok((sum + x, n + 1)) },
    ///     |a, b| (a.0 + b.0, a.1 + b.1),
    /// );
    /// assert_eq!(r, Ok((12, 3)));
    /// ```
    #[inline]
    pub fn try_fold<I, A, E, Init, Fold, Comb>(
        self,
        input: I,
        init: Init,
        fold: Fold,
        combine: Comb,
    ) -> Result<A, E>
    where
        I: IntoParallelInput,
        A: Send,
        E: Send,
        Init: Fn() -> A + Sync,
        Fold: Fn(A, I::Item) -> Result<A, E> + Sync,
        Comb: Fn(A, A) -> A + Sync,
    {
        engine::run(
            self.spec(),
            type_name::<(Fold, I::Item, A, E)>(),
            input,
            |_| init(),
            fold,
            combine,
        )
    }

    /// The general form of a loop that may stop early (and what `#[parallel]` generates
    /// for a loop with `break` or `return`): like [`try_fold`](Self::try_fold), but
    /// `fold` returns `Ok(ControlFlow::Continue(acc))` to go on, or
    /// `Ok(ControlFlow::Break((acc, value)))` to stop the loop at this item.
    ///
    /// The earliest item in input order that breaks (or fails) wins, as in the
    /// sequential loop: items after it are no longer handed out, items running finish,
    /// and every item before it runs. The result is the accumulator of exactly the
    /// items up to the breaking one (its `acc` included) and `Some(value)`, or the
    /// accumulator of all items and `None` if none broke, or the error of the earliest
    /// failing item if no item before it broke.
    ///
    /// ```
    /// use std::ops::ControlFlow;
    /// // Sum until the first negative number, which is returned too.
    /// let r: Result<(i64, Option<i64>), ()> = autopar::Parallel::auto().try_fold_until(
    ///     &[3i64, 4, -5, 6, -7],
    ///     || 0,
    ///     |sum, &x| Ok(if x < 0 { ControlFlow::Break((sum, x)) } else { ControlFlow::Continue(sum + x) }),
    ///     |a, b| a + b,
    /// );
    /// assert_eq!(r, Ok((7, Some(-5))));
    /// ```
    #[inline]
    pub fn try_fold_until<I, A, B, E, Init, Fold, Comb>(
        self,
        input: I,
        init: Init,
        fold: Fold,
        combine: Comb,
    ) -> Result<(A, Option<B>), E>
    where
        I: IntoParallelInput,
        A: Send,
        B: Send,
        E: Send,
        Init: Fn() -> A + Sync,
        Fold: Fn(A, I::Item) -> Result<ControlFlow<(A, B), A>, E> + Sync,
        Comb: Fn(A, A) -> A + Sync,
    {
        crate::stop::run(
            self.spec(),
            type_name::<(Fold, I::Item, A, B, E)>(),
            input,
            init,
            fold,
            combine,
        )
    }

    /// Runs `body` on every item until one returns `ControlFlow::Break(value)`: then
    /// the earliest such item in input order wins, as in the sequential loop (every
    /// item before it runs, items after it are no longer handed out, running ones
    /// finish), and its value is returned. rayon's `try_for_each` with a
    /// `ControlFlow`, with the sequential loop's answer.
    ///
    /// ```
    /// use std::ops::ControlFlow;
    /// let first_big = autopar::Parallel::auto().for_each_until(0..1_000_000u64, |i| {
    ///     if i * i > 1_000 { ControlFlow::Break(i) } else { ControlFlow::Continue(()) }
    /// });
    /// assert_eq!(first_big, ControlFlow::Break(32));
    /// ```
    #[inline]
    pub fn for_each_until<I, B, F>(self, input: I, body: F) -> ControlFlow<B>
    where
        I: IntoParallelInput,
        B: Send,
        F: Fn(I::Item) -> ControlFlow<B> + Sync,
    {
        // `()`, never produced, as the error type: with `Infallible` the fold's results
        // compiled to a slower loop (~1.2× on cheap items).
        let result = crate::stop::run::<_, _, _, (), _, _, _>(
            self.spec(),
            type_name::<(F, I::Item, B)>(),
            input,
            || (),
            |(), item| {
                Ok(match body(item) {
                    ControlFlow::Continue(()) => ControlFlow::Continue(()),
                    ControlFlow::Break(value) => ControlFlow::Break(((), value)),
                })
            },
            |(), ()| (),
        );
        match result {
            Ok((_, Some(value))) => ControlFlow::Break(value),
            Ok((_, None)) | Err(()) => ControlFlow::Continue(()),
        }
    }

    /// The first item in input order for which `predicate` holds, as
    /// `input.into_iter().find(..)` returns it, stopping early (rayon's `find_first`).
    ///
    /// ```
    /// let v: Vec<u32> = (0..100_000).collect();
    /// assert_eq!(autopar::Parallel::auto().find_first(&v, |&&x| x % 1000 == 999), Some(&999));
    /// assert_eq!(autopar::Parallel::auto().find_first(&v, |&&x| x > 200_000), None);
    /// ```
    #[inline]
    pub fn find_first<I, P>(self, input: I, predicate: P) -> Option<I::Item>
    where
        I: IntoParallelInput,
        P: Fn(&I::Item) -> bool + Sync,
    {
        match self.for_each_until(input, |item| {
            if predicate(&item) {
                ControlFlow::Break(item)
            } else {
                ControlFlow::Continue(())
            }
        }) {
            ControlFlow::Break(item) => Some(item),
            ControlFlow::Continue(()) => None,
        }
    }

    /// The first `Some` that `f` returns, in input order, stopping early (rayon's
    /// `find_map_first`).
    ///
    /// ```
    /// let words = ["a", "bb", "12", "x", "34"];
    /// let n = autopar::Parallel::auto().find_map_first(words, |w| w.parse::<u32>().ok());
    /// assert_eq!(n, Some(12));
    /// ```
    #[inline]
    pub fn find_map_first<I, R, F>(self, input: I, f: F) -> Option<R>
    where
        I: IntoParallelInput,
        R: Send,
        F: Fn(I::Item) -> Option<R> + Sync,
    {
        match self.for_each_until(input, |item| match f(item) {
            Some(found) => ControlFlow::Break(found),
            None => ControlFlow::Continue(()),
        }) {
            ControlFlow::Break(found) => Some(found),
            ControlFlow::Continue(()) => None,
        }
    }

    /// The index of the first item for which `predicate` holds, as
    /// `input.into_iter().position(..)` returns it, stopping early (rayon's
    /// `position_first`).
    ///
    /// ```
    /// let v: Vec<u32> = (0..100_000).rev().collect();
    /// assert_eq!(autopar::Parallel::auto().position_first(&v, |&x| x < 10), Some(99_990));
    /// assert_eq!(autopar::Parallel::auto().position_first(&v, |&x| x > 100_000), None);
    /// ```
    #[inline]
    pub fn position_first<I, P>(self, input: I, predicate: P) -> Option<usize>
    where
        I: IntoParallelInput,
        P: Fn(I::Item) -> bool + Sync,
    {
        // Each task counts its items; the counts of the tasks before the first match,
        // plus the matching task's count before it, are the match's index.
        let result = crate::stop::run::<_, _, _, (), _, _, _>(
            self.spec(),
            type_name::<(P, I::Item, usize)>(),
            input,
            || 0usize,
            |before, item| {
                Ok(if predicate(item) {
                    ControlFlow::Break((before, ()))
                } else {
                    ControlFlow::Continue(before + 1)
                })
            },
            |a, b| a + b,
        );
        match result {
            Ok((index, Some(()))) => Some(index),
            Ok((_, None)) | Err(()) => None,
        }
    }

    /// Whether `predicate` holds for some item, stopping at the first (in input order)
    /// that it holds for (rayon's `any`).
    ///
    /// ```
    /// assert!(autopar::Parallel::auto().any(0..1_000_000u32, |x| x == 777_777));
    /// assert!(!autopar::Parallel::auto().any(0..1_000u32, |x| x > 1_000));
    /// ```
    #[inline]
    pub fn any<I, P>(self, input: I, predicate: P) -> bool
    where
        I: IntoParallelInput,
        P: Fn(I::Item) -> bool + Sync,
    {
        self.for_each_until(input, |item| {
            if predicate(item) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .is_break()
    }

    /// Whether `predicate` holds for every item, stopping at the first (in input order)
    /// that it fails for (rayon's `all`).
    ///
    /// ```
    /// assert!(autopar::Parallel::auto().all(0..1_000u32, |x| x < 1_000));
    /// assert!(!autopar::Parallel::auto().all(0..1_000_000u32, |x| x != 5));
    /// ```
    #[inline]
    pub fn all<I, P>(self, input: I, predicate: P) -> bool
    where
        I: IntoParallelInput,
        P: Fn(I::Item) -> bool + Sync,
    {
        !self.any(input, |item| !predicate(item))
    }
}
