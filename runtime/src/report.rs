//! Explaining decisions: [`report()`] and the `AUTOPAR_LOG` lines.

use std::fmt;
use std::sync::atomic::Ordering;

use crate::exec::io_pool::IoPool;
use crate::policy::{Decision, Plan, Profile};
use crate::site::{self, Entry, UNKNOWN_LEN_CLASS, load_f64};

/// What every parallel loop of the process has run and decided so far.
///
/// Its `Display` is an aligned table, one row per loop and size class.
///
/// ```
/// use autopar::Parallel;
/// let items: Vec<u32> = (0..1000).collect();
/// Parallel::auto().label("tiny sum").for_each(&items, |x| { std::hint::black_box(x); });
/// let report = autopar::report();
/// let site = report.sites.iter().find(|s| s.label.as_deref() == Some("tiny sum")).unwrap();
/// assert_eq!(site.calls, 1);
/// println!("{report}");
/// ```
///
/// With the `serde` feature, `Report` serializes with its schema version as a field,
/// `"schema"`, in every format (`Report::SCHEMA_VERSION`); deserializing a report of
/// a newer schema is an error rather than a silent misreading.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Report {
    /// One entry per loop (and loop-body type, for loops in generic functions).
    pub sites: Vec<SiteReport>,
    /// Live threads of the I/O pool (idle ones retire after a few seconds).
    pub io_pool_threads: usize,
}

/// What one loop has run and decided.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct SiteReport {
    /// `file:line:column` of the loop.
    pub location: String,
    /// The loop's label, if it has one.
    pub label: Option<String>,
    /// Calls so far (approximate when calls race).
    pub calls: u64,
    /// Items processed so far (approximate when calls race).
    pub items: u64,
    /// The measured cost of one item, if the loop was profiled (or loaded).
    pub profile: Option<Profile>,
    /// Times the loop was profiled (its first items measured): 0 for a loop that ran
    /// only pinned plans, or that decided from a loaded profile
    /// ([`load_profile`](crate::load_profile)).
    pub profiled: u32,
    /// Whether `profile` came from a saved profile rather than from measuring here.
    pub profile_loaded: bool,
    /// Times the loop re-profiled because its cost drifted.
    pub retunes: u32,
    /// One row per input size class the loop has seen.
    pub classes: Vec<ClassReport>,
    /// The concurrency limit of the async methods run at this site (feature `async`).
    #[cfg(feature = "async")]
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub async_loop: Option<crate::AsyncReport>,
}

/// The decision for one input size class of a loop.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct ClassReport {
    /// Smallest input length in this class (`None`: inputs of unknown length).
    pub min_len: Option<usize>,
    /// Calls in this class.
    pub calls: u64,
    /// Items in this class.
    pub items: u64,
    /// The current plan (`None` before the first decision).
    pub plan: Option<Plan>,
    /// Speedup over sequential the policy predicted.
    pub predicted_speedup: Option<f64>,
    /// Speedup over sequential measured on warm calls: this class's own timed
    /// sequential calls (its trials' reference calls included) ÷ its parallel plan's
    /// timed calls. `None` for a sequential plan, and when no sequential call of the
    /// class was timed: the profile of the first items is no measure of the whole
    /// loop (a triangular loop's first items are its cheapest).
    pub observed_speedup: Option<f64>,
    /// This class's own profile, for a class whose items proved to cost far more than
    /// the loop's profile said (the cost of a loop's items may depend on the input's
    /// size): it profiles on its own and decides from this. `None`: the class decides
    /// from the loop's profile ([`SiteReport::profile`]).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub profile: Option<Profile>,
}

/// A snapshot of every loop's decisions and costs.
///
/// ```
/// println!("{}", autopar::report());
/// ```
pub fn report() -> Report {
    let entries = site::registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let sites = entries.into_iter().map(site_report).collect();
    Report {
        sites,
        io_pool_threads: IoPool::global().threads(),
    }
}

#[cfg(feature = "serde")]
impl Report {
    /// The version of the report's schema, written as its `"schema"` field by every
    /// serde format. It changes only when a field is renamed or removed or changes
    /// meaning; new fields may be added within a version.
    pub const SCHEMA_VERSION: u32 = 1;

    /// The report as pretty-printed JSON, for a dashboard or a CI check (feature
    /// `serde`); the schema is in the README. `serde_json::to_string(&report)` (compact),
    /// `serde_json::to_writer` and any other serde format carry the same fields,
    /// `"schema"` included; `serde_json::from_str::<Report>` reads them back.
    ///
    /// ```
    /// autopar::Parallel::auto().label("json").for_each(0..100, |_| ());
    /// let json = autopar::report().to_json();
    /// assert!(json.contains("\"schema\": 1"));
    /// assert!(json.contains("\"label\": \"json\""));
    /// let compact = serde_json::to_string(&autopar::report()).unwrap();
    /// assert!(compact.starts_with("{\"schema\":1,"));
    /// ```
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }
}

/// `Report` on the wire: its fields after the schema version.
#[cfg(feature = "serde")]
mod wire {
    use super::{Report, SiteReport};
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize)]
    struct Out<'r> {
        schema: u32,
        sites: &'r [SiteReport],
        io_pool_threads: usize,
    }

    #[derive(Deserialize)]
    struct In {
        /// Reports written before the field existed are of schema 1.
        #[serde(default = "first_schema")]
        schema: u32,
        sites: Vec<SiteReport>,
        io_pool_threads: usize,
    }

    fn first_schema() -> u32 {
        1
    }

    impl Serialize for Report {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            Out {
                schema: Report::SCHEMA_VERSION,
                sites: &self.sites,
                io_pool_threads: self.io_pool_threads,
            }
            .serialize(serializer)
        }
    }

    impl<'de> Deserialize<'de> for Report {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let report = In::deserialize(deserializer)?;
            if report.schema > Report::SCHEMA_VERSION {
                return Err(D::Error::custom(format_args!(
                    "an autopar report of schema {}; this autopar reads schema {} and older",
                    report.schema,
                    Report::SCHEMA_VERSION
                )));
            }
            Ok(Report {
                sites: report.sites,
                io_pool_threads: report.io_pool_threads,
            })
        }
    }
}

fn site_report(entry: &'static Entry) -> SiteReport {
    let profile = entry.learned();
    let classes: Vec<ClassReport> = entry
        .classes
        .existing()
        .filter_map(|(class, state)| {
            let calls = state.calls.load(Ordering::Relaxed);
            if calls == 0 {
                return None;
            }
            let plan = site::unpack(state.plan.load(Ordering::Relaxed));
            let predicted = load_f64(&state.predicted_speedup);
            let observed = load_f64(&state.observed_ns_per_item);
            let sequential = load_f64(&state.sequential_ns_per_item);
            let own_profile = if state.profiles_alone.load(Ordering::Acquire) {
                *state.own_profile.lock().unwrap_or_else(|e| e.into_inner())
            } else {
                None
            };
            Some(ClassReport {
                min_len: match class {
                    UNKNOWN_LEN_CLASS => None,
                    0 => Some(0),
                    c => Some(1usize << (c - 1)),
                },
                calls,
                items: state.items.load(Ordering::Relaxed),
                plan,
                predicted_speedup: (predicted > 0.0).then_some(predicted),
                // Sequential plans have nothing to compare: their speedup is 1 by
                // definition. A parallel plan compares with measured sequential calls
                // of its own class, or shows none.
                observed_speedup: match plan {
                    Some(plan)
                        if plan != Plan::Sequential && observed > 0.0 && sequential > 0.0 =>
                    {
                        Some(sequential / observed)
                    }
                    _ => None,
                },
                profile: own_profile,
            })
        })
        .collect();
    SiteReport {
        location: entry.site.location(),
        label: entry
            .site
            .label()
            .or_else(|| entry.label.get().copied())
            .map(str::to_owned),
        calls: classes.iter().map(|c| c.calls).sum(),
        items: classes.iter().map(|c| c.items).sum(),
        profile,
        profiled: entry.profiled.load(Ordering::Relaxed),
        profile_loaded: entry.profile_loaded.load(Ordering::Relaxed),
        retunes: entry.retunes.load(Ordering::Relaxed),
        classes,
        #[cfg(feature = "async")]
        async_loop: crate::async_loop::tune::snapshot(
            &entry.async_site.lock().unwrap_or_else(|e| e.into_inner()),
        ),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rows = vec![
            [
                "loop", "size", "calls", "per item", "cpu", "spread", "plan", "est.", "seen",
            ]
            .map(String::from),
        ];
        for site in &self.sites {
            let name = match &site.label {
                Some(label) => format!("{} ({label})", site.location),
                None => site.location.clone(),
            };
            for class in &site.classes {
                let profile = class.profile.or(site.profile);
                rows.push([
                    name.clone(),
                    match class.min_len {
                        None => "?".to_owned(),
                        Some(0) => "0".to_owned(),
                        Some(n) => format!("≥{}", count(n as f64)),
                    },
                    class.calls.to_string(),
                    profile.map_or("-".into(), |p| duration(p.item_ns)),
                    profile.map_or("-".into(), |p| format!("{:.0}%", p.cpu_fraction * 100.0)),
                    profile.map_or("-".into(), |p| format!("{:.2}", p.spread)),
                    // A site that re-tuned has forgotten its plans until its next call.
                    class.plan.map_or_else(
                        || {
                            if site.retunes > 0 {
                                "re-profiles next call".into()
                            } else {
                                "undecided".into()
                            }
                        },
                        |p| p.to_string(),
                    ),
                    class
                        .predicted_speedup
                        .map_or("-".into(), |s| format!("{s:.1}×")),
                    // `?`: a parallel plan with no sequential call of its class
                    // measured to compare with.
                    match (class.observed_speedup, class.plan) {
                        (Some(s), _) => format!("{s:.1}×"),
                        (None, Some(p)) if p != Plan::Sequential => "?".into(),
                        _ => "-".into(),
                    },
                ]);
            }
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|col| {
                rows.iter()
                    .map(|r| r[col].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &rows {
            let mut line = String::new();
            for (col, cell) in row.iter().enumerate() {
                let pad = widths[col] - cell.chars().count();
                if col == 0 || col == 6 {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad));
                } else {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(cell);
                }
                line.push_str("  ");
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        #[cfg(feature = "async")]
        for site in &self.sites {
            if let Some(a) = &site.async_loop {
                let name = match &site.label {
                    Some(label) => format!("{} ({label})", site.location),
                    None => site.location.clone(),
                };
                let ms = |ns: Option<f64>| ns.map_or("-".to_owned(), duration);
                writeln!(
                    f,
                    "async {name}: {} calls, {} items, {} in flight ({}); latency {} (min {}), {} items/s{}",
                    a.calls,
                    a.items,
                    a.limit,
                    a.reason,
                    ms(a.latency_ns),
                    ms(a.min_latency_ns),
                    a.throughput.map_or("-".to_owned(), |t| format!("{t:.0}")),
                    if a.timeouts > 0 {
                        format!(", {} timed out", a.timeouts)
                    } else {
                        String::new()
                    },
                )?;
            }
        }
        writeln!(
            f,
            "cpu pool: {} threads; io pool: {} threads",
            crate::exec::cpu::threads(),
            self.io_pool_threads
        )
    }
}

/// One `AUTOPAR_LOG` line, e.g.
/// `src/main.rs:42:5  10000 items × 1.2 µs, cpu 98% → rayon, chunk 256, 2 threads, est. 1.9×`.
pub(crate) fn decision_line(
    entry: &Entry,
    items: usize,
    profile: &Profile,
    decision: &Decision,
) -> String {
    let label = entry
        .site
        .label()
        .or_else(|| entry.label.get().copied())
        .map(|l| format!(" ({l})"))
        .unwrap_or_default();
    format!(
        "autopar: {}{label}  {items} items × {}, cpu {:.0}%, spread {:.2} → {}, est. {:.1}×",
        entry.site.location(),
        duration(profile.item_ns),
        profile.cpu_fraction * 100.0,
        profile.spread,
        decision.plan,
        decision.speedup(),
    )
}

/// The `AUTOPAR_LOG` line of a finished trial run.
pub(crate) fn trial_line(
    entry: &Entry,
    items: usize,
    plan: Plan,
    site_plan: Option<Plan>,
    site_ns_per_item: f64,
    trial_ns_per_item: f64,
) -> String {
    let speedup = site_ns_per_item / trial_ns_per_item;
    let versus = match site_plan {
        Some(Plan::Sequential) | None => "sequential".to_owned(),
        Some(other) => format!("with {other}"),
    };
    format!(
        "autopar: {}  {items} items: tried {plan} on warm calls: {} per item vs {} {versus}, {speedup:.2}× → {}",
        entry.site.location(),
        duration(trial_ns_per_item),
        duration(site_ns_per_item),
        if speedup > crate::policy::TRIAL_MARGIN {
            "kept"
        } else {
            "not kept"
        },
    )
}

/// The log line of a size class that starts profiling on its own (see
/// `Call::underestimated`).
pub(crate) fn profile_alone_line(
    entry: &Entry,
    items: usize,
    observed_ns_per_item: f64,
    predicted_ns_per_item: f64,
) -> String {
    format!(
        "autopar: {}  {items} items: {} per item on warm calls, {:.0}× the {} predicted → this size class profiles on its own",
        entry.site.location(),
        duration(observed_ns_per_item),
        observed_ns_per_item / predicted_ns_per_item,
        duration(predicted_ns_per_item),
    )
}

fn duration(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

fn count(n: f64) -> String {
    if n < 1e3 {
        format!("{n}")
    } else if n < 1e6 {
        format!("{}k", (n / 1e3).round())
    } else {
        format!("{}M", (n / 1e6).round())
    }
}

#[cfg(all(test, feature = "serde"))]
mod serde_tests {
    use super::*;
    use crate::Parallel;

    #[test]
    fn the_report_round_trips_through_json() {
        Parallel::auto()
            .label("json tiny")
            .for_each(0..1000u32, |x| {
                std::hint::black_box(x);
            });
        Parallel::io()
            .workers(4)
            .label("json io")
            .for_each(0..8, |_| ());
        Parallel::cpu()
            .chunk(16)
            .label("json cpu")
            .for_each(crate::iter(0..100), |_| ());
        let report = report();
        let json = report.to_json();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn every_serde_format_carries_the_schema() {
        let report = report();
        let compact: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
        assert_eq!(compact["schema"], Report::SCHEMA_VERSION);
        let mut written = Vec::new();
        serde_json::to_writer(&mut written, &report).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&written).unwrap();
        assert_eq!(value["schema"], Report::SCHEMA_VERSION);
        assert_eq!(serde_json::to_value(&report).unwrap()["schema"], 1);
    }

    #[test]
    fn a_report_of_a_newer_schema_is_refused_and_one_without_is_read() {
        let newer = r#"{"schema": 2, "sites": [], "io_pool_threads": 0}"#;
        let error = serde_json::from_str::<Report>(newer).unwrap_err();
        assert!(error.to_string().contains("schema 2"), "{error}");
        let unversioned = r#"{"sites": [], "io_pool_threads": 3}"#;
        let report: Report = serde_json::from_str(unversioned).unwrap();
        assert_eq!(report.io_pool_threads, 3);
    }

    #[test]
    fn the_json_schema_is_as_documented() {
        Parallel::io()
            .workers(3)
            .label("schema io")
            .for_each(0..8, |_| ());
        let json: serde_json::Value = serde_json::from_str(&report().to_json()).unwrap();
        assert_eq!(json["schema"], 1);
        assert!(json["io_pool_threads"].is_u64());
        let site = json["sites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["label"] == "schema io")
            .unwrap();
        for key in [
            "location",
            "label",
            "calls",
            "items",
            "profile",
            "profiled",
            "profile_loaded",
            "retunes",
            "classes",
        ] {
            assert!(site.get(key).is_some(), "no {key} in {site}");
        }
        let class = &site["classes"][0];
        assert_eq!(class["min_len"], 8);
        assert_eq!(class["calls"], 1);
        assert_eq!(
            class["plan"],
            serde_json::json!({"kind": "io", "workers": 3, "chunk": 1})
        );
        assert!(class["predicted_speedup"].is_null() || class["predicted_speedup"].is_f64());
        let sequential = serde_json::to_value(Plan::Sequential).unwrap();
        assert_eq!(sequential, serde_json::json!({"kind": "sequential"}));
        let profile = serde_json::to_value(Profile {
            item_ns: 1.5,
            cpu_fraction: 1.0,
            spread: 0.0,
        })
        .unwrap();
        assert_eq!(
            profile,
            serde_json::json!({"item_ns": 1.5, "cpu_fraction": 1.0, "spread": 0.0})
        );
    }
}
