//! I/O workers whose items start CPU loops compute on at most as many threads as there
//! are cores (see `cpu_slots` in the runtime). One test in this file, so that no other
//! test's loops share the process's CPU slots while it counts.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::Duration;

use autopar::Parallel;
use autopar_tests::spin_for;

#[test]
fn cpu_loops_in_io_items_never_run_on_more_threads_than_cores() {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let running = AtomicUsize::new(0);
    let most = AtomicUsize::new(0);
    let inner_items = AtomicUsize::new(0);
    let cpu_item = |_: &u32| {
        let now = running.fetch_add(1, SeqCst) + 1;
        most.fetch_max(now, SeqCst);
        spin_for(Duration::from_micros(100));
        running.fetch_sub(1, SeqCst);
        inner_items.fetch_add(1, SeqCst);
    };
    let inner: Vec<u32> = (0..40).collect();
    for round in 0..4 {
        most.store(0, SeqCst);
        // Many blocking items at once, each then running a CPU loop: forced CPU plans and
        // `auto` ones (which profile, then go parallel: 4 ms of work).
        Parallel::io().workers(16).chunk(1).for_each(0..32u32, |i| {
            thread::sleep(Duration::from_millis(2));
            if i % 2 == 0 {
                Parallel::cpu().chunk(1).for_each(&inner, cpu_item);
            } else {
                Parallel::auto()
                    .label("cpu loop in io items")
                    .for_each(&inner, cpu_item);
            }
        });
        let most = most.load(SeqCst);
        assert!(
            most <= cores,
            "round {round}: {most} CPU items ran at once on {cores} cores"
        );
    }
    assert_eq!(inner_items.load(SeqCst), 4 * 32 * 40);
}
