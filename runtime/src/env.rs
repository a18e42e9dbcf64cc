//! Environment variables, read once per process.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `AUTOPAR` | `auto`, `seq` | `auto` |
//! | `AUTOPAR_LOG` | `0`/`1` (`false`/`true`, `off`/`on`) | `0` |
//! | `AUTOPAR_IO_MAX_WORKERS` | integer ≥ 1 | 256 |
//! | `AUTOPAR_PROFILE` | path of a file written by `autopar::save_profile` | none |
//!
//! A malformed value prints one warning to stderr and the default is used: a typo in
//! an environment variable must never take a program down.

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
    let (config, warnings) = parse(|name| std::env::var(name).ok());
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

/// Parses the configuration from `lookup`, returning the warnings to print.
pub(crate) fn parse(lookup: impl Fn(&str) -> Option<String>) -> (Config, Vec<String>) {
    let mut warnings = Vec::new();
    let force_sequential = match lookup("AUTOPAR").as_deref().map(str::trim) {
        None | Some("") | Some("auto") => false,
        Some("seq") | Some("sequential") => true,
        Some(other) => {
            warnings.push(format!(
                "AUTOPAR={other:?} is not one of `auto`, `seq`; using `auto`"
            ));
            false
        }
    };
    let log = match lookup("AUTOPAR_LOG").as_deref().map(str::trim) {
        None | Some("") | Some("0") | Some("false") | Some("off") => false,
        Some("1") | Some("true") | Some("on") => true,
        Some(other) => {
            warnings.push(format!(
                "AUTOPAR_LOG={other:?} is not one of `0`, `1`; logging stays off"
            ));
            false
        }
    };
    let io_max_workers = match lookup("AUTOPAR_IO_MAX_WORKERS").as_deref().map(str::trim) {
        None | Some("") => IO_MAX_WORKERS_DEFAULT,
        Some(text) => match text.parse::<u64>() {
            Ok(0) | Err(_) => {
                warnings.push(format!(
                    "AUTOPAR_IO_MAX_WORKERS={text:?} is not a positive integer; using {IO_MAX_WORKERS_DEFAULT}"
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
    // Read as given (not trimmed: a path may end in a space); empty means unset.
    let profile = lookup("AUTOPAR_PROFILE")
        .filter(|path| !path.is_empty())
        .map(PathBuf::from);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_with(vars: &[(&str, &str)]) -> (Config, Vec<String>) {
        parse(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
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
}
