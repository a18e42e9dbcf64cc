//! Hostile environments, checked in child processes (the environment is read once per
//! process): `AUTOPAR_PROFILE` naming a FIFO, a device, a directory or a huge file;
//! a profile at a path that is not UTF-8; variables whose values are not UTF-8; and a
//! `RAYON_NUM_THREADS` that rayon ignores. Each must cost a warning (one per variable),
//! never a hang, a gigabyte of memory or a silent default.
//!
//! The children run under a watchdog (a hang fails the test) and cap their own address
//! space, so a regression that reads `/dev/zero` to the end fails instead of taking the
//! machine's memory.

#![cfg(target_os = "linux")]

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use autopar::Parallel;
use autopar_tests::in_child;

/// Address space a child may add to what it has when its test starts: far more than
/// a loop and a profile need, far less than reading `/dev/zero` to the end takes.
const CHILD_HEADROOM: u64 = 2 << 30;

/// What a child printed, and whether it succeeded.
struct Child {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Child {
    /// The lines of autopar's warnings.
    fn warnings(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("autopar: warning:"))
            .collect()
    }

    /// The value printed on stdout as `KEY=value`.
    fn printed(&self, key: &str) -> Option<&str> {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
    }
}

/// Runs this test binary's `test` alone in a child process with the variables `vars`;
/// fails if it has not finished within a minute.
fn child(test: &str, vars: &[(&str, &OsStr)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("AUTOPAR_TEST_CHILD", "1")
        // Few malloc arenas: each reserves 64 MiB of address space, which the child's
        // cap counts.
        .env("MALLOC_ARENA_MAX", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in [
        "AUTOPAR",
        "AUTOPAR_LOG",
        "AUTOPAR_IO_MAX_WORKERS",
        "AUTOPAR_PROFILE",
        "RAYON_NUM_THREADS",
        "RAYON_RS_NUM_CPUS",
    ] {
        cmd.env_remove(name);
    }
    for (name, value) in vars {
        cmd.env(name, value);
    }
    let spawned = cmd.spawn().unwrap();
    let pid = spawned.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(spawned.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(output) => {
            let output = output.unwrap();
            Child {
                success: output.status.success(),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            }
        }
        Err(_) => {
            // SAFETY: `pid` is our child, not yet reaped (its waiter has not returned).
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("{test} with {vars:?}: no answer within a minute (hang)");
        }
    }
}

/// A line `Name: value kB` of `/proc/self/status`, in bytes.
fn status_bytes(name: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {name} in /proc/self/status"));
    let kb: u64 = line.trim().trim_end_matches("kB").trim().parse().unwrap();
    kb * 1024
}

/// Caps this process's address space at what it has now plus [`CHILD_HEADROOM`].
fn cap_address_space() {
    let limit = status_bytes("VmSize") + CHILD_HEADROOM;
    let rlimit = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: a plain libc call with a valid argument.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &rlimit) }, 0);
}

/// The child: a loop that loads `AUTOPAR_PROFILE` (if set) at its first call, then
/// optionally `load_profile(AUTOPAR_TEST_LOAD)` and `save_profile(AUTOPAR_TEST_SAVE)`.
/// Prints what it saw as `KEY=value` lines.
#[test]
fn child_loop_with_profile() {
    if !in_child() {
        return;
    }
    cap_address_space();
    let before = status_bytes("VmRSS");
    Parallel::auto()
        .label("env files")
        .for_each(0..4000u64, |i| {
            std::hint::black_box(i.wrapping_mul(31));
        });
    let total = Parallel::cpu().reduce(0..1000u64, || 0, |a, i| a + i, |a, b| a + b);
    assert_eq!(total, 499_500);
    // The harness's "test ... " has no line end yet: the lines below start their own.
    println!();
    if let Some(path) = std::env::var_os("AUTOPAR_TEST_LOAD") {
        match autopar::load_profile(&path) {
            Ok(n) => println!("LOAD=Ok({n})"),
            Err(e) => println!("LOAD=Err({:?}): {e}", e.kind()),
        }
    }
    if let Some(path) = std::env::var_os("AUTOPAR_TEST_SAVE") {
        println!("SAVED={}", autopar::save_profile(&path).unwrap());
    }
    println!("RAYON_THREADS={}", rayon::current_num_threads());
    println!(
        "GROWTH_MIB={}",
        status_bytes("VmHWM").saturating_sub(before) >> 20
    );
    println!("DONE=1");
}

/// A path for this test in the temporary directory.
fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("autopar-env-files-{}-{name}", std::process::id()))
}

fn mkfifo(path: &Path) {
    let name = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `name` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// Checks a child given `path` both as `AUTOPAR_PROFILE` and to `load_profile`: it
/// finishes, with one warning naming the variable and `what`, the loop ran as usual, no
/// memory was spent on the file, and `load_profile` returned an error of `kind`.
fn refused(path: &Path, what: &str, kind: &str) {
    let out = child(
        "child_loop_with_profile",
        &[
            ("AUTOPAR_PROFILE", path.as_os_str()),
            ("AUTOPAR_TEST_LOAD", path.as_os_str()),
        ],
    );
    let context = format!("{}:\n{}\n{}", path.display(), out.stdout, out.stderr);
    assert!(out.success, "{context}");
    assert_eq!(out.printed("DONE"), Some("1"), "{context}");
    let warnings = out.warnings();
    assert_eq!(warnings.len(), 1, "{context}");
    assert!(warnings[0].contains("AUTOPAR_PROFILE="), "{context}");
    assert!(warnings[0].contains(what), "{context}");
    assert!(warnings[0].ends_with("loops profile as usual"), "{context}");
    let load = out.printed("LOAD").unwrap_or_default();
    assert!(load.starts_with(&format!("Err({kind})")), "{context}");
    assert!(load.contains(what), "{context}");
    let growth: u64 = out.printed("GROWTH_MIB").unwrap().parse().unwrap();
    assert!(growth < 64, "{growth} MiB more memory: {context}");
}

#[test]
fn a_fifo_as_the_profile_is_refused_without_waiting_for_a_writer() {
    let fifo = scratch("fifo");
    mkfifo(&fifo);
    refused(&fifo, "a FIFO", "InvalidInput");
    std::fs::remove_file(&fifo).unwrap();
}

#[test]
fn a_device_as_the_profile_is_refused_without_reading_it() {
    refused(Path::new("/dev/zero"), "a character device", "InvalidInput");
}

#[test]
fn a_huge_file_as_the_profile_is_refused_without_reading_it() {
    // Sparse: 1 GiB long, no disk blocks.
    let huge = scratch("huge");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    refused(&huge, "larger than 4 MiB", "FileTooLarge");
    std::fs::remove_file(&huge).unwrap();
}

#[test]
fn a_directory_as_the_profile_is_refused() {
    let dir = scratch("dir");
    std::fs::create_dir_all(&dir).unwrap();
    refused(&dir, "a directory", "IsADirectory");
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn a_profile_at_a_path_that_is_not_utf8_loads() {
    let dir = scratch("non-utf8");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(OsStr::from_bytes(b"profile-\xff\xfe.txt"));
    assert!(path.to_str().is_none());
    let saved = child(
        "child_loop_with_profile",
        &[("AUTOPAR_TEST_SAVE", path.as_os_str())],
    );
    assert!(saved.success, "{}\n{}", saved.stdout, saved.stderr);
    let written: usize = saved.printed("SAVED").unwrap().parse().unwrap();
    assert!(written >= 1, "{}", saved.stdout);

    let loaded = child(
        "child_loop_with_profile",
        &[
            ("AUTOPAR_PROFILE", path.as_os_str()),
            ("AUTOPAR_LOG", OsStr::new("1")),
        ],
    );
    let context = format!("{}\n{}", loaded.stdout, loaded.stderr);
    assert!(loaded.success, "{context}");
    assert!(loaded.warnings().is_empty(), "{context}");
    let line = loaded
        .stderr
        .lines()
        .find(|l| l.contains("loop profiles loaded"))
        .unwrap_or_else(|| panic!("the profile is not loaded: {context}"));
    assert!(
        line.contains(&format!(": {written} loop profiles loaded")),
        "{line}"
    );
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_dir(&dir).unwrap();
}

/// `text` with a byte that is never UTF-8 appended.
fn not_utf8(text: &str) -> OsString {
    let mut bytes = text.as_bytes().to_vec();
    bytes.push(0xff);
    OsString::from_vec(bytes)
}

#[test]
fn each_variable_that_is_not_utf8_warns_exactly_once() {
    let seq = not_utf8("seq");
    let log = not_utf8("1");
    let workers = not_utf8("4");
    let banana = OsString::from("banana");
    let out = child(
        "child_loop_with_profile",
        &[
            ("AUTOPAR", seq.as_os_str()),
            ("AUTOPAR_LOG", log.as_os_str()),
            ("AUTOPAR_IO_MAX_WORKERS", workers.as_os_str()),
            ("RAYON_NUM_THREADS", banana.as_os_str()),
        ],
    );
    let context = format!("{}\n{}", out.stdout, out.stderr);
    assert!(out.success, "{context}");
    let warnings = out.warnings();
    assert_eq!(warnings.len(), 4, "{context}");
    let rayon_threads = out.printed("RAYON_THREADS").unwrap();
    for (name, used) in [
        ("AUTOPAR=", "using `auto`"),
        ("AUTOPAR_LOG=", "logging stays off"),
        ("AUTOPAR_IO_MAX_WORKERS=", "using 256"),
        // What rayon really uses, as the child found it.
        (
            "RAYON_NUM_THREADS=",
            &format!("one thread per core ({rayon_threads})"),
        ),
    ] {
        let mine: Vec<_> = warnings.iter().filter(|w| w.contains(name)).collect();
        assert_eq!(mine.len(), 1, "{name}: {context}");
        assert!(mine[0].contains(used), "{name}: {context}");
    }
}

#[test]
fn a_rayon_num_threads_that_rayon_ignores_warns_once() {
    for value in [not_utf8("2"), OsString::from(" 2"), OsString::from("-1")] {
        let out = child(
            "child_loop_with_profile",
            &[("RAYON_NUM_THREADS", value.as_os_str())],
        );
        let context = format!("{value:?}:\n{}\n{}", out.stdout, out.stderr);
        assert!(out.success, "{context}");
        let warnings = out.warnings();
        assert_eq!(warnings.len(), 1, "{context}");
        assert!(warnings[0].contains("RAYON_NUM_THREADS="), "{context}");
        let threads = out.printed("RAYON_THREADS").unwrap();
        assert!(warnings[0].contains(&format!("({threads})")), "{context}");
    }
    // Values rayon takes are not warned about.
    for value in ["3", "0"] {
        let out = child(
            "child_loop_with_profile",
            &[("RAYON_NUM_THREADS", OsStr::new(value))],
        );
        assert!(
            out.success && out.warnings().is_empty(),
            "{value}: {}",
            out.stderr
        );
        if value == "3" {
            assert_eq!(out.printed("RAYON_THREADS"), Some("3"), "{}", out.stdout);
        }
    }
}
