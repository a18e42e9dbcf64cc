//! The `#[parallel]` attribute of [autopar](https://docs.rs/autopar).
//!
//! Use it through the `autopar` crate (`use autopar::parallel;`): the
//! generated code calls into `::autopar::__private`.
//!
//! The crate is split by job:
//! * `args`: parsing `#[parallel(MODE, OPTIONS..)]`;
//! * `item`: what the attribute is on, which loops it rewrites; `discover`:
//!   which loops an unmarked fn's attribute takes;
//! * `scan`: analysis of a loop body (control flow, reductions, indexed
//!   writes, nesting) and its diagnostics; `reduction`: the shapes of the
//!   reduction statements; `scope`: which names the body binds where;
//!   `mutation`: calls that change outer variables;
//! * `translate`: rewriting the body into the engine's fold closure;
//! * `params`: loop inputs the fn's signature shows the runtime can't take;
//! * `expand`: generating the call into the runtime;
//! * `ctxt`: the error collector; `lint`: warnings on stable Rust.
//!
//! The macro never panics on user input: every problem becomes a spanned
//! compile error, and the original fn (without our attributes) is emitted
//! next to the errors.

mod args;
mod chains;
mod ctxt;
mod discover;
mod expand;
mod item;
mod lint;
mod mutation;
mod params;
mod reduction;
mod scan;
mod scope;
#[cfg(test)]
mod snapshot;
mod syntax;
mod translate;

use proc_macro::TokenStream;

/// Runs `for` loops in parallel.
///
/// # Where it goes
///
/// On a fn (free fn, `&self`/`&mut self` method, generic fn, `async fn`).
/// Every `for` loop in the body that carries its own `#[parallel(..)]` is
/// run in parallel, its options winning over the fn's. If no loop carries
/// one, every outermost `for` loop of the body is: statements of the body
/// and loops inside blocks, `if`/`else`, `match` arms, `while`/`loop`
/// bodies and `let` initialisers (a loop nested in a taken loop runs inside
/// its items). Loops inside closures and `async` blocks are not taken (the
/// closure may be called from anywhere); mark them to take them. A fn where
/// nothing is taken gets a warning.
///
/// ```ignore
/// use autopar::parallel;
///
/// #[parallel]
/// fn sum_of_squares(v: &[u64]) -> u64 {
///     let mut total = 0;
///     for x in v {
///         total += x * x;
///     }
///     total
/// }
///
/// #[parallel(io, workers = 50)]
/// fn fetch_all(urls: &[String]) -> Result<Vec<String>, Error> {
///     let mut pages = Vec::new();
///     for url in urls {
///         pages.push(fetch(url)?);
///     }
///     Ok(pages)
/// }
///
/// #[parallel]
/// fn blur(src: &[f32], dst: &mut [f32], width: usize) {
///     prepare();
///     #[parallel(cpu, label = "blur rows")]
///     for i in 0..dst.len() {
///         dst[i] = (src[i.saturating_sub(1)] + src[i] + src[(i + 1).min(width - 1)]) / 3.0;
///     }
/// }
/// ```
///
/// Stable Rust does not run attribute macros on statements, so a loop's
/// `#[parallel]` works only inside a fn that carries `#[parallel]` (which
/// finds and removes it); alone, it is an error that says so. The loop's
/// attribute is matched by its last path segment (`#[autopar::parallel]`
/// works too; a renamed import does not).
///
/// # Modes and options
///
/// `#[parallel]` is `#[parallel(auto)]`: autopar measures the loop and
/// decides, per call site, whether to run it sequentially, on the CPU pool
/// or on the I/O pool. `cpu`, `io` and `seq` force a choice. After the mode,
/// comma-separated: `workers = <usize expr>`, `chunk = <usize expr>` (both
/// evaluated once per call), `label = "<str>"` (shown in the report),
/// `progress` or `progress = <expr>` (a progress bar on stderr with
/// autopar's `progress` feature, labelled with the message — a
/// `&'static str` or a `String`, evaluated once per call — or else the
/// label; without the feature it does nothing), `allow_nested` (silences
/// the nesting warning).
///
/// # The body
///
/// * `continue` ends the iteration.
/// * `?` stops the loop: no further iterations start, running ones finish,
///   and the fn returns the error (converted with `From`, as in sequential
///   code; in a fn returning `Option`, `None`). Which error is returned
///   when several iterations fail is the one of the earliest failing item
///   that ran. The error type must be `Send`.
/// * Reductions on variables declared outside the loop, when the body does
///   not otherwise use the variable: `x += e`, `x -= e`, `x *= e`,
///   `x |= e`, `x &= e`, `x ^= e`, `x = x.max(e)`, `x = x.min(e)` (either
///   operand order), `v.push(e)`, `v.extend(e)` (into a `Vec`; the final
///   order is the sequential order), and as statements `set.insert(e)` /
///   `map.insert(k, v)` on std sets and maps (replayed in order, so the last
///   insert of a key wins); `*map.entry(k).or_insert(v) += e` or
///   `.or_default()` (six operators) on a `HashMap`/`BTreeMap` (a map per
///   task, merged by key), and `a[index] += e` with any index (six
///   operators; a copy of the array per task, combined element-wise). A
///   name the body binds again (`let`, `if let`, a closure parameter) is
///   another variable there. Each worker keeps a partial, combined in input
///   order at the end: the result equals the sequential loop's exactly for
///   integers, `bool` and collections; for floats, up to reassociation
///   (`(a + b) + c` may differ from `a + (b + c)` in the last bits).
/// * Indexed writes: in `for i in a..b`, `out[i] = e` (or `out[i] += e`,
///   `out[i].field = e`) where `out` is only ever used as `out[i]` splits
///   `out[a..b]` between workers; each iteration gets its own element.
/// * Everything else the body uses is shared read-only (it must be `Sync`).
///
/// # Diagnostics
///
/// Compile errors, at the offending token, with a `help:` line: `break`,
/// `return`, `.await`, labelled jumps out of the loop, assignment to an
/// outer variable, a call that changes an outer collection and is not a
/// reduction (`if seen.insert(x)`, `v.sort()`), a reduction variable that
/// is also read, indexed writes
/// that are not provably disjoint, a loop over an `impl Iterator` or
/// `impl IntoIterator` parameter (or a type parameter bounded so) whose
/// iterator is not known to be `Send`, the attribute where it cannot go,
/// unknown/duplicate/conflicting options. Control flow hidden inside a
/// `macro_rules!` call cannot be seen by the macro; it still fails to
/// compile (a hidden `break`/`continue` gives E0267, a hidden `return;`
/// "`return;` in a function whose return type is not `()`").
///
/// A parallel loop inside another (or a rayon `par_iter`, `rayon::join`,
/// `thread::spawn`, .. inside one) gets a compile-time warning: nested
/// parallelism oversubscribes the cores. `allow_nested` on either loop
/// silences it for that loop.
#[proc_macro_attribute]
pub fn parallel(attr: TokenStream, item: TokenStream) -> TokenStream {
    item::expand(attr.into(), item.into()).into()
}
