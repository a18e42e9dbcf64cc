//! Saved profiles (`autopar::save_profile`, `AUTOPAR_PROFILE`), across processes: a run
//! saves what its loops learned, and a fresh process that loads it decides the first call
//! of a known loop without profiling. Stale, corrupt and missing files are ignored with
//! at most one warning.

use std::path::PathBuf;

use autopar::Parallel;
use autopar_tests::{in_child, run_child, site};

const LABEL: &str = "persisted sleepy";

/// The loop under test: one call site, shared by every child test below.
fn the_loop() {
    Parallel::auto().label(LABEL).for_each(0..40usize, |_| {
        std::thread::sleep(std::time::Duration::from_millis(2))
    });
}

/// What the report says about the loop, as one line the parent parses.
fn print_state() {
    let site = site(LABEL);
    println!(
        "STATE profiled={} loaded={} plan={:?}",
        site.profiled, site.profile_loaded, site.classes[0].plan
    );
}

#[test]
fn child_run_and_save() {
    if !in_child() {
        return;
    }
    the_loop();
    print_state();
    let path = std::env::var("AUTOPAR_TEST_SAVE_TO").unwrap();
    let written = autopar::save_profile(&path).unwrap();
    println!("WRITTEN={written}");
}

#[test]
fn child_run_once() {
    if !in_child() {
        return;
    }
    the_loop();
    print_state();
}

/// `(profiled, loaded, plan)` from a child's `STATE` line.
fn state(out: &std::process::Output) -> (u32, bool, String) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("STATE ").map(|(_, state)| state))
        .unwrap_or_else(|| panic!("no STATE line in {stdout}"));
    let mut parts = line.splitn(3, ' ');
    let mut field = |name: &str| {
        parts
            .next()
            .and_then(|p| p.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {line}"))
            .to_owned()
    };
    (
        field("profiled=").parse().unwrap(),
        field("loaded=").parse().unwrap(),
        field("plan="),
    )
}

fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("autopar-{name}-{}.profile", std::process::id()))
}

/// Runs one child that saves a profile; returns its path and the plan it decided.
fn saved_profile(name: &str) -> (PathBuf, String) {
    let path = temp_file(name);
    let out = run_child(
        "child_run_and_save",
        &[("AUTOPAR_TEST_SAVE_TO", path.to_str().unwrap())],
    );
    let (profiled, loaded, plan) = state(&out);
    assert_eq!((profiled, loaded), (1, false));
    assert!(plan.contains("Io"), "{plan}");
    (path, plan)
}

#[test]
fn a_fresh_process_with_the_profile_skips_profiling() {
    let (path, plan) = saved_profile("fresh");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("autopar-profile\t1"), "{text}");
    assert!(text.contains("runtime_profile.rs:"), "{text}");

    let out = run_child(
        "child_run_once",
        &[("AUTOPAR_PROFILE", path.to_str().unwrap())],
    );
    let (profiled, loaded, loaded_plan) = state(&out);
    assert_eq!(
        profiled, 0,
        "the first call must decide from the loaded profile"
    );
    assert!(loaded);
    assert_eq!(
        loaded_plan, plan,
        "the same profile makes the same decision"
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Without the variable, the same child profiles.
    let (profiled, loaded, _) = state(&run_child("child_run_once", &[]));
    assert_eq!((profiled, loaded), (1, false));
    std::fs::remove_file(path).unwrap();
}

#[test]
fn entries_of_another_build_are_ignored() {
    let (path, _) = saved_profile("stale");
    // The same entries, as written by another build of this program.
    let text = std::fs::read_to_string(&path).unwrap();
    let stale: String = text
        .lines()
        .map(|line| match line.split_once('\t') {
            Some((build, rest)) if build.len() == 16 => format!("{}\t{rest}\n", "0".repeat(16)),
            _ => format!("{line}\n"),
        })
        .collect();
    assert_ne!(stale, text);
    std::fs::write(&path, stale).unwrap();
    let out = run_child(
        "child_run_once",
        &[("AUTOPAR_PROFILE", path.to_str().unwrap())],
    );
    let (profiled, loaded, _) = state(&out);
    assert_eq!((profiled, loaded), (1, false));
    // Rebuilding a program is normal: no warning.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(path).unwrap();
}

#[test]
fn corrupt_and_missing_files_are_one_warning_never_a_panic() {
    let corrupt = temp_file("corrupt");
    std::fs::write(&corrupt, "autopar-profile\t1\nnot\ta\tvalid line\n").unwrap();
    let missing = temp_file("missing");
    let binary = temp_file("binary");
    std::fs::write(&binary, [0u8, 159, 146, 150, 255, 10, 0]).unwrap();
    for path in [&corrupt, &missing, &binary] {
        let out = run_child(
            "child_run_once",
            &[("AUTOPAR_PROFILE", path.to_str().unwrap())],
        );
        let (profiled, _, plan) = state(&out);
        assert_eq!(profiled, 1);
        assert!(plan.contains("Io"), "{plan}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("warning: AUTOPAR_PROFILE="), "{stderr}");
    }
    std::fs::remove_file(corrupt).unwrap();
    std::fs::remove_file(binary).unwrap();
}

#[test]
fn load_profile_reports_errors_and_seeds_loops_in_this_process() {
    let missing = temp_file("api-missing");
    assert!(autopar::load_profile(&missing).is_err());
    // Saving and loading in one process: a loop that has not run yet takes the profile.
    Parallel::auto().label("api saved").for_each(0..100, |i| {
        std::hint::black_box(i);
    });
    let path = temp_file("api");
    assert!(autopar::save_profile(&path).unwrap() >= 1);
    assert!(autopar::load_profile(&path).unwrap() >= 1);
    std::fs::remove_file(path).unwrap();
}

const FIRST_LOOP: &str = "first loop of the process";

#[test]
fn child_first_loop_of_the_process() {
    if !in_child() {
        return;
    }
    Parallel::auto()
        .label(FIRST_LOOP)
        .for_each(0..100usize, |_| {
            std::thread::sleep(std::time::Duration::from_millis(1))
        });
    let profile = site(FIRST_LOOP).profile.expect("profiled");
    println!("CPU_FRACTION={}", profile.cpu_fraction);
}

/// The process's first loop pays one-time costs (autopar asking the machine for its core
/// count reads cgroup files, ~120 µs of CPU): none of them may count as the items' CPU
/// time. Counted, they made 1 ms sleeps look 10–13% CPU-bound, and the loop got a sixth
/// of the I/O workers it needed. The lowest of three fresh processes: a VM's CPU clock
/// now and then charges a thread for time its virtual CPU was not running.
#[test]
fn the_first_loop_of_a_process_measures_only_its_items() {
    let fractions: Vec<f64> = (0..3)
        .map(|_| {
            let out = run_child("child_first_loop_of_the_process", &[]);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{stdout}");
            stdout
                .lines()
                .find_map(|l| l.split_once("CPU_FRACTION=").map(|(_, v)| v))
                .unwrap_or_else(|| panic!("no CPU_FRACTION line in {stdout}"))
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    // A 1 ms sleep costs 10–20 µs of CPU: 1–2%.
    let lowest = fractions.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        lowest < 0.07,
        "1 ms sleeps measured {fractions:.3?} CPU-bound in three fresh processes"
    );
}
