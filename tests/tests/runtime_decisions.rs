//! The engine makes the right *kind* of decision on real workloads. Asserts plan
//! classes, never timings.

use std::time::Duration;

use autopar::Parallel;
use autopar::policy::Plan;
use autopar_tests::{only_plan, spin_for};

#[test]
fn a_few_nanoseconds_per_item_stays_sequential() {
    let items: Vec<u64> = (0..1000).collect();
    for _ in 0..3 {
        let total = Parallel::auto().label("tiny").reduce(
            &items,
            || 0u64,
            |acc, x| acc + x * 3,
            |a, b| a + b,
        );
        assert_eq!(total, 3 * 999 * 1000 / 2);
    }
    assert_eq!(only_plan("tiny"), Plan::Sequential);
}

#[test]
fn sleeping_items_go_to_the_io_pool_with_more_workers_than_cores() {
    let cores = std::thread::available_parallelism().unwrap().get();
    Parallel::auto().label("sleepy").for_each(0..200usize, |_| {
        std::thread::sleep(Duration::from_millis(1))
    });
    match only_plan("sleepy") {
        Plan::Io { workers, .. } => assert!(workers > cores, "{workers} workers"),
        other => panic!("expected the I/O pool, got {other:?}"),
    }
}

#[test]
fn heavy_cpu_items_go_to_rayon() {
    let hits = Parallel::auto().label("heavy").map(0..100_000usize, |i| {
        spin_for(Duration::from_micros(10));
        i
    });
    assert!(hits.iter().copied().eq(0..100_000));
    assert!(
        matches!(only_plan("heavy"), Plan::Cpu { .. }),
        "{:?}",
        only_plan("heavy")
    );
}

#[test]
fn forced_modes_are_obeyed() {
    Parallel::seq()
        .label("forced seq")
        .for_each(0..10_000usize, |_| spin_for(Duration::from_micros(1)));
    assert_eq!(only_plan("forced seq"), Plan::Sequential);
    Parallel::io()
        .workers(7)
        .label("forced io")
        .for_each(0..10usize, |_| ());
    assert_eq!(
        only_plan("forced io"),
        Plan::Io {
            workers: 7,
            chunk: 1
        }
    );
    Parallel::cpu()
        .chunk(64)
        .workers(3)
        .label("forced cpu")
        .for_each(0..1_000usize, |_| ());
    assert_eq!(
        only_plan("forced cpu"),
        Plan::Cpu {
            threads: 3,
            chunk: 64
        }
    );
}

#[test]
fn the_report_explains_every_site() {
    Parallel::auto()
        .label("explained")
        .for_each(0..100usize, |_| ());
    let text = autopar::report().to_string();
    let line = text.lines().find(|l| l.contains("explained")).expect(&text);
    assert!(line.contains("sequential"), "{line}");
    assert!(text.lines().next().unwrap().contains("plan"));
}

#[test]
fn generic_instantiations_learn_separately() {
    fn touch_all<T: Sync>(items: &[T], cost: Duration) {
        Parallel::auto()
            .label("generic")
            .for_each(items, |_| spin_for(cost));
    }
    touch_all(&[0u8; 100], Duration::ZERO);
    touch_all(&vec![String::new(); 100], Duration::from_micros(200));
    let sites: Vec<_> = autopar::report()
        .sites
        .into_iter()
        .filter(|s| s.label.as_deref() == Some("generic"))
        .collect();
    assert_eq!(sites.len(), 2, "{sites:?}");
    let plans: Vec<_> = sites.iter().map(|s| s.classes[0].plan.unwrap()).collect();
    assert!(plans.contains(&Plan::Sequential), "{plans:?}");
    assert!(plans.iter().any(|p| *p != Plan::Sequential), "{plans:?}");
}
