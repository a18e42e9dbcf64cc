//! How many futures an async loop keeps in flight: a limit that tunes itself from the
//! latencies of completed items (Vegas-style, as in Netflix's concurrency-limits).
//!
//! The limit is the only knob: a server that serves `C` requests at once answers as fast
//! as it can up to `C` in flight and queues the rest, so latency stays at its minimum
//! below `C` and grows with the queue above it. The estimated queue is
//! `limit × (1 − min latency ÷ latency)`; the limit grows while that queue is short
//! (doubling at first, then by the queue still missing below `alpha` per window) and completions per second do not fall,
//! and drops to the concurrency the latencies say is really served, plus a little
//! headroom, when the queue is long. Every [`PROBE_EVERY`] windows it runs one window at
//! a low limit to measure the minimum latency afresh: a minimum that only ever falls
//! would read a slower server as a queue forever.
//!
//! Non-generic and clock-free: callers pass the time and each latency, so the tests feed
//! it synthetic servers and are deterministic.

use std::fmt;

/// Concurrency a loop with no history starts at.
pub(crate) const INITIAL_LIMIT: usize = 4;
/// The most futures in flight a tuned loop allows (a pinned `workers` may ask for more).
pub(crate) const MAX_LIMIT: usize = 1024;
/// Windows between two probes of the minimum latency.
pub(crate) const PROBE_EVERY: u32 = 40;
/// Fewest samples in a window: one or two latencies say too little.
const MIN_WINDOW: usize = 3;
/// The limit while probing the minimum latency.
const PROBE_LIMIT: usize = 2;
/// Latencies are floored here so that items that finish at once do not divide by zero.
const FLOOR_NS: f64 = 1_000.0;

/// Why the limit is what it is, for the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum LimitReason {
    /// No window has completed yet.
    Starting,
    /// Doubling: latency stays at its minimum.
    SlowStart,
    /// Growing by one: latency stays near its minimum and throughput holds.
    Growing,
    /// Latency is above its minimum by a short queue: the limit is about right.
    Holding,
    /// Growing stopped: completions per second fell although latency did not rise.
    ThroughputFell,
    /// Latency climbed (a long queue): the limit dropped to what is really served.
    BackingOff,
    /// Measuring the minimum latency at a low limit.
    Probing,
    /// At the largest limit allowed.
    AtMax,
    /// Pinned with `.workers(n)`: not tuned.
    Pinned,
}

impl fmt::Display for LimitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitReason::Starting => "starting",
            LimitReason::SlowStart => "doubling: latency at its minimum",
            LimitReason::Growing => "growing: latency near its minimum",
            LimitReason::Holding => "holding: a short queue",
            LimitReason::ThroughputFell => "holding: throughput stopped rising",
            LimitReason::BackingOff => "backing off: latency climbed",
            LimitReason::Probing => "probing the minimum latency",
            LimitReason::AtMax => "at the maximum",
            LimitReason::Pinned => "pinned with workers(n)",
        })
    }
}

/// The self-tuning limit of one async loop (kept per call site across calls).
#[derive(Clone, Debug)]
pub(crate) struct Limit {
    limit: usize,
    max: usize,
    slow_start: bool,
    /// Smallest latency seen since the last probe (ns; infinite before any).
    min_ns: f64,
    /// Latencies of the current window.
    window: Vec<f64>,
    window_start_ns: u64,
    /// Median latency and completions per second of the last complete window.
    last_latency_ns: f64,
    last_throughput: f64,
    windows_since_probe: u32,
    /// Whether the previous window's queue was long too.
    long_queue_before: bool,
    probe: Option<Probe>,
    reason: LimitReason,
}

/// A probe in progress: the limit to go back to, and how many samples of items started
/// before the probe are still to come (their latencies include the old queue).
#[derive(Clone, Copy, Debug)]
struct Probe {
    resume: usize,
    skip: usize,
}

impl Limit {
    /// A limit starting at `initial`, never above `max`.
    pub(crate) fn new(initial: usize, max: usize) -> Limit {
        let max = max.max(1);
        Limit {
            limit: initial.clamp(1, max),
            max,
            slow_start: true,
            min_ns: f64::INFINITY,
            window: Vec::new(),
            window_start_ns: 0,
            last_latency_ns: 0.0,
            last_throughput: 0.0,
            windows_since_probe: 0,
            long_queue_before: false,
            probe: None,
            reason: LimitReason::Starting,
        }
    }

    /// Futures allowed in flight now.
    pub(crate) fn current(&self) -> usize {
        match self.probe {
            Some(_) => PROBE_LIMIT.min(self.limit),
            None => self.limit,
        }
    }

    /// The limit outside probes (what the report shows and the next call starts at).
    pub(crate) fn limit(&self) -> usize {
        self.probe.map_or(self.limit, |p| p.resume)
    }

    pub(crate) fn reason(&self) -> LimitReason {
        self.reason
    }

    /// The smallest latency seen since the last probe, in ns.
    pub(crate) fn min_latency_ns(&self) -> Option<f64> {
        self.min_ns.is_finite().then_some(self.min_ns)
    }

    /// The median latency of the last window, in ns.
    pub(crate) fn last_latency_ns(&self) -> Option<f64> {
        (self.last_latency_ns > 0.0).then_some(self.last_latency_ns)
    }

    /// Completions per second in the last window.
    pub(crate) fn throughput(&self) -> Option<f64> {
        (self.last_throughput > 0.0).then_some(self.last_throughput)
    }

    /// A new call starts at `now_ns`: its first window starts now (time between calls
    /// is not throughput lost), with the limit and minimum latency learned so far.
    pub(crate) fn begin(&mut self, now_ns: u64) {
        self.window.clear();
        self.window_start_ns = now_ns;
        if let Some(probe) = self.probe.take() {
            self.limit = probe.resume;
        }
    }

    /// An item that started `latency_ns` ago completed at `now_ns`.
    pub(crate) fn on_sample(&mut self, now_ns: u64, latency_ns: u64) {
        let latency = (latency_ns as f64).max(FLOOR_NS);
        if let Some(probe) = &mut self.probe
            && probe.skip > 0
        {
            probe.skip -= 1;
            self.window_start_ns = now_ns;
            return;
        }
        self.window.push(latency);
        let size = self.current().max(MIN_WINDOW);
        if self.window.len() < size {
            return;
        }
        let elapsed_ns = now_ns.saturating_sub(self.window_start_ns).max(1) as f64;
        let throughput = self.window.len() as f64 * 1e9 / elapsed_ns;
        let window_min = self.window.iter().copied().fold(f64::INFINITY, f64::min);
        let median = {
            let mid = self.window.len() / 2;
            let (_, m, _) = self.window.select_nth_unstable_by(mid, f64::total_cmp);
            *m
        };
        self.window.clear();
        self.window_start_ns = now_ns;
        self.last_latency_ns = median;

        if let Some(probe) = self.probe.take() {
            // The probe's latencies are the server's unqueued ones: its minimum replaces
            // the old one, whichever way it moved.
            self.min_ns = window_min;
            self.limit = probe.resume;
            self.windows_since_probe = 0;
            self.reason = LimitReason::Holding;
            return;
        }
        self.min_ns = self.min_ns.min(window_min);
        self.windows_since_probe += 1;
        let previous_throughput = self.last_throughput;
        self.last_throughput = throughput;
        self.adjust(median, throughput, previous_throughput);

        if self.windows_since_probe >= PROBE_EVERY && self.limit > PROBE_LIMIT {
            self.probe = Some(Probe {
                resume: self.limit,
                // Items started at the old limit are still in flight.
                skip: self.limit.saturating_sub(1),
            });
            self.reason = LimitReason::Probing;
        }
    }

    fn adjust(&mut self, latency: f64, throughput: f64, previous_throughput: f64) {
        let limit = self.limit as f64;
        let queue = limit * (1.0 - self.min_ns / latency);
        // Netflix's Vegas scales the thresholds with log10(limit): a big limit's queue
        // estimate is noisier in absolute terms.
        let scale = limit.log10().max(1.0);
        let alpha = 3.0 * scale;
        let beta = 6.0 * scale;
        let long_queue = queue > beta;
        // One long window alone may be a busy CPU delaying the answers, not a queue at
        // the server: back off on the second in a row (during slow start, at once).
        let confirmed = self.long_queue_before || self.slow_start;
        self.long_queue_before = long_queue;
        if long_queue && !confirmed {
            self.reason = LimitReason::Holding;
        } else if long_queue {
            // What the server really serves at once is `limit × min ÷ latency`: go
            // there, plus the queue a growing loop would tolerate.
            // At most a quarter less per window: one noisy window (a busy CPU delays
            // the answers too) does not undo the growth.
            let served = limit * self.min_ns / latency;
            let target = (served + alpha).max(limit * 0.75);
            self.limit = (target.round() as usize).clamp(1, self.max);
            self.slow_start = false;
            self.reason = LimitReason::BackingOff;
        } else if queue < alpha {
            if previous_throughput > 0.0 && throughput < 0.9 * previous_throughput {
                self.slow_start = false;
                self.reason = LimitReason::ThroughputFell;
            } else if self.limit >= self.max {
                self.reason = LimitReason::AtMax;
            } else if self.slow_start {
                self.limit = (self.limit * 2).min(self.max);
                self.reason = LimitReason::SlowStart;
            } else {
                // Grow by the queue still missing: towards `alpha` queued items, fast
                // when latency is at its minimum, by one near the threshold.
                let step = ((alpha - queue).ceil() as usize).max(1);
                self.limit = (self.limit + step).min(self.max);
                self.reason = LimitReason::Growing;
            }
        } else {
            self.slow_start = false;
            self.reason = LimitReason::Holding;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// A closed loop against a server that serves `capacity` requests at once, each
    /// taking `service_ns`, and queues the rest: every round, `limit` items complete
    /// with the latency that many in flight see. Returns the limit after each round.
    fn run(
        limit: &mut Limit,
        now: &mut u64,
        rounds: usize,
        capacity: usize,
        service_ns: u64,
    ) -> Vec<usize> {
        let mut seen = Vec::new();
        for _ in 0..rounds {
            let in_flight = limit.current();
            // Fluid queueing: above the capacity, each request waits for
            // `in_flight ÷ capacity` services.
            let latency = service_ns * in_flight.max(capacity) as u64 / capacity as u64;
            *now += latency;
            for _ in 0..in_flight {
                limit.on_sample(*now, latency);
            }
            seen.push(limit.limit());
        }
        seen
    }

    #[test]
    fn grows_to_just_above_the_servers_capacity_and_stays() {
        let mut limit = Limit::new(INITIAL_LIMIT, MAX_LIMIT);
        let mut now = 0;
        limit.begin(now);
        let seen = run(&mut limit, &mut now, 60, 16, 5 * MS);
        let settled = &seen[20..];
        assert!(
            settled.iter().all(|&l| (16..=32).contains(&l)),
            "limits {seen:?}"
        );
        assert_eq!(limit.min_latency_ns(), Some(5e6));
    }

    #[test]
    fn doubles_while_latency_stays_at_its_minimum() {
        let mut limit = Limit::new(4, MAX_LIMIT);
        let mut now = 0;
        limit.begin(now);
        let seen = run(&mut limit, &mut now, 4, 10_000, MS);
        assert_eq!(seen, [8, 16, 32, 64]);
        assert_eq!(limit.reason(), LimitReason::SlowStart);
    }

    #[test]
    fn never_exceeds_its_maximum() {
        let mut limit = Limit::new(4, 50);
        let mut now = 0;
        limit.begin(now);
        let seen = run(&mut limit, &mut now, 30, 10_000, MS);
        assert!(seen.iter().all(|&l| l <= 50), "{seen:?}");
        assert_eq!(limit.limit(), 50);
    }

    #[test]
    fn backs_off_at_once_when_the_server_shrinks() {
        let mut limit = Limit::new(4, MAX_LIMIT);
        let mut now = 0;
        limit.begin(now);
        run(&mut limit, &mut now, 30, 64, 5 * MS);
        assert!(limit.limit() >= 64, "{}", limit.limit());
        // The same loop against a server that now serves 8 at once.
        limit.begin(now);
        let seen = run(&mut limit, &mut now, 12, 8, 5 * MS);
        assert!(seen.iter().skip(8).all(|&l| l <= 20), "{seen:?}");
        assert!(limit.limit() >= 8, "{seen:?}");
    }

    #[test]
    fn one_slow_window_alone_does_not_back_off() {
        let mut limit = Limit::new(4, MAX_LIMIT);
        let mut now = 0;
        limit.begin(now);
        run(&mut limit, &mut now, 30, 64, 5 * MS);
        let before = limit.limit();
        // One window of answers 1.6× slower (a busy CPU), then normal ones again.
        let spike = 8 * MS;
        now += spike;
        for _ in 0..limit.current() {
            limit.on_sample(now, spike);
        }
        assert_eq!(limit.limit(), before);
        assert_eq!(limit.reason(), LimitReason::Holding);
        // Two in a row do.
        for _ in 0..2 {
            now += spike;
            for _ in 0..limit.current() {
                limit.on_sample(now, spike);
            }
        }
        assert!(limit.limit() < before);
    }

    #[test]
    fn growth_stops_when_throughput_falls() {
        let mut limit = Limit::new(8, MAX_LIMIT);
        let mut now = 0;
        limit.begin(now);
        // First window: 8 items in 1 ms.
        now += MS;
        for _ in 0..8 {
            limit.on_sample(now, MS);
        }
        assert_eq!(limit.limit(), 16);
        // Then 16 items take 4 ms although each one's latency stays at 1 ms (the
        // caller could not keep up): throughput halved.
        for _ in 0..16 {
            now += MS / 4;
            limit.on_sample(now, MS);
        }
        assert_eq!(limit.limit(), 16);
        assert_eq!(limit.reason(), LimitReason::ThroughputFell);
    }

    #[test]
    fn probes_the_minimum_latency_and_learns_a_slower_server() {
        let mut limit = Limit::new(4, MAX_LIMIT);
        let mut now = 0;
        limit.begin(now);
        run(&mut limit, &mut now, 30, 16, 5 * MS);
        assert_eq!(limit.min_latency_ns(), Some(5e6));
        // The server slows down to 20 ms per request. Without a probe the loop would
        // read the slower answers as a queue and shrink to a quarter of the capacity.
        let mut probed = false;
        for _ in 0..200 {
            run(&mut limit, &mut now, 1, 16, 20 * MS);
            probed |= limit.reason() == LimitReason::Probing;
        }
        assert!(probed);
        assert_eq!(limit.min_latency_ns(), Some(20e6));
        let seen = run(&mut limit, &mut now, 10, 16, 20 * MS);
        assert!(seen.iter().all(|&l| l >= 12), "{seen:?}");
    }

    #[test]
    fn a_probe_runs_at_a_low_limit_then_resumes() {
        let mut limit = Limit::new(4, MAX_LIMIT);
        let mut now = 0;
        limit.begin(now);
        let mut rounds = 0;
        while limit.reason() != LimitReason::Probing {
            run(&mut limit, &mut now, 1, 16, 5 * MS);
            rounds += 1;
            assert!(rounds < 10 * PROBE_EVERY as usize);
        }
        let resume = limit.limit();
        assert_eq!(limit.current(), PROBE_LIMIT);
        // The items started before the probe, then one probe window.
        for _ in 0..resume - 1 + MIN_WINDOW {
            now += MS;
            limit.on_sample(now, 5 * MS);
        }
        assert_eq!(limit.current(), resume);
        assert_eq!(limit.reason(), LimitReason::Holding);
    }

    #[test]
    fn items_that_finish_at_once_grow_it_without_dividing_by_zero() {
        let mut limit = Limit::new(INITIAL_LIMIT, MAX_LIMIT);
        limit.begin(0);
        // One completion every 100 ns, each after no time at all.
        for i in 1..=5_000u64 {
            limit.on_sample(i * 100, 0);
        }
        assert_eq!(limit.limit(), MAX_LIMIT);
        assert_eq!(limit.reason(), LimitReason::AtMax);
    }

    #[test]
    fn a_new_call_ends_a_probe_and_keeps_what_was_learned() {
        let mut limit = Limit::new(4, MAX_LIMIT);
        let mut now = 0;
        limit.begin(now);
        while limit.reason() != LimitReason::Probing {
            run(&mut limit, &mut now, 1, 16, 5 * MS);
        }
        let learned = limit.limit();
        limit.begin(now + 10 * MS);
        assert_eq!(limit.current(), learned);
        assert_eq!(limit.min_latency_ns(), Some(5e6));
    }
}
