//! How late does a woken thread start computing next to a busy one?
//!
//! A parallel call wakes sleeping threads while the calling thread (or the first woken
//! one) keeps a core busy. On some machines, notably small VMs, Linux queues the woken
//! thread on the *waker's* CPU instead of an idle one, and it only starts in parallel
//! once the load balancer moves it (up to a scheduler tick, ~4 ms). Some VM kernels do
//! it on purpose, to keep idle vCPUs halted (e.g. a `sched_vcpu_pack` boot parameter,
//! which the program prints when the kernel has one). This program shows
//! whether the machine it runs on does that, in three measurements:
//!
//! 1. a busy thread wakes a sleeping one: wake-up latency, and how often the woken
//!    thread ran on the waker's CPU;
//! 2. the same with the woken thread pinned to another CPU (it cannot be queued behind
//!    the waker): what the wake-up itself costs;
//! 3. single rayon `par_iter` calls after an idle pause: when the pool's last thread
//!    started its first item, and the call's time against the ideal.
//!
//! `bench_matrix`'s cold calls and its "best, one call" column are single calls, so they
//! pay this; its batched calls find the threads awake and do not.
//!
//! ```sh
//! cargo run --release --example wake_placement
//! ```

use rayon::prelude::*;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const ROUNDS: usize = 40;

/// ~1 µs of dependent arithmetic.
fn work(seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..500 {
        x = x.wrapping_mul(0x5851_F42D_4C95_7F2D).wrapping_add(1);
        x ^= x >> 29;
    }
    x
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[cfg(target_os = "linux")]
mod os {
    /// The CPU this thread runs on now.
    pub fn cpu() -> i32 {
        // SAFETY: sched_getcpu takes no arguments and only reads this thread's state.
        unsafe { libc::sched_getcpu() }
    }

    /// The CPUs this thread may run on.
    pub fn allowed() -> Vec<usize> {
        // SAFETY: as in `pin`; sched_getaffinity writes at most `size_of` bytes into the
        // set, and CPU_ISSET only reads it, at indexes below CPU_SETSIZE.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
                return Vec::new();
            }
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
                .collect()
        }
    }

    /// Restricts this thread to `cpus`; false if the OS refused (e.g. a CPU outside
    /// this process's cgroup).
    pub fn pin(cpus: &[usize]) -> bool {
        // SAFETY: cpu_set_t is a plain bit set for which all zeroes is the empty set;
        // CPU_SET only sets bits within it, and sched_setaffinity reads `size_of` bytes
        // of it for the calling thread (pid 0).
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for &cpu in cpus {
                libc::CPU_SET(cpu, &mut set);
            }
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
        }
    }
}

/// Measurements 1 and 2: the waker spins on one allowed CPU and wakes a helper every
/// few ms; the helper may run on the first two allowed CPUs (or only the second).
#[cfg(target_os = "linux")]
fn wake_next_to_busy_thread(pin_helper: bool) -> Option<String> {
    let allowed = os::allowed();
    let (&[waker_cpu, other_cpu], _) = allowed.split_first_chunk::<2>()?;
    if !os::pin(&[waker_cpu]) {
        return None;
    }
    let slot = Arc::new((Mutex::new(None::<Instant>), Condvar::new()));
    let (tx, rx) = std::sync::mpsc::channel::<(u64, i32)>();
    let helper_slot = Arc::clone(&slot);
    std::thread::spawn(move || {
        let pinned = if pin_helper {
            os::pin(&[other_cpu])
        } else {
            os::pin(&[waker_cpu, other_cpu])
        };
        if !pinned {
            return;
        }
        loop {
            let mut woken_at = helper_slot.0.lock().unwrap();
            while woken_at.is_none() {
                woken_at = helper_slot.1.wait(woken_at).unwrap();
            }
            let at = woken_at.take().unwrap();
            drop(woken_at);
            let sent = tx.send((at.elapsed().as_micros() as u64, os::cpu()));
            if sent.is_err() {
                return;
            }
        }
    });
    let mut latencies = Vec::new();
    let mut on_waker_cpu = 0;
    for round in 0..ROUNDS {
        std::thread::sleep(Duration::from_millis(if round % 2 == 0 { 3 } else { 30 }));
        let busy_from = Instant::now();
        *slot.0.lock().unwrap() = Some(Instant::now());
        slot.1.notify_one();
        while busy_from.elapsed() < Duration::from_millis(6) {
            black_box(work(round as u64));
        }
        let (us, cpu) = rx.recv_timeout(Duration::from_secs(1)).ok()?;
        latencies.push(us);
        on_waker_cpu += usize::from(usize::try_from(cpu) == Ok(waker_cpu));
    }
    os::pin(&allowed);
    latencies.sort_unstable();
    Some(format!(
        "{:<34} median {:>5} µs, p90 {:>5} µs, max {:>5} µs; ran on the waker's CPU {on_waker_cpu}/{ROUNDS}",
        if pin_helper {
            "helper pinned to another CPU:"
        } else {
            "helper free to run anywhere:"
        },
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        latencies[latencies.len() - 1],
    ))
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Measurement 3: single rayon calls after a pause; returns (call µs, last thread's
/// first item µs).
fn rayon_call(n: usize) -> (u64, u64) {
    let started = Instant::now();
    let first_item: Vec<AtomicU64> = (0..rayon::current_num_threads())
        .map(|_| AtomicU64::new(u64::MAX))
        .collect();
    (0..n).into_par_iter().with_min_len(8).for_each(|i| {
        if let Some(t) = rayon::current_thread_index() {
            first_item[t].fetch_min(started.elapsed().as_micros() as u64, Relaxed);
        }
        black_box(work(i as u64));
    });
    let total = started.elapsed().as_micros() as u64;
    let last_start = first_item
        .iter()
        .map(|t| t.load(Relaxed))
        .filter(|&t| t != u64::MAX)
        .max()
        .unwrap_or(0);
    (total, last_start)
}

/// The kernel's boot parameters that tune the scheduler (`sched_*`), if any.
fn scheduler_boot_parameters() -> String {
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let params: Vec<&str> = cmdline
        .split_whitespace()
        .filter(|p| p.starts_with("sched_"))
        .collect();
    if params.is_empty() {
        "none".into()
    } else {
        params.join(" ")
    }
}

fn main() {
    println!(
        "machine: {} CPUs, rayon threads {}, kernel scheduler boot parameters: {}",
        num_cpus(),
        rayon::current_num_threads(),
        scheduler_boot_parameters()
    );
    #[cfg(target_os = "linux")]
    if num_cpus() >= 2 {
        for pin_helper in [false, true] {
            match wake_next_to_busy_thread(pin_helper) {
                Some(line) => println!("{line}"),
                None => println!("(could not pin threads to two CPUs here)"),
            }
        }
    }
    let n = 4000;
    let sequential = {
        let started = Instant::now();
        for i in 0..n {
            black_box(work(i as u64));
        }
        started.elapsed().as_micros() as u64
    };
    rayon_call(n);
    let (mut totals, mut lates) = (Vec::new(), 0);
    for round in 0..ROUNDS {
        std::thread::sleep(Duration::from_millis(if round % 2 == 0 { 3 } else { 30 }));
        let (total, last_start) = rayon_call(n);
        totals.push(total);
        lates += usize::from(last_start > 1000);
    }
    totals.sort_unstable();
    let ideal = sequential / rayon::current_num_threads() as u64;
    println!(
        "rayon par_iter after a pause ({n} × ~1 µs): median {} µs, p90 {} µs, ideal {ideal} µs \
         (sequential {sequential} µs); last thread started > 1 ms late in {lates}/{ROUNDS} calls",
        percentile(&totals, 0.5),
        percentile(&totals, 0.9),
    );
}
