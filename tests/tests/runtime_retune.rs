//! Warm calls notice when the workload drifts and the site decides again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use autopar::Parallel;
use autopar::policy::Plan;
use autopar_tests::{site, spin_for};

/// The tests of this file measure how fast their calls run: one at a time, so that one
/// test's items do not hold up another's pool threads.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn a_site_whose_items_become_expensive_goes_parallel() {
    let _serial = one_at_a_time();
    let cost_us = AtomicU64::new(0);
    let run = || {
        Parallel::auto()
            .label("drifting")
            .for_each(0..200usize, |_| {
                spin_for(Duration::from_micros(cost_us.load(Ordering::Relaxed)))
            })
    };
    // Cheap items: sequential, and the site learns a baseline.
    for _ in 0..40 {
        run();
    }
    assert_eq!(site("drifting").classes[0].plan, Some(Plan::Sequential));
    // The same loop now costs ~4 ms per call: within a bounded number of calls the site
    // re-profiles and moves to a parallel plan.
    cost_us.store(20, Ordering::Relaxed);
    let mut calls = 0;
    while !matches!(site("drifting").classes[0].plan, Some(Plan::Cpu { .. })) {
        run();
        calls += 1;
        assert!(
            calls < 200,
            "no re-tune after {calls} calls: {:?}",
            site("drifting")
        );
    }
    let report = site("drifting");
    assert_eq!(report.retunes, 1, "{report:?}");
    assert!(
        matches!(report.classes[0].plan, Some(Plan::Cpu { .. })),
        "{report:?}"
    );
}

#[test]
fn a_new_size_class_decides_from_what_the_site_learned() {
    let _serial = one_at_a_time();
    let run = |n: usize| {
        Parallel::auto()
            .label("two sizes")
            .for_each(0..n, |_| spin_for(Duration::from_micros(50)))
    };
    run(64);
    run(1000);
    let report = site("two sizes");
    assert_eq!(report.classes.len(), 2);
    // Both classes decided, from one profile.
    assert!(
        report.classes.iter().all(|c| c.plan.is_some()),
        "{report:?}"
    );
    assert_eq!(report.retunes, 0);
}

/// A parallel plan that measures no faster than sequential is tried against the
/// sequential plan on warm calls, and the faster one is kept. Here an item is cheap while
/// it runs alone (as profiling runs them) and 10× dearer while another item runs at the
/// same time (as if they fought over a lock or a cache), so the profile predicts a
/// parallel gain that the parallel runs never deliver.
#[test]
fn a_parallel_plan_slower_than_sequential_falls_back() {
    let _serial = one_at_a_time();
    let running = std::sync::atomic::AtomicUsize::new(0);
    let run = || {
        Parallel::auto()
            .label("slow when crowded")
            .for_each(0..400usize, |_| {
                let crowded = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0;
                spin_for(Duration::from_micros(if crowded { 50 } else { 5 }));
                running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            })
    };
    run();
    let first = site("slow when crowded").classes[0].plan;
    if first == Some(Plan::Sequential) {
        // Only on one core does 2 ms of work stay sequential.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(cores, 1, "{:?}", site("slow when crowded"));
        return;
    }
    let mut calls = 1;
    while site("slow when crowded").classes[0].plan != Some(Plan::Sequential) {
        run();
        calls += 1;
        assert!(
            calls < 200,
            "still {:?} after {calls} calls",
            site("slow when crowded")
        );
    }
}

/// A site whose first (profiled) call was far slower than its later calls re-profiles,
/// even where its calls are now too short for drift to count: here 400 items of 5 µs
/// decide a parallel plan, then the items cost nothing and each call takes a few µs.
#[test]
fn a_site_profiled_on_slow_items_re_profiles_when_calls_are_far_faster() {
    let _serial = one_at_a_time();
    let cost_us = AtomicU64::new(5);
    let run = || {
        Parallel::auto()
            .label("became fast")
            .for_each(0..400usize, |_| {
                spin_for(Duration::from_micros(cost_us.load(Ordering::Relaxed)))
            })
    };
    run();
    if site("became fast").classes[0].plan == Some(Plan::Sequential) {
        // Only on one core does 2 ms of work stay sequential.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(cores, 1, "{:?}", site("became fast"));
        return;
    }
    cost_us.store(0, Ordering::Relaxed);
    let mut calls = 0;
    while site("became fast").classes[0].plan != Some(Plan::Sequential) {
        run();
        calls += 1;
        assert!(
            calls < 500,
            "still {:?} after {calls} calls",
            site("became fast")
        );
    }
    assert!(
        site("became fast").retunes >= 1,
        "{:?}",
        site("became fast")
    );
}

/// A plan tried on warm calls is kept only if it beats the site's plan measured on the
/// calls just before it. Here items cost 10× more on any thread but the caller, so no
/// parallel plan can be faster: whatever the first decision, the site ends sequential
/// and stays there.
#[test]
fn a_tried_plan_that_is_slower_is_never_kept() {
    let _serial = one_at_a_time();
    let caller = std::thread::current().id();
    let run = || {
        Parallel::auto()
            .label("tried slower")
            .for_each(0..64usize, |_| {
                let here = std::thread::current().id() == caller;
                spin_for(Duration::from_micros(if here { 2 } else { 20 }));
            })
    };
    let mut sequential_since = None;
    for call in 0..400 {
        run();
        let plan = site("tried slower").classes[0].plan;
        match (plan, sequential_since) {
            (Some(Plan::Sequential), None) => sequential_since = Some(call),
            (Some(Plan::Sequential), Some(_)) => {}
            (other, Some(since)) => {
                panic!("sequential since call {since}, then {other:?} at call {call}")
            }
            (_, None) => {}
        }
    }
    // Where it settles depends on the machine's load (the trials judge measured calls):
    // within most of the run, and then for good.
    assert!(
        sequential_since.is_some_and(|since| since < 300),
        "sequential from call {sequential_since:?}: {:?}",
        site("tried slower")
    );
}

/// The row of the size class of `site` whose smallest length is `min_len`.
fn class(site: &autopar::SiteReport, min_len: usize) -> &autopar::ClassReport {
    site.classes
        .iter()
        .find(|c| c.min_len == Some(min_len))
        .unwrap_or_else(|| panic!("no class ≥{min_len}: {site:?}"))
}

/// Calls `run` until the size class `min_len` of the site labelled `label` has a plan
/// that `wanted` accepts; fails after 20 calls. Returns the site's report.
fn call_until(
    label: &str,
    min_len: usize,
    run: impl Fn(),
    wanted: impl Fn(&Plan) -> bool,
) -> autopar::SiteReport {
    for _ in 0..20 {
        run();
        let report = site(label);
        if class(&report, min_len).plan.as_ref().is_some_and(&wanted) {
            return report;
        }
    }
    panic!("no such plan after 20 calls: {:?}", site(label));
}

/// A loop whose items cost far more at one input size than at another: its small inputs
/// first decide from the profile its large inputs measured (items of a few ns: stay
/// sequential), their warm calls then show items a thousand times dearer, and from then
/// on that size class profiles on its own and runs in parallel. The large inputs' class
/// and the loop's profile are left as they were.
#[test]
fn a_size_class_whose_items_cost_far_more_profiles_on_its_own() {
    let _serial = one_at_a_time();
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return;
    }
    let label = "cost depends on size";
    let run = |n: usize, item: Duration| {
        Parallel::auto()
            .label(label)
            .for_each(0..n, |_| spin_for(item))
    };
    run(100_000, Duration::ZERO);
    let before = site(label);
    let site_profile = before.profile.expect("profiled");
    let large_plan = class(&before, 65_536).plan;
    let report = call_until(
        label,
        64,
        || run(100, Duration::from_micros(50)),
        |plan| matches!(plan, Plan::Cpu { .. }),
    );
    let small = class(&report, 64);
    let own = small.profile.expect("the small class has its own profile");
    assert!(own.item_ns > 20_000.0, "{report:?}");
    assert_eq!(
        report.profile,
        Some(site_profile),
        "the loop's profile is kept"
    );
    let large = class(&report, 65_536);
    assert_eq!(large.plan, large_plan, "{report:?}");
    assert_eq!(large.profile, None, "{report:?}");
}

/// Profiling on its own also measures what the class's items do: here a size class of
/// a loop that computes at large sizes and waits (sleeps) at small ones goes to the I/O
/// pool, which deciding from the loop's CPU-bound profile could never choose.
#[test]
fn a_size_class_that_profiles_on_its_own_sees_its_items_wait() {
    let _serial = one_at_a_time();
    let label = "waits at small sizes";
    let run = |n: usize, wait: bool| {
        Parallel::auto().label(label).for_each(0..n, |_| {
            if wait {
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    run(100_000, false);
    let report = call_until(
        label,
        16,
        || run(16, true),
        |plan| matches!(plan, Plan::Io { .. }),
    );
    let own = class(&report, 16).profile.expect("own profile");
    assert!(own.cpu_fraction < 0.5, "{report:?}");
}
