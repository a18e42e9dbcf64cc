//! Saved profiles: [`save_profile`] writes what every loop has learned, [`load_profile`]
//! (or `AUTOPAR_PROFILE=path`, read at first use) loads it, so the first call of a loop
//! that a previous run of the same program measured decides at once, without profiling.
//!
//! # What is saved
//! Per loop and loop-body type: the per-item cost, the CPU fraction and the spread (a
//! [`Profile`]). Decisions are not saved: they depend on the input size and the machine's
//! current state, and are re-derived from the profile in nanoseconds.
//!
//! # When an entry is stale
//! A saved cost is only as good as the code and the build that measured it: an edited
//! loop body keeps its location but not its cost, and a debug build runs 10–50× slower
//! than a release build of the same code. So every entry carries the fingerprint of the
//! **executable that measured it** (its size and modification time, and autopar's
//! version): a rebuilt program ignores the entries of its previous builds and profiles
//! again, as it would without a file. Within a build, an entry is found by the loop's
//! location (`file:line:column`) and its body type (a `type_name`, which tells the
//! monomorphizations of a generic loop apart). Loaded entries are not trusted blindly
//! either: they only replace the *first* profiling; warm calls still time themselves,
//! and a cost that drifts 2× from the loaded one makes the loop profile again.
//!
//! # The format
//! One format whatever the cargo features, so the lean default build can persist too: a
//! UTF-8 text file, one entry per line, tab-separated, after a header line; `#` lines are
//! comments. It is written to a temporary file and renamed, so a reader never sees half
//! a file.
//!
//! ```text
//! # autopar profile: what each parallel loop learned (autopar::save_profile).
//! # columns: build, location, item_ns, cpu_fraction, spread, body type
//! autopar-profile→1
//! 5f0c2a9be1d47a30→src/main.rs:12:5→2710.5→0.998→0.012→main::render::{{closure}}
//! ```
//! (`→` is a tab.)
//!
//! A file that is missing or malformed (a bad header, a line with the wrong number of
//! fields, a cost that is not a finite number ≥ 0, a CPU fraction outside 0..=1) is
//! rejected whole: [`load_profile`] returns the error, and `AUTOPAR_PROFILE` prints it as
//! one warning. Nothing panics, and loops simply profile as usual.
//!
//! Only a regular file of at most 4 MiB (`MAX_PROFILE_BYTES`) is read: a path that
//! names a FIFO, a device (`/dev/zero`), a directory or a huge file by mistake is
//! refused at once, without blocking and without reading it into memory.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{File, Metadata};
use std::io::{self, Read as _};
use std::path::Path;
use std::sync::{LazyLock, Mutex};

use crate::env::config;
use crate::policy::Profile;
use crate::site::{self, Entry, Site};

const HEADER: &str = "autopar-profile\t1";

/// The largest profile file [`load_profile`] reads: 4 MiB. An entry is one line of a
/// few hundred bytes, so this holds over ten thousand loops, far more than any program
/// has; it bounds what loading a wrong file (a log, a disk image) costs.
pub(crate) const MAX_PROFILE_BYTES: u64 = 4 << 20;

/// Entries loaded for this build: (location, body type) → profile.
type Table = HashMap<(String, String), Profile>;

static TABLE: Mutex<Option<Table>> = Mutex::new(None);

/// `AUTOPAR_PROFILE`, loaded once, at the first lookup.
static FROM_ENV: LazyLock<()> = LazyLock::new(|| {
    let Some(path) = &config().profile else {
        return;
    };
    match load_into_table(path) {
        Ok(stats) => {
            if config().log {
                eprintln!(
                    "autopar: AUTOPAR_PROFILE={}: {} loop profiles loaded, {} of other builds ignored",
                    path.display(),
                    stats.loaded,
                    stats.stale
                );
            }
        }
        Err(error) => eprintln!(
            "autopar: warning: AUTOPAR_PROFILE={}: {error}; loops profile as usual",
            path.display()
        ),
    }
});

/// The loaded profile of the loop `site` with body type `key`, if a saved profile of
/// this build has one. Called once per new [`Entry`] (the cold path).
pub(crate) fn preloaded(site: &Site, key: &str) -> Option<Profile> {
    LazyLock::force(&FROM_ENV);
    let table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    let table = table.as_ref().filter(|t| !t.is_empty())?;
    table.get(&(site.location(), key.to_owned())).copied()
}

/// Writes what every loop of this process has learned to `path` (replacing it), and
/// returns the number of entries written.
///
/// Entries loaded from a profile of this build that no loop has used yet are written
/// too, so saving after a run that took only some paths keeps what the others learned
/// before. Loops that were never profiled (pinned plans, empty inputs) have nothing to
/// save.
///
/// ```
/// use autopar::Parallel;
///
/// let path = std::env::temp_dir().join(format!("autopar-doc-save-{}.txt", std::process::id()));
/// Parallel::auto().label("saved").for_each(0..1000, |i| { std::hint::black_box(i); });
/// let written = autopar::save_profile(&path)?;
/// assert!(written >= 1);
/// // A later run of the same program: `AUTOPAR_PROFILE=path`, or
/// assert!(autopar::load_profile(&path)? >= 1);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn save_profile(path: impl AsRef<Path>) -> io::Result<usize> {
    let path = path.as_ref();
    let build = build_fingerprint()?;
    let mut entries: Table = TABLE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default();
    let live = site::registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for entry in live {
        if let Some(profile) = entry.learned() {
            entries.insert((entry.site.location(), entry.key.to_owned()), profile);
        }
    }
    let mut sorted: Vec<_> = entries
        .into_iter()
        .filter(|((location, key), profile)| {
            // Fields cannot hold the separators; such names are skipped (they would not
            // be found again anyway).
            !(location.contains(['\t', '\n', '\r']) || key.contains(['\n', '\r'])) && valid(profile)
        })
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut text = String::from(
        "# autopar profile: what each parallel loop learned (autopar::save_profile).\n\
         # Entries of another build of the program are ignored when loading.\n\
         # columns: build, location, item_ns, cpu_fraction, spread, body type\n",
    );
    text.push_str(HEADER);
    text.push('\n');
    for ((location, key), p) in &sorted {
        let _ = writeln!(
            text,
            "{build}\t{location}\t{}\t{}\t{}\t{key}",
            p.item_ns, p.cpu_fraction, p.spread
        );
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })?;
    Ok(sorted.len())
}

/// Loads a profile written by [`save_profile`]: loops it knows decide on their first
/// call without profiling. Returns the number of entries of this build it holds
/// (entries of other builds are ignored: they measured other code).
///
/// A loop that already measured itself in this process keeps its own measurement. The
/// same happens at first use when the environment variable `AUTOPAR_PROFILE=path` is
/// set, which needs no code.
///
/// # Errors
/// The file cannot be read; it is not a regular file ([`io::ErrorKind::IsADirectory`]
/// for a directory, [`io::ErrorKind::InvalidInput`] for a FIFO, socket or device, which
/// is never opened for reading in a way that could block); it is larger than 4 MiB
/// ([`io::ErrorKind::FileTooLarge`], and no more than that is read: a profile holds a
/// line per loop, so a real one is a small fraction of that); or it is not a well-formed autopar profile ([`io::ErrorKind::InvalidData`],
/// saying which line, or that it is not UTF-8). Nothing is loaded then.
///
/// ```
/// let missing = std::env::temp_dir().join("autopar-doc-no-such-profile.txt");
/// assert!(autopar::load_profile(&missing).is_err());
/// ```
pub fn load_profile(path: impl AsRef<Path>) -> io::Result<usize> {
    LazyLock::force(&FROM_ENV);
    let stats = load_into_table(path.as_ref())?;
    // Loops that exist already and have not measured themselves take it now.
    let table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(table) = table.as_ref() {
        let live = site::registry()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for entry in live {
            if let Some(profile) = table.get(&(entry.site.location(), entry.key.to_owned())) {
                entry.preload(*profile);
            }
        }
    }
    Ok(stats.loaded)
}

#[derive(Debug, Default, PartialEq)]
struct Stats {
    loaded: usize,
    stale: usize,
}

fn load_into_table(path: &Path) -> io::Result<Stats> {
    let text = read_bounded(path)?;
    let build = build_fingerprint()?;
    let (entries, stats) = parse(&text, &build)?;
    let mut table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    table.get_or_insert_with(HashMap::new).extend(entries);
    Ok(stats)
}

/// The text of the profile file at `path`, if it is a regular file of at most
/// [`MAX_PROFILE_BYTES`] holding UTF-8.
fn read_bounded(path: &Path) -> io::Result<String> {
    // Checked before opening: opening a FIFO for reading waits for a writer.
    regular(&std::fs::metadata(path)?)?;
    let file = open_nonblocking(path)?;
    // And again on what was opened: the path may have been replaced in between.
    let size = regular(&file.metadata()?)?;
    let mut bytes = Vec::with_capacity(size.min(MAX_PROFILE_BYTES) as usize);
    // A file that grows while it is read still stops at the bound.
    file.take(MAX_PROFILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_PROFILE_BYTES {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "not a valid autopar profile: not UTF-8 text (at byte {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// The size of a regular file of at most [`MAX_PROFILE_BYTES`], or why it is refused.
fn regular(meta: &Metadata) -> io::Result<u64> {
    let kind = meta.file_type();
    if kind.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "a directory, not a profile file",
        ));
    }
    if !kind.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "not a regular file ({}): a profile is a file written by autopar::save_profile",
                special_kind(&kind)
            ),
        ));
    }
    if meta.len() > MAX_PROFILE_BYTES {
        return Err(too_large());
    }
    Ok(meta.len())
}

fn too_large() -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!(
            "larger than {} MiB, so not a profile (one holds a line per loop)",
            MAX_PROFILE_BYTES >> 20
        ),
    )
}

/// What a file that is neither a regular file nor a directory is, in words.
fn special_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    let _ = kind;
    "a special file"
}

/// Opens `path` for reading without waiting: on unix with `O_NONBLOCK`, so that a path
/// that turned into a FIFO after it was checked returns at once instead of waiting for
/// a writer. (A regular file reads the same either way.)
fn open_nonblocking(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Parses a profile, keeping the entries of `build`.
fn parse(text: &str, build: &str) -> io::Result<(Table, Stats)> {
    let invalid = |line: usize, what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a valid autopar profile: line {line}: {what}"),
        )
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty());
    match lines.next() {
        Some((_, HEADER)) => {}
        Some((n, _)) => return Err(invalid(n, "expected the header `autopar-profile<TAB>1`")),
        None => return Err(invalid(1, "empty file")),
    }
    let mut table = Table::new();
    let mut stats = Stats::default();
    for (n, line) in lines {
        let fields: Vec<&str> = line.splitn(6, '\t').collect();
        let [entry_build, location, item_ns, cpu_fraction, spread, key] = fields[..] else {
            return Err(invalid(n, "expected 6 tab-separated fields"));
        };
        let number = |text: &str, name: &str| {
            text.parse::<f64>()
                .map_err(|_| invalid(n, &format!("{name} {text:?} is not a number")))
        };
        let profile = Profile {
            item_ns: number(item_ns, "item_ns")?,
            cpu_fraction: number(cpu_fraction, "cpu_fraction")?,
            spread: number(spread, "spread")?,
        };
        if !valid(&profile) {
            return Err(invalid(n, "a cost, CPU fraction or spread out of range"));
        }
        if entry_build.len() != 16 || !entry_build.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(n, "the build is not a 16-digit fingerprint"));
        }
        if location.is_empty() || key.is_empty() {
            return Err(invalid(n, "empty location or body type"));
        }
        if entry_build == build {
            table.insert((location.to_owned(), key.to_owned()), profile);
            stats.loaded += 1;
        } else {
            stats.stale += 1;
        }
    }
    Ok((table, stats))
}

fn valid(p: &Profile) -> bool {
    p.item_ns.is_finite()
        && p.item_ns >= 0.0
        && (0.0..=1.0).contains(&p.cpu_fraction)
        && p.spread.is_finite()
        && p.spread >= 0.0
}

/// The fingerprint of the running executable: its size and modification time, and
/// autopar's version. Any rebuild changes it.
fn build_fingerprint() -> io::Result<String> {
    static BUILD: LazyLock<Result<String, String>> = LazyLock::new(|| {
        let describe = |e: io::Error| format!("cannot identify this program's executable: {e}");
        let exe = std::env::current_exe().map_err(describe)?;
        let meta = std::fs::metadata(exe).map_err(describe)?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .unwrap_or_default();
        Ok(fingerprint(&[
            &meta.len().to_le_bytes(),
            &modified.as_nanos().to_le_bytes(),
            env!("CARGO_PKG_VERSION").as_bytes(),
        ]))
    });
    BUILD.clone().map_err(io::Error::other)
}

/// FNV-1a over `parts`, as 16 hex digits.
fn fingerprint(parts: &[&[u8]]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &byte in part.iter().chain(&[0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

impl Entry {
    /// Takes a loaded profile, unless this loop has one already.
    fn preload(&self, profile: Profile) {
        let mut learned = self.learned.lock().unwrap_or_else(|e| e.into_inner());
        if learned.is_none() {
            *learned = Some(profile);
            self.profile_loaded
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

// Not under loom: loom's atomics cannot live in `static`s, and nothing here is concurrent.
#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const BUILD: &str = "0123456789abcdef";

    fn profile(text: &str) -> io::Result<(Table, Stats)> {
        parse(text, BUILD)
    }

    #[test]
    fn entries_of_this_build_are_kept_and_others_ignored() {
        let text = format!(
            "# comment\n{HEADER}\n\
             {BUILD}\tsrc/a.rs:1:5\t12.5\t0.25\t0.1\tcrate::f::{{{{closure}}}}\n\
             fedcba9876543210\tsrc/b.rs:2:5\t1\t1\t0\tcrate::g\n\
             {BUILD}\tsrc/c.rs:3:5\t7\t1\t0\t(fn(u8), &str, alloc::vec::Vec<u8>)\n"
        );
        let (table, stats) = profile(&text).unwrap();
        assert_eq!(
            stats,
            Stats {
                loaded: 2,
                stale: 1
            }
        );
        let a = table[&("src/a.rs:1:5".into(), "crate::f::{{closure}}".into())];
        assert_eq!(
            a,
            Profile {
                item_ns: 12.5,
                cpu_fraction: 0.25,
                spread: 0.1
            }
        );
        assert!(table.contains_key(&(
            "src/c.rs:3:5".into(),
            "(fn(u8), &str, alloc::vec::Vec<u8>)".into()
        )));
    }

    #[test]
    fn malformed_files_are_rejected_whole_with_the_line() {
        for (text, line) in [
            ("", "line 1"),
            ("hello\n", "line 1"),
            ("autopar-profile\t2\n", "line 1"),
            (
                &format!("{HEADER}\n{BUILD}\tsrc/a.rs:1:5\t1\t1\n") as &str,
                "line 2",
            ),
            (&format!("{HEADER}\n\n{BUILD}\ta\tNaN\t1\t0\tk\n"), "line 3"),
            (&format!("{HEADER}\n{BUILD}\ta\t-1\t1\t0\tk\n"), "line 2"),
            (&format!("{HEADER}\n{BUILD}\ta\t1\t1.5\t0\tk\n"), "line 2"),
            (&format!("{HEADER}\n{BUILD}\ta\t1\tx\t0\tk\n"), "line 2"),
            (&format!("{HEADER}\nxyz\ta\t1\t1\t0\tk\n"), "line 2"),
            (&format!("{HEADER}\n{BUILD}\t\t1\t1\t0\tk\n"), "line 2"),
        ] {
            let error = profile(text).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData);
            assert!(error.to_string().contains(line), "{text:?}: {error}");
        }
        // Binary garbage is an error too, never a panic.
        assert!(profile("\u{0}\u{1}\t\t\t\t\t\n").is_err());
    }

    #[test]
    fn saved_files_load_again_and_seed_new_entries() {
        static SITE: Site = Site::new("persist-test.rs", 7, 9, None);
        let seeded = SITE.entry("body::Seeded");
        let measured = Profile {
            item_ns: 1234.5,
            cpu_fraction: 0.125,
            spread: 0.0625,
        };
        seeded.learn(measured);
        let path =
            std::env::temp_dir().join(format!("autopar-unit-{}.profile", std::process::id()));
        assert!(save_profile(&path).unwrap() >= 1);
        let text = std::fs::read_to_string(&path).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains("persist-test.rs:7:9"))
            .expect("the entry is saved");
        assert!(line.ends_with("\tbody::Seeded"), "{line}");
        assert!(line.contains("\t1234.5\t0.125\t0.0625\t"), "{line}");
        // The same build loads it back; a new body type at another site of that
        // location takes it at creation.
        assert!(load_profile(&path).unwrap() >= 1);
        static SAME_LOCATION: Site = Site::new("persist-test.rs", 7, 9, None);
        let fresh = SAME_LOCATION.entry("body::Seeded");
        assert_eq!(fresh.learned(), Some(measured));
        assert!(
            fresh
                .profile_loaded
                .load(std::sync::atomic::Ordering::Relaxed)
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn fingerprints_differ_by_content() {
        assert_ne!(fingerprint(&[b"ab", b"c"]), fingerprint(&[b"a", b"bc"]));
        assert_eq!(fingerprint(&[b"x"]).len(), 16);
        assert_eq!(build_fingerprint().unwrap(), build_fingerprint().unwrap());
    }

    /// A fresh path in the temporary directory.
    fn scratch(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("autopar-unit-{}-{name}", std::process::id()))
    }

    #[test]
    fn only_small_regular_utf8_files_are_read() {
        let dir = scratch("dir");
        std::fs::create_dir_all(&dir).unwrap();
        let error = read_bounded(&dir).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::IsADirectory, "{error}");

        // Sparse: the size is there, the disk blocks are not.
        let huge = scratch("huge");
        File::create(&huge).unwrap().set_len(1 << 30).unwrap();
        let error = read_bounded(&huge).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::FileTooLarge, "{error}");
        assert!(error.to_string().contains("4 MiB"), "{error}");

        let at_bound = scratch("at-bound");
        File::create(&at_bound)
            .unwrap()
            .set_len(MAX_PROFILE_BYTES)
            .unwrap();
        assert_eq!(
            read_bounded(&at_bound).unwrap().len() as u64,
            MAX_PROFILE_BYTES
        );

        let binary = scratch("binary");
        std::fs::write(&binary, b"autopar-profile\t1\n\xff\xfe").unwrap();
        let error = read_bounded(&binary).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
        assert!(error.to_string().contains("not UTF-8"), "{error}");

        for path in [&huge, &at_bound, &binary] {
            std::fs::remove_file(path).unwrap();
        }
        std::fs::remove_dir(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn fifos_and_devices_are_refused_without_blocking() {
        use std::os::unix::ffi::OsStrExt as _;
        let fifo = scratch("fifo");
        let name = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: `name` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let (tx, rx) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            let refused = read_bounded(&path).map(|_| ()).map_err(|e| e.kind());
            // What the check after opening sees, should the path become a FIFO
            // between the two checks: opening does not wait for a writer.
            let opened = open_nonblocking(&path).and_then(|f| regular(&f.metadata()?));
            let _ = tx.send((refused, opened.map_err(|e| e.kind())));
        });
        let (refused, opened) = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("reading a FIFO as a profile blocks");
        assert_eq!(refused, Err(io::ErrorKind::InvalidInput));
        assert_eq!(opened, Err(io::ErrorKind::InvalidInput));
        std::fs::remove_file(&fifo).unwrap();

        let error = read_bounded(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
        assert!(error.to_string().contains("character device"), "{error}");
    }
}
