//! The limit an async call runs with: pinned, or tuned and kept per call site.

use std::sync::Mutex;
use std::time::Instant;

use crate::limit::{INITIAL_LIMIT, Limit, LimitReason, MAX_LIMIT};
use crate::site::Entry;

/// What a call site's async loops have learned, kept in the site's entry.
#[derive(Default)]
pub(crate) struct AsyncSite {
    pub(crate) limit: Option<Limit>,
    /// The `workers(n)` of the latest call, if it pinned one.
    pub(crate) pinned: Option<usize>,
    pub(crate) calls: u64,
    pub(crate) items: u64,
    pub(crate) timeouts: u64,
}

/// The per-entry slot (a plain mutex: it is taken twice per call, not per item).
pub(crate) type AsyncSlot = Mutex<AsyncSite>;

/// The limit of one running call. A tuned limit goes back to its site when the call
/// ends, also when its future is dropped half-way.
pub(crate) struct Tuner {
    entry: &'static Entry,
    limit: Limit,
    pinned: Option<usize>,
    origin: Instant,
    items: u64,
    timed_out: bool,
}

impl Tuner {
    /// `pinned`: the loop's `workers(n)`; otherwise the site's learned limit.
    pub(crate) fn new(entry: &'static Entry, pinned: Option<usize>) -> Tuner {
        let learned = {
            let mut site = entry.async_site.lock().unwrap_or_else(|e| e.into_inner());
            site.calls += 1;
            site.pinned = pinned;
            site.limit.clone()
        };
        let limit = match pinned {
            Some(n) => Limit::new(n.max(1), n.max(1)),
            None => learned.unwrap_or_else(|| Limit::new(INITIAL_LIMIT, MAX_LIMIT)),
        };
        Tuner {
            entry,
            limit,
            pinned,
            origin: Instant::now(),
            items: 0,
            timed_out: false,
        }
    }

    /// Futures allowed in flight now.
    #[inline]
    pub(crate) fn current(&self) -> usize {
        self.pinned
            .map_or_else(|| self.limit.current(), |n| n.max(1))
    }

    /// The loop's first waiting item: latencies are measured from here.
    pub(crate) fn begin(&mut self) {
        self.origin = Instant::now();
        self.limit.begin(0);
    }

    /// An item that started at `started` finished now.
    #[inline]
    pub(crate) fn sample(&mut self, started: Instant) {
        self.items += 1;
        if self.pinned.is_some() {
            return;
        }
        let now = Instant::now();
        let now_ns = now.duration_since(self.origin).as_nanos() as u64;
        let latency_ns = now.duration_since(started).as_nanos() as u64;
        self.limit.on_sample(now_ns, latency_ns);
    }

    /// Counts the call's items that finished without waiting.
    pub(crate) fn add_items(&mut self, items: u64) {
        self.items += items;
    }

    pub(crate) fn timed_out(&mut self) {
        self.timed_out = true;
    }
}

impl Drop for Tuner {
    fn drop(&mut self) {
        let mut site = self
            .entry
            .async_site
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        site.items += self.items;
        site.timeouts += u64::from(self.timed_out);
        if self.pinned.is_none() {
            site.limit = Some(self.limit.clone());
        }
    }
}

/// What the report shows of a site's async loops.
pub(crate) fn snapshot(site: &AsyncSite) -> Option<crate::AsyncReport> {
    if site.calls == 0 {
        return None;
    }
    let limit = site.limit.as_ref();
    Some(crate::AsyncReport {
        calls: site.calls,
        items: site.items,
        timeouts: site.timeouts,
        limit: site
            .pinned
            .or(limit.map(Limit::limit))
            .unwrap_or(INITIAL_LIMIT),
        reason: if site.pinned.is_some() {
            LimitReason::Pinned
        } else {
            limit.map_or(LimitReason::Starting, Limit::reason)
        },
        min_latency_ns: limit.and_then(Limit::min_latency_ns),
        latency_ns: limit.and_then(Limit::last_latency_ns),
        throughput: limit.and_then(Limit::throughput),
    })
}
