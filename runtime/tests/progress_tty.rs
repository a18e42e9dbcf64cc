//! Progress bars on a real terminal: this test re-runs itself as a child inside a tmux
//! session (a pseudo-terminal with a screen), lets the child run loops with bars —
//! nested, concurrent, printing from the body, failing, panicking — and reads the screen
//! back with `tmux capture-pane`. What is left on the screen is what a user sees.
//!
//! Skipped (with a message) where tmux is not installed; `.ci/run` installs it.
#![cfg(all(feature = "progress", unix))]

use std::process::Command;
use std::time::{Duration, Instant};

use autopar::Parallel;

const CHILD_VAR: &str = "AUTOPAR_TTY_CHILD";

/// The child's loops. Each prints a marker line (through `suspend`) before it starts.
fn child() {
    std::panic::set_hook(Box::new(|info| {
        // One short line, as an application's hook might print.
        eprintln!(
            "PANIC: {}",
            info.payload().downcast_ref::<&str>().unwrap_or(&"?")
        );
    }));
    let slow = || std::thread::sleep(Duration::from_micros(300));

    autopar::progress::suspend(|| println!("== nested"));
    Parallel::cpu()
        .chunk(1)
        .progress("Outer loop")
        .for_each(0..6, |_| {
            Parallel::seq()
                .progress("inner loop")
                .for_each(0..40, |_| slow());
        });

    autopar::progress::suspend(|| println!("== concurrent"));
    std::thread::scope(|s| {
        for name in ["Left loop", "Right loop"] {
            s.spawn(move || {
                Parallel::io()
                    .workers(4)
                    .progress(name)
                    .for_each(0..200, |_| slow())
            });
        }
    });

    autopar::progress::suspend(|| println!("== printing"));
    Parallel::io()
        .workers(2)
        .progress(format!("Printing {} items", 6))
        .for_each(0..6, |i| {
            std::thread::sleep(Duration::from_millis(30));
            autopar::progress::suspend(|| println!("item {i} done"));
        });

    autopar::progress::suspend(|| println!("== failing"));
    let failed = Parallel::seq()
        .progress("Failing loop")
        .try_for_each(0..100, |i| {
            slow();
            if i == 60 { Err(i) } else { Ok(()) }
        });
    assert_eq!(failed, Err(60));

    autopar::progress::suspend(|| println!("== panicking"));
    let panicked = std::panic::catch_unwind(|| {
        Parallel::seq()
            .progress("Panicking loop")
            .for_each(0..100, |i| {
                slow();
                if i == 70 {
                    panic!("deliberate");
                }
            })
    });
    assert!(panicked.is_err());
    println!("CHILD DONE");
}

fn tmux(args: &[&str]) -> std::process::Output {
    Command::new("tmux")
        .args(args)
        .output()
        .expect("running tmux")
}

#[test]
fn bars_leave_a_clean_screen_on_a_real_terminal() {
    if std::env::var_os(CHILD_VAR).is_some() {
        child();
        return;
    }
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let session = format!("autopar-tty-{}", std::process::id());
    let exe = std::env::current_exe().unwrap();
    let command = format!(
        "{CHILD_VAR}=1 {} --exact bars_leave_a_clean_screen_on_a_real_terminal --nocapture --test-threads=1; sleep 30",
        exe.display()
    );
    let started = tmux(&[
        "-L",
        &session,
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "100",
        "-y",
        "50",
        &command,
    ]);
    assert!(started.status.success(), "{started:?}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let screen = loop {
        let shot = tmux(&["-L", &session, "capture-pane", "-p", "-t", &session]);
        let screen = String::from_utf8_lossy(&shot.stdout).into_owned();
        if screen.contains("CHILD DONE") || Instant::now() > deadline {
            break screen;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = tmux(&["-L", &session, "kill-server"]);
    println!("{screen}");
    assert!(
        screen.contains("CHILD DONE"),
        "the child did not finish:\n{screen}"
    );
    let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
    let section = |name: &str| -> Vec<&str> {
        let start = lines
            .iter()
            .position(|l| l.ends_with(&format!("== {name}")))
            .unwrap_or_else(|| panic!("no section {name}:\n{screen}"));
        lines[start + 1..]
            .iter()
            .take_while(|l| !l.starts_with("== ") && !l.starts_with("CHILD DONE"))
            .copied()
            .filter(|l| !l.is_empty())
            .collect()
    };
    let nested = section("nested");
    assert!(
        nested.iter().all(|l| !l.contains("inner loop")),
        "inner bars left lines behind:\n{screen}"
    );
    assert_eq!(nested.len(), 1, "nested:\n{screen}");
    assert!(nested[0].starts_with("Outer loop 6/6 in "), "{screen}");
    let concurrent = section("concurrent");
    assert_eq!(concurrent.len(), 2, "concurrent:\n{screen}");
    for name in ["Left loop", "Right loop"] {
        assert!(
            concurrent
                .iter()
                .any(|l| l.starts_with(&format!("{name} 200/200 in "))),
            "a concurrent loop's line was torn or lost:\n{screen}"
        );
    }
    let printing = section("printing");
    for i in 0..6 {
        assert!(
            printing.contains(&format!("item {i} done").as_str()),
            "a printed line was lost or torn:\n{screen}"
        );
    }
    assert_eq!(printing.len(), 7, "printing:\n{screen}");
    assert!(
        printing
            .last()
            .unwrap()
            .starts_with("Printing 6 items 6/6 in "),
        "{screen}"
    );
    let failing = section("failing");
    assert_eq!(failing.len(), 1, "{screen}");
    assert!(
        failing[0].starts_with("Failing loop (failed) 60/100 after "),
        "{screen}"
    );
    let panicking = section("panicking");
    assert!(
        panicking
            .last()
            .is_some_and(|l| l.starts_with("Panicking loop (panicked) 70/100 after ")),
        "{screen}"
    );
    assert!(panicking.contains(&"PANIC: deliberate"), "{screen}");
    // The hook prints before autopar learns of the panic: the bar's last drawn state
    // may stay above the message (see the `progress` module), never more than that.
    assert!(panicking.len() <= 3, "{screen}");
}
