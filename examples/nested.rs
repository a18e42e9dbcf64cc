//! Nested parallel loops, and the compile-time warning about them.
//!
//! A parallel loop inside another rarely helps: the outer loop already
//! keeps every core busy, so the inner one only adds overhead (autopar runs
//! it on the outer loop's threads, without adding any). So `#[parallel]`
//! warns at compile time when a parallel loop's body holds another one, or
//! an obvious parallel call (`par_iter`, `rayon::join`, `thread::spawn`, ..):
//!
//! ```text
//! warning: use of deprecated constant `row_sums::nested_parallelism`: this `#[parallel]` loop
//!          runs inside the parallel loop on line 37, whose iterations already keep every
//!          worker busy; autopar runs it on the outer loop's threads without adding any, so
//!          it gains little
//!          help: keep one level of parallelism, or add `allow_nested` to the outer loop's
//!          `#[parallel(..)]` (or to this loop's) to silence this
//!   --> examples/nested.rs:41:9
//!    |
//! 41 |         for x in row {
//!    |         ^^^
//! ```
//!
//! (The warning rides on rustc's `deprecated` lint, the one way a macro can
//! warn on stable Rust.) When nesting is what you want (few outer items with
//! big inner loops, say), `allow_nested` on either loop silences it for that
//! loop; this example does so, so that it builds without warnings.
//!
//! Run with `cargo run --release --example nested`.

use autopar::parallel;

/// Per-row sums and the grand total of a ragged matrix.
#[parallel]
fn row_sums(rows: &[Vec<u64>]) -> (Vec<u64>, u64) {
    let mut sums = Vec::new();
    let mut total = 0;
    #[parallel(label = "rows")]
    for row in rows {
        let mut row_sum = 0;
        // Without `allow_nested` this loop gets the warning above.
        #[parallel(allow_nested, label = "cells")]
        for x in row {
            row_sum += x;
        }
        sums.push(row_sum);
        total += row_sum;
    }
    (sums, total)
}

fn main() {
    // Three huge rows and many small ones: the kind of shape where nested
    // parallelism can pay off for the huge rows.
    let mut rows: Vec<Vec<u64>> = (0..3)
        .map(|r| (0..1_000_000).map(|x| x % 7 + r).collect())
        .collect();
    rows.extend((0..1000).map(|r| vec![r; 10]));
    let (sums, total) = row_sums(&rows);
    assert_eq!(total, sums.iter().sum::<u64>());
    assert_eq!(total, rows.iter().flatten().sum::<u64>());
    println!(
        "{} rows, first sums {:?}, total {total}",
        sums.len(),
        &sums[..3]
    );
    println!("\n{}", autopar::report());
}
