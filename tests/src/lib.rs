//! Shared helpers for autopar's integration tests.

use std::time::{Duration, Instant};

/// Spins (burns CPU) for `d`: a CPU-bound item of a known cost.
pub fn spin_for(d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// The report row of the site labelled `label`.
pub fn site(label: &str) -> autopar::SiteReport {
    autopar::report()
        .sites
        .into_iter()
        .find(|s| s.label.as_deref() == Some(label))
        .unwrap_or_else(|| panic!("no site labelled {label:?} in the report"))
}

/// The plan of the only size class the site labelled `label` has seen.
pub fn only_plan(label: &str) -> autopar::policy::Plan {
    let site = site(label);
    assert_eq!(site.classes.len(), 1, "{site:?}");
    site.classes[0]
        .plan
        .unwrap_or_else(|| panic!("site {label:?} has no plan: {site:?}"))
}

/// Silences the panic hook for deliberate panics, which tests raise by the thousand:
/// those whose message starts with `deliberate`, and `panic_any` payloads of a custom
/// type (neither `&str` nor `String`). Other panics (failed assertions) print as usual.
/// Installed once per process.
pub fn quiet_deliberate_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied());
            match message {
                Some(message) if !message.starts_with("deliberate") => default(info),
                _ => {}
            }
        }))
    });
}

/// OS threads of this process now (Linux; 0 elsewhere).
pub fn os_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Re-runs the current test binary's test `test` alone, with `AUTOPAR_TEST_CHILD=1` and
/// the extra environment variables `vars`; returns its output. Tests that must run in a
/// process of their own (environment read once, thread limits, peak memory) check
/// [`in_child`] and do their work only there.
pub fn run_child(test: &str, vars: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"]);
    cmd.env("AUTOPAR_TEST_CHILD", "1");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// True in a process started by [`run_child`].
pub fn in_child() -> bool {
    std::env::var_os("AUTOPAR_TEST_CHILD").is_some()
}
