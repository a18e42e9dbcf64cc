//! Environment variables, read once per process.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `AUTOPAR` | `auto`, `seq` | `auto` |
//! | `AUTOPAR_LOG` | `0`/`1` (`false`/`true`, `off`/`on`) | `0` |
//! | `AUTOPAR_IO_MAX_WORKERS` | integer ≥ 1 | 256 |
//! | `AUTOPAR_PROFILE` | path of a file written by `autopar::save_profile` | none |
//! | `RAYON_NUM_THREADS` | read by rayon (it sizes the CPU pool); checked here | cores |
//!
//! A malformed value (including one that is not UTF-8) prints one warning to stderr,
//! naming the variable and what is used instead: a typo in an environment variable
//! must never take a program down, nor go unnoticed. `AUTOPAR_PROFILE` is a path, so
//! any bytes are fine there. `RAYON_NUM_THREADS` is rayon's: rayon silently ignores a
//! value it cannot parse and takes one thread per core, so autopar, which runs on
//! rayon's pool, says so.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::sync::LazyLock;

/// Hard ceiling on I/O workers: each is an OS thread.
pub(crate) const IO_WORKERS_CEILING: usize = 4096;
const IO_MAX_WORKERS_DEFAULT: usize = 256;

/// The configuration read from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Config {
    /// `AUTOPAR=seq`: every site runs sequentially.
    pub force_sequential: bool,
    /// `AUTOPAR_LOG=1`: one line per new or changed decision on stderr.
    pub log: bool,
    /// `AUTOPAR_IO_MAX_WORKERS`.
    pub io_max_workers: usize,
    /// `AUTOPAR_PROFILE`: a saved profile to load at first use (see `persist`).
    pub profile: Option<PathBuf>,
}

static CONFIG: LazyLock<Config> = LazyLock::new(|| {
    let (config, warnings) = parse(|name| std::env::var_os(name));
    for warning in warnings {
        eprintln!("autopar: warning: {warning}");
    }
    config
});

/// The process configuration (parsed on first use).
#[inline]
pub(crate) fn config() -> &'static Config {
    &CONFIG
}

/// Upper bound on I/O pool workers (`AUTOPAR_IO_MAX_WORKERS`, default 256).
pub(crate) fn io_max_workers() -> usize {
    CONFIG.io_max_workers
}

/// Parses the configuration from `lookup` (`std::env::var_os` in a program), returning
/// the warnings to print: one per malformed variable.
pub(crate) fn parse(lookup: impl Fn(&str) -> Option<OsString>) -> (Config, Vec<String>) {
    let mut warnings = Vec::new();
    let using_auto = "using `auto`";
    let force_sequential = match text(&lookup, "AUTOPAR", using_auto, &mut warnings).as_deref() {
        None | Some("auto") => false,
        Some("seq") | Some("sequential") => true,
        Some(other) => {
            warnings.push(format!(
                "AUTOPAR={other:?} is not one of `auto`, `seq`; {using_auto}"
            ));
            false
        }
    };
    let log_off = "logging stays off";
    let log = match text(&lookup, "AUTOPAR_LOG", log_off, &mut warnings).as_deref() {
        None | Some("0") | Some("false") | Some("off") => false,
        Some("1") | Some("true") | Some("on") => true,
        Some(other) => {
            warnings.push(format!(
                "AUTOPAR_LOG={other:?} is not one of `0`, `1`; {log_off}"
            ));
            false
        }
    };
    let using_default = format!("using {IO_MAX_WORKERS_DEFAULT}");
    let io_max_workers = match text(
        &lookup,
        "AUTOPAR_IO_MAX_WORKERS",
        &using_default,
        &mut warnings,
    ) {
        None => IO_MAX_WORKERS_DEFAULT,
        Some(text) => match text.parse::<u64>() {
            Ok(0) | Err(_) => {
                warnings.push(format!(
                    "AUTOPAR_IO_MAX_WORKERS={text:?} is not a positive integer; {using_default}"
                ));
                IO_MAX_WORKERS_DEFAULT
            }
            Ok(n) if n > IO_WORKERS_CEILING as u64 => {
                warnings.push(format!(
                    "AUTOPAR_IO_MAX_WORKERS={n} is more threads than is sensible; using {IO_WORKERS_CEILING}"
                ));
                IO_WORKERS_CEILING
            }
            Ok(n) => n as usize,
        },
    };
    // A path, read as given: any bytes (not trimmed: a path may end in a space); empty
    // means unset.
    let profile = lookup("AUTOPAR_PROFILE")
        .filter(|path| !path.is_empty())
        .map(PathBuf::from);
    warnings.extend(check_rayon_num_threads(&lookup));
    (
        Config {
            force_sequential,
            log,
            io_max_workers,
            profile,
        },
        warnings,
    )
}

/// The value of the variable `name` as trimmed text; `None` when unset, empty, or not
/// UTF-8 (then with a warning saying that `otherwise` is what is used).
fn text(
    lookup: &impl Fn(&str) -> Option<OsString>,
    name: &str,
    otherwise: &str,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let value = lookup(name)?;
    match value.to_str() {
        Some(text) => Some(text.trim())
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        None => {
            warnings.push(format!(
                "{name}={:?} is not valid UTF-8; {otherwise}",
                value.to_string_lossy()
            ));
            None
        }
    }
}

/// A warning if rayon cannot read `RAYON_NUM_THREADS`. Rayon takes the value only if it
/// is UTF-8 and parses (untrimmed) as a `usize` (0 means the default); anything else it
/// ignores without a word and falls back to the deprecated `RAYON_RS_NUM_CPUS`, then to
/// one thread per core. The checks here are rayon's, so the warning appears exactly when
/// the value is ignored, and says what rayon uses instead.
fn check_rayon_num_threads(lookup: &impl Fn(&str) -> Option<OsString>) -> Option<String> {
    const NAME: &str = "RAYON_NUM_THREADS";
    let value = lookup(NAME)?;
    // Empty reads as unset, as autopar's own variables do: rayon's default is meant.
    if value.is_empty() || rayon_count(&value).is_some() {
        return None;
    }
    let used = match lookup("RAYON_RS_NUM_CPUS").as_deref().and_then(rayon_count) {
        Some(n @ 1..) => format!("RAYON_RS_NUM_CPUS={n} threads"),
        _ => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            format!("one thread per core ({cores})")
        }
    };
    let shown = match value.to_str() {
        Some(text) => format!("{text:?} is not an unsigned integer"),
        None => format!("{:?} is not valid UTF-8", value.to_string_lossy()),
    };
    Some(format!(
        "{NAME}={shown}; rayon ignores it, so its pool (autopar's CPU pool) uses {used}"
    ))
}

/// A thread count as rayon parses it from its environment variables.
fn rayon_count(value: &OsStr) -> Option<usize> {
    value.to_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_with(vars: &[(&str, &str)]) -> (Config, Vec<String>) {
        parse(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        })
    }

    #[test]
    fn defaults_when_unset() {
        let (config, warnings) = parse_with(&[]);
        assert_eq!(
            config,
            Config {
                force_sequential: false,
                log: false,
                io_max_workers: 256,
                profile: None,
            }
        );
        assert!(warnings.is_empty());
    }

    #[test]
    fn valid_values() {
        let (config, warnings) = parse_with(&[
            ("AUTOPAR", "seq"),
            ("AUTOPAR_LOG", "1"),
            ("AUTOPAR_IO_MAX_WORKERS", " 32 "),
            ("AUTOPAR_PROFILE", "target/autopar profile.txt"),
        ]);
        assert!(config.force_sequential && config.log);
        assert_eq!(
            config.profile.as_deref(),
            Some(std::path::Path::new("target/autopar profile.txt"))
        );
        assert_eq!(config.io_max_workers, 32);
        assert!(warnings.is_empty());
    }

    #[test]
    fn malformed_values_warn_once_each_and_fall_back() {
        for (value, expected) in [
            ("-3", 256),
            ("banana", 256),
            ("0", 256),
            ("99999999999", 4096),
        ] {
            let (config, warnings) = parse_with(&[
                ("AUTOPAR", "banana"),
                ("AUTOPAR_LOG", "yes please"),
                ("AUTOPAR_IO_MAX_WORKERS", value),
            ]);
            assert!(!config.force_sequential && !config.log);
            assert_eq!(config.io_max_workers, expected, "{value}");
            assert_eq!(warnings.len(), 3, "{warnings:?}");
            assert!(warnings[2].contains("AUTOPAR_IO_MAX_WORKERS"));
        }
    }

    #[cfg(unix)]
    #[test]
    fn values_that_are_not_utf8_warn_once_each_and_fall_back() {
        use std::os::unix::ffi::OsStringExt;
        let bytes = |text: &str| {
            let mut bytes = text.as_bytes().to_vec();
            bytes.push(0xff);
            OsString::from_vec(bytes)
        };
        let (config, warnings) = parse(|name| match name {
            "AUTOPAR" => Some(bytes("seq")),
            "AUTOPAR_LOG" => Some(bytes("1")),
            "AUTOPAR_IO_MAX_WORKERS" => Some(bytes("8")),
            "AUTOPAR_PROFILE" => Some(bytes("/tmp/profile")),
            "RAYON_NUM_THREADS" => Some(bytes("4")),
            _ => None,
        });
        assert!(!config.force_sequential && !config.log);
        assert_eq!(config.io_max_workers, 256);
        // A path may be any bytes: kept as given.
        assert_eq!(
            config.profile.map(PathBuf::into_os_string),
            Some(bytes("/tmp/profile"))
        );
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        for (warning, (name, used)) in warnings.iter().zip([
            ("AUTOPAR=", "using `auto`"),
            ("AUTOPAR_LOG=", "logging stays off"),
            ("AUTOPAR_IO_MAX_WORKERS=", "using 256"),
            ("RAYON_NUM_THREADS=", "one thread per core"),
        ]) {
            assert!(warning.starts_with(name), "{warning}");
            assert!(warning.contains("not valid UTF-8"), "{warning}");
            assert!(warning.contains(used), "{warning}");
        }
    }

    #[test]
    fn rayon_num_threads_warns_exactly_when_rayon_ignores_it() {
        for good in ["4", "0", "1", "+3", ""] {
            let (_, warnings) = parse_with(&[("RAYON_NUM_THREADS", good)]);
            assert!(warnings.is_empty(), "{good:?}: {warnings:?}");
        }
        for bad in ["banana", "-1", " 4", "4 ", "2.5", "99999999999999999999999"] {
            let (config, warnings) = parse_with(&[("RAYON_NUM_THREADS", bad)]);
            assert_eq!(config, parse_with(&[]).0);
            assert_eq!(warnings.len(), 1, "{bad:?}: {warnings:?}");
            assert!(
                warnings[0].starts_with(&format!("RAYON_NUM_THREADS={bad:?} ")),
                "{}",
                warnings[0]
            );
            assert!(
                warnings[0].contains("one thread per core"),
                "{}",
                warnings[0]
            );
        }
        // Rayon's deprecated fallback is what it uses then.
        let (_, warnings) =
            parse_with(&[("RAYON_NUM_THREADS", "lots"), ("RAYON_RS_NUM_CPUS", "3")]);
        assert!(
            warnings[0].contains("RAYON_RS_NUM_CPUS=3"),
            "{}",
            warnings[0]
        );
    }
}
