//! Cold calls with a pool thread standing by.
//!
//! Profiling runs a loop's first items on the calling thread, so a loop whose first item
//! takes a millisecond would spend that millisecond alone before anything is decided: on
//! a cold call of ten such items, half the time. Waking helpers up front would cost every
//! tiny loop a thread wake-up (40–120 µs), so instead one idle I/O-pool thread stands by
//! (a queued job; the caller pays one channel send and one wake-up call, and the woken
//! thread does not preempt it: see `exec::idle_priority`). If the caller is still on its first
//! item [`STANDBY_AFTER`] after the call started, items are slow, and the standby thread
//! starts helpers on the next items straight away. How many depends on whether the
//! caller's thread is blocked (the OS's view of it; else its CPU clock): a caller waiting
//! for I/O gets one helper per remaining item up to [`MAX_BLOCKING_HELPERS`], one that
//! computes gets one per other core; one that barely ran (it was preempted, so its item
//! may be fast) is looked at again a few times, then left alone; one that has not started
//! its first item yet is waited for. Helpers only use threads
//! that are free now, so a guess never grows the pool. With no idle pool thread there is
//! no standby (profiling as usual).
//!
//! The caller profiles its usual batches meanwhile (the batches helpers run join its
//! profile) and decides the plan as usual. If no helper started, it runs the rest as a
//! call without a standby would, but for a CPU plan while enough pool threads are idle:
//! then the caller and those threads pull the rest from the shared queue, as below (a
//! cold call is a single call, and rayon's pool, which warm calls use, starts its
//! second thread late on some machines; see `run_cpu_plan_with_helpers`).
//!
//! If helpers did start, everybody pulls batches from one shared queue: the decision
//! sets the batch size, how many helpers may keep pulling (an I/O plan recruits more),
//! and the caller drains whatever is left, so no item is ever stranded. Every batch is a task with its own
//! accumulator, combined in input order at the end.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rayon::iter::plumbing::Producer;

use super::{Call, lock};
use crate::clock::{self, ThreadClock};
use crate::exec::io_pool::{self, IoPool};
use crate::exec::runners::ProducerBatches;
use crate::exec::{FoldItems, Position, cpu};
use crate::input::Span;
use crate::placement::Crew;
use crate::policy::{self, Plan, PlanKind};
use crate::profile::Profiler;

/// A call still profiling this long after it started has slow first items.
pub(crate) const STANDBY_AFTER: Duration = Duration::from_micros(20);
/// A running (not blocked) caller counts as computing a slow first item once it has
/// been on it this long, with a CPU most of the time (else it was preempted).
///
/// Twice [`STANDBY_AFTER`]: an item that is about to wait may first compute for tens of
/// µs (on a 2-vCPU VM, entering a 100 µs sleep took some callers 20-25 µs of CPU, as
/// arming a timer traps to the hypervisor), and read as computing it got one helper
/// instead of one per item. Judged unclear, it is looked at again [`STANDBY_AFTER`]
/// later (up to [`MAX_CHECKS`] times), by when such an item has blocked.
const MIN_IN_FIRST_ITEM_NS: f64 = 2.0 * STANDBY_AFTER.as_nanos() as f64;
/// Times the standby looks again at a caller it could not judge, [`STANDBY_AFTER`] apart.
const MAX_CHECKS: u32 = 4;
/// Times the standby looks again at a caller that has not started its first item (2 ms
/// in all): a bound only, so that a standby never waits on a caller stuck elsewhere.
const MAX_WAITS_FOR_START: u32 = 100;
/// Shared-queue batches shorter than this grow (×2 per batch) for whoever pulls them.
const MIN_TASK: Duration = Duration::from_micros(10);
/// The standby starts helpers only while the caller is in one of its first this many
/// profiling batches (of 1 item): only then would profiling otherwise run alone for
/// several times [`STANDBY_AFTER`]; faster items finish profiling soon on their own.
const SLOW_BATCHES: usize = 1;
/// Most helpers a standby starts for items that wait rather than compute; the decision
/// recruits more if the plan wants them.
const MAX_BLOCKING_HELPERS: usize = 32;

/// The caller is profiling; the standby may still start helpers.
const PROFILING: u8 = 0;
/// The standby started helpers: they pull from the shared queue.
const HELPING: u8 = 1;
/// The caller decided first: no helper will ever touch the call.
const DECIDED: u8 = 2;

/// What the caller and the helpers share.
struct Shared<P, A> {
    queue: ProducerBatches<P>,
    /// Each task's accumulator, tagged with its first item.
    results: Mutex<Vec<(Position, A)>>,
    state: AtomicU8,
    /// Profiling batches the caller has finished.
    batches_done: AtomicUsize,
    /// When the caller started its first batch, in ns since `started`, plus one (0: not
    /// yet).
    first_batch_at_ns: AtomicU64,
    /// (items, ns) of the batches helpers ran while the caller profiled, and whether it
    /// has finished profiling (later batches are not recorded).
    helper_batches: Mutex<Vec<(usize, u64)>>,
    profiled: AtomicBool,
    /// Helpers pulling now, and how many may (the caller is not counted).
    helpers: AtomicUsize,
    helpers_allowed: AtomicUsize,
    /// The caller's kernel thread id, CPU clock and that clock's reading (plus one; 0:
    /// not yet) when its first batch started.
    caller_tid: Option<i32>,
    /// The caller (and the CPU it ran on when the call started) and its helpers.
    crew: Crew,
    caller_clock: Option<ThreadClock>,
    caller_cpu_start: AtomicU64,
    started: Instant,
}

/// How the caller's first item is going when the standby wakes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FirstItem {
    /// The caller is blocked: the item waits (I/O).
    Waiting,
    /// The caller has been computing it for a while.
    Computing,
    /// The caller barely ran (it was preempted): the item may well be fast.
    Unclear,
    /// The caller has not started its first item yet (preempted while setting up).
    NotStarted,
}

impl<P, A> Shared<P, A> {
    /// How the caller's first item is going: from the thread's state where the OS shows
    /// it, and from how long and how much on a CPU the caller has been at it.
    fn first_item(&self) -> FirstItem {
        let first_batch_at = self.first_batch_at_ns.load(Ordering::Acquire);
        if first_batch_at == 0 {
            return FirstItem::NotStarted;
        }
        let wall_ns = self.started.elapsed().as_nanos() as u64;
        let in_first_item_ns = wall_ns.saturating_sub(first_batch_at - 1);
        let cpu_start = self.caller_cpu_start.load(Ordering::Relaxed).checked_sub(1);
        let cpu_fraction = match (self.caller_clock, cpu_start) {
            (Some(clock), Some(start)) => clock
                .read_ns()
                .map(|now| now.saturating_sub(start) as f64 / in_first_item_ns.max(1) as f64),
            _ => None,
        };
        match self.caller_tid.and_then(clock::thread_is_blocked) {
            Some(true) => FirstItem::Waiting,
            // Running or runnable: computing if it mostly had a CPU, else preempted.
            Some(false)
                if in_first_item_ns as f64 >= MIN_IN_FIRST_ITEM_NS
                    && cpu_fraction.is_none_or(|f| f >= 0.5) =>
            {
                FirstItem::Computing
            }
            Some(false) => FirstItem::Unclear,
            // No thread state: judge by the CPU fraction (preemption looks like waiting).
            None => match cpu_fraction {
                Some(f) if f < policy::IO_BOUND_CPU_FRACTION => FirstItem::Waiting,
                _ => FirstItem::Computing,
            },
        }
    }
}

/// Whether a cold call of `len` items on this thread may use a standby.
pub(super) fn allowed(len: usize) -> bool {
    // Inside a pool the standby's helpers would nest parallelism (the nesting rules
    // decide for inner loops instead); one item has nothing to share.
    // A thread running an I/O plan's items (its caller too) computes under a CPU slot
    // (see `cpu_slots`); a standby helper would compute beside it without one.
    len >= 2
        && rayon::current_thread_index().is_none()
        && !io_pool::on_worker_thread()
        && !crate::exec::cpu_slots::needed_here()
}

impl<A, E, Init, Fold, Comb> Call<'_, '_, Init, Fold, Comb, E>
where
    A: Send,
    E: Send,
    Init: Fn(crate::exec::TaskStart) -> A + Sync,
    Comb: Fn(A, A) -> A + Sync,
{
    /// Profiles, decides and runs a cold call of an indexed input with a standby (see
    /// the module docs). Gives the input back untouched if no pool thread is idle.
    pub(super) fn run_cold_with_standby<P: Producer>(
        &self,
        class: usize,
        producer: Span<P>,
    ) -> Result<Option<A>, Span<P>>
    where
        Fold: FoldItems<A, P::Item, Error = E> + Sync,
    {
        let len = producer.len();
        let started = Instant::now();
        let shared = Shared {
            queue: ProducerBatches::new(producer, 0, 1),
            results: Mutex::new(Vec::new()),
            state: AtomicU8::new(PROFILING),
            batches_done: AtomicUsize::new(0),
            first_batch_at_ns: AtomicU64::new(0),
            helper_batches: Mutex::new(Vec::new()),
            profiled: AtomicBool::new(false),
            helpers: AtomicUsize::new(0),
            helpers_allowed: AtomicUsize::new(0),
            caller_tid: clock::current_tid(),
            crew: Crew::here(),
            caller_clock: ThreadClock::current(),
            caller_cpu_start: AtomicU64::new(0),
            started,
        };
        let standby = || self.stand_by(&shared);
        let ran = IoPool::global().standby(started + STANDBY_AFTER, &standby, || {
            self.profile_decide_and_run(class, len, &shared);
        });
        if ran.is_none() {
            let (_, producer) = shared
                .queue
                .take_rest()
                .expect("a call that did not start has all its items");
            return Err(producer);
        }
        let results = shared
            .results
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        if self.work.outcome.failed() {
            return Ok(self.work.prefix_before_failure(results));
        }
        Ok(self.work.combine_in_order(results))
    }

    /// The caller's part: profile the first batches, decide, then run the rest alone (no
    /// helper started) or with the helpers.
    fn profile_decide_and_run<P: Producer>(&self, class: usize, len: usize, shared: &Shared<P, A>)
    where
        Fold: FoldItems<A, P::Item, Error = E> + Sync,
    {
        // Profiling goes on as usual while helpers run (they run other items meanwhile):
        // stopping at the first item would judge a loop by one item, e.g. a loop that
        // alternates computing and waiting by an item that only computes.
        // Started here, after arming the standby: the send (which may cost the caller
        // tens of µs when the woken thread takes its CPU) is not the items' CPU time.
        let mut profiler = Profiler::start();
        if let Some(cpu) = profiler.cpu_start() {
            shared.caller_cpu_start.store(cpu + 1, Ordering::Relaxed);
        }
        // Release: a standby that sees the first batch started sees the CPU reading too.
        shared.first_batch_at_ns.store(
            shared.started.elapsed().as_nanos() as u64 + 1,
            Ordering::Release,
        );
        while !profiler.done(Some(shared.queue.remaining())) {
            let Some((offset, batch)) = shared.queue.take(profiler.next_batch_len()) else {
                break;
            };
            let items = batch.len();
            let acc = profiler.time(|| {
                (
                    items,
                    self.work.task(Position::Item(offset), batch.into_iter()),
                )
            });
            match acc {
                Some(acc) => push(shared, Position::Item(offset), acc),
                None => break,
            }
            shared.batches_done.fetch_add(1, Ordering::Relaxed);
        }
        // Batches the helpers timed meanwhile are part of the profile: with fast items
        // they may have run most of the input, and the caller's first item alone (cold
        // caches, perhaps preempted) would misjudge them.
        shared.profiled.store(true, Ordering::Relaxed);
        for (items, ns) in std::mem::take(&mut *lock(&shared.helper_batches)) {
            profiler.add_batch(items, ns);
        }
        // A profile cut short by an error is not learned: the next call profiles again.
        // One cut short by an early exit is, if it saw enough items: the items before
        // the exit are the loop's own, and a search that stops early on every call
        // would profile every call.
        let learns = !self.work.outcome.failed()
            || (self.work.keeps_prefix() && profiler.enough_when_cut_short());
        let plan = profiler.finish().filter(|_| learns).map(|profile| {
            self.learn(self.entry.classes.get(class), profile);
            self.decide(class, &profile, len)
        });
        let helping = shared
            .state
            .compare_exchange(PROFILING, DECIDED, Ordering::AcqRel, Ordering::Acquire)
            .is_err();
        let Some(plan) = plan.filter(|_| !self.work.outcome.failed()) else {
            // Failed (helpers stop on their own), or the helpers took every item.
            return;
        };
        if !helping {
            if let Plan::Cpu { threads, chunk } = plan
                && threads > 1
                && shared.queue.remaining() > chunk
                && IoPool::global().free_threads() >= threads - 1
            {
                return self.run_cpu_plan_with_helpers(shared, threads, chunk);
            }
            if let Some((offset, rest)) = shared.queue.take_rest()
                && let Some(acc) = self.run_indexed(plan, rest, offset)
            {
                push(shared, Position::Item(offset), acc);
            }
            return;
        }
        let (chunk, helpers) = match self.with_min_task(plan) {
            Plan::Sequential => (usize::MAX, 0),
            Plan::Cpu { threads, chunk } => (chunk, threads.saturating_sub(1)),
            Plan::Io { workers, chunk } => (chunk, workers.saturating_sub(1)),
        };
        shared.queue.set_chunk(chunk);
        shared.helpers_allowed.store(helpers, Ordering::Relaxed);
        // No more pullers than batches left (the caller is one of them).
        let batches = shared.queue.remaining().div_ceil(chunk.max(1));
        let more = helpers
            .min(batches.saturating_sub(1))
            .saturating_sub(shared.helpers.load(Ordering::Relaxed));
        if matches!(plan, Plan::Io { .. }) && more > 0 {
            IoPool::global().run(more, &|| self.pull(shared, Puller::Helper));
        }
        // Helpers may leave early (fewer allowed); the caller drains what is left.
        self.pull(shared, Puller::Caller);
    }

    /// Runs the rest of a cold call decided for the CPU pool on the caller and
    /// `threads - 1` I/O-pool threads pulling `chunk`-item batches from the shared queue,
    /// helpers moved off the caller's CPU. Only with that many pool threads free: a
    /// spawn on the caller's path would cost more than it saves.
    ///
    /// Not on rayon's pool, as warm calls are: a cold call is one call, not a loop called
    /// back to back that finds rayon's threads awake. Handed to rayon, the caller blocks
    /// and waits for one pool thread to wake, which wakes the next; where the kernel
    /// queues a woken thread behind its busy waker (see `placement`), that next thread
    /// started 1-4 ms late in most single calls, and a call of a few ms ran at
    /// sequential speed. Here the caller keeps computing from the first moment, and a
    /// helper woken next to it moves to another CPU as soon as it runs.
    fn run_cpu_plan_with_helpers<P: Producer>(
        &self,
        shared: &Shared<P, A>,
        threads: usize,
        chunk: usize,
    ) where
        Fold: FoldItems<A, P::Item, Error = E> + Sync,
    {
        shared.queue.set_chunk(chunk);
        shared.helpers_allowed.store(threads - 1, Ordering::Relaxed);
        let pull = || {
            if shared.crew.is_caller() {
                self.pull(shared, Puller::Caller);
            } else {
                shared.crew.joined_to_compute();
                self.pull(shared, Puller::Helper);
            }
        };
        // Free threads only (checked by the caller, but some may have been taken since).
        IoPool::global().run_on_free_threads(threads - 1, &pull);
    }

    /// The standby's part, once the call has been profiling for [`STANDBY_AFTER`]: start
    /// helpers, unless the caller decided meanwhile.
    fn stand_by<P: Producer>(&self, shared: &Shared<P, A>)
    where
        Fold: FoldItems<A, P::Item, Error = E> + Sync,
    {
        let (mut checks, mut waits_for_start) = (0, 0);
        let first = loop {
            if shared.batches_done.load(Ordering::Relaxed) >= SLOW_BATCHES {
                // Items are fast enough for profiling to end soon on its own.
                return;
            }
            match shared.first_item() {
                // A caller that barely ran says nothing about its items yet: look again
                // a little later (this thread stays inside the call meanwhile, so a
                // caller that finishes waits at most one such pause).
                FirstItem::Unclear if checks < MAX_CHECKS => {
                    checks += 1;
                    std::thread::sleep(STANDBY_AFTER);
                }
                // Nothing to judge before the caller starts, and it will start: on a
                // loaded machine it may wait for a CPU longer than the checks above last,
                // and giving up then would leave a slow first item alone.
                FirstItem::NotStarted if waits_for_start < MAX_WAITS_FOR_START => {
                    waits_for_start += 1;
                    std::thread::sleep(STANDBY_AFTER);
                }
                FirstItem::Unclear | FirstItem::NotStarted => return,
                first => break first,
            }
        };
        let blocking = match self.constraints().kind {
            Some(PlanKind::Io) => true,
            Some(_) => false,
            None => first == FirstItem::Waiting,
        };
        let remaining = shared.queue.remaining();
        let helpers = if blocking {
            remaining.min(MAX_BLOCKING_HELPERS)
        } else {
            remaining.min(cpu::threads().saturating_sub(1))
        };
        if helpers == 0 {
            return;
        }
        shared.helpers_allowed.store(helpers, Ordering::Relaxed);
        // Release/Acquire: the caller that finds HELPING sees `helpers_allowed`.
        if shared
            .state
            .compare_exchange(PROFILING, HELPING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        // Free threads only: a guess must never grow the pool (the decision may).
        let help = || {
            // A helper that computes next to a computing caller must not share its CPU
            // (see `placement`); one that waits for I/O may.
            if blocking {
                shared.crew.joined_to_wait();
            } else {
                shared.crew.joined_to_compute();
            }
            self.pull(shared, Puller::Helper);
        };
        IoPool::global().run_on_free_threads(helpers - 1, &help);
    }

    /// Runs batches from the shared queue until it is empty, the call failed, or (for a
    /// helper) more helpers are pulling than allowed.
    fn pull<P: Producer>(&self, shared: &Shared<P, A>, who: Puller)
    where
        Fold: FoldItems<A, P::Item, Error = E> + Sync,
    {
        if who == Puller::Helper {
            shared.helpers.fetch_add(1, Ordering::Relaxed);
        }
        // Batches grow while they run shorter than MIN_TASK: before the decision sets the
        // batch size, items may be faster than the standby guessed, and one-item batches
        // of fast items would make everyone queue on the lock.
        let mut scale = 1usize;
        // The caller pulls once helpers were woken (by the standby or the decision).
        let mut nudge = (who == Puller::Caller).then(|| shared.crew.nudge());
        while !self.work.outcome.failed() {
            if let Some(nudge) = &mut nudge {
                nudge.poll();
            }
            if who == Puller::Helper
                && shared.helpers.load(Ordering::Relaxed)
                    > shared.helpers_allowed.load(Ordering::Relaxed)
            {
                break;
            }
            let want = shared.queue.chunk().saturating_mul(scale);
            let Some((offset, batch)) = shared.queue.take(want) else {
                break;
            };
            let items = batch.len();
            let started = Instant::now();
            match self.work.task(Position::Item(offset), batch.into_iter()) {
                Some(acc) => push(shared, Position::Item(offset), acc),
                None => break,
            }
            let took = started.elapsed();
            if who == Puller::Helper && !shared.profiled.load(Ordering::Relaxed) {
                // Still profiling: the caller adds this batch to its profile.
                lock(&shared.helper_batches).push((items, took.as_nanos() as u64));
            }
            if took < MIN_TASK {
                scale = scale.saturating_mul(2);
            }
        }
        if who == Puller::Helper {
            shared.helpers.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Who is pulling: helpers may leave early, the caller never does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Puller {
    Caller,
    Helper,
}

fn push<P, A>(shared: &Shared<P, A>, position: Position, acc: A) {
    lock(&shared.results).push((position, acc));
}
