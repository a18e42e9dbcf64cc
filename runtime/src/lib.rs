//! # autopar: parallel loops that decide for themselves
//!
//! Put `#[parallel]` on a function and its `for` loops run in parallel *when that pays*:
//! the runtime profiles the first iterations (wall time, thread CPU time, spread), then
//! runs the rest sequentially, on rayon's CPU pool with a chosen chunk size, or on an
//! I/O pool with many workers. The decision is cached per call site and input size, so
//! later calls pay a few nanoseconds, and re-made when the workload drifts.
//!
//! ```
//! use autopar::Parallel;
//!
//! let pixels: Vec<u32> = (0..100_000).collect();
//! let brighter: Vec<u32> = Parallel::auto().map(&pixels, |p| p.saturating_mul(2));
//! assert_eq!(brighter[10], 20);
//! ```
//!
//! ## The attribute
//! [`#[parallel]`](parallel) on a function rewrites its `for` loops into calls to the
//! same engine. The loop body stays as written: `continue`, `?` (fail-fast), reductions
//! such as `total += x` or `out.push(y)`, and disjoint writes `out[i] = ..` are
//! translated; `break` and `return` stop the loop early with the sequential loop's
//! result (see [Early exit](#early-exit)); `.await` is a compile error that says why.
//!
//! ```
//! use autopar::parallel;
//!
//! #[parallel]
//! fn stats(values: &[u64]) -> (u64, u64, Vec<u64>) {
//!     let mut sum = 0;
//!     let mut largest = 0;
//!     let mut evens = Vec::new();
//!     for &v in values {
//!         sum += v;
//!         largest = largest.max(v);
//!         if v % 2 == 0 {
//!             evens.push(v);
//!         }
//!     }
//!     (sum, largest, evens)
//! }
//!
//! #[parallel]
//! fn parse_all(lines: &[&str]) -> Result<u64, std::num::ParseIntError> {
//!     let mut total = 0;
//!     #[parallel(cpu, chunk = 2)] // a loop's own options win over the fn's
//!     for line in lines {
//!         total += line.trim().parse::<u64>()?;
//!     }
//!     Ok(total)
//! }
//!
//! let values: Vec<u64> = (1..=10).collect();
//! assert_eq!(stats(&values), (55, 10, vec![2, 4, 6, 8, 10]));
//! assert_eq!(parse_all(&["1", " 2", "3 "]), Ok(6));
//! assert!(parse_all(&["1", "x"]).is_err());
//! ```
//!
//! An attribute on a lone loop needs `#[parallel]` on the enclosing function too: stable
//! Rust does not run attribute macros on statements, so the function's attribute is what
//! finds and rewrites the loop.
//!
//! ## Which loops the attribute takes
//! If some `for` loops of the function carry their own `#[parallel(..)]`, exactly those.
//! Otherwise every outermost `for` loop of the body: a statement of the body, or a loop
//! inside blocks, `unsafe` blocks, `if`/`else` branches, `match` arms, `while`/`loop`
//! bodies and `let` initialisers. A loop nested in a taken loop runs inside its items.
//! Loops inside closures and `async` blocks are not taken (the closure may be called from
//! anywhere, any number of times); mark one with its own `#[parallel]` to take it. Loops
//! inside macro calls are never seen. A function where the attribute takes no loop gets
//! a warning saying so.
//!
//! ## Modes and options
//! | attribute | builder | effect |
//! |---|---|---|
//! | `auto` (default) | [`Parallel::auto`] | profile, then sequential, CPU pool or I/O pool |
//! | `cpu` | [`Parallel::cpu`] | always rayon's pool |
//! | `io` | [`Parallel::io`] | always the I/O pool (for blocking items) |
//! | `seq` | [`Parallel::seq`] | always sequential, on the calling thread |
//! | `workers = n` | [`.workers(n)`](Parallel::workers) | threads (CPU) or workers (I/O) |
//! | `chunk = n` | [`.chunk(n)`](Parallel::chunk) | items per task |
//! | `label = "…"` | [`.label("…")`](Parallel::label) | the loop's name in [`report()`] and logs |
//! | `progress`, `progress = <expr>` | [`.progress("…")`](Parallel::progress) | a progress bar with this message (feature `progress`) |
//! | `allow_nested` | — | silences the nested-parallelism warning |
//!
//! `workers` and `chunk` take any `usize` expression, evaluated once per call; they
//! conflict with `seq`. Options a loop's own attribute gives win over the function's.
//!
//! ## What the body may contain
//! Anything that only reads what is outside the loop (it must be `Sync`), plus:
//! - `continue`, which ends the iteration;
//! - `?`, which stops the loop: no item after a failed one starts, running ones finish,
//!   and the function returns the error of the earliest failing item in input order
//!   (or `None`), as the sequential loop would;
//! - `break` and `return`, which stop the loop early (below);
//! - reductions and indexed writes, below.
//!
//! `.await`, jumps to an enclosing loop (`break 'outer`, `continue 'outer`), a `return`
//! from a parallel loop nested in another, and assignments to outer variables are
//! compile errors that point at the code and say what to write instead.
//! A panic in an item stops the loop the same way and is re-raised on the calling thread.
//!
//! ## Early exit
//! `break` and `return` stop the loop as the sequential loop would: the earliest item in
//! input order that breaks or returns wins. Items after it are no longer handed out,
//! running ones finish, and every item before it still runs, so reductions hold exactly
//! the items before it plus the breaking item's own effects before its `break`, and a
//! `return value` returns that value from the function after the loop. Whichever of an
//! exit and an error (`?`) comes first in input order wins.
//!
//! ```
//! #[autopar::parallel]
//! fn sum_until_zero(v: &[u64]) -> (u64, Option<usize>) {
//!     let mut sum = 0;
//!     for i in 0..v.len() {
//!         if v[i] == 0 {
//!             return (0, Some(i));
//!         }
//!         sum += v[i];
//!     }
//!     (sum, None)
//! }
//!
//! #[autopar::parallel]
//! fn before_first_big(v: &[u64]) -> Vec<u64> {
//!     let mut small = Vec::new();
//!     for &x in v {
//!         if x > 100 {
//!             break;
//!         }
//!         small.push(x);
//!     }
//!     small
//! }
//!
//! let v: Vec<u64> = (1..=100_000).collect();
//! assert_eq!(sum_until_zero(&v), (5_000_050_000, None));
//! assert_eq!(sum_until_zero(&[3, 0, 4]), (0, Some(1)));
//! assert_eq!(before_first_big(&v).len(), 100);
//! ```
//!
//! By hand: [`Parallel::find_first`], [`find_map_first`](Parallel::find_map_first),
//! [`position_first`](Parallel::position_first), [`any`](Parallel::any),
//! [`all`](Parallel::all), [`for_each_until`](Parallel::for_each_until) and the general
//! [`try_fold_until`](Parallel::try_fold_until).
//!
//! ## Reductions
//! `x += e` (and `-= *= |= &= ^=`), `x = x.max(e)` / `x.min(e)`, `v.push(e)`,
//! `v.extend(e)`, `set.insert(e)` and `map.insert(k, v)` on variables declared outside the
//! loop (and not otherwise used in it) get one partial per task, combined in input
//! order: `Vec`s keep the sequential order, the last insert of a key wins, and integer
//! results are exact. Float sums may differ in the last bits (the additions are grouped
//! differently).
//!
//! Keyed and indexed updates are reductions too: `*map.entry(k).or_insert(v) += e` (or
//! `.or_default()`, and any of the six operators) on a `HashMap`/`BTreeMap` gives each
//! task a map of its own, merged by key; `hist[index] += e` with an index that depends on
//! the item (OpenMP's `reduction(+: hist[:n])`) gives each task a copy of the array,
//! slice or `Vec`, as long as it is when the loop starts, combined element-wise. That
//! costs one map or one array per task, not per item; many tasks over a large array can
//! cost more than the loop saves (give the loop a larger `chunk` then).
//!
//! ```
//! use std::collections::HashMap;
//!
//! #[autopar::parallel(cpu, chunk = 2)]
//! fn tally(words: &[&str]) -> (HashMap<String, usize>, [u32; 4]) {
//!     let mut counts = HashMap::new();
//!     let mut by_len = [0u32; 4];
//!     for w in words {
//!         *counts.entry(w.to_string()).or_insert(0) += 1;
//!         by_len[w.len() % 4] += 1;
//!     }
//!     (counts, by_len)
//! }
//! let (counts, by_len) = tally(&["a", "bb", "a", "ccc"]);
//! assert_eq!(counts["a"], 2);
//! assert_eq!(by_len, [0, 2, 1, 1]);
//! ```
//!
//! A reduction variable's name may be bound again in the body (`let total = ..`, a
//! closure's `|total|`, `if let Some(total)`): that binding is another variable. Calls
//! whose result depends on the order of the items, such as `if seen.insert(x) { .. }`, or
//! that change an outer collection otherwise (`v.sort()`, `map.entry(k).or_default().push(x)`)
//! are compile errors that say what to write instead.
//!
//! ## Indexed writes
//! In `for i in a..b`, writes `out[i] = e` (also `out[i] += e`, `out[i].field = e`) to a
//! slice or `Vec` used only as `out[i]` give each item its own element, so the loop runs
//! in parallel without locks:
//!
//! ```
//! #[autopar::parallel]
//! fn double(src: &[u32], out: &mut [u32]) {
//!     for i in 0..src.len() {
//!         out[i] = src[i] * 2;
//!     }
//! }
//! let mut out = vec![0; 4];
//! double(&[1, 2, 3, 4], &mut out);
//! assert_eq!(out, [2, 4, 6, 8]);
//! ```
//!
//! ## How `auto` decides
//! Sequential time is `n × per-item cost`. A CPU plan pays a measured fork cost, then
//! divides the work among the pool's threads; an I/O plan overlaps the waiting part of
//! each item across `cores ÷ CPU fraction` workers (capped by `AUTOPAR_IO_MAX_WORKERS`).
//! A parallel plan must predict at least 1.25× and 30 µs better than sequential, so
//! small loops stay exactly as fast as the plain loop. See [`report()`] for what each
//! loop decided, and `AUTOPAR_LOG=1` for one line per decision.
//!
//! ## Inputs
//! Slices, `Vec` (by value or reference), `&mut` slices and `Vec`s, arrays, `VecDeque`,
//! integer ranges and std maps and sets can be passed directly ([`IntoParallelInput`]);
//! any other iterator goes through [`iter()`].
//!
//! ## Nesting
//! A parallel loop inside another never multiplies threads: on rayon's pool the inner
//! loop rides work stealing, inside the I/O pool it plans with the workers that are
//! still free, and the I/O pool never grows beyond its maximum. CPU loops run from an
//! I/O plan's items compute on at most as many threads as there are cores.
//!
//! A process forked after the pools started runs every loop sequentially: the pools'
//! threads do not survive `fork()`. RELIABILITY.md in the repository lists every
//! guarantee (panics, errors, nesting, memory, hostile files and environment) and the
//! test that shows it.
//!
//! ## Saved profiles
//! What the loops learned can outlive the process: [`save_profile`] writes each loop's
//! per-item cost, CPU fraction and spread to a small text file, and [`load_profile`] —
//! or `AUTOPAR_PROFILE=path`, read at first use — loads it, so the first call of a known
//! loop decides at once instead of profiling. Entries measured by another build of the
//! program are ignored, and a missing or corrupt file is one warning, never a panic.
//!
//! ```
//! let path = std::env::temp_dir().join(format!("autopar-guide-{}.txt", std::process::id()));
//! autopar::Parallel::auto().for_each(0..1000, |i| { std::hint::black_box(i); });
//! autopar::save_profile(&path)?; // at the end of a run
//! autopar::load_profile(&path)?; // at the start of the next (or AUTOPAR_PROFILE)
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ## Environment
//! - `AUTOPAR=seq` runs every loop sequentially (debugging).
//! - `AUTOPAR_LOG=1` prints each new or changed decision to stderr.
//! - `AUTOPAR_IO_MAX_WORKERS=n` caps the I/O pool (default 256).
//! - `AUTOPAR_PROFILE=path` loads a saved profile at first use ([`load_profile`]).
//! - `RAYON_NUM_THREADS` sizes the CPU pool, as for rayon.
//!
//! A malformed value (one that is not UTF-8 included) prints one warning and the
//! default is used.
//!
//! ## Cargo features
//! All off by default, so the default build depends on rayon, crossbeam and libc only;
//! code written for a feature compiles without it.
//! - `progress`: [`Parallel::progress`] (a `&'static str` or an owned `String`),
//!   `Parallel::progress_bar` (the application's own bar) and `#[parallel(progress)]`
//!   draw an [indicatif](https://docs.rs/indicatif) bar on stderr when it is a terminal,
//!   or in the application's `MultiProgress`; see [`progress`] for nesting, output from
//!   loop bodies ([`progress::suspend`]) and how bars end. Without the feature they do
//!   nothing.
//! - `tracing`: each new or changed decision is an `INFO` event of target `autopar`
//!   (site, label, n, plan, workers, chunk, per-item ns, CPU fraction, spread, predicted
//!   speedup); at `DEBUG`, each call is a span `autopar.call` with its `elapsed_ns`.
//! - `serde`: [`Report`], [`SiteReport`], [`ClassReport`], [`policy::Plan`] and
//!   [`policy::Profile`] are `Serialize + Deserialize`; a `Report` carries its schema
//!   version (`"schema"`) in every serde format, and `Report::to_json` writes the
//!   schema documented in the README, pretty-printed.
//! - `async`: `for_each_async`, `map_async`, `try_for_each_async` and `fold_async` on
//!   [`Parallel`] run each item's future concurrently on the calling task (no runtime
//!   required), with a limit on futures in flight that tunes itself from their latencies
//!   and is kept per call site (shown by [`report()`]); [`WithTimeout`] has the same
//!   methods with a deadline.
//!
//! ## Deadlines
//! [`Parallel::timeout`] gives a loop a deadline: past it no item starts and the loop
//! returns [`TimedOut`] (or an error built `From` it). Blocking items that are running
//! cannot be interrupted and are waited for; async items are dropped.
//!
//! ## Limits
//! - A loop's first call pays for profiling (about 100 µs, and at most ~2% of the call);
//!   a saved profile removes it. If its first item is slow (over ~20 µs), an idle I/O-pool
//!   thread starts the next items meanwhile, so profiling a 1 ms item does not leave the
//!   other cores idle for that millisecond.
//! - Decisions are per call site, loop-body type and power-of-two input size; a loop
//!   whose cost per item depends on other inputs is re-profiled when it drifts 2×.
//! - Items must be `Send` and what the body reads must be `Sync`; inputs of unknown
//!   length are pulled under a lock in batches.
//! - Workers are OS threads: at most `AUTOPAR_IO_MAX_WORKERS` (4096 at most) block at
//!   once; use an async runtime for tens of thousands of concurrent waits.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod api;
#[cfg(feature = "async")]
mod async_loop;
mod chain;
mod clock;
mod collect;
mod deadline;
mod engine;
mod env;
mod exec;
mod fork;
mod input;
#[cfg(feature = "async")]
mod limit;
mod machine;
mod persist;
mod placement;
pub mod policy;
mod profile;
pub mod progress;
mod report;
mod site;
mod stop;
mod sync;
mod trace;

pub use api::{Mode, Parallel};
#[cfg(feature = "async")]
pub use async_loop::AsyncReport;
pub use autopar_macros::parallel;
pub use chain::{Chain, IntoChain, ZipWith, chain};
pub use deadline::{TimedOut, WithTimeout};
pub use input::{IntoParallelInput, Iter, ParallelInput, iter};
#[cfg(feature = "async")]
pub use limit::LimitReason;
pub use persist::{load_profile, save_profile};
pub use report::{ClassReport, Report, SiteReport, report};

#[doc(hidden)]
pub mod __private;
#[doc(hidden)]
pub mod reduce;
