//! A child forked after autopar's pools started: their threads did not survive the
//! fork, so the child must run its loops (sequentially is fine) without waiting for any
//! of them, and give the same results. One test in this file: it forks this process.
#![cfg(unix)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread;
use std::time::{Duration, Instant};

use autopar::Parallel;
use autopar_tests::spin_for;

/// The loops the child runs, and whether each gave the plain loop's result.
fn loops_agree() -> bool {
    let items: Vec<u64> = (0..2_000).collect();
    let doubled: Vec<u64> = items.iter().map(|i| i * 2).collect();
    let heavy = |&i: &u64| {
        spin_for(Duration::from_micros(20));
        i * 2
    };
    // `auto` on a loop long enough to go parallel: its first decision measures the
    // machine, which needs rayon's threads.
    let auto = Parallel::auto().label("forked auto").map(&items, heavy) == doubled;
    let cpu = Parallel::cpu().map(&items, |i| i * 2) == doubled;
    let cpu_sized = Parallel::cpu().workers(3).chunk(10).map(&items, |i| i * 2) == doubled;
    let io = Parallel::io().workers(16).map(0..64u64, |i| {
        thread::sleep(Duration::from_micros(200));
        i * 2
    }) == doubled[..64];
    let error = Parallel::cpu().chunk(8).try_for_each(&items, |&i| {
        if i == 777 || i == 1500 {
            Err(i)
        } else {
            Ok(())
        }
    }) == Err(777);
    let stream = Parallel::auto().reduce(
        autopar::iter(0..10_000u64),
        || 0,
        |a, i| a + i,
        |a, b| a + b,
    ) == 9_999 * 10_000 / 2;
    auto && cpu && cpu_sized && io && error && stream
}

#[test]
fn a_forked_child_runs_loops_without_the_parents_threads() {
    // Both pools run, with pinned plans: the machine is not measured yet.
    let items: Vec<u64> = (0..10_000).collect();
    let sum = Parallel::cpu()
        .chunk(100)
        .reduce(&items, || 0, |a, &i| a + i, |a, b| a + b);
    assert_eq!(sum, 9_999 * 10_000 / 2);
    Parallel::io()
        .workers(8)
        .for_each(0..32, |_| thread::sleep(Duration::from_millis(1)));

    // SAFETY: the child only runs the loops above and `_exit`s; it never returns into the
    // test harness. glibc resets its allocator's locks in the child.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let agree = catch_unwind(AssertUnwindSafe(loops_agree)).unwrap_or(false);
        // SAFETY: ends the child at once, without running the parent's exit handlers.
        unsafe { libc::_exit(if agree { 0 } else { 1 }) };
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut status = 0;
    loop {
        // SAFETY: `pid` is our child; `status` is a valid place for its status.
        let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if reaped == pid {
            break;
        }
        if Instant::now() > deadline {
            // SAFETY: kills and reaps our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("the forked child hung");
        }
        thread::sleep(Duration::from_millis(10));
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the forked child's loops gave wrong results (status {status})"
    );
}
