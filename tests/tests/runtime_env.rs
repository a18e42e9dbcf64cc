//! Environment variables, checked in child processes (the configuration is read once
//! per process).

use std::process::Command;

use autopar::Parallel;
use autopar::policy::Plan;
use autopar_tests::only_plan;

/// Re-runs this test binary's `test` with extra environment variables.
fn child(test: &str, vars: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"]);
    cmd.env("AUTOPAR_TEST_CHILD", "1");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn in_child() -> bool {
    std::env::var_os("AUTOPAR_TEST_CHILD").is_some()
}

#[test]
fn child_sleepy_loop() {
    if !in_child() {
        return;
    }
    Parallel::auto().label("sleepy").for_each(0..100usize, |_| {
        std::thread::sleep(std::time::Duration::from_millis(1))
    });
    println!("PLAN={:?}", only_plan("sleepy"));
}

#[test]
fn autopar_seq_forces_every_loop_sequential() {
    let out = child("child_sleepy_loop", &[("AUTOPAR", "seq")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("PLAN={:?}", Plan::Sequential)),
        "{stdout}"
    );
}

#[test]
fn malformed_values_warn_once_and_fall_back() {
    let out = child(
        "child_sleepy_loop",
        &[
            ("AUTOPAR", "banana"),
            ("AUTOPAR_IO_MAX_WORKERS", "-3"),
            ("AUTOPAR_LOG", "maybe"),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stderr.matches("AUTOPAR=\"banana\"").count(), 1, "{stderr}");
    assert_eq!(
        stderr.matches("AUTOPAR_IO_MAX_WORKERS").count(),
        1,
        "{stderr}"
    );
    assert_eq!(stderr.matches("AUTOPAR_LOG").count(), 1, "{stderr}");
    // Defaults: auto mode, so the sleepy loop still gets the I/O pool.
    assert!(stdout.contains("PLAN=Io"), "{stdout}");
}

#[test]
fn autopar_log_prints_one_line_per_decision() {
    let out = child("child_sleepy_loop", &[("AUTOPAR_LOG", "1")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("(sleepy)")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("100 items") || lines[0].contains("items ×"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("io pool"), "{}", lines[0]);
}

#[test]
fn a_small_io_pool_maximum_is_respected() {
    let out = child("child_sleepy_loop", &[("AUTOPAR_IO_MAX_WORKERS", "4")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("PLAN=Io { workers: 4"), "{stdout}");
}
