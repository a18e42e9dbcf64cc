//! `tracing` integration (cargo feature `tracing`).
//!
//! - Every new or changed decision is an `INFO` event with target `autopar`: `site`,
//!   `label`, `n`, `plan`, `kind`, `workers`, `chunk`, `item_ns`, `cpu_fraction`,
//!   `spread`, `predicted_speedup` and `reason` (`profiled`, `trial kept`).
//! - At `DEBUG`, each parallel call is a span `autopar.call` (target `autopar`) with the
//!   fields `site`, `label`, `mode` and, when the call ends, `elapsed_ns`. The span is
//!   entered on the calling thread for the whole call, and on each pool thread while it
//!   runs one of the call's tasks: what the loop body logs, on any thread, sits inside
//!   its call's span (and an inner loop's span inside the outer one's).
//!
//! When no subscriber is interested, a call pays one check of tracing's level filter
//! (an atomic load); without the feature, nothing at all: the guard is a zero-sized type
//! and every function is empty.

use crate::Mode;
use crate::policy::{Decision, Plan, Profile};
use crate::site::Entry;

/// The span of one parallel call, entered on the calling thread until dropped; then
/// closed, with its time recorded.
#[cfg(feature = "tracing")]
pub(crate) struct CallGuard(Option<(tracing::span::EnteredSpan, std::time::Instant)>);

/// Nothing without the `tracing` feature.
#[cfg(not(feature = "tracing"))]
pub(crate) struct CallGuard;

/// The call's span as its tasks see it: entered by a pool thread for the length of a
/// task (the calling thread has it entered already).
#[cfg(feature = "tracing")]
pub(crate) struct TaskSpan(Option<(tracing::Span, std::thread::ThreadId)>);

/// Nothing without the `tracing` feature.
#[cfg(not(feature = "tracing"))]
pub(crate) struct TaskSpan;

impl CallGuard {
    /// The span for the call's tasks (none if no subscriber wants the call's span).
    #[inline]
    pub(crate) fn task_span(&self) -> TaskSpan {
        #[cfg(feature = "tracing")]
        {
            TaskSpan(
                self.0
                    .as_ref()
                    .map(|(span, _)| ((**span).clone(), std::thread::current().id())),
            )
        }
        #[cfg(not(feature = "tracing"))]
        TaskSpan
    }
}

impl TaskSpan {
    /// No span: tasks enter nothing.
    #[inline]
    pub(crate) fn none() -> TaskSpan {
        #[cfg(feature = "tracing")]
        {
            TaskSpan(None)
        }
        #[cfg(not(feature = "tracing"))]
        TaskSpan
    }

    /// Enters the span on this thread unless it is the calling thread (which has it
    /// entered for the whole call); the span is left when the result drops.
    #[inline]
    pub(crate) fn enter_off_caller(&self) -> impl Sized + '_ {
        #[cfg(feature = "tracing")]
        {
            self.0.as_ref().and_then(|(span, caller)| {
                (std::thread::current().id() != *caller).then(|| span.enter())
            })
        }
        #[cfg(not(feature = "tracing"))]
        {}
    }
}

/// Opens the span of a call at `entry`, if a subscriber wants `DEBUG` spans of `autopar`.
#[inline]
pub(crate) fn call(entry: &Entry, mode: Mode) -> CallGuard {
    #[cfg(feature = "tracing")]
    {
        let span = tracing::debug_span!(
            target: "autopar",
            "autopar.call",
            site = %entry.site.location(),
            label = label(entry),
            mode = ?mode,
            elapsed_ns = tracing::field::Empty,
        );
        if span.is_disabled() {
            return CallGuard(None);
        }
        CallGuard(Some((span.entered(), std::time::Instant::now())))
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (entry, mode);
        CallGuard
    }
}

#[cfg(feature = "tracing")]
impl Drop for CallGuard {
    fn drop(&mut self) {
        if let Some((span, started)) = self.0.take() {
            span.record("elapsed_ns", started.elapsed().as_nanos() as u64);
        }
    }
}

#[cfg(feature = "tracing")]
fn label(entry: &Entry) -> Option<&'static str> {
    entry.site.label().or_else(|| entry.label.get().copied())
}

/// A decision was made (or re-made) for `n` items from `profile`.
#[inline]
pub(crate) fn decision(entry: &Entry, n: usize, profile: &Profile, decision: &Decision) {
    #[cfg(feature = "tracing")]
    event(
        entry,
        n,
        profile,
        decision.plan,
        decision.speedup(),
        "profiled",
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (entry, n, profile, decision);
}

/// A trial run of a parallel `plan` was kept at a site that had decided sequential.
#[inline]
pub(crate) fn trial_kept(entry: &Entry, n: usize, plan: Plan, speedup: f64) {
    #[cfg(feature = "tracing")]
    if let Some(profile) = entry.learned() {
        event(entry, n, &profile, plan, speedup, "trial kept");
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (entry, n, plan, speedup);
}

#[cfg(feature = "tracing")]
fn event(entry: &Entry, n: usize, profile: &Profile, plan: Plan, speedup: f64, reason: &str) {
    let (kind, workers, chunk) = match plan {
        Plan::Sequential => ("sequential", 1, n),
        Plan::Cpu { threads, chunk } => ("cpu", threads, chunk),
        Plan::Io { workers, chunk } => ("io", workers, chunk),
    };
    tracing::info!(
        target: "autopar",
        site = %entry.site.location(),
        label = label(entry),
        n = n as u64,
        plan = %plan,
        kind,
        workers = workers as u64,
        chunk = chunk as u64,
        item_ns = profile.item_ns,
        cpu_fraction = profile.cpu_fraction,
        spread = profile.spread,
        predicted_speedup = speedup,
        reason,
        "autopar decision"
    );
}

#[cfg(all(test, not(feature = "tracing")))]
mod tests {
    #[test]
    fn without_the_feature_the_guard_is_nothing() {
        assert_eq!(std::mem::size_of::<super::CallGuard>(), 0);
        assert!(!std::mem::needs_drop::<super::CallGuard>());
    }
}

#[cfg(all(test, feature = "tracing"))]
mod tests {
    //! A hand-written subscriber that records events and spans as text.

    use std::fmt::Debug;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};

    use crate::Parallel;

    #[derive(Default)]
    struct Fields(Vec<(String, String)>);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
            self.0.push((field.name().to_owned(), format!("{value:?}")));
        }
    }

    impl Fields {
        fn get(&self, name: &str) -> Option<&str> {
            self.0
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }
    }

    #[derive(Default)]
    struct Captured {
        events: Vec<Fields>,
        /// (name, fields recorded at creation and later).
        spans: Vec<(String, Fields)>,
        /// Each time a span was entered: its id and the entering thread.
        entered: Vec<(u64, std::thread::ThreadId)>,
    }

    struct Capture {
        max: Level,
        next_id: AtomicU64,
        seen: Arc<Mutex<Captured>>,
    }

    impl Subscriber for Capture {
        // Scoped to one test's thread: "sometimes", so that a callsite's cached interest
        // never says "always" to tests running beside it without a subscriber.
        fn register_callsite(
            &self,
            _: &'static Metadata<'static>,
        ) -> tracing::subscriber::Interest {
            tracing::subscriber::Interest::sometimes()
        }
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            metadata.target() == "autopar" && *metadata.level() <= self.max
        }
        fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
            Some(self.max.into())
        }
        fn new_span(&self, span: &Attributes<'_>) -> Id {
            let mut fields = Fields::default();
            span.record(&mut fields);
            let mut seen = self.seen.lock().unwrap();
            seen.spans.push((span.metadata().name().to_owned(), fields));
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            // Ids are 1-based indexes into `spans`.
            assert_eq!(id as usize, seen.spans.len());
            Id::from_u64(id)
        }
        fn record(&self, span: &Id, values: &Record<'_>) {
            let mut seen = self.seen.lock().unwrap();
            let (_, fields) = &mut seen.spans[span.into_u64() as usize - 1];
            values.record(fields);
        }
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut fields = Fields::default();
            event.record(&mut fields);
            self.seen.lock().unwrap().events.push(fields);
        }
        fn enter(&self, span: &Id) {
            let thread = std::thread::current().id();
            self.seen
                .lock()
                .unwrap()
                .entered
                .push((span.into_u64(), thread));
        }
        fn exit(&self, _: &Id) {}
    }

    fn captured(max: Level, run: impl FnOnce()) -> Arc<Mutex<Captured>> {
        let seen = Arc::new(Mutex::new(Captured::default()));
        let subscriber = Capture {
            max,
            next_id: AtomicU64::new(1),
            seen: seen.clone(),
        };
        tracing::subscriber::with_default(subscriber, run);
        seen
    }

    #[test]
    fn each_new_decision_is_one_structured_event() {
        let seen = captured(Level::INFO, || {
            for _ in 0..3 {
                Parallel::auto()
                    .label("traced sleepy")
                    .for_each(0..64usize, |_| {
                        std::thread::sleep(std::time::Duration::from_micros(500))
                    });
            }
        });
        let seen = seen.lock().unwrap();
        let ours: Vec<&Fields> = seen
            .events
            .iter()
            .filter(|e| e.get("label") == Some("\"traced sleepy\""))
            .collect();
        // Three calls, one decision (the later calls are warm).
        assert_eq!(ours.len(), 1, "{:?}", seen.events.len());
        let event = ours[0];
        assert!(event.get("site").unwrap().contains("trace.rs"));
        assert_eq!(event.get("n"), Some("64"));
        assert_eq!(event.get("kind"), Some("\"io\""));
        for field in [
            "plan",
            "workers",
            "chunk",
            "item_ns",
            "cpu_fraction",
            "spread",
            "predicted_speedup",
        ] {
            assert!(event.get(field).is_some(), "no {field}");
        }
        let item_ns: f64 = event.get("item_ns").unwrap().parse().unwrap();
        assert!(item_ns > 400_000.0, "{item_ns}");
        // INFO only: no call spans.
        assert!(seen.spans.is_empty());
    }

    #[test]
    fn at_debug_each_call_is_a_span_with_its_time() {
        let seen = captured(Level::DEBUG, || {
            for _ in 0..2 {
                Parallel::seq().label("traced seq").for_each(0..10, |_| {
                    std::thread::sleep(std::time::Duration::from_micros(100))
                });
            }
        });
        let seen = seen.lock().unwrap();
        let calls: Vec<&(String, Fields)> = seen
            .spans
            .iter()
            .filter(|(_, f)| f.get("label") == Some("\"traced seq\""))
            .collect();
        assert_eq!(calls.len(), 2);
        for (name, fields) in calls {
            assert_eq!(name, "autopar.call");
            assert_eq!(fields.get("mode"), Some("Seq"));
            let ns: u64 = fields
                .get("elapsed_ns")
                .expect("time recorded")
                .parse()
                .unwrap();
            assert!(ns >= 1_000_000, "{ns}");
        }
    }

    #[test]
    fn the_call_span_is_entered_on_the_caller_and_on_pool_threads() {
        let caller = std::thread::current().id();
        let seen = captured(Level::DEBUG, || {
            // Four I/O workers, each sleeping on its items: the pool threads run tasks.
            Parallel::io()
                .workers(4)
                .label("traced io")
                .for_each(0..16, |_| {
                    std::thread::sleep(std::time::Duration::from_millis(2))
                });
        });
        let seen = seen.lock().unwrap();
        let id = seen
            .spans
            .iter()
            .position(|(_, f)| f.get("label") == Some("\"traced io\""))
            .expect("the call has a span") as u64
            + 1;
        let threads: Vec<_> = seen
            .entered
            .iter()
            .filter(|(span, _)| *span == id)
            .map(|(_, thread)| *thread)
            .collect();
        assert!(threads.contains(&caller), "{threads:?}");
        assert!(
            threads.iter().any(|t| *t != caller),
            "never entered off the calling thread: {threads:?}"
        );
        // Entered once on the caller: its tasks do not enter it again.
        assert_eq!(threads.iter().filter(|t| **t == caller).count(), 1);
    }

    #[test]
    fn no_subscriber_no_span() {
        let guard = super::call(
            crate::site::Site::for_location(std::panic::Location::caller()).entry("k"),
            crate::Mode::Auto,
        );
        assert!(guard.0.is_none());
    }
}
