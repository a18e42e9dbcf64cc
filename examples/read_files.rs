//! Blocking I/O in a loop: read 300 files with `#[parallel(io, workers = 50)]`.
//!
//! Reading a file blocks the calling thread; on a CPU pool that wastes the
//! core. `io` runs the loop on autopar's I/O pool, here with 50 workers, so
//! many reads wait at once. `?` works as in a plain loop: the first error
//! stops the loop and is returned.
//!
//! The example writes its files to a fresh temporary directory and removes
//! it at the end. Run with `cargo run --release --example read_files`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use autopar::parallel;

/// Reads every file, returning the total size and the lines that mention
/// "error", in file order.
#[parallel(io, workers = 50, label = "read files")]
fn scan_logs(paths: &[PathBuf], delay: Duration) -> io::Result<(u64, Vec<String>)> {
    let mut bytes = 0;
    let mut errors = Vec::new();
    for path in paths {
        // Stands in for a slow disk or a network file system.
        std::thread::sleep(delay);
        let text = fs::read_to_string(path)?;
        bytes += text.len() as u64;
        for line in text.lines() {
            if line.contains("error") {
                errors.push(format!("{}: {line}", path.display()));
            }
        }
    }
    Ok((bytes, errors))
}

/// Writes `n` small log files into `dir`.
fn write_files(dir: &Path, n: usize) -> io::Result<Vec<PathBuf>> {
    let mut paths = Vec::with_capacity(n);
    for i in 0..n {
        let path = dir.join(format!("log-{i:03}.txt"));
        let mut text = String::new();
        for line in 0..20 {
            if (i + line) % 97 == 0 {
                text.push_str(&format!("line {line}: error in file {i}\n"));
            } else {
                text.push_str(&format!("line {line}: ok\n"));
            }
        }
        fs::write(&path, text)?;
        paths.push(path);
    }
    Ok(paths)
}

fn main() -> io::Result<()> {
    let dir = std::env::temp_dir().join(format!("autopar-read-files-{}", std::process::id()));
    fs::create_dir_all(&dir)?;
    let paths = write_files(&dir, 300)?;
    let delay = Duration::from_millis(1);

    let t = Instant::now();
    let (bytes, errors) = scan_logs(&paths, delay)?;
    println!(
        "read {} files ({bytes} bytes) in {:.1?}; {} lines mention an error, first: {:?}",
        paths.len(),
        t.elapsed(),
        errors.len(),
        errors.first()
    );
    println!(
        "(a plain loop sleeps at least {:?})",
        delay * paths.len() as u32
    );

    // A missing file: `?` stops the loop and returns the error.
    let mut broken = paths.clone();
    broken.insert(150, dir.join("missing.txt"));
    match scan_logs(&broken, Duration::ZERO) {
        Err(e) => println!("with a missing file: error {:?}", e.kind()),
        Ok(_) => println!("unexpected: the missing file was read"),
    }

    fs::remove_dir_all(&dir)?;
    Ok(())
}
