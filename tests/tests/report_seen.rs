//! The report's `seen` speedup is measured, never read off the first items' profile:
//! a parallel plan with no timed sequential call of its size class shows it unknown.

use autopar::{Parallel, report};

/// Items whose cost grows with their index, as in a triangular loop: the first
/// items are the cheapest, so a profile of them says nothing about the whole loop.
fn triangular(i: usize) -> u64 {
    (0..i as u64 * 20).fold(0u64, |a, x| a.wrapping_add(x * x))
}

#[test]
fn a_parallel_plan_without_sequential_calls_shows_no_speedup() {
    for _ in 0..10 {
        let total = Parallel::cpu()
            .chunk(8)
            .label("triangular, forced cpu")
            .reduce(
                0..1_000usize,
                || 0u64,
                |acc, i| acc.wrapping_add(triangular(i)),
                u64::wrapping_add,
            );
        std::hint::black_box(total);
    }
    let report = report();
    let site = report
        .sites
        .iter()
        .find(|s| s.label.as_deref() == Some("triangular, forced cpu"))
        .expect("the loop is in the report");
    for class in &site.classes {
        assert!(
            class.observed_speedup.is_none(),
            "no sequential call was measured, yet seen = {:?}",
            class.observed_speedup
        );
    }
    let line = report
        .to_string()
        .lines()
        .find(|l| l.contains("triangular, forced cpu"))
        .map(str::to_owned)
        .expect("a row for the loop");
    assert!(line.trim_end().ends_with('?'), "{line}");
}

#[test]
fn a_sequential_plan_has_no_speedup_to_show() {
    for _ in 0..5 {
        Parallel::seq()
            .label("pinned sequential")
            .for_each(0..100usize, |i| {
                std::hint::black_box(i);
            });
    }
    let report = report();
    let site = report
        .sites
        .iter()
        .find(|s| s.label.as_deref() == Some("pinned sequential"))
        .expect("the loop is in the report");
    assert!(site.classes.iter().all(|c| c.observed_speedup.is_none()));
}
