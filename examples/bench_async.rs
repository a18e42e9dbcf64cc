//! Async loops against a server that serves at most C requests at once: the self-tuned
//! `Parallel::io().map_async` vs `buffer_unordered(n)` and a semaphore-bounded set of
//! tasks, for throughput and p99 latency; then the overhead on futures that are ready at
//! once, and how long loops with a deadline take to return.
//!
//! The server runs in this process on std threads: one thread accepts every connection
//! and queues it, C threads serve them (read a line, sleep 5 ms, answer, close). The
//! client runs on a current-thread tokio runtime; each request is a fresh loopback TCP
//! connection, and its latency is connect → answer.
//!
//! `cargo run --release -p autopar-examples --example bench_async --features async`

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use autopar::Parallel;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const REQUESTS: usize = 2000;
const SERVICE: Duration = Duration::from_millis(5);

/// A server serving at most `capacity` requests at once; the rest wait in its queue.
fn start_server(capacity: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel::<TcpStream>();
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..capacity {
        let rx = rx.clone();
        thread::spawn(move || {
            loop {
                let next = rx.lock().unwrap().recv();
                let Ok(stream) = next else { return };
                let _ = serve(stream);
            }
        });
    }
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if tx.send(stream).is_err() {
                return;
            }
        }
    });
    addr
}

fn serve(stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    thread::sleep(SERVICE);
    (&stream).write_all(b"HTTP/1.0 200 OK\r\n\r\nok\n")?;
    Ok(())
}

/// One request: its latency, connect to the end of the answer.
async fn request(addr: SocketAddr, i: usize) -> Duration {
    let start = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).unwrap();
    stream
        .write_all(format!("GET /{i} HTTP/1.0\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    assert!(answer.ends_with(b"ok\n"));
    start.elapsed()
}

struct Row {
    name: String,
    total: Duration,
    p99: Duration,
}

fn row(name: impl Into<String>, total: Duration, mut latencies: Vec<Duration>) -> Row {
    assert_eq!(latencies.len(), REQUESTS);
    latencies.sort();
    Row {
        name: name.into(),
        total,
        p99: latencies[(latencies.len() * 99).div_ceil(100) - 1],
    }
}

/// The self-tuned loop: one call site for every server, so its cache carries over.
async fn tuned(addr: SocketAddr) -> Vec<Duration> {
    Parallel::io()
        .label("bench_async")
        .map_async(0..REQUESTS, |i| request(addr, i))
        .await
}

fn bench_capacity(rt: &tokio::runtime::Runtime, capacity: usize) -> Vec<Row> {
    let addr = start_server(capacity);
    let mut rows = Vec::new();
    for call in ["1st call", "2nd call"] {
        let t = Instant::now();
        let latencies = rt.block_on(tuned(addr));
        let limit = autopar::report()
            .sites
            .iter()
            .find(|s| s.label.as_deref() == Some("bench_async"))
            .and_then(|s| s.async_loop.as_ref().map(|a| a.limit))
            .unwrap_or(0);
        rows.push(row(
            format!("autopar self-tuned, {call} (limit after: {limit})"),
            t.elapsed(),
            latencies,
        ));
    }
    for n in [1, 4, 16, 64, 256] {
        let t = Instant::now();
        let latencies = rt.block_on(
            futures_util::stream::iter(0..REQUESTS)
                .map(|i| request(addr, i))
                .buffer_unordered(n)
                .collect::<Vec<_>>(),
        );
        rows.push(row(
            format!("buffer_unordered({n})"),
            t.elapsed(),
            latencies,
        ));
    }
    for n in [capacity, 4 * capacity] {
        let t = Instant::now();
        let latencies = rt.block_on(async {
            let permits = Arc::new(tokio::sync::Semaphore::new(n));
            let tasks: Vec<_> = (0..REQUESTS)
                .map(|i| {
                    let permits = permits.clone();
                    tokio::spawn(async move {
                        let _permit = permits.acquire().await.unwrap();
                        request(addr, i).await
                    })
                })
                .collect();
            let mut latencies = Vec::with_capacity(REQUESTS);
            for task in tasks {
                latencies.push(task.await.unwrap());
            }
            latencies
        });
        rows.push(row(
            format!("semaphore({n}) + spawned tasks"),
            t.elapsed(),
            latencies,
        ));
    }
    rows
}

fn print_rows(capacity: usize, rows: &[Row]) {
    println!("\n## Server capacity C = {capacity} (5 ms per request), {REQUESTS} requests\n");
    println!("| strategy | time | requests/s | p99 latency |");
    println!("|---|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {:.0} ms | {:.0} | {:.1} ms |",
            r.name,
            r.total.as_secs_f64() * 1e3,
            REQUESTS as f64 / r.total.as_secs_f64(),
            r.p99.as_secs_f64() * 1e3,
        );
    }
    // The goal: ≥ 0.85× the best fixed n's throughput, p99 ≤ 2× that n's p99.
    let best = rows
        .iter()
        .filter(|r| r.name.starts_with("buffer_unordered"))
        .min_by_key(|r| r.total)
        .unwrap();
    for r in rows.iter().filter(|r| r.name.starts_with("autopar")) {
        println!(
            "\n{}: throughput {:.2}× and p99 {:.2}× those of the best fixed n, {}",
            r.name,
            best.total.as_secs_f64() / r.total.as_secs_f64(),
            r.p99.as_secs_f64() / best.p99.as_secs_f64(),
            best.name,
        );
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn overhead(rt: &tokio::runtime::Runtime) {
    const N: u64 = 10_000;
    const REPS: usize = 31;
    let body = |i: u64| async move { black_box(i).wrapping_mul(3) };
    let plain = median(
        (0..REPS)
            .map(|_| {
                let t = Instant::now();
                let out = rt.block_on(async {
                    let mut out = Vec::with_capacity(N as usize);
                    for i in 0..N {
                        out.push(body(i).await);
                    }
                    out
                });
                black_box(out);
                t.elapsed().as_nanos() as f64
            })
            .collect(),
    );
    let ours = median(
        (0..REPS)
            .map(|_| {
                let t = Instant::now();
                let out = rt.block_on(Parallel::io().map_async(0..N, body));
                black_box(out);
                t.elapsed().as_nanos() as f64
            })
            .collect(),
    );
    let buffered = median(
        (0..REPS)
            .map(|_| {
                let t = Instant::now();
                let out = rt.block_on(
                    futures_util::stream::iter(0..N)
                        .map(body)
                        .buffered(64)
                        .collect::<Vec<_>>(),
                );
                black_box(out);
                t.elapsed().as_nanos() as f64
            })
            .collect(),
    );
    println!("\n## {N} futures that are ready at once (median of {REPS} runs)\n");
    println!("| loop | time | per item | vs plain |");
    println!("|---|---:|---:|---:|");
    for (name, ns) in [
        ("plain sequential `.await` loop", plain),
        ("`Parallel::io().map_async`", ours),
        ("`buffered(64)` (for reference)", buffered),
    ] {
        println!(
            "| {name} | {:.1} µs | {:.1} ns | {:.2}× |",
            ns / 1e3,
            ns / N as f64,
            ns / plain
        );
    }
}

fn deadlines(rt: &tokio::runtime::Runtime) {
    println!("\n## Deadlines (items never finish / sleep 50 ms each)\n");
    println!("| loop | timeout | returned after | ratio to the bound |");
    println!("|---|---:|---:|---:|");
    for timeout_ms in [50u64, 200] {
        let timeout = Duration::from_millis(timeout_ms);
        let t = Instant::now();
        let r = rt.block_on(
            Parallel::io()
                .timeout(timeout)
                .for_each_async(0..1000, |_| std::future::pending::<()>()),
        );
        let took = t.elapsed();
        assert_eq!(r, Err(autopar::TimedOut));
        println!(
            "| async, futures that never finish | {timeout_ms} ms | {:.1} ms | {:.3}× timeout |",
            took.as_secs_f64() * 1e3,
            took.as_secs_f64() / timeout.as_secs_f64()
        );
    }
    for timeout_ms in [50u64, 200] {
        let timeout = Duration::from_millis(timeout_ms);
        let item = Duration::from_millis(50);
        let t = Instant::now();
        let r = Parallel::io()
            .workers(8)
            .timeout(timeout)
            .for_each(0..1000, |_| thread::sleep(item));
        let took = t.elapsed();
        assert_eq!(r, Err(autopar::TimedOut));
        println!(
            "| sync, io().workers(8), items of 50 ms | {timeout_ms} ms | {:.1} ms | {:.3}× (timeout + one item) |",
            took.as_secs_f64() * 1e3,
            took.as_secs_f64() / (timeout + item).as_secs_f64()
        );
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("# bench_async");
    for capacity in [16, 64] {
        let rows = bench_capacity(&rt, capacity);
        print_rows(capacity, &rows);
    }
    overhead(&rt);
    deadlines(&rt);
    println!("\n## autopar::report()\n\n```\n{}```", autopar::report());
}
