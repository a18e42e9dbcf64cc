//! The driver every async loop lowers to: items as concurrent futures on the calling
//! task, at most the limit in flight, outputs handed to a [`Sink`].

use std::future::{Future, poll_fn};
use std::mem;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::stream::{FuturesUnordered, StreamExt};

use super::tune::Tuner;

/// Where an item's output goes.
pub(crate) trait Sink<T> {
    /// Item `index` finished with `output`; `Flow::Stop` when it failed: no item after
    /// it starts, and running ones after it are dropped.
    fn accept(&mut self, index: usize, output: T) -> Flow;
}

/// Whether the loop goes on after an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// How a loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// Every item ran, or one failed and every earlier one finished.
    Done,
    /// The deadline passed: the running futures were dropped, and items
    /// `started..` never started. `started` counts items taken from the input.
    TimedOut { started: usize },
}

/// An item's future with its index and start time. Boxed, so it is `Unpin` and can be
/// moved out of the set when a failure drops the items after it.
struct Tagged<F> {
    index: usize,
    started: Instant,
    future: Pin<Box<F>>,
}

impl<F: Future> Future for Tagged<F> {
    type Output = (usize, Instant, F::Output);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.future
            .as_mut()
            .poll(cx)
            .map(|output| (this.index, this.started, output))
    }
}

/// Drops the futures of items after `failed`: a failure stops the loop as the sequential
/// loop would, and only earlier items can still fail first. Dropping a future cancels it
/// at its next `.await`.
fn drop_after<F: Future>(set: &mut FuturesUnordered<Tagged<F>>, failed: usize) {
    if set.iter().any(|t| t.index > failed) {
        for tagged in mem::take(set) {
            if tagged.index < failed {
                set.push(tagged);
            }
        }
    }
}

/// Runs `body` on the items of `items`, at most `tuner.current()` futures at once.
///
/// Items whose future is ready at its first poll run one after another, as in a plain
/// `.await` loop (no allocation, no clock): the set of concurrent futures starts with
/// the first item that has to wait, which stays where it is (pinned in this frame) and
/// is polled with the set.
pub(crate) async fn drive<It, B, Fut, S>(
    tuner: &mut Tuner,
    deadline: Option<Instant>,
    items: &mut It,
    body: &mut B,
    sink: &mut S,
) -> End
where
    It: Iterator,
    B: FnMut(It::Item) -> Fut,
    Fut: Future,
    S: Sink<Fut::Output>,
{
    let mut head = pin!(None::<Fut>);
    let mut next_index = 0usize;
    let head_index;
    // Items that finish at their first poll.
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            tuner.add_items(next_index as u64);
            return End::TimedOut {
                started: next_index,
            };
        }
        let Some(item) = items.next() else {
            tuner.add_items(next_index as u64);
            return End::Done;
        };
        let index = next_index;
        next_index += 1;
        head.set(Some(body(item)));
        let polled = poll_fn(|cx| {
            let future = head.as_mut().as_pin_mut().expect("set above");
            Poll::Ready(future.poll(cx))
        })
        .await;
        match polled {
            Poll::Ready(output) => {
                // The finished future is dropped when the next one takes its place.
                if sink.accept(index, output) == Flow::Stop {
                    tuner.add_items(next_index as u64);
                    return End::Done;
                }
            }
            Poll::Pending => {
                head_index = index;
                tuner.add_items(index as u64);
                break;
            }
        }
    }

    // Concurrent futures from here on.
    let head_started = Instant::now();
    tuner.begin();
    let mut timer =
        deadline.map(|d| futures_timer::Delay::new(d.saturating_duration_since(head_started)));
    let mut set: FuturesUnordered<Tagged<Fut>> = FuturesUnordered::new();
    let mut exhausted = false;
    let mut failed: Option<usize> = None;
    poll_fn(|cx| {
        loop {
            if let Some(timer) = timer.as_mut()
                && Pin::new(timer).poll(cx).is_ready()
            {
                return Poll::Ready(End::TimedOut {
                    started: next_index,
                });
            }
            while !exhausted
                && failed.is_none()
                && set.len() + usize::from(head.is_some()) < tuner.current()
            {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Poll::Ready(End::TimedOut {
                        started: next_index,
                    });
                }
                match items.next() {
                    None => exhausted = true,
                    Some(item) => {
                        let future = Box::pin(body(item));
                        set.push(Tagged {
                            index: next_index,
                            started: Instant::now(),
                            future,
                        });
                        next_index += 1;
                    }
                }
            }
            let mut progressed = false;
            if let Some(future) = head.as_mut().as_pin_mut()
                && let Poll::Ready(output) = future.poll(cx)
            {
                head.set(None);
                tuner.sample(head_started);
                progressed = true;
                if sink.accept(head_index, output) == Flow::Stop {
                    failed = Some(head_index);
                    drop_after(&mut set, head_index);
                }
            }
            if let Poll::Ready(Some((index, started, output))) = set.poll_next_unpin(cx) {
                tuner.sample(started);
                progressed = true;
                if sink.accept(index, output) == Flow::Stop {
                    let earliest = failed.map_or(index, |f| f.min(index));
                    failed = Some(earliest);
                    drop_after(&mut set, earliest);
                }
            }
            if head.is_none() && set.is_empty() && (exhausted || failed.is_some()) {
                return Poll::Ready(End::Done);
            }
            if !progressed {
                return Poll::Pending;
            }
        }
    })
    .await
}
