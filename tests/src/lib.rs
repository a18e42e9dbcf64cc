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
