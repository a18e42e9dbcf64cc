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
//! translated; `break`, `return` and `.await` are compile errors that say why.
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
//! still free, and the I/O pool never grows beyond its maximum.
//!
//! ## Environment
//! - `AUTOPAR=seq` runs every loop sequentially (debugging).
//! - `AUTOPAR_LOG=1` prints each new or changed decision to stderr.
//! - `AUTOPAR_IO_MAX_WORKERS=n` caps the I/O pool (default 256).
//! - `RAYON_NUM_THREADS` sizes the CPU pool, as for rayon.
//!
//! A malformed value prints one warning and the default is used.
#![warn(missing_docs)]

mod api;
mod clock;
mod engine;
mod env;
mod exec;
mod input;
mod machine;
pub mod policy;
mod profile;
mod report;
mod site;
mod sync;

pub use api::{Mode, Parallel};
pub use autopar_macros::parallel;
pub use input::{IntoParallelInput, Iter, ParallelInput, iter};
pub use report::{ClassReport, Report, SiteReport, report};

#[doc(hidden)]
pub mod __private;
#[doc(hidden)]
pub mod reduce;
