//! Every thread of rayon's global pool blocked on something the caller provides later
//! (a common pattern: `rayon::spawn` of a job that waits on a channel), then the
//! process's first parallel decision. The one-time machine measurement must not wait for
//! those threads. One test in this file: the measurement happens once per process.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use autopar::Parallel;
use autopar_tests::spin_for;

/// A gate that pool threads wait at until the test opens it.
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

#[test]
fn the_first_decision_never_waits_for_blocked_rayon_threads() {
    let threads = rayon::current_num_threads();
    let gate = Arc::new(Gate {
        open: Mutex::new(false),
        opened: Condvar::new(),
    });
    let waiting = Arc::new(AtomicUsize::new(0));
    for _ in 0..threads {
        let gate = Arc::clone(&gate);
        let waiting = Arc::clone(&waiting);
        rayon::spawn(move || {
            waiting.fetch_add(1, SeqCst);
            let open = gate.open.lock().unwrap();
            let _open = gate.opened.wait_while(open, |open| !*open).unwrap();
        });
    }
    while waiting.load(SeqCst) < threads {
        thread::sleep(Duration::from_millis(1));
    }

    // The decisions that measure the machine, on a thread of their own with a deadline.
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let items: Vec<u64> = (0..400).collect();
        let body = |&i: &u64| {
            spin_for(Duration::from_micros(25));
            i * 2
        };
        let auto = Parallel::auto()
            .label("blocked pool, auto")
            .map(&items, body);
        let cpu = Parallel::cpu().label("blocked pool, cpu").map(&items, body);
        let sum = Parallel::auto().reduce(&items, || 0, |a, &i| a + i, |a, b| a + b);
        let _ = done_tx.send((auto, cpu, sum));
    });
    let answer = done_rx.recv_timeout(Duration::from_secs(30));

    *gate.open.lock().unwrap() = true;
    gate.opened.notify_all();
    let (auto, cpu, sum) = answer.expect("the first decisions hung on rayon's blocked threads");
    let expected: Vec<u64> = (0..400).map(|i| i * 2).collect();
    assert_eq!(auto, expected);
    assert_eq!(cpu, expected);
    assert_eq!(sum, 399 * 400 / 2);
}
