//! The engine: for one call, find the plan (cached, decided from what the site learned,
//! or profiled now), run the items, and watch for drift.
//!
//! The hot path of a warm call is: find the site's entry for this body type (one atomic
//! load and a pointer compare), find the size class's state (an initialised-once check)
//! and read its plan (one atomic load), bump two counters, run. Every few calls it also
//! times itself (two `Instant::now`) to notice when the workload changed.

mod standby;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use rayon::iter::plumbing::Producer;

use crate::env::{IO_WORKERS_CEILING, config};
use crate::exec::runners::{self, IterBatches, ProducerBatches, Runners};
use crate::exec::{FoldItems, Position, TaskStart, Work, cpu, cpu_slots};
use crate::input::{Drive, IntoParallelInput, ParallelInput, Span};
use crate::policy::{self, Constraints, Decision, Plan, PlanKind, Profile};
use crate::profile::Profiler;
use crate::site::{self, ClassState, Entry, Site, load_f64, store_f64};
use crate::{Mode, machine, report};

/// Observed cost per item this many times above or below the baseline counts as drift.
const DRIFT_FACTOR: f64 = 2.0;
/// Sequential calls shorter than this never count as drift (timer and cache noise).
const DRIFT_FLOOR_SEQUENTIAL_NS: f64 = 5_000.0;
/// Parallel calls shorter than this never count as drift: their time is dominated by
/// whether the pool's threads were awake, not by the items.
const DRIFT_FLOOR_PARALLEL_NS: f64 = 1_000_000.0;
/// Consecutive drifting calls before a site re-profiles.
const DRIFT_STRIKES: u32 = 3;
/// Sequential calls predicted shorter than this are timed only one call in
/// [`TINY_CALL_SAMPLING`]: two clock reads would be a visible share of them.
const TINY_CALL_NS: f64 = 20_000.0;
const TINY_CALL_SAMPLING: u64 = 64;
/// Calls with each plan in one trial run (see `Call::trial_call`).
const TRIAL_CALLS: u32 = 8;
/// Of a trial run's reference calls, those made before the tried plan's calls; the rest
/// come after them.
const TRIAL_REFERENCE_FIRST: u32 = TRIAL_CALLS / 2;
/// Trial runs per decision before the site stops trying.
const MAX_TRIALS: u32 = 3;
/// Warm calls this many times faster than the profile's cost per item could allow (with
/// all of the plan's threads) mean the profile was wrong.
const MISPREDICTION_FACTOR: f64 = 4.0;
/// Timed calls of a parallel plan before its measured speed is compared with sequential.
const DOUBT_AFTER_CALLS: u64 = 8;
/// Calls shorter than this never try a parallel plan: even an awake pool cannot pay.
const TRIAL_MIN_NS: f64 = 8_000.0;
/// Work an early-exit call runs on the calling thread before its parallel plan starts
/// (see `Call::run_indexed`): a hit there costs no more than the plain loop.
const HEAD_START_NS: f64 = 50_000.0;
/// The head start is at most this fraction of the call's items.
const HEAD_START_SHARE: usize = 16;
/// Most work in one task of an early-exit call on the CPU pool.
const STOP_TASK_NS: f64 = 8_000.0;
/// Unknown-length inputs are assumed to hold at least this many times the items that
/// profiling saw.
const UNKNOWN_LEN_FACTOR: usize = 8;

/// Everything about one call except the input and the body.
#[derive(Clone, Debug)]
pub(crate) struct CallSpec {
    pub(crate) site: &'static Site,
    pub(crate) mode: Mode,
    pub(crate) workers: Option<usize>,
    pub(crate) chunk: Option<usize>,
    /// Fewest items per task of a parallel plan: the task's partial result costs that
    /// much to make and combine (0: nothing to respect).
    pub(crate) min_task: usize,
    pub(crate) label: Option<&'static str>,
    /// `.progress(..)`: show a progress bar (feature `progress`).
    pub(crate) progress: Option<Box<crate::progress::ProgressSpec>>,
}

/// Runs one call: the general form every public method lowers to.
///
/// Inlined into the caller (with the public methods) so that the call's options stay
/// in registers: passing them through memory cost a few ns per call on tiny loops.
#[inline]
pub(crate) fn run<I, A, E, Init, Fold, Comb>(
    spec: CallSpec,
    key: &'static str,
    input: I,
    init: Init,
    fold: Fold,
    combine: Comb,
) -> Result<A, E>
where
    I: IntoParallelInput,
    A: Send,
    E: Send,
    Init: Fn(TaskStart) -> A + Sync,
    Fold: FoldItems<A, I::Item, Error = E> + Sync,
    Comb: Fn(A, A) -> A + Sync,
{
    run_parts(spec, key, input, init, fold, combine, None).map_err(|(_, error)| error)
}

/// [`run`], which on an error also returns the combined accumulators of the tasks
/// before the earliest failed one when `exits` is given (`None` if there are none, or
/// if it is not): an early exit is an "error" (one that `exits` picks) that carries the
/// exiting task's accumulator, and the loop's result is everything before it plus that.
#[inline]
pub(crate) fn run_parts<I, A, E, Init, Fold, Comb>(
    spec: CallSpec,
    key: &'static str,
    input: I,
    init: Init,
    fold: Fold,
    combine: Comb,
    exits: Option<fn(&E) -> bool>,
) -> Result<A, (Option<A>, E)>
where
    I: IntoParallelInput,
    A: Send,
    E: Send,
    Init: Fn(TaskStart) -> A + Sync,
    Fold: FoldItems<A, I::Item, Error = E> + Sync,
    Comb: Fn(A, A) -> A + Sync,
{
    if crate::fork::in_child() {
        // The pools' threads did not survive the fork (see `fork`): the plain loop.
        return input
            .into_parallel_input()
            .drive(Sequentially {
                init: &init,
                fold: &fold,
            })
            .map_err(|error| (None, error));
    }
    let entry = spec.site.entry(key);
    if let Some(label) = spec.label {
        entry.label.get_or_init(|| label);
    }
    let trace = crate::trace::call(entry, spec.mode);
    let input = input.into_parallel_input();
    if spec.progress.is_none() {
        let len = input.exact_len();
        if let Some(len) = len
            && warm_sequential(entry, spec.mode, len)
        {
            return input
                .drive(Sequentially {
                    init: &init,
                    fold: &fold,
                })
                .map_err(|error| (None, error));
        }
        if len.is_none()
            && let Some(items) = warm_sequential_stream(entry, spec.mode)
        {
            return input
                .drive(SequentiallyCounted {
                    init: &init,
                    fold: &fold,
                    items,
                })
                .map_err(|error| (None, error));
        }
    }
    let progress = crate::progress::start(spec.progress.as_deref(), entry, || input.exact_len());
    let mut work = Work::new(&init, &fold, &combine).keeping_prefix(exits.is_some());
    if let Some(is_exit) = exits {
        work = work.with_exits(is_exit);
    }
    let work = work.with_progress(progress).with_span(trace.task_span());
    let call = Call {
        spec,
        entry,
        work: &work,
    };
    let result = input.drive(call);
    work.finish(result)
}

/// Whether this call of `len` items may run as a plain loop: its size class decided
/// sequential, and the call is neither timed nor part of a trial (see
/// [`Call::resolve`]). Counts the call if so.
///
/// The common case of small loops kept sequential: skipping the rest of the engine's
/// bookkeeping (the shared outcome, the task wrapper, the decision's dispatch) takes a
/// few ns off calls whose whole budget is tens of ns.
#[inline]
fn warm_sequential(entry: &'static Entry, mode: Mode, len: usize) -> bool {
    // Other modes are pinned to a parallel kind: `resolve` has their rules.
    if len == 0 || !matches!(mode, Mode::Auto | Mode::Seq) {
        return false;
    }
    // On an I/O runner, the call may need a CPU slot: `Call` has the rules.
    if cpu_slots::needed_here() {
        return false;
    }
    let state = entry.classes.get(site::size_class(Some(len)));
    if state.plan.load(Ordering::Acquire) != SEQUENTIAL_PACKED
        || is_timed(state, state.calls.load(Ordering::Relaxed))
    {
        return false;
    }
    bump(&state.calls, 1);
    bump(&state.items, len as u64);
    true
}

/// [`warm_sequential`] for an input of unknown length: whether this call may run as a
/// plain loop, and the counter its items are added to (counted as the loop runs).
#[inline]
fn warm_sequential_stream(entry: &'static Entry, mode: Mode) -> Option<&'static AtomicU64> {
    if !matches!(mode, Mode::Auto | Mode::Seq) || cpu_slots::needed_here() {
        return None;
    }
    let state = entry.classes.get(site::size_class(None));
    if state.plan.load(Ordering::Acquire) != SEQUENTIAL_PACKED
        || is_timed(state, state.calls.load(Ordering::Relaxed))
    {
        return None;
    }
    bump(&state.calls, 1);
    Some(&state.items)
}

/// Whether the call numbered `calls` of this size class is timed: every call while
/// `time_every_call` is set, else one in [`TINY_CALL_SAMPLING`].
#[inline]
fn is_timed(state: &ClassState, calls: u64) -> bool {
    calls.is_multiple_of(TINY_CALL_SAMPLING) || state.time_every_call.load(Ordering::Relaxed)
}

/// [`Plan::Sequential`] as the size classes store it.
const SEQUENTIAL_PACKED: u64 = site::pack(Plan::Sequential);

/// Runs a whole call as a plain loop on the calling thread (see [`warm_sequential`]):
/// panics unwind straight to the caller, and the first error ends the loop, as they
/// would in the loop as written.
struct Sequentially<'f, Init, Fold> {
    init: &'f Init,
    fold: &'f Fold,
}

impl<T, A, E, Init, Fold> Drive<T> for Sequentially<'_, Init, Fold>
where
    T: Send,
    Init: Fn(TaskStart) -> A,
    Fold: FoldItems<A, T, Error = E>,
{
    type Output = Result<A, E>;

    #[inline]
    fn indexed<P: Producer<Item = T>>(self, items: Span<P>) -> Result<A, E> {
        let start = TaskStart::new(Position::Item(0), items.len());
        self.fold.fold_items((self.init)(start), items.into_iter())
    }

    #[inline]
    fn sequential<I: Iterator<Item = T> + Send>(self, iter: I) -> Result<A, E> {
        let start = TaskStart::new(Position::Batch(0), iter.size_hint().0);
        self.fold.fold_stream((self.init)(start), iter)
    }
}

/// [`Sequentially`] for an input of unknown length (see [`warm_sequential_stream`]):
/// counts the items in a local as they pass, which costs the plain loop an add, where
/// the engine's `Counted` wrapper around the iterator cost some loops 2×.
struct SequentiallyCounted<'f, Init, Fold> {
    init: &'f Init,
    fold: &'f Fold,
    items: &'static AtomicU64,
}

impl<T, A, E, Init, Fold> Drive<T> for SequentiallyCounted<'_, Init, Fold>
where
    T: Send,
    Init: Fn(TaskStart) -> A,
    Fold: FoldItems<A, T, Error = E>,
{
    type Output = Result<A, E>;

    #[inline]
    fn indexed<P: Producer<Item = T>>(self, items: Span<P>) -> Result<A, E> {
        bump(self.items, items.len() as u64);
        Sequentially {
            init: self.init,
            fold: self.fold,
        }
        .indexed(items)
    }

    #[inline]
    fn sequential<I: Iterator<Item = T> + Send>(self, iter: I) -> Result<A, E> {
        let start = TaskStart::new(Position::Batch(0), iter.size_hint().0);
        let mut taken = 0u64;
        let result = self
            .fold
            .fold_stream((self.init)(start), iter.inspect(|_| taken += 1));
        bump(self.items, taken);
        result
    }
}

/// Whether call `n` (from 0) of a trial run runs the tried plan: the middle
/// [`TRIAL_CALLS`] of the run's `2 × TRIAL_CALLS` calls do, the others run the site's.
fn runs_tried_plan(n: u32) -> bool {
    (TRIAL_REFERENCE_FIRST..TRIAL_REFERENCE_FIRST + TRIAL_CALLS).contains(&n)
}

/// Whether and why a call is timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timing {
    Untimed,
    /// For drift, or as a call of a trial (see [`Call::trial_call`]).
    Timed,
    /// A reference call of a trial run: the site's own plan, timed to compare with.
    TrialReference,
}

/// A call's part in a trial run (see [`Call::trial_call`]).
enum TrialCall {
    /// Run the site's plan, for reference.
    Reference,
    /// Run the tried plan.
    Try(Plan),
}

/// One call in progress.
struct Call<'c, 'f, Init, Fold, Comb, E> {
    spec: CallSpec,
    entry: &'static Entry,
    work: &'c Work<'f, Init, Fold, Comb, E>,
}

/// What the engine knows before running a call.
enum Resolved {
    /// Run with this plan, timed or not.
    Ready { plan: Plan, timing: Timing },
    /// Nothing learned yet: profile the first items.
    Profile,
}

impl<Init, Fold, Comb, E> Call<'_, '_, Init, Fold, Comb, E> {
    /// A CPU slot for profiling on a thread that runs an I/O plan's items: the items may
    /// compute, and a dozen I/O workers profiling a CPU loop at once would oversubscribe
    /// the cores. Profiling is short (its budget), so a loop whose items turn out to
    /// block holds the slot only briefly.
    fn profiling_slot(&self) -> Option<cpu_slots::Slot> {
        cpu_slots::needed_here().then(cpu_slots::take)
    }

    /// A CPU slot for running `plan` at `class`, where one is needed: on a thread that
    /// runs an I/O plan's items, every CPU plan, and the sequential plan of a class whose
    /// items are CPU-bound (see `cpu_slots`).
    fn cpu_slot(&self, class: usize, plan: Plan) -> Option<cpu_slots::Slot> {
        if !cpu_slots::needed_here() {
            return None;
        }
        let computes = match plan {
            Plan::Io { .. } => false,
            Plan::Cpu { .. } => true,
            Plan::Sequential => self
                .entry
                .classes
                .get(class)
                .cpu_bound
                .load(Ordering::Relaxed),
        };
        computes.then(cpu_slots::take)
    }

    fn constraints(&self) -> Constraints {
        Constraints {
            kind: match self.spec.mode {
                Mode::Auto => None,
                Mode::Cpu => Some(PlanKind::Cpu),
                Mode::Io => Some(PlanKind::Io),
                Mode::Seq => Some(PlanKind::Sequential),
            },
            workers: self.spec.workers.map(|w| clamp_workers(w, self.spec.mode)),
            chunk: self.spec.chunk.map(|c| c.max(1)),
        }
    }

    /// A plan fully given by the user: no profiling needed.
    fn pinned_plan(&self) -> Option<Plan> {
        let pinned = self.constraints();
        match (pinned.kind, pinned.workers, pinned.chunk) {
            (Some(PlanKind::Sequential), _, _) => Some(Plan::Sequential),
            (Some(PlanKind::Io), Some(workers), chunk) => Some(Plan::Io {
                workers: workers.min(crate::exec::io_pool::IoPool::global().max_workers()),
                chunk: chunk.unwrap_or(1),
            }),
            (Some(PlanKind::Cpu), workers, Some(chunk)) => Some(Plan::Cpu {
                threads: workers.unwrap_or_else(cpu::threads),
                chunk,
            }),
            _ => None,
        }
    }

    fn resolve(&self, state: &ClassState) -> Resolved {
        let calls = state.calls.load(Ordering::Relaxed);
        bump(&state.calls, 1);
        let pinned = if config().force_sequential {
            Some(Plan::Sequential)
        } else if self.spec.mode == Mode::Auto {
            None
        } else {
            self.pinned_plan()
        };
        if let Some(plan) = pinned {
            if state.plan.load(Ordering::Relaxed) == 0 {
                state.plan.store(site::pack(plan), Ordering::Relaxed);
            }
            return Resolved::Ready {
                plan,
                timing: Timing::Untimed,
            };
        }
        let Some(plan) = site::unpack(state.plan.load(Ordering::Acquire)) else {
            return Resolved::Profile;
        };
        if !is_timed(state, calls) {
            return Resolved::Ready {
                plan,
                timing: Timing::Untimed,
            };
        }
        // Off the hot path from here: this call is timed anyway.
        let sampled = calls.is_multiple_of(TINY_CALL_SAMPLING);
        match self.trial_call(state, sampled) {
            Some(TrialCall::Reference) => Resolved::Ready {
                plan,
                timing: Timing::TrialReference,
            },
            Some(TrialCall::Try(trial)) if trial != plan => Resolved::Ready {
                plan: trial,
                timing: Timing::Timed,
            },
            _ => Resolved::Ready {
                plan,
                timing: Timing::Timed,
            },
        }
    }

    /// This call's part in a trial, if a trial is running or due: a parallel plan tried
    /// at a sequential site (see [`policy::trial`]), or the sequential plan tried at a
    /// site whose parallel plan measured no faster than sequential (see
    /// [`Self::observe`]).
    ///
    /// A trial run is [`TRIAL_CALLS`] calls with the tried plan in a row, bracketed by
    /// as many with the site's plan (the reference), half before and half after, all
    /// timed: both plans measured the same way, at the same time, and a loop called back
    /// to back finds the pool awake, as it would if the plan were kept. (Judged against
    /// the site's running mean instead, a plan won against one slow call made right
    /// after the decision. With all reference calls first, a disturbance that fades
    /// during the run, e.g. another pool's threads spinning down, would weigh on the
    /// reference alone; bracketed, it weighs on both sides alike.)
    fn trial_call(&self, state: &ClassState, sampled: bool) -> Option<TrialCall> {
        let trial = site::unpack(state.trial_plan.load(Ordering::Relaxed))?;
        let left = state.trial_left.load(Ordering::Relaxed);
        if left > 0 {
            state.trial_left.store(left - 1, Ordering::Relaxed);
            // The call starting the run was call 0.
            return Some(if runs_tried_plan(2 * TRIAL_CALLS - left) {
                TrialCall::Try(trial)
            } else {
                TrialCall::Reference
            });
        }
        let baseline = load_f64(&state.observed_ns_per_item);
        let trials = state.trials.load(Ordering::Relaxed);
        // The first run starts as soon as the site's plan has been timed; later ones
        // wait for a sampled call, so a losing plan costs little.
        if baseline > 0.0 && trials < MAX_TRIALS && (sampled || trials == 0) {
            lock(&state.trial_ns_per_item).clear();
            lock(&state.trial_reference_ns_per_item).clear();
            state
                .trial_left
                .store(2 * TRIAL_CALLS - 1, Ordering::Relaxed);
            state.time_every_call.store(true, Ordering::Relaxed);
            return Some(TrialCall::Reference);
        }
        None
    }

    /// The profile `state`'s class decides from: its own if it profiles alone (see
    /// [`Self::observe`]), else the site's.
    fn learned(&self, state: &ClassState) -> Option<Profile> {
        if state.profiles_alone.load(Ordering::Acquire) {
            *lock(&state.own_profile)
        } else {
            self.entry.learned()
        }
    }

    /// Keeps a profile just measured on a call of `state`'s class.
    pub(super) fn learn(&self, state: &ClassState, profile: Profile) {
        if state.profiles_alone.load(Ordering::Acquire) {
            *lock(&state.own_profile) = Some(profile);
            self.entry.profiled.fetch_add(1, Ordering::Relaxed);
        } else {
            self.entry.learn(profile);
        }
    }

    /// Decides for `remaining` items from `profile` and records the decision.
    fn decide(&self, class: usize, profile: &Profile, remaining: usize) -> Plan {
        let pinned = self.constraints();
        let decision =
            if pinned.kind.is_none() && profile.item_ns * remaining as f64 <= policy::MIN_GAIN_NS {
                // Too little work for any parallel plan to pay: no need to measure the
                // machine (which would cost more than this whole call).
                Decision {
                    plan: Plan::Sequential,
                    predicted_ns: profile.item_ns * remaining as f64,
                    sequential_ns: profile.item_ns * remaining as f64,
                }
            } else {
                let threads = pinned.workers.unwrap_or_else(cpu::threads);
                policy::decide(profile, remaining, &machine::current(threads), &pinned)
            };
        self.record(class, profile, remaining, &decision);
        let trial = if decision.plan == Plan::Sequential
            && pinned.kind.is_none()
            && profile.item_ns * remaining as f64 >= TRIAL_MIN_NS
        {
            let threads = cpu::threads();
            policy::trial(profile, remaining, &machine::current(threads), &pinned)
        } else {
            None
        };
        let state = self.entry.classes.get(class);
        state
            .trial_plan
            .store(trial.map_or(0, |t| site::pack(t.plan)), Ordering::Relaxed);
        state.trial_left.store(0, Ordering::Relaxed);
        state.trials.store(0, Ordering::Relaxed);
        decision.plan
    }

    fn record(&self, class: usize, profile: &Profile, remaining: usize, decision: &Decision) {
        let state = self.entry.classes.get(class);
        let previous = site::unpack(state.plan.load(Ordering::Relaxed));
        let per_item = decision.predicted_ns / remaining.max(1) as f64;
        store_f64(&state.predicted_ns_per_item, per_item);
        store_f64(&state.predicted_speedup, decision.speedup());
        state.cpu_bound.store(
            profile.cpu_fraction >= policy::IO_BOUND_CPU_FRACTION,
            Ordering::Relaxed,
        );
        // The first warm call after a decision sets the drift baseline.
        state.time_every_call.store(true, Ordering::Relaxed);
        state
            .plan
            .store(site::pack(decision.plan), Ordering::Release);
        if previous != Some(decision.plan) {
            crate::trace::decision(self.entry, remaining, profile, decision);
        }
        if config().log && previous != Some(decision.plan) {
            eprintln!(
                "{}",
                report::decision_line(self.entry, remaining, profile, decision)
            );
        }
    }

    /// Learns from timing a warm call of `items` items run with `plan`.
    fn observe(&self, class: usize, plan: Plan, timing: Timing, items: usize, started: Instant) {
        if items == 0 {
            return;
        }
        let state = self.entry.classes.get(class);
        let observed = started.elapsed().as_nanos() as f64 / items as f64;
        if plan == Plan::Sequential {
            site::record_sequential(state, observed);
        }
        let trial_plan = site::unpack(state.trial_plan.load(Ordering::Relaxed));
        if timing == Timing::TrialReference {
            lock(&state.trial_reference_ns_per_item).push(observed);
            // The run's last call is a reference call.
            if let Some(trial) = trial_plan
                && state.trial_left.load(Ordering::Relaxed) == 0
            {
                self.judge_trial(state, trial, items);
            }
        }
        let site_plan = site::unpack(state.plan.load(Ordering::Relaxed));
        if site_plan != Some(plan) {
            // A trial call (or a call that raced with a new decision: then no trial runs
            // and there is nothing to judge).
            if trial_plan == Some(plan) {
                lock(&state.trial_ns_per_item).push(observed);
            }
            return;
        }
        bump(&state.timed_calls, 1);
        let baseline = load_f64(&state.observed_ns_per_item);
        // Below a floor, a call's time says more about clocks, caches and (for parallel
        // plans) whether the pool was awake than about the items: such calls refine the
        // baseline but never count as drift.
        let floor_ns = match plan {
            Plan::Sequential => DRIFT_FLOOR_SEQUENTIAL_NS,
            _ => DRIFT_FLOOR_PARALLEL_NS,
        };
        let too_short = (observed.max(baseline) * items as f64) < floor_ns;
        let drifting = if baseline <= 0.0 {
            store_f64(&state.observed_ns_per_item, observed);
            false
        } else if too_short || (1.0 / DRIFT_FACTOR..=DRIFT_FACTOR).contains(&(observed / baseline))
        {
            state.drift_strikes.store(0, Ordering::Relaxed);
            store_f64(&state.observed_ns_per_item, 0.8 * baseline + 0.2 * observed);
            false
        } else {
            let strikes = state.drift_strikes.fetch_add(1, Ordering::Relaxed) + 1;
            let retunes = self.entry.retunes.load(Ordering::Relaxed);
            // Rate limit: each re-tune of a site waits twice as many timed calls.
            let enough_calls = state.timed_calls.load(Ordering::Relaxed) >= 4 << retunes.min(16);
            if strikes >= DRIFT_STRIKES && enough_calls {
                self.retune(state);
                return;
            }
            true
        };
        if plan == Plan::Sequential && self.underestimated(state, observed, items) {
            if config().log {
                let predicted = load_f64(&state.predicted_ns_per_item);
                let line = report::profile_alone_line(self.entry, items, observed, predicted);
                eprintln!("{line}");
            }
            self.profile_alone(state);
            return;
        }
        if self.mispredicted(state, plan, items) {
            self.retune(state);
            return;
        }
        if plan != Plan::Sequential {
            self.doubt_parallel_plan(state);
        }
        // Time every call when two clock reads are noise next to the call, or while a
        // drift is being confirmed; otherwise one call in TINY_CALL_SAMPLING.
        let predicted_call_ns = load_f64(&state.predicted_ns_per_item) * items as f64;
        let first_trial_due = state.trial_plan.load(Ordering::Relaxed) != 0
            && state.trials.load(Ordering::Relaxed) == 0;
        let time_all = plan != Plan::Sequential
            || predicted_call_ns > TINY_CALL_NS
            || drifting
            || state.underestimates.load(Ordering::Relaxed) > 0
            || first_trial_due
            || state.trial_left.load(Ordering::Relaxed) > 0;
        state.time_every_call.store(time_all, Ordering::Relaxed);
    }

    /// True when this sequential class's items have cost [`MISPREDICTION_FACTOR`] times
    /// what its decision predicted on [`DRIFT_STRIKES`] timed calls in a row, each long
    /// enough to time well. The profile it decided from does not fit it: taken at
    /// another size class of the same loop (whose items may cost far less), or on
    /// first items cheaper than the rest. Drift, which compares calls with each other,
    /// would never notice, as every call of the class is as slow as the first.
    fn underestimated(&self, state: &ClassState, observed: f64, items: usize) -> bool {
        let predicted = load_f64(&state.predicted_ns_per_item);
        let dear = predicted > 0.0
            && observed >= MISPREDICTION_FACTOR * predicted
            && observed * items as f64 >= DRIFT_FLOOR_SEQUENTIAL_NS;
        if !dear {
            state.underestimates.store(0, Ordering::Relaxed);
            return false;
        }
        state.underestimates.fetch_add(1, Ordering::Relaxed) + 1 >= DRIFT_STRIKES
    }

    /// Makes `state`'s class profile for itself from its next call on, and keep its own
    /// profile apart from the site's (see [`Self::underestimated`]); other classes keep
    /// theirs.
    fn profile_alone(&self, state: &ClassState) {
        // `retune` then clears the class's own profile and plan, not the site's.
        state.profiles_alone.store(true, Ordering::Release);
        self.retune(state);
    }

    /// True when warm calls run far faster than the profile allowed for: even `plan`'s
    /// full parallelism on the profiled cost per item could not explain them. The profile
    /// was wrong (taken on cold caches or while the caller was preempted), and drift,
    /// which compares calls with each other, would never notice: the site re-profiles.
    fn mispredicted(&self, state: &ClassState, plan: Plan, items: usize) -> bool {
        let parallelism = match plan {
            Plan::Sequential => 1.0,
            Plan::Cpu { threads, .. } => threads as f64,
            Plan::Io { workers, .. } => workers as f64,
        };
        let observed = load_f64(&state.observed_ns_per_item);
        let sequential = sequential_estimate(state);
        let retunes = self.entry.retunes.load(Ordering::Relaxed);
        // Calls too short to time well (clock reads, caches) never count.
        observed * items as f64 >= DRIFT_FLOOR_SEQUENTIAL_NS
            && observed * MISPREDICTION_FACTOR * parallelism < sequential
            && state.timed_calls.load(Ordering::Relaxed) >= 4 << retunes.min(16)
    }

    /// Schedules a trial of the sequential plan when the site's parallel plan, timed on
    /// enough calls, is no faster than the sequential time the decision assumed: the
    /// prediction was wrong (e.g. the threads cost more than the model charged), and
    /// only a measurement of both can tell which to keep.
    fn doubt_parallel_plan(&self, state: &ClassState) {
        if state.timed_calls.load(Ordering::Relaxed) < DOUBT_AFTER_CALLS
            || state.trial_plan.load(Ordering::Relaxed) != 0
            || state.trials.load(Ordering::Relaxed) >= MAX_TRIALS
        {
            return;
        }
        let observed = load_f64(&state.observed_ns_per_item);
        let sequential = sequential_estimate(state);
        if observed > 0.0 && sequential > 0.0 && observed >= sequential {
            state
                .trial_plan
                .store(site::pack(Plan::Sequential), Ordering::Relaxed);
            state.trial_left.store(0, Ordering::Relaxed);
        }
    }

    /// After a trial run's last call, keeps the tried plan `plan` if it beat the site's
    /// plan on the run's reference calls (see [`policy::trial_verdict`]).
    fn judge_trial(&self, state: &ClassState, plan: Plan, items: usize) {
        let calls = std::mem::take(&mut *lock(&state.trial_ns_per_item));
        // Never empty: the reference call that ends the run pushed its time first.
        let reference = std::mem::take(&mut *lock(&state.trial_reference_ns_per_item));
        state.time_every_call.store(false, Ordering::Relaxed);
        if calls.is_empty() {
            // Racing calls took the tried plan's slots: nothing to judge. The run counts,
            // so that a site called from many threads at once stops trying.
            if state.trials.fetch_add(1, Ordering::Relaxed) + 1 >= MAX_TRIALS {
                state.trial_plan.store(0, Ordering::Relaxed);
            }
            return;
        }
        let site_plan = site::unpack(state.plan.load(Ordering::Relaxed));
        let verdict = policy::trial_verdict(&calls, &reference);
        let median = verdict.ns_per_item;
        let baseline = verdict.reference_ns_per_item;
        let sequential = match site_plan {
            Some(Plan::Sequential) => baseline,
            // A trial of the sequential plan: its own time is the sequential time.
            _ => median,
        };
        if verdict.keep {
            state.trial_plan.store(0, Ordering::Relaxed);
            store_f64(&state.observed_ns_per_item, median);
            store_f64(&state.predicted_ns_per_item, median);
            store_f64(&state.predicted_speedup, sequential / median);
            state.drift_strikes.store(0, Ordering::Relaxed);
            state.plan.store(site::pack(plan), Ordering::Release);
            state.time_every_call.store(true, Ordering::Relaxed);
            crate::trace::trial_kept(self.entry, items, plan, sequential / median);
            state.trials.store(MAX_TRIALS, Ordering::Relaxed);
        } else if state.trials.fetch_add(1, Ordering::Relaxed) + 1 >= MAX_TRIALS {
            state.trial_plan.store(0, Ordering::Relaxed);
        }
        if config().log {
            eprintln!(
                "{}",
                report::trial_line(self.entry, items, plan, site_plan, baseline, median)
            );
        }
    }

    /// Forgets what the site learned (or, for a class that profiles alone, what the
    /// class learned): its next call profiles again.
    fn retune(&self, state: &ClassState) {
        self.entry.retunes.fetch_add(1, Ordering::Relaxed);
        state.drift_strikes.store(0, Ordering::Relaxed);
        state.underestimates.store(0, Ordering::Relaxed);
        state.timed_calls.store(0, Ordering::Relaxed);
        store_f64(&state.observed_ns_per_item, 0.0);
        store_f64(&state.sequential_ns_per_item, 0.0);
        if state.profiles_alone.load(Ordering::Acquire) {
            *lock(&state.own_profile) = None;
            state.plan.store(0, Ordering::Release);
        } else {
            self.entry.forget();
        }
    }
}

impl<T, A, E, Init, Fold, Comb> Drive<T> for Call<'_, '_, Init, Fold, Comb, E>
where
    T: Send,
    A: Send,
    E: Send,
    Init: Fn(TaskStart) -> A + Sync,
    Fold: FoldItems<A, T, Error = E> + Sync,
    Comb: Fn(A, A) -> A + Sync,
{
    type Output = Option<A>;

    fn indexed<P: Producer<Item = T>>(self, producer: Span<P>) -> Option<A> {
        let len = producer.len();
        let class = site::size_class(Some(len));
        if len == 0 {
            // Nothing to run, measure or decide.
            bump(&self.entry.classes.get(class).calls, 1);
            return Some((self.work.init)(TaskStart {
                first_item: Some(0),
                len: 0,
            }));
        }
        let state = self.entry.classes.get(class);
        bump(&state.items, len as u64);
        match self.resolve(state) {
            Resolved::Ready {
                plan,
                timing: Timing::Untimed,
            } => {
                let _slot = self.cpu_slot(class, plan);
                self.run_indexed(plan, producer, 0)
            }
            Resolved::Ready { plan, timing } => {
                let _slot = self.cpu_slot(class, plan);
                let started = Instant::now();
                let result = self.run_indexed(plan, producer, 0);
                if self.stopped_early() {
                    unobserved(state);
                } else {
                    self.observe(class, plan, timing, len, started);
                }
                result
            }
            Resolved::Profile => {
                let learned = self.learned(state);
                let producer = if learned.is_none()
                    && matches!(self.spec.mode, Mode::Auto | Mode::Io)
                    && standby::allowed(len)
                {
                    match self.run_cold_with_standby(class, producer) {
                        Ok(result) => return result,
                        Err(producer) => producer,
                    }
                } else {
                    producer
                };
                let (prefix, rest, profile) = match learned {
                    Some(profile) => (None, producer, profile),
                    None => {
                        let (prefix, rest, profile) = {
                            let _slot = self.profiling_slot();
                            self.profile_indexed(state, producer)?
                        };
                        (Some(prefix), rest, profile)
                    }
                };
                let offset = (len - rest.len()) as u64;
                self.work.progressed(offset as usize);
                // Decided for the whole length: the plan is for the calls to come, and
                // profiling may have run all of this one (every call under the budget).
                let plan = self.decide(class, &profile, len);
                let rest = if rest.len() == 0 && prefix.is_some() {
                    None
                } else {
                    let _slot = self.cpu_slot(class, plan);
                    self.run_indexed(plan, rest, offset)
                };
                match (prefix, rest) {
                    (Some(prefix), None) if !self.work.outcome.failed() => Some(prefix),
                    (None, rest) => rest,
                    (prefix, rest) => self.work.merge(prefix, rest, offset),
                }
            }
        }
    }

    fn sequential<It: Iterator<Item = T> + Send>(self, iter: It) -> Option<A> {
        let exact = match iter.size_hint() {
            (lo, Some(hi)) if lo == hi => Some(lo),
            _ => None,
        };
        let class = site::size_class(exact);
        let state = self.entry.classes.get(class);
        let result = match self.resolve(state) {
            Resolved::Ready { plan, timing } => {
                let _slot = self.cpu_slot(class, plan);
                let started = (timing != Timing::Untimed).then(Instant::now);
                let mut counted = Counted::new(iter);
                let result = self.run_iter(plan, &mut counted, 0);
                if self.stopped_early() {
                    unobserved(state);
                } else if let Some(started) = started {
                    self.observe(class, plan, timing, counted.taken(), started);
                }
                bump(&state.items, counted.taken() as u64);
                return result;
            }
            Resolved::Profile => {
                let mut counted = Counted::new(iter);
                let (prefix, profile, exhausted) = match self.learned(state) {
                    Some(profile) => (None, profile, false),
                    None => {
                        let (prefix, profile, exhausted) = {
                            let _slot = self.profiling_slot();
                            self.profile_iter(state, &mut counted)?
                        };
                        match profile {
                            Some(profile) => (Some(prefix), profile, exhausted),
                            // An empty input: nothing learned, nothing to decide.
                            None => return Some(prefix),
                        }
                    }
                };
                let profiled = counted.taken();
                self.work.progressed(profiled);
                // Decided for the whole length, as for indexed inputs.
                let remaining = match (exact, exhausted) {
                    (Some(n), _) => n,
                    (None, true) => profiled,
                    (None, false) => counted
                        .inner
                        .size_hint()
                        .0
                        .max(profiled * UNKNOWN_LEN_FACTOR)
                        .max(1),
                };
                let plan = self.decide(class, &profile, remaining);
                let rest = if exhausted {
                    None
                } else {
                    let _slot = self.cpu_slot(class, plan);
                    self.run_iter(plan, &mut counted, 1)
                };
                bump(&state.items, counted.taken() as u64);
                (prefix, rest)
            }
        };
        match result {
            (Some(prefix), None) if !self.work.outcome.failed() => Some(prefix),
            (None, rest) => rest,
            // The rest's batches are numbered from 1, after the profiled batch 0.
            (prefix, rest) => self.work.merge(prefix, rest, 1),
        }
    }
}

impl<A, E, Init, Fold, Comb> Call<'_, '_, Init, Fold, Comb, E>
where
    A: Send,
    E: Send,
    Init: Fn(TaskStart) -> A + Sync,
    Comb: Fn(A, A) -> A + Sync,
{
    fn run_indexed<P: Producer>(&self, plan: Plan, producer: Span<P>, offset: u64) -> Option<A>
    where
        Fold: FoldItems<A, P::Item, Error = E> + Sync,
    {
        if self.work.keeps_prefix() && plan != Plan::Sequential {
            let head = self.head_len(offset as usize + producer.len(), producer.len());
            if head > 0 {
                // An early exit's search runs its first items alone on the calling
                // thread: a hit there costs what the plain loop costs, with no helper
                // woken or waited for; a later one loses at most this head's share of
                // the parallel run, which a pool's wake-up costs anyway.
                let (head_items, rest) = producer.split_at(head);
                let head_acc = self
                    .work
                    .task(Position::Item(offset), head_items.into_iter())?;
                let rest = self.run_plan_indexed(plan, rest, offset + head as u64);
                return self.work.merge(Some(head_acc), rest, offset + head as u64);
            }
        }
        self.run_plan_indexed(plan, producer, offset)
    }

    /// Items an early-exit call of `total` items runs on the calling thread before its
    /// parallel plan starts on the other `len - head`: about [`HEAD_START_NS`] of work,
    /// at most `1 / HEAD_START_SHARE` of the rest.
    fn head_len(&self, total: usize, len: usize) -> usize {
        match self.sequential_ns_per_item(total) {
            Some(per_item) => ((HEAD_START_NS / per_item) as usize).min(len / HEAD_START_SHARE),
            None => 0,
        }
    }

    /// The sequential time per item that the decision for inputs of `total` items
    /// assumed, or the site's profile: `None` if nothing was measured.
    fn sequential_ns_per_item(&self, total: usize) -> Option<f64> {
        let state = self.entry.classes.get(site::size_class(Some(total)));
        Some(sequential_estimate(state))
            .filter(|ns| *ns > 0.0)
            .or_else(|| self.learned(state).map(|profile| profile.item_ns))
            .filter(|ns| *ns > 0.0)
    }

    /// Whether this call keeps its prefix and stopped before its end (an early exit, or
    /// an error): its time says nothing about the cost of its items.
    fn stopped_early(&self) -> bool {
        self.work.keeps_prefix() && self.work.outcome.failed()
    }

    fn run_plan_indexed<P: Producer>(&self, plan: Plan, producer: Span<P>, offset: u64) -> Option<A>
    where
        Fold: FoldItems<A, P::Item, Error = E> + Sync,
    {
        let plan = match plan {
            // An early-exit call's tasks stay short: a task that started before an
            // earlier item exited runs to its end (its items run as one tight fold), and
            // the caller waits for it.
            Plan::Cpu { threads, chunk }
                if self.work.keeps_prefix() && self.spec.chunk.is_none() =>
            {
                let total = offset as usize + producer.len();
                let short = self
                    .sequential_ns_per_item(total)
                    .map_or(chunk, |ns| ((STOP_TASK_NS / ns) as usize).max(1));
                Plan::Cpu {
                    threads,
                    chunk: chunk.min(short),
                }
            }
            plan => plan,
        };
        match self.with_min_task(plan) {
            Plan::Sequential => self.work.task(Position::Item(offset), producer.into_iter()),
            Plan::Cpu { threads, chunk } => cpu::run(self.work, producer, offset, threads, chunk),
            Plan::Io { workers, chunk } => runners::run(
                self.work,
                ProducerBatches::new(producer, offset, chunk),
                Runners::Io(workers),
            ),
        }
    }

    /// `plan` with tasks of at least `min_task` items (see `CallSpec::min_task`), unless
    /// the loop pins its chunk.
    fn with_min_task(&self, plan: Plan) -> Plan {
        let least = self.spec.min_task;
        if least <= 1 || self.spec.chunk.is_some() {
            return plan;
        }
        match plan {
            Plan::Cpu { threads, chunk } => Plan::Cpu {
                threads,
                chunk: chunk.max(least),
            },
            Plan::Io { workers, chunk } => Plan::Io {
                workers,
                chunk: chunk.max(least),
            },
            Plan::Sequential => Plan::Sequential,
        }
    }

    fn run_iter<It>(&self, plan: Plan, iter: &mut It, first_position: u64) -> Option<A>
    where
        It: Iterator + Send,
        It::Item: Send,
        Fold: FoldItems<A, It::Item, Error = E> + Sync,
    {
        match self.with_min_task(plan) {
            Plan::Sequential => self.work.task(Position::Batch(first_position), iter),
            Plan::Cpu { threads, chunk } => runners::run(
                self.work,
                IterBatches::new(iter, first_position, chunk),
                Runners::Cpu(threads),
            ),
            Plan::Io { workers, chunk } => runners::run(
                self.work,
                IterBatches::new(iter, first_position, chunk),
                Runners::Io(workers),
            ),
        }
    }

    /// Learns a profile cut short by an early exit if it saw enough items: the items
    /// before it are the loop's own, and a search that stops early on every call would
    /// otherwise profile every call. A profile cut short by an error of a loop without
    /// early exits, or after too few items, is not learned: the next call profiles
    /// again.
    fn learn_cut_short(&self, state: &ClassState, profiler: Profiler) {
        if self.work.keeps_prefix()
            && profiler.enough_when_cut_short()
            && let Some(profile) = profiler.finish()
        {
            self.learn(state, profile);
        }
    }

    /// Profiles the front of an indexed input: returns the prefix's accumulator, the
    /// rest of the input and the profile. `None` if an item failed (the error is in
    /// the outcome; nothing else ran).
    fn profile_indexed<P: Producer>(
        &self,
        state: &ClassState,
        producer: Span<P>,
    ) -> Option<(A, Span<P>, Profile)>
    where
        Fold: FoldItems<A, P::Item, Error = E> + Sync,
    {
        let mut profiler = Profiler::start();
        let mut acc = (self.work.init)(TaskStart {
            first_item: Some(0),
            len: 0,
        });
        let mut rest = producer;
        while !profiler.done(Some(rest.len())) {
            let take = profiler.next_batch_len().min(rest.len());
            let (batch, tail) = rest.split_at(take);
            rest = tail;
            let folded = profiler.time(|| {
                let folded = self.work.fold.fold_items(acc, batch.into_iter());
                (take, folded)
            });
            acc = match folded {
                Ok(acc) => acc,
                Err(error) => {
                    self.learn_cut_short(state, profiler);
                    self.work.outcome.record_error(0, error);
                    return None;
                }
            };
        }
        // At least one item ran: empty inputs return before profiling.
        let profile = profiler.finish().unwrap_or(Profile {
            item_ns: 0.0,
            cpu_fraction: 1.0,
            spread: 0.0,
        });
        self.learn(state, profile);
        Some((acc, rest, profile))
    }

    /// Profiles the front of an iterator; also says whether it ran out. No profile if
    /// the iterator was empty.
    fn profile_iter<It>(
        &self,
        state: &ClassState,
        iter: &mut Counted<It>,
    ) -> Option<(A, Option<Profile>, bool)>
    where
        It: Iterator,
        Fold: FoldItems<A, It::Item, Error = E> + Sync,
    {
        let mut profiler = Profiler::start();
        let mut acc = (self.work.init)(TaskStart {
            first_item: None,
            len: 0,
        });
        let mut exhausted = false;
        while !exhausted && !profiler.done(None) {
            let want = profiler.next_batch_len();
            let before = iter.taken();
            let folded = profiler.time(|| {
                let folded = self.work.fold.fold_items(acc, iter.by_ref().take(want));
                (iter.taken() - before, folded)
            });
            acc = match folded {
                Ok(acc) => acc,
                Err(error) => {
                    self.learn_cut_short(state, profiler);
                    self.work.outcome.record_error(0, error);
                    return None;
                }
            };
            exhausted = iter.taken() - before < want;
        }
        let profile = profiler.finish();
        if let Some(profile) = profile {
            self.learn(state, profile);
        }
        Some((acc, profile, exhausted))
    }
}

/// An iterator that counts the items taken from it.
struct Counted<I> {
    inner: I,
    taken: usize,
}

impl<I> Counted<I> {
    fn new(inner: I) -> Self {
        Counted { inner, taken: 0 }
    }
    fn taken(&self) -> usize {
        self.taken
    }
}

impl<I: Iterator> Iterator for Counted<I> {
    type Item = I::Item;
    #[inline]
    fn next(&mut self) -> Option<I::Item> {
        let item = self.inner.next()?;
        self.taken += 1;
        Some(item)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// A timed call that stopped early (an exit or an error of an early-exit loop) says
/// nothing about its items' cost, so it is not observed; outside a trial run it also
/// stops timing every call while the class waits for a baseline, so a search that
/// always stops early runs untimed (and as the plain loop where it is sequential), and
/// only sampled calls look for one.
fn unobserved(state: &ClassState) {
    if state.trial_left.load(Ordering::Relaxed) == 0 {
        state.time_every_call.store(false, Ordering::Relaxed);
    }
}

/// The sequential time per item the class's decision assumed (its predicted time per
/// item times its predicted speedup).
fn sequential_estimate(state: &ClassState) -> f64 {
    load_f64(&state.predicted_ns_per_item) * load_f64(&state.predicted_speedup)
}

/// Adds to a report counter. A load and a store rather than a `fetch_add`: this runs on
/// every call, where a locked read-modify-write would cost more than a tiny loop's
/// budget; racing calls may lose an increment, which a report can afford.
#[inline]
fn bump(counter: &std::sync::atomic::AtomicU64, by: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Relaxed,
    );
}

/// Locks `mutex`, recovering from poisoning: a panicking loop body must not make the
/// site's bookkeeping unusable (the panic itself reaches the caller).
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Clamps a user's worker count to what is sensible, warning once: I/O workers to
/// [`IO_WORKERS_CEILING`] threads, CPU threads to [`cpu::threads_ceiling`].
fn clamp_workers(workers: usize, mode: Mode) -> usize {
    static WARNED: AtomicBool = AtomicBool::new(false);
    let ceiling = match mode {
        Mode::Cpu => cpu::threads_ceiling(),
        _ => IO_WORKERS_CEILING,
    };
    if workers > ceiling && !WARNED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "autopar: warning: workers = {workers} is more threads than is sensible; using {ceiling}"
        );
    }
    workers.clamp(1, ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trial_run_brackets_the_tried_plan_with_reference_calls() {
        let run: String = (0..2 * TRIAL_CALLS)
            .map(|n| if runs_tried_plan(n) { 'T' } else { 'R' })
            .collect();
        assert_eq!(run, "RRRRTTTTTTTTRRRR");
    }
}
