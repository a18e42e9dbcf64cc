//! Deadlines: [`Parallel::timeout`] and the loops that stop starting items once it has
//! passed, returning [`TimedOut`].

use std::fmt;
use std::time::{Duration, Instant};

use crate::Parallel;
use crate::input::IntoParallelInput;

/// The error of a loop whose deadline ([`Parallel::timeout`]) passed before every item
/// had run.
///
/// Loops whose items may fail take an error type that can be built from it
/// (`E: From<TimedOut>`), so a deadline is told apart from the items' own errors; `std::io::Error`
/// can (kind `TimedOut`).
///
/// ```
/// use std::time::Duration;
/// use autopar::{Parallel, TimedOut};
///
/// #[derive(Debug, PartialEq)]
/// enum FetchError { NotFound(u32), TimedOut }
/// impl From<TimedOut> for FetchError {
///     fn from(_: TimedOut) -> Self { FetchError::TimedOut }
/// }
///
/// let r = Parallel::io().timeout(Duration::from_secs(60)).try_for_each(0..10u32, |i| {
///     if i == 7 { Err(FetchError::NotFound(i)) } else { Ok(()) }
/// });
/// assert_eq!(r, Err(FetchError::NotFound(7)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TimedOut;

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the loop's deadline passed before every item had run")
    }
}

impl std::error::Error for TimedOut {}

impl From<TimedOut> for std::io::Error {
    fn from(timed_out: TimedOut) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, timed_out)
    }
}

/// A loop with a deadline, made by [`Parallel::timeout`]: once `timeout` has passed
/// since the loop started, no new item starts and the loop returns [`TimedOut`].
///
/// Blocking items (these methods) cannot be interrupted: Rust has no way to stop a
/// thread that is inside a blocking call, so a loop past its deadline waits for the
/// items already running, then returns. Async loops (feature `async`) drop their
/// running futures instead, which cancels them at their next `.await`.
///
/// ```
/// use std::time::Duration;
/// let r = autopar::Parallel::io()
///     .workers(4)
///     .timeout(Duration::from_millis(50))
///     .for_each(0..1000, |_| std::thread::sleep(Duration::from_millis(10)));
/// assert_eq!(r, Err(autopar::TimedOut));
/// ```
#[derive(Clone, Copy, Debug)]
#[must_use = "a loop with a timeout does nothing until one of its loop methods is called"]
pub struct WithTimeout {
    pub(crate) parallel: Parallel,
    pub(crate) timeout: Duration,
}

/// When a loop started now must stop starting items (`None`: never, for a timeout too
/// long to represent).
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

#[inline]
fn passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

impl Parallel {
    /// Gives the loop a deadline `timeout` after it starts: past it, no new item starts
    /// and the loop returns [`TimedOut`] (or the error built from it). See
    /// [`WithTimeout`] for what happens to items that are running.
    ///
    /// ```
    /// use std::time::Duration;
    /// let squares = autopar::Parallel::io().timeout(Duration::from_secs(60)).map(0..4u64, |x| x * x);
    /// assert_eq!(squares, Ok(vec![0, 1, 4, 9]));
    /// ```
    #[inline]
    pub fn timeout(self, timeout: Duration) -> WithTimeout {
        WithTimeout {
            parallel: self,
            timeout,
        }
    }
}

impl WithTimeout {
    /// Runs `body` on every item, or returns `Err(TimedOut)` if the deadline passed
    /// first (the items that had started have finished by then).
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = autopar::Parallel::io().timeout(Duration::from_secs(60)).for_each(0..10, |_| ());
    /// assert_eq!(r, Ok(()));
    /// ```
    #[inline]
    pub fn for_each<I, F>(self, input: I, body: F) -> Result<(), TimedOut>
    where
        I: IntoParallelInput,
        F: Fn(I::Item) + Sync,
    {
        self.try_for_each(input, |item| {
            body(item);
            Ok(())
        })
    }

    /// Maps every item, in input order, or returns `Err(TimedOut)` if the deadline
    /// passed first.
    ///
    /// ```
    /// use std::time::Duration;
    /// let v = autopar::Parallel::io().timeout(Duration::from_secs(60)).map(vec![1, 2], |x| x + 1);
    /// assert_eq!(v, Ok(vec![2, 3]));
    /// ```
    #[inline]
    pub fn map<I, R, F>(self, input: I, body: F) -> Result<Vec<R>, TimedOut>
    where
        I: IntoParallelInput,
        R: Send,
        F: Fn(I::Item) -> R + Sync,
    {
        self.try_map(input, |item| Ok::<R, TimedOut>(body(item)))
            .into_iter()
            .collect()
    }

    /// Runs `body` on every item until one fails or the deadline passes: the error of
    /// the earliest failing item in input order, or `E::from(TimedOut)` when an item
    /// did not start in time and no earlier item failed.
    ///
    /// ```
    /// use std::time::Duration;
    /// let r: Result<(), std::io::Error> = autopar::Parallel::io()
    ///     .workers(4)
    ///     .timeout(Duration::from_millis(20))
    ///     .try_for_each(0..1000, |_| { std::thread::sleep(Duration::from_millis(5)); Ok(()) });
    /// assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// ```
    #[inline]
    pub fn try_for_each<I, E, F>(self, input: I, body: F) -> Result<(), E>
    where
        I: IntoParallelInput,
        E: Send + From<TimedOut>,
        F: Fn(I::Item) -> Result<(), E> + Sync,
    {
        let deadline = deadline_after(self.timeout);
        self.parallel.try_for_each(input, |item| {
            if passed(deadline) {
                return Err(E::from(TimedOut));
            }
            body(item)
        })
    }

    /// Maps every item to a `Result`, in input order (fail-safe): items that had not
    /// started when the deadline passed are `Err(E::from(TimedOut))`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use autopar::TimedOut;
    /// let r: Vec<Result<u32, TimedOut>> = autopar::Parallel::io()
    ///     .workers(2)
    ///     .timeout(Duration::from_millis(20))
    ///     .try_map(0..200u32, |i| { std::thread::sleep(Duration::from_millis(5)); Ok(i) });
    /// assert_eq!(r.len(), 200);
    /// assert_eq!(r[199], Err(TimedOut));
    /// ```
    #[inline]
    pub fn try_map<I, R, E, F>(self, input: I, body: F) -> Vec<Result<R, E>>
    where
        I: IntoParallelInput,
        R: Send,
        E: Send + From<TimedOut>,
        F: Fn(I::Item) -> Result<R, E> + Sync,
    {
        let deadline = deadline_after(self.timeout);
        self.parallel.map(input, |item| {
            if passed(deadline) {
                return Err(E::from(TimedOut));
            }
            body(item)
        })
    }
}
