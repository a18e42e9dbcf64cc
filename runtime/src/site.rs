//! Call sites and what they have learned.
//!
//! A [`Site`] is one parallel loop in the source. The macro emits it as a `static` next to
//! the loop (zero lookup); the manual API finds it from `Location::caller()`.
//!
//! One static serves every monomorphization of a generic function, so what a site
//! learns is kept per loop-body *type* in an [`Entry`]: `sum::<u8>` and `sum::<String>`
//! never share costs. An entry holds one decision per size class (log2 of the item
//! count, each class's state created on its first call) that the hot path reads with
//! one atomic load once it has the class's state, the learned per-item
//! profile (so a new size class decides without profiling again) and counters for the
//! report. Entries live for the whole process (they are leaked on purpose: there is one
//! per loop and body type, a bounded number).

use std::cell::Cell;
use std::collections::HashMap;
use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, RwLock};

use crate::policy::{Plan, Profile};
// The entry list is model-checked under loom (`loom_tests` below); the rest is std.
use crate::sync::AtomicPtr;

/// Size classes: `floor(log2(n)) + 1` for known lengths (0 for empty), and one class for
/// inputs of unknown length.
pub(crate) const CLASSES: usize = 66;
/// The class of inputs whose length is unknown (plain iterators).
pub(crate) const UNKNOWN_LEN_CLASS: usize = CLASSES - 1;

/// The size class of an input of `len` items (`None`: unknown length).
#[inline]
pub(crate) fn size_class(len: Option<usize>) -> usize {
    match len {
        None => UNKNOWN_LEN_CLASS,
        Some(0) => 0,
        Some(n) => (usize::BITS - n.leading_zeros()) as usize,
    }
}

/// One parallel loop in the source code: the key of the decision cache.
///
/// Created by the `#[parallel]` macro as a `static`; not meant to be built by hand.
#[doc(hidden)]
pub struct Site {
    file: &'static str,
    line: u32,
    column: u32,
    label: Option<&'static str>,
    /// Singly linked list of entries, one per loop-body type; only ever grows.
    entries: AtomicPtr<Entry>,
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site")
            .field("location", &self.location())
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl Site {
    /// A site at `file:line:column`, shown in reports under `label` if given.
    #[cfg(not(loom))]
    pub const fn new(
        file: &'static str,
        line: u32,
        column: u32,
        label: Option<&'static str>,
    ) -> Site {
        Site {
            file,
            line,
            column,
            label,
            entries: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Under loom, atomics cannot be built in a `const fn`.
    #[cfg(loom)]
    pub fn new(file: &'static str, line: u32, column: u32, label: Option<&'static str>) -> Site {
        Site {
            file,
            line,
            column,
            label,
            entries: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The site of a manual-API call, found by its caller location.
    #[inline]
    pub(crate) fn for_location(location: &'static Location<'static>) -> &'static Site {
        // A `Location` is a static emitted once per call site, so its address is a
        // cheap, stable key (equal locations at different addresses only cost a
        // duplicate site).
        let key = location as *const Location<'static> as usize;
        // A small per-thread direct-mapped cache in front of the shared map: a warm
        // call finds its site in a few ns instead of taking a lock and hashing.
        let slot = (key >> 3) % RECENT_SITES;
        let hit = RECENT.with(|recent| {
            let (k, site) = recent[slot].get();
            (k == key).then_some(site)
        });
        if let Some(Some(site)) = hit {
            return site;
        }
        let site = Site::for_location_slow(location, key);
        RECENT.with(|recent| recent[slot].set((key, Some(site))));
        site
    }

    #[cold]
    fn for_location_slow(location: &'static Location<'static>, key: usize) -> &'static Site {
        static SITES: OnceLock<RwLock<HashMap<usize, &'static Site>>> = OnceLock::new();
        let sites = SITES.get_or_init(Default::default);
        if let Some(site) = sites.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return site;
        }
        let mut sites = sites.write().unwrap_or_else(|e| e.into_inner());
        sites.entry(key).or_insert_with(|| {
            Box::leak(Box::new(Site::new(
                location.file(),
                location.line(),
                location.column(),
                None,
            )))
        })
    }

    /// The entry for loop bodies of type `key` (a `type_name`), created on first use.
    #[inline]
    pub(crate) fn entry(&'static self, key: &'static str) -> &'static Entry {
        let head = self.entries.load(Ordering::Acquire);
        // Fast path: the first entry, compared by address (type_name returns the same
        // static string every time within one codegen unit).
        // SAFETY: entries are leaked boxes published with Release and never freed.
        if let Some(first) = unsafe { head.as_ref() }
            && ptr::eq(first.key, key)
        {
            return first;
        }
        self.entry_cached(key)
    }

    /// The entry for `key` when it is not the newest of this site: one generic loop
    /// called with many body types (a helper taking a closure) has one entry per type,
    /// and new ones go in front. Walking the list compares type names (~100 bytes each):
    /// at a site with 60 entries a warm call cost ~80 ns more than at a site with one
    /// (`bench_matrix`, whose cold calls add entries in front of the warm one). A small
    /// per-thread cache keyed by (site, key address) finds it in a few ns.
    #[cfg(not(loom))]
    #[inline(never)]
    fn entry_cached(&'static self, key: &'static str) -> &'static Entry {
        let site = ptr::from_ref(self) as usize;
        let key_address = key.as_ptr() as usize;
        let slot = (key_address ^ site.rotate_left(17)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            >> (usize::BITS - RECENT_ENTRY_SLOTS.trailing_zeros());
        let hit = RECENT_ENTRIES.with(|recent| {
            let (k, s, entry) = recent[slot].get();
            (k == key_address && s == site).then_some(entry).flatten()
        });
        if let Some(entry) = hit {
            return entry;
        }
        let entry = self.entry_slow(key);
        RECENT_ENTRIES.with(|recent| recent[slot].set((key_address, site, Some(entry))));
        entry
    }

    #[cfg(loom)]
    fn entry_cached(&'static self, key: &'static str) -> &'static Entry {
        self.entry_slow(key)
    }

    #[cold]
    fn entry_slow(&'static self, key: &'static str) -> &'static Entry {
        let mut fresh: Option<Box<Entry>> = None;
        loop {
            let head = self.entries.load(Ordering::Acquire);
            let mut cursor = head;
            // SAFETY: every pointer in the list is a leaked `Box<Entry>`, published with
            // Release (the CAS below) and read here with Acquire; entries are never freed.
            while let Some(entry) = unsafe { cursor.as_ref() } {
                if ptr::eq(entry.key, key) || entry.key == key {
                    return entry;
                }
                cursor = entry.next;
            }
            let mut new = fresh
                .take()
                .unwrap_or_else(|| Box::new(Entry::new(self, key)));
            new.next = head;
            #[cfg(loom)]
            // SAFETY: `new` is not shared yet.
            new.init_witness
                .with_mut(|w| unsafe { (*w).1 = head as usize });
            let raw = Box::into_raw(new);
            match self
                .entries
                .compare_exchange(head, raw, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    // SAFETY: `raw` was just published and is never freed.
                    let entry: &'static Entry = unsafe { &*raw };
                    registry()
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(entry);
                    return entry;
                }
                // Another thread added an entry first: take ours back and look again
                // (it may have added the very key we want).
                // SAFETY: the CAS failed, so `raw` was never shared.
                Err(_) => fresh = Some(unsafe { Box::from_raw(raw) }),
            }
        }
    }

    /// `file:line:column` of the loop.
    pub(crate) fn location(&self) -> String {
        format!("{}:{}:{}", self.file, self.line, self.column)
    }

    /// The label given with `label = "..."`, if any.
    pub(crate) fn label(&self) -> Option<&'static str> {
        self.label
    }
}

const RECENT_SITES: usize = 32;

thread_local! {
    /// (location address, site) of recently used manual-API sites, per thread.
    static RECENT: [Cell<(usize, Option<&'static Site>)>; RECENT_SITES] =
        const { [const { Cell::new((0, None)) }; RECENT_SITES] };
}

/// Slots of [`RECENT_ENTRIES`] (a power of two).
#[cfg(not(loom))]
const RECENT_ENTRY_SLOTS: usize = 64;

#[cfg(not(loom))]
thread_local! {
    /// (key address, site address, entry) of entries recently found behind their site's
    /// newest one, per thread (see [`Site::entry_cached`]). Entries are never freed, and
    /// the one stored here was read with Acquire, so reusing it on this thread is sound.
    static RECENT_ENTRIES: [Cell<(usize, usize, Option<&'static Entry>)>; RECENT_ENTRY_SLOTS] =
        const { [const { Cell::new((0, 0, None)) }; RECENT_ENTRY_SLOTS] };
}

/// Every entry ever created, for the report.
pub(crate) fn registry() -> &'static Mutex<Vec<&'static Entry>> {
    static REGISTRY: Mutex<Vec<&'static Entry>> = Mutex::new(Vec::new());
    &REGISTRY
}

/// What one site learned about one loop-body type.
pub(crate) struct Entry {
    pub(crate) site: &'static Site,
    /// `type_name` of the loop body.
    pub(crate) key: &'static str,
    next: *mut Entry,
    /// A label set through the manual API (`.label(..)`), shown if the site has none.
    pub(crate) label: OnceLock<&'static str>,
    /// The per-item profile measured (or re-measured) at this site.
    pub(crate) learned: Mutex<Option<Profile>>,
    /// Whether `learned` came from a saved profile (`persist`), not measured here.
    pub(crate) profile_loaded: AtomicBool,
    /// Times this loop was profiled (its first items measured).
    pub(crate) profiled: AtomicU32,
    pub(crate) retunes: AtomicU32,
    pub(crate) classes: Classes,
    /// What the site's async loops learned (their concurrency limit).
    #[cfg(feature = "async")]
    pub(crate) async_site: crate::async_loop::tune::AsyncSlot,
    /// Under loom: a model-checked shadow of the plain fields `key` and `next`, written
    /// where they are, so a model that reads an entry another thread published fails if
    /// the publication does not order the entry's initialisation before the read.
    #[cfg(loom)]
    init_witness: loom::cell::UnsafeCell<(usize, usize)>,
}

// SAFETY: `next` is only written before the entry is published and is read-only after;
// everything else is atomics, a Mutex or a OnceLock.
unsafe impl Send for Entry {}
// SAFETY: as above.
unsafe impl Sync for Entry {}

impl Entry {
    fn new(site: &'static Site, key: &'static str) -> Entry {
        // A loop a saved profile of this build knows starts with its costs.
        #[cfg(not(loom))]
        let preloaded = crate::persist::preloaded(site, key);
        #[cfg(loom)]
        let preloaded = None;
        Entry {
            site,
            key,
            next: ptr::null_mut(),
            label: OnceLock::new(),
            learned: Mutex::new(preloaded),
            profile_loaded: AtomicBool::new(preloaded.is_some()),
            profiled: AtomicU32::new(0),
            retunes: AtomicU32::new(0),
            classes: Classes::new(),
            #[cfg(feature = "async")]
            async_site: Default::default(),
            #[cfg(loom)]
            init_witness: loom::cell::UnsafeCell::new((key.as_ptr() as usize, 0)),
        }
    }

    /// The learned profile, if this site has one.
    pub(crate) fn learned(&self) -> Option<Profile> {
        *self.learned.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the learned profile; every class decides again on its next call.
    pub(crate) fn learn(&self, profile: Profile) {
        *self.learned.lock().unwrap_or_else(|e| e.into_inner()) = Some(profile);
        self.profiled.fetch_add(1, Ordering::Relaxed);
        self.profile_loaded.store(false, Ordering::Relaxed);
        self.clear_plans();
    }

    /// Forgets the learned profile: the next call profiles again.
    pub(crate) fn forget(&self) {
        *self.learned.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.profile_loaded.store(false, Ordering::Relaxed);
        self.clear_plans();
    }

    /// Clearing the plans (rather than versioning them) keeps the hot path at one load.
    /// A decision racing with the clear may store a plan made from the old profile; it
    /// stands until drift detection replaces it, which only costs speed.
    fn clear_plans(&self) {
        for (_, class) in self.classes.existing() {
            class.plan.store(0, Ordering::Release);
        }
    }
}

/// The [`ClassState`] of each size class of an entry, each created on the class's first
/// call.
///
/// A loop calls with one or two size classes, and an entry is created on the loop's
/// first call: zeroing the states of all [`CLASSES`] classes up front (6 KiB, usually on
/// fresh pages, so page faults) cost that call 10–20 µs on a 2-vCPU VM, more than the
/// rest of the call's bookkeeping together. A slot is 16 bytes.
pub(crate) struct Classes([OnceLock<Box<ClassState>>; CLASSES]);

impl Classes {
    fn new() -> Self {
        Classes(std::array::from_fn(|_| OnceLock::new()))
    }

    /// The state of size class `class`, created on first use.
    #[inline]
    pub(crate) fn get(&self, class: usize) -> &ClassState {
        match self.0[class].get() {
            Some(state) => state,
            None => self.create(class),
        }
    }

    #[cold]
    fn create(&self, class: usize) -> &ClassState {
        self.0[class].get_or_init(Box::default)
    }

    /// The classes that have been used, with their numbers, smallest first.
    pub(crate) fn existing(&self) -> impl Iterator<Item = (usize, &ClassState)> {
        self.0
            .iter()
            .enumerate()
            .filter_map(|(class, slot)| Some((class, &**slot.get()?)))
    }
}

/// The decision for one size class of one entry, and how it has fared.
#[derive(Default)]
pub(crate) struct ClassState {
    /// The plan, packed by [`pack`]; 0 = not decided yet.
    pub(crate) plan: AtomicU64,
    /// Whether every call is timed (else one in `TINY_CALL_SAMPLING`).
    pub(crate) time_every_call: AtomicBool,
    /// A parallel plan to try at a class that decided sequential (packed; 0 = none).
    pub(crate) trial_plan: AtomicU64,
    /// Calls left in the current trial run.
    pub(crate) trial_left: AtomicU32,
    /// Trial runs made since the decision.
    pub(crate) trials: AtomicU32,
    /// Ns per item of each call of the current trial run with the tried plan so far.
    pub(crate) trial_ns_per_item: Mutex<Vec<f64>>,
    /// Ns per item of each reference call (the site's own plan) of the current run.
    pub(crate) trial_reference_ns_per_item: Mutex<Vec<f64>>,
    /// Whether the profile the plan was decided from found the items CPU-bound: then
    /// the class's sequential calls on I/O runners hold a CPU slot (see `cpu_slots`).
    pub(crate) cpu_bound: AtomicBool,
    /// Predicted ns per item under the plan (f64 bits).
    pub(crate) predicted_ns_per_item: AtomicU64,
    /// Predicted speedup over sequential (f64 bits).
    pub(crate) predicted_speedup: AtomicU64,
    /// Observed ns per item of timed calls: a running estimate (f64 bits; 0 = none yet).
    pub(crate) observed_ns_per_item: AtomicU64,
    /// Ns per item of this class's timed sequential calls (its own plan's, a trial's
    /// reference calls, or a trial of the sequential plan): a running estimate (f64
    /// bits; 0 = none measured since the last re-tune). The report's `seen` speedup
    /// divides it by a parallel plan's observed time; the profile of the first items
    /// can't stand in for it (a triangular loop's first items are its cheapest).
    pub(crate) sequential_ns_per_item: AtomicU64,
    /// Consecutive timed calls that drifted from the observed baseline.
    pub(crate) drift_strikes: AtomicU32,
    /// Consecutive timed sequential calls whose items cost far more than predicted.
    pub(crate) underestimates: AtomicU32,
    /// Set once this class's items proved to cost far more than the site's profile
    /// says (a loop whose item cost depends on the input's size): from then on the class
    /// profiles for itself, and decides from `own_profile`.
    pub(crate) profiles_alone: AtomicBool,
    /// The class's own profile (with `profiles_alone`); `None` until measured.
    pub(crate) own_profile: Mutex<Option<Profile>>,
    /// Calls and items in this class (approximate under racing calls).
    pub(crate) calls: AtomicU64,
    pub(crate) items: AtomicU64,
    pub(crate) timed_calls: AtomicU64,
}

/// Reads an `f64` stored as bits.
#[inline]
pub(crate) fn load_f64(cell: &AtomicU64) -> f64 {
    f64::from_bits(cell.load(Ordering::Relaxed))
}

/// Stores an `f64` as bits.
pub(crate) fn store_f64(cell: &AtomicU64, value: f64) {
    cell.store(value.to_bits(), Ordering::Relaxed);
}

/// Folds a timed sequential call's ns per item into `state.sequential_ns_per_item`.
pub(crate) fn record_sequential(state: &ClassState, ns_per_item: f64) {
    let known = load_f64(&state.sequential_ns_per_item);
    let estimate = if known > 0.0 {
        0.8 * known + 0.2 * ns_per_item
    } else {
        ns_per_item
    };
    store_f64(&state.sequential_ns_per_item, estimate);
}

const KIND_BITS: u32 = 2;
const COUNT_BITS: u32 = 20;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
const CHUNK_MASK: u64 = (1 << (64 - KIND_BITS - COUNT_BITS)) - 1;

/// Packs a plan into one word so the hot path reads it with one atomic load.
/// Never returns 0 (that means "undecided").
pub(crate) const fn pack(plan: Plan) -> u64 {
    let (kind, count, chunk) = match plan {
        Plan::Sequential => (1, 0, 0),
        Plan::Cpu { threads, chunk } => (2, threads, chunk),
        Plan::Io { workers, chunk } => (3, workers, chunk),
    };
    let count = if count as u64 > COUNT_MASK {
        COUNT_MASK
    } else {
        count as u64
    };
    let chunk = if chunk as u64 > CHUNK_MASK {
        CHUNK_MASK
    } else {
        chunk as u64
    };
    kind | (count << KIND_BITS) | (chunk << (KIND_BITS + COUNT_BITS))
}

/// Unpacks a word written by [`pack`]; `None` for 0 (undecided).
#[inline]
pub(crate) fn unpack(word: u64) -> Option<Plan> {
    let count = ((word >> KIND_BITS) & COUNT_MASK) as usize;
    let chunk = (word >> (KIND_BITS + COUNT_BITS)) as usize;
    match word & ((1 << KIND_BITS) - 1) {
        1 => Some(Plan::Sequential),
        2 => Some(Plan::Cpu {
            threads: count,
            chunk,
        }),
        3 => Some(Plan::Io {
            workers: count,
            chunk,
        }),
        _ => None,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn plans_round_trip_through_one_word() {
        for plan in [
            Plan::Sequential,
            Plan::Cpu {
                threads: 16,
                chunk: 4096,
            },
            Plan::Io {
                workers: 256,
                chunk: 1,
            },
            Plan::Cpu {
                threads: 1,
                chunk: 1 << 40,
            },
        ] {
            assert_ne!(pack(plan), 0);
            assert_eq!(unpack(pack(plan)), Some(plan));
        }
        assert_eq!(unpack(0), None);
    }

    #[test]
    fn a_site_with_many_body_types_finds_each_ones_entry() {
        let site: &'static Site = Box::leak(Box::new(Site::new("many.rs", 1, 1, None)));
        let keys: Vec<&'static str> = (0..300)
            .map(|i| &*Box::leak(format!("body type {i}").into_boxed_str()))
            .collect();
        let entries: Vec<&'static Entry> = keys.iter().map(|key| site.entry(key)).collect();
        // Far more keys than cache slots: lookups hit, miss and evict in every order.
        for round in 0..4 {
            for i in 0..keys.len() {
                let i = (i * 7 + round * 13) % keys.len();
                let found = site.entry(keys[i]);
                assert!(ptr::eq(found, entries[i]), "key {i}, round {round}");
                assert_eq!(found.key, keys[i]);
            }
        }
        // Another site with the same body types has entries of its own.
        let other: &'static Site = Box::leak(Box::new(Site::new("many.rs", 2, 1, None)));
        for (i, key) in keys.iter().enumerate() {
            let theirs = other.entry(key);
            assert!(ptr::eq(theirs.site, other) && !ptr::eq(theirs, entries[i]));
            assert!(
                ptr::eq(site.entry(key), entries[i]),
                "key {i} after the other site"
            );
        }
        // Many sites, one body type: some share a cache slot, and each keeps its entry.
        let sites: Vec<&'static Site> = (0..100)
            .map(|line| &*Box::leak(Box::new(Site::new("one body.rs", line, 1, None))))
            .collect();
        let theirs: Vec<&'static Entry> = sites.iter().map(|s| s.entry(keys[7])).collect();
        for round in 0..3 {
            for (i, s) in sites.iter().enumerate().rev() {
                assert!(
                    ptr::eq(s.entry(keys[7]), theirs[i]),
                    "site {i}, round {round}"
                );
                assert!(ptr::eq(s.entry(keys[8]).site, *s));
            }
        }
        // The same type name at another address (another codegen unit) is the same body.
        let copy: &'static str = Box::leak(keys[42].to_owned().into_boxed_str());
        assert!(!ptr::eq(copy, keys[42]));
        assert!(ptr::eq(site.entry(copy), entries[42]));
        assert_eq!(registry_entries_of(site), keys.len());
    }

    fn registry_entries_of(site: &'static Site) -> usize {
        let registry = registry().lock().unwrap();
        registry.iter().filter(|e| ptr::eq(e.site, site)).count()
    }

    #[test]
    fn class_states_are_created_on_first_use_and_cleared_by_forget() {
        let site: &'static Site = Box::leak(Box::new(Site::new("classes.rs", 1, 1, None)));
        let entry = site.entry("body");
        assert_eq!(entry.classes.existing().count(), 0);
        let state = entry.classes.get(10);
        state.plan.store(pack(Plan::Sequential), Ordering::Relaxed);
        assert!(ptr::eq(state, entry.classes.get(10)), "one state per class");
        entry.classes.get(3);
        let used: Vec<usize> = entry.classes.existing().map(|(class, _)| class).collect();
        assert_eq!(used, [3, 10]);
        entry.forget();
        assert_eq!(entry.classes.get(10).plan.load(Ordering::Relaxed), 0);
        assert_eq!(entry.classes.existing().count(), 2);
    }

    #[test]
    fn size_classes_are_log2() {
        assert_eq!(size_class(Some(0)), 0);
        assert_eq!(size_class(Some(1)), 1);
        assert_eq!(size_class(Some(2)), 2);
        assert_eq!(size_class(Some(3)), 2);
        assert_eq!(size_class(Some(1000)), 10);
        assert_eq!(size_class(Some(1024)), 11);
        assert_eq!(size_class(Some(usize::MAX)), 64);
        assert_eq!(size_class(None), UNKNOWN_LEN_CLASS);
    }

    #[test]
    fn entries_are_per_body_type_and_found_again() {
        static SITE: Site = Site::new("test.rs", 1, 1, None);
        let a = SITE.entry(std::any::type_name::<u8>());
        let b = SITE.entry(std::any::type_name::<String>());
        assert!(!ptr::eq(a, b));
        assert!(ptr::eq(a, SITE.entry(std::any::type_name::<u8>())));
        assert!(ptr::eq(b, SITE.entry(std::any::type_name::<String>())));
    }

    #[test]
    fn concurrent_first_lookups_agree_on_one_entry() {
        static SITE: Site = Site::new("test.rs", 2, 1, None);
        let found: Vec<usize> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| SITE.entry("some::Body") as *const Entry as usize))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(found.windows(2).all(|w| w[0] == w[1]), "{found:?}");
    }
}

/// Model checks of the entry list: the CAS that publishes a new entry and the Acquire loads
/// that read the list. Each model leaks a fresh [`Site`] (entries are never freed, by design).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::thread;

    fn fresh_site() -> &'static Site {
        Box::leak(Box::new(Site::new("loom.rs", 1, 1, None)))
    }

    /// Reads the witness of `entry`: loom fails the model if the entry's initialisation
    /// (by whichever thread created it) does not happen-before this read; the values must
    /// be the entry's own `key` and `next`.
    fn assert_initialised(entry: &Entry) {
        let (key, next) = entry.init_witness.with(|w| {
            // SAFETY: written only before publication; loom checks the ordering.
            unsafe { *w }
        });
        assert_eq!(key, entry.key.as_ptr() as usize);
        assert_eq!(next, entry.next as usize);
    }

    /// Two threads racing to create the entry of one key agree on one entry, and each
    /// sees it fully initialised.
    #[test]
    fn loom_racing_creators_agree_on_one_entry() {
        loom::model(|| {
            let site = fresh_site();
            let other = thread::spawn(move || {
                let entry = site.entry("key");
                assert_initialised(entry);
                entry as *const Entry as usize
            });
            let mine = site.entry("key");
            assert_initialised(mine);
            assert_eq!(other.join().unwrap(), mine as *const Entry as usize);
            // And the list holds it once.
            let mut count = 0;
            let mut cursor = site.entries.load(Ordering::Acquire);
            // SAFETY: published entries are never freed.
            while let Some(entry) = unsafe { cursor.as_ref() } {
                count += 1;
                cursor = entry.next;
            }
            assert_eq!(count, 1);
        });
    }

    /// Two threads adding different keys at once (one CAS fails and retries on the new
    /// head): both entries end up in the list, and a later lookup from either thread finds
    /// the other's entry, fully initialised.
    #[test]
    fn loom_different_keys_both_survive_a_failed_cas() {
        loom::model(|| {
            let site = fresh_site();
            let other = thread::spawn(move || {
                let b = site.entry("b");
                assert_initialised(b);
                b as *const Entry as usize
            });
            let a = site.entry("a");
            let b = other.join().unwrap();
            let found_b = site.entry("b");
            assert_initialised(found_b);
            assert_eq!(found_b as *const Entry as usize, b);
            assert!(ptr::eq(site.entry("a"), a));
            assert_ne!(b, a as *const Entry as usize);
        });
    }

    /// A reader that spins on the head until the writer's entry shows up sees it fully
    /// initialised, and a lookup then returns that very entry.
    #[test]
    fn loom_reader_sees_a_fully_initialised_head() {
        loom::model(|| {
            let site = fresh_site();
            let writer = thread::spawn(move || site.entry("k") as *const Entry as usize);
            let head = loop {
                let head = site.entries.load(Ordering::Acquire);
                if !head.is_null() {
                    break head;
                }
                thread::yield_now();
            };
            // SAFETY: published entries are never freed.
            let entry = unsafe { &*head };
            assert_initialised(entry);
            assert_eq!(entry.key, "k");
            assert!(ptr::eq(site.entry("k"), entry));
            assert_eq!(writer.join().unwrap(), entry as *const Entry as usize);
        });
    }
}
