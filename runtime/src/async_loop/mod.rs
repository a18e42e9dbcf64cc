//! Async loops (feature `async`): each item's future runs concurrently on the calling
//! task, at most a self-tuned number at once, with no runtime of its own.
//!
//! [`Parallel::for_each_async`] and friends start with a few futures in flight and let
//! the [limit](crate::limit) grow while completions per second rise and latency stays
//! near its minimum, and shrink when latency climbs (the server queues). What a call
//! site learned is kept for its next call and shown by [`report()`](crate::report()).

mod drive;
mod order;
pub(crate) mod tune;

use std::any::type_name;
use std::future::Future;
use std::time::Duration;

use crate::deadline::{TimedOut, WithTimeout, deadline_after};
use crate::limit::LimitReason;
use crate::{Mode, Parallel};
use drive::{End, Flow, Sink};
use order::InOrder;
use tune::Tuner;

/// What [`report()`](crate::report()) shows of a loop run with the async methods
/// (feature `async`): its concurrency limit and why it is what it is.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct AsyncReport {
    /// Calls so far.
    pub calls: u64,
    /// Items finished so far.
    pub items: u64,
    /// Calls that ended at their deadline.
    pub timeouts: u64,
    /// Futures in flight the next call starts with (or the pinned `workers(n)`).
    pub limit: usize,
    /// Why the limit is what it is.
    pub reason: LimitReason,
    /// The smallest item latency seen since the minimum was last probed, in ns.
    pub min_latency_ns: Option<f64>,
    /// The median item latency of the latest window, in ns.
    pub latency_ns: Option<f64>,
    /// Items finished per second in the latest window.
    pub throughput: Option<f64>,
}

/// Runs one async call: the limit from the site (or pinned), the driver, the counters.
async fn run<It, B, Fut, S>(
    parallel: Parallel,
    key: &'static str,
    timeout: Option<Duration>,
    items: &mut It,
    mut body: B,
    sink: &mut S,
) -> End
where
    It: Iterator,
    B: FnMut(It::Item) -> Fut,
    Fut: Future,
    S: Sink<Fut::Output>,
{
    let deadline = timeout.and_then(deadline_after);
    let spec = parallel.spec();
    let entry = spec.site.entry(key);
    if let Some(label) = spec.label {
        let _ = entry.label.set(label);
    }
    let pinned = match spec.mode {
        Mode::Seq => Some(1),
        _ => spec.workers,
    };
    let mut tuner = Tuner::new(entry, pinned);
    let end = drive::drive(&mut tuner, deadline, items, &mut body, sink).await;
    if let End::TimedOut { .. } = end {
        tuner.timed_out();
    }
    end
}

/// Discards outputs.
struct Discard;

impl<T> Sink<T> for Discard {
    #[inline]
    fn accept(&mut self, _: usize, _: T) -> Flow {
        Flow::Continue
    }
}

/// Keeps outputs in input order.
impl<T, Emit: FnMut(T)> Sink<T> for InOrder<T, Emit> {
    #[inline]
    fn accept(&mut self, index: usize, output: T) -> Flow {
        InOrder::accept(self, index, output);
        Flow::Continue
    }
}

/// Keeps the error of the earliest failing item.
struct FirstError<E>(Option<(usize, E)>);

impl<E> Sink<Result<(), E>> for FirstError<E> {
    #[inline]
    fn accept(&mut self, index: usize, output: Result<(), E>) -> Flow {
        match output {
            Ok(()) => Flow::Continue,
            Err(error) => {
                if self.0.as_ref().is_none_or(|(first, _)| index < *first) {
                    self.0 = Some((index, error));
                }
                Flow::Stop
            }
        }
    }
}

impl Parallel {
    /// Awaits `body(item)` for every item, the futures running concurrently on the
    /// calling task. How many run at once tunes itself (see [`AsyncReport`]);
    /// [`.workers(n)`](Parallel::workers) pins it, [`Parallel::seq`] runs one at a time.
    ///
    /// Items whose future is ready at once cost about what a plain `.await` loop costs.
    /// The returned future needs no particular runtime, and is `Send` when `body`, the
    /// input and the futures are. Feature `async`.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// let seen = AtomicU32::new(0);
    /// futures_executor::block_on(autopar::Parallel::io().for_each_async(1..=10u32, |i| {
    ///     let seen = &seen;
    ///     async move { seen.fetch_add(i, Ordering::Relaxed); }
    /// }));
    /// assert_eq!(seen.into_inner(), 55);
    /// ```
    pub async fn for_each_async<I, B, Fut>(self, input: I, body: B)
    where
        I: IntoIterator,
        B: FnMut(I::Item) -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut items = input.into_iter();
        run(
            self,
            type_name::<(B, I::Item)>(),
            None,
            &mut items,
            body,
            &mut Discard,
        )
        .await;
    }

    /// Awaits `body(item)` for every item concurrently; the outputs are in input order.
    /// See [`for_each_async`](Self::for_each_async).
    ///
    /// ```
    /// let doubled = futures_executor::block_on(
    ///     autopar::Parallel::io().map_async(vec![1, 2, 3], |x| async move { x * 2 }),
    /// );
    /// assert_eq!(doubled, [2, 4, 6]);
    /// ```
    pub async fn map_async<I, B, Fut>(self, input: I, body: B) -> Vec<Fut::Output>
    where
        I: IntoIterator,
        B: FnMut(I::Item) -> Fut,
        Fut: Future,
    {
        let mut items = input.into_iter();
        let mut out = Vec::with_capacity(items.size_hint().0);
        let mut sink = InOrder::new(|value| out.push(value));
        run(
            self,
            type_name::<(B, I::Item)>(),
            None,
            &mut items,
            body,
            &mut sink,
        )
        .await;
        drop(sink);
        out
    }

    /// Awaits `body(item)` for every item until one fails: then no further item starts,
    /// the futures of later items are dropped (which cancels them at their next
    /// `.await`), earlier ones finish, and the error of the earliest failing item in
    /// input order is returned, as the sequential loop would return it.
    ///
    /// ```
    /// let r = futures_executor::block_on(autopar::Parallel::io().try_for_each_async(0..100, |i| async move {
    ///     if i == 42 { Err(i) } else { Ok(()) }
    /// }));
    /// assert_eq!(r, Err(42));
    /// ```
    pub async fn try_for_each_async<I, B, Fut, E>(self, input: I, body: B) -> Result<(), E>
    where
        I: IntoIterator,
        B: FnMut(I::Item) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let mut items = input.into_iter();
        let mut sink = FirstError(None);
        run(
            self,
            type_name::<(B, I::Item)>(),
            None,
            &mut items,
            body,
            &mut sink,
        )
        .await;
        sink.0.map_or(Ok(()), |(_, error)| Err(error))
    }

    /// Awaits `body(item)` for every item concurrently and folds the outputs into `init`
    /// with `fold`, in input order (as the sequential loop would).
    ///
    /// ```
    /// let digits = futures_executor::block_on(autopar::Parallel::io().fold_async(
    ///     1..=5u32,
    ///     String::new(),
    ///     |d| async move { char::from_digit(d, 10).unwrap() },
    ///     |mut s, c| { s.push(c); s },
    /// ));
    /// assert_eq!(digits, "12345");
    /// ```
    pub async fn fold_async<I, A, B, Fut, F>(self, input: I, init: A, body: B, mut fold: F) -> A
    where
        I: IntoIterator,
        B: FnMut(I::Item) -> Fut,
        Fut: Future,
        F: FnMut(A, Fut::Output) -> A,
    {
        let mut items = input.into_iter();
        let mut acc = Some(init);
        let mut sink = InOrder::new(|value| {
            let a = acc.take().expect("put back after each fold");
            acc = Some(fold(a, value));
        });
        run(
            self,
            type_name::<(B, I::Item)>(),
            None,
            &mut items,
            body,
            &mut sink,
        )
        .await;
        drop(sink);
        acc.expect("put back after each fold")
    }
}

impl WithTimeout {
    /// [`Parallel::for_each_async`] with a deadline measured from the first poll: past
    /// it, no new item starts, the running futures are dropped (cancelled at their next
    /// `.await`) and the loop returns `Err(TimedOut)`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = futures_executor::block_on(
    ///     autopar::Parallel::io()
    ///         .timeout(Duration::from_millis(20))
    ///         .for_each_async(0..3, |_| std::future::pending::<()>()),
    /// );
    /// assert_eq!(r, Err(autopar::TimedOut));
    /// ```
    pub async fn for_each_async<I, B, Fut>(self, input: I, body: B) -> Result<(), TimedOut>
    where
        I: IntoIterator,
        B: FnMut(I::Item) -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut items = input.into_iter();
        let key = type_name::<(B, I::Item)>();
        match run(
            self.parallel,
            key,
            Some(self.timeout),
            &mut items,
            body,
            &mut Discard,
        )
        .await
        {
            End::Done => Ok(()),
            End::TimedOut { .. } => Err(TimedOut),
        }
    }

    /// [`Parallel::map_async`] with a deadline: the outputs in input order, or
    /// `Err(TimedOut)` when the deadline passed first (see
    /// [`for_each_async`](Self::for_each_async)).
    ///
    /// ```
    /// use std::time::Duration;
    /// let v = futures_executor::block_on(
    ///     autopar::Parallel::io().timeout(Duration::from_secs(60)).map_async(0..3, |x| async move { x + 1 }),
    /// );
    /// assert_eq!(v, Ok(vec![1, 2, 3]));
    /// ```
    pub async fn map_async<I, B, Fut>(self, input: I, body: B) -> Result<Vec<Fut::Output>, TimedOut>
    where
        I: IntoIterator,
        B: FnMut(I::Item) -> Fut,
        Fut: Future,
    {
        let mut items = input.into_iter();
        let mut out = Vec::with_capacity(items.size_hint().0);
        let mut sink = InOrder::new(|value| out.push(value));
        let key = type_name::<(B, I::Item)>();
        let end = run(
            self.parallel,
            key,
            Some(self.timeout),
            &mut items,
            body,
            &mut sink,
        )
        .await;
        drop(sink);
        match end {
            End::Done => Ok(out),
            End::TimedOut { .. } => Err(TimedOut),
        }
    }

    /// [`Parallel::try_for_each_async`] with a deadline: the error of the earliest
    /// failing item, or `E::from(TimedOut)` when the deadline passed first and no item
    /// had failed.
    ///
    /// ```
    /// use std::time::Duration;
    /// let r: Result<(), std::io::Error> = futures_executor::block_on(
    ///     autopar::Parallel::io()
    ///         .timeout(Duration::from_millis(20))
    ///         .try_for_each_async(0..3, |_| std::future::pending()),
    /// );
    /// assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub async fn try_for_each_async<I, B, Fut, E>(self, input: I, body: B) -> Result<(), E>
    where
        I: IntoIterator,
        B: FnMut(I::Item) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: From<TimedOut>,
    {
        let mut items = input.into_iter();
        let mut sink = FirstError(None);
        let key = type_name::<(B, I::Item)>();
        let end = run(
            self.parallel,
            key,
            Some(self.timeout),
            &mut items,
            body,
            &mut sink,
        )
        .await;
        match (sink.0, end) {
            (Some((_, error)), _) => Err(error),
            (None, End::Done) => Ok(()),
            (None, End::TimedOut { .. }) => Err(E::from(TimedOut)),
        }
    }

    /// Awaits `body(item)` for every item (fail-safe), with a deadline: one outcome per
    /// item in input order, `Err(E::from(TimedOut))` for each item that had not
    /// finished when the deadline passed (its future dropped, or never started).
    ///
    /// ```
    /// use std::time::Duration;
    /// use autopar::TimedOut;
    /// let r: Vec<Result<u32, TimedOut>> = futures_executor::block_on(
    ///     autopar::Parallel::io().timeout(Duration::from_millis(20)).try_map_async(0..4u32, |i| async move {
    ///         if i % 2 == 0 { Ok(i) } else { std::future::pending().await }
    ///     }),
    /// );
    /// assert_eq!(r, [Ok(0), Err(TimedOut), Ok(2), Err(TimedOut)]);
    /// ```
    pub async fn try_map_async<I, B, Fut, R, E>(self, input: I, body: B) -> Vec<Result<R, E>>
    where
        I: IntoIterator,
        B: FnMut(I::Item) -> Fut,
        Fut: Future<Output = Result<R, E>>,
        E: From<TimedOut>,
    {
        let mut items = input.into_iter();
        let mut out = Vec::with_capacity(items.size_hint().0);
        let mut sink = InOrder::new(|value| out.push(value));
        let key = type_name::<(B, I::Item)>();
        let end = run(
            self.parallel,
            key,
            Some(self.timeout),
            &mut items,
            body,
            &mut sink,
        )
        .await;
        if let End::TimedOut { started } = end {
            sink.fill(started, || Err(E::from(TimedOut)));
            drop(sink);
            out.extend(items.map(|_| Err(E::from(TimedOut))));
        } else {
            drop(sink);
        }
        out
    }
}
