//! Progress bars for the loops that ask for one: [`Parallel::progress`],
//! [`Parallel::progress_bar`] (the application's own bar), or `#[parallel(progress)]` /
//! `#[parallel(progress = "Downloading")]`.
//!
//! With the `progress` cargo feature, such a call shows an [indicatif] bar — items done /
//! total, rate and ETA (a spinner with a count when the length is unknown) — on stderr
//! when it is a terminal (piped or logged output stays clean), or wherever the
//! application's `MultiProgress` draws (see `set_multi_progress`). Without the feature
//! the same code compiles and shows nothing.
//!
//! Every bar of autopar's lives in one `MultiProgress`: loops running at once on several
//! threads, and loops nested in another loop's items, each get a line of their own. A bar
//! finishes when its call ends and leaves one plain line, such as `Resizing 1,000/1,000
//! in 1.20s` or `Checking (failed) 41/100 after 3.1ms` (or `(panicked)`), above the bars
//! still running. A loop nested in another loop's items (on a pool thread, or inside an
//! item of a loop with a bar) clears its line instead when it succeeds, so a thousand
//! inner loops leave nothing behind. What a loop body prints goes through [`suspend`] to
//! appear above the bars instead of tearing them.
//!
//! A panic's message is printed by the panic hook before autopar learns of the panic:
//! the panicking loop's bar may then leave its last drawn state above the message (the
//! summary line `… (panicked)` follows it).
//!
//! Counting costs the loop next to nothing: each task counts its items in a local
//! variable and adds them to the bar every ~1/1000 of the input and when it ends, so no
//! item takes a lock or touches a shared cache line.
//!
//! [indicatif]: https://docs.rs/indicatif
//! [`Parallel::progress`]: crate::Parallel::progress
//! [`Parallel::progress_bar`]: https://docs.rs/autopar/latest/autopar/struct.Parallel.html#method.progress_bar

#[cfg(feature = "progress")]
pub(crate) use imp::Progress;
#[cfg(feature = "progress")]
pub use imp::{set_multi_progress, set_style};
#[cfg(not(feature = "progress"))]
pub(crate) use off::Progress;

use std::borrow::Cow;

/// A `Parallel` without a progress bar: the default of its type parameter.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

/// What [`Parallel::progress`](crate::Parallel::progress) takes: a message, borrowed for
/// `'static` or owned (`&'static str`, `String`, `Cow<'static, str>`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a progress bar's message",
    label = "the bar's message",
    note = "a message is a `&'static str`, a `String` (e.g. `format!(\"{{n}} files\")`) or a `Cow<'static, str>`"
)]
pub trait ProgressMessage: ProgressSource + Into<Cow<'static, str>> {}

impl ProgressMessage for &'static str {}
impl ProgressMessage for String {}
impl ProgressMessage for Cow<'static, str> {}

/// What a `Parallel` carries about its progress bar: nothing, a message, or (feature
/// `progress`) the application's `indicatif::ProgressBar`. Sealed: the types above are
/// all there is.
pub trait ProgressSource: sealed::Sealed {
    #[doc(hidden)]
    fn into_spec(self) -> Option<ProgressSpec>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::NoProgress {}
    impl Sealed for &'static str {}
    impl Sealed for String {}
    impl Sealed for std::borrow::Cow<'static, str> {}
    #[cfg(feature = "progress")]
    impl Sealed for indicatif::ProgressBar {}
}

impl ProgressSource for NoProgress {
    #[inline(always)]
    fn into_spec(self) -> Option<ProgressSpec> {
        None
    }
}

impl ProgressSource for &'static str {
    #[inline]
    fn into_spec(self) -> Option<ProgressSpec> {
        Some(ProgressSpec::Message(self.into()))
    }
}

impl ProgressSource for String {
    #[inline]
    fn into_spec(self) -> Option<ProgressSpec> {
        Some(ProgressSpec::Message(self.into()))
    }
}

impl ProgressSource for Cow<'static, str> {
    #[inline]
    fn into_spec(self) -> Option<ProgressSpec> {
        Some(ProgressSpec::Message(self))
    }
}

#[cfg(feature = "progress")]
impl ProgressSource for indicatif::ProgressBar {
    #[inline]
    fn into_spec(self) -> Option<ProgressSpec> {
        Some(ProgressSpec::Bar(self))
    }
}

/// What a call asked to show: a message for a bar autopar makes, or the application's
/// own bar.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub enum ProgressSpec {
    /// A bar of autopar's, with this message (the loop's label, or its location, when
    /// empty).
    Message(Cow<'static, str>),
    /// The application's bar: autopar sets its length (if it has none), counts items on
    /// it and finishes it; its style and message are the application's.
    #[cfg(feature = "progress")]
    Bar(indicatif::ProgressBar),
}

/// How a call with a bar ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    Done,
    /// An item returned an error (or the call stopped early on an error).
    Failed,
    Panicked,
}

/// Runs `f` with autopar's progress bars hidden, then draws them again: what a loop body
/// prints inside `f` (`println!`, a log line) appears above the bars instead of tearing
/// them. Without the `progress` feature, or when no bar is shown, it just runs `f`.
///
/// ```
/// autopar::Parallel::io().progress("Checking").for_each(0..3, |i| {
///     autopar::progress::suspend(|| println!("item {i} is fine"));
/// });
/// ```
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(feature = "progress")]
    {
        imp::suspend(f)
    }
    #[cfg(not(feature = "progress"))]
    {
        f()
    }
}

/// Starts the bar of a call that asked for one (`spec` is `Some`); `None` when it did
/// not, when there is nowhere to draw it, or without the `progress` feature.
#[inline]
pub(crate) fn start(
    spec: Option<&ProgressSpec>,
    entry: &crate::site::Entry,
    len: impl FnOnce() -> Option<usize>,
) -> Option<Progress> {
    let spec = spec?;
    start_cold(spec, entry, len())
}

#[cold]
#[inline(never)]
fn start_cold(
    spec: &ProgressSpec,
    entry: &crate::site::Entry,
    len: Option<usize>,
) -> Option<Progress> {
    let name = || {
        entry
            .site
            .label()
            .or_else(|| entry.label.get().copied())
            .map_or_else(
                || format!("loop at {}", entry.site.location()),
                str::to_owned,
            )
    };
    Progress::start(spec, name, len)
}

#[cfg(not(feature = "progress"))]
mod off {
    use super::{Ended, ProgressSpec};

    /// Uninhabited without the `progress` feature.
    pub(crate) enum Progress {}

    impl Progress {
        #[inline(always)]
        pub(crate) fn start(
            _spec: &ProgressSpec,
            _name: impl FnOnce() -> String,
            _len: Option<usize>,
        ) -> Option<Progress> {
            None
        }

        pub(crate) fn count<I: Iterator>(&self, _items: I) -> I {
            match *self {}
        }

        pub(crate) fn add(&self, _items: usize) {
            match *self {}
        }

        pub(crate) fn end(&self, _how: Ended) {
            match *self {}
        }
    }
}

#[cfg(feature = "progress")]
mod imp {
    use std::io::IsTerminal;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Mutex, PoisonError};
    use std::time::Duration;

    use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

    use super::{Ended, ProgressSpec};

    /// Items counted before a task adds them to the bar, for a known length: about a
    /// thousandth of the call (never more than [`MAX_STRIDE`]).
    const STRIDE_PARTS: usize = 1000;
    const MAX_STRIDE: usize = 1024;
    /// ...and for inputs of unknown length.
    const UNKNOWN_LEN_STRIDE: usize = 64;
    /// Redraws per second even when no task reports (slow items, a spinner).
    const TICK: Duration = Duration::from_millis(100);

    /// Where autopar's bars go: the application's `MultiProgress`, or autopar's own on
    /// stderr (made at the first bar, only if stderr is a terminal).
    static MULTI: Mutex<Option<MultiProgress>> = Mutex::new(None);
    /// The style of autopar's bars, if the application set one.
    static STYLE: Mutex<Option<ProgressStyle>> = Mutex::new(None);
    /// Bars of autopar's showing now (for tests).
    static SHOWING: AtomicUsize = AtomicUsize::new(0);

    std::thread_local! {
        /// Bars of calls made on this thread that have not ended.
        static CALLER_BARS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// Whether a loop starting here is nested in another loop: it runs on a pool thread,
    /// or inside an item of a call with a bar made on this thread. Its bar clears its line
    /// when it succeeds: a thousand inner loops must not leave a thousand lines.
    fn nested_here() -> bool {
        CALLER_BARS.get() > 0
            || rayon::current_thread_index().is_some()
            || crate::exec::io_pool::on_worker_thread()
    }

    /// Puts autopar's progress bars into the application's `multi` from now on, beside
    /// the application's own bars (feature `progress`). Bars then draw wherever `multi`
    /// draws, terminal or not.
    ///
    /// ```
    /// let multi = indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
    /// autopar::progress::set_multi_progress(multi.clone());
    /// let mine = multi.add(indicatif::ProgressBar::new(2));
    /// autopar::Parallel::cpu().progress("Crunching").for_each(0..100, |_| ());
    /// mine.finish();
    /// ```
    pub fn set_multi_progress(multi: MultiProgress) {
        *MULTI.lock().unwrap_or_else(PoisonError::into_inner) = Some(multi);
    }

    /// The style of the bars autopar makes from now on (feature `progress`); the
    /// template may use `{msg}`, the loop's message, and indicatif's other keys. An input
    /// of unknown length has no `{len}`: a template for both should not need it.
    ///
    /// ```
    /// let style = indicatif::ProgressStyle::with_template("{msg}: {pos}").unwrap();
    /// autopar::progress::set_style(style);
    /// ```
    pub fn set_style(style: ProgressStyle) {
        *STYLE.lock().unwrap_or_else(PoisonError::into_inner) = Some(style);
    }

    /// The multi-bar autopar's bars join, if bars can be drawn anywhere.
    fn multi() -> Option<MultiProgress> {
        let mut multi = MULTI.lock().unwrap_or_else(PoisonError::into_inner);
        if multi.is_none() {
            if !std::io::stderr().is_terminal() {
                return None;
            }
            *multi = Some(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        }
        multi.clone()
    }

    pub(super) fn suspend<R>(f: impl FnOnce() -> R) -> R {
        let multi = MULTI.lock().unwrap_or_else(PoisonError::into_inner).clone();
        match multi {
            Some(multi) => multi.suspend(f),
            None => f(),
        }
    }

    /// The bar of one call, boxed: a call without a bar carries one null pointer.
    pub(crate) struct Progress(Box<Bar>);

    impl std::ops::Deref for Progress {
        type Target = Bar;
        fn deref(&self) -> &Bar {
            &self.0
        }
    }

    pub(crate) struct Bar {
        bar: ProgressBar,
        /// The multi-bar an autopar-made bar lives in (`None`: the application's bar).
        multi: Option<MultiProgress>,
        message: String,
        stride: usize,
        /// The application's bar: finished with its own style, and never removed.
        supplied: bool,
        /// Started while another bar showed: cleared when the call succeeds.
        transient: bool,
        ended: AtomicBool,
    }

    impl Progress {
        pub(crate) fn start(
            spec: &ProgressSpec,
            name: impl FnOnce() -> String,
            len: Option<usize>,
        ) -> Option<Progress> {
            let stride = len.map_or(UNKNOWN_LEN_STRIDE, |len| {
                (len / STRIDE_PARTS).clamp(1, MAX_STRIDE)
            });
            let (bar, multi, message, supplied) = match spec {
                ProgressSpec::Bar(bar) => {
                    if let (None, Some(len)) = (bar.length(), len) {
                        bar.set_length(len as u64);
                    }
                    (bar.clone(), None, bar.message(), true)
                }
                ProgressSpec::Message(message) => {
                    let multi = multi()?;
                    let message = match &**message {
                        "" => name(),
                        m => m.to_owned(),
                    };
                    // Hidden until it joins the multi-bar: a bar draws on stderr by
                    // itself, and a line drawn there would be out of the multi-bar's
                    // reckoning, left stale above it.
                    let bar = ProgressBar::with_draw_target(
                        len.map(|n| n as u64),
                        ProgressDrawTarget::hidden(),
                    )
                    .with_style(style(len.is_some()))
                    .with_message(message.clone());
                    let bar = multi.add(bar);
                    bar.enable_steady_tick(TICK);
                    (bar, Some(multi), message, false)
                }
            };
            #[cfg(test)]
            tests::started(&bar);
            SHOWING.fetch_add(1, Ordering::Relaxed);
            let transient = nested_here();
            CALLER_BARS.set(CALLER_BARS.get() + 1);
            Some(Progress(Box::new(Bar {
                bar,
                multi,
                message,
                stride,
                supplied,
                transient,
                ended: AtomicBool::new(false),
            })))
        }
    }

    /// The application's style, or autopar's: a bar for a known length, a spinner
    /// with a count otherwise.
    fn style(known_len: bool) -> ProgressStyle {
        if let Some(style) = STYLE.lock().unwrap_or_else(PoisonError::into_inner).clone() {
            return style;
        }
        let template = if known_len {
            "{msg} [{bar:30}] {human_pos}/{human_len} {per_sec} ETA {eta}"
        } else {
            "{spinner} {msg} {human_pos} {per_sec}"
        };
        ProgressStyle::with_template(template)
            .expect("the progress templates are valid")
            .progress_chars("=> ")
    }

    impl Bar {
        /// `items`, counted on the bar as they are done: an item counts once the task asks
        /// for the next one (its fold has returned), and the count is added to the bar
        /// every `stride` items and when the task ends.
        pub(crate) fn count<I: Iterator>(&self, items: I) -> Counted<'_, I> {
            Counted {
                items,
                bar: self,
                running: false,
                pending: 0,
            }
        }

        /// Counts `items` more items done.
        #[inline]
        pub(crate) fn add(&self, items: usize) {
            if items > 0 {
                self.bar.inc(items as u64);
            }
        }

        /// Finishes the bar where it is, saying why if the call did not succeed. The
        /// first end wins: a panic ends the bar at once (so that it stops redrawing over
        /// the panic's message), and the call's end then finds it ended.
        pub(crate) fn end(&self, how: Ended) {
            if self.ended.swap(true, Ordering::Relaxed) {
                return;
            }
            SHOWING.fetch_sub(1, Ordering::Relaxed);
            let bar = &self.bar;
            let Some(multi) = self.multi.as_ref().filter(|_| !self.supplied) else {
                // The application's bar, in its own style.
                match how {
                    Ended::Done => bar.finish_using_style(),
                    Ended::Failed => bar.abandon_with_message(stopped(&self.message, "failed")),
                    Ended::Panicked => bar.abandon_with_message(stopped(&self.message, "panicked")),
                }
                return;
            };
            // A bar's last drawn state would stay in the multi-bar's area, to be cleared
            // or overdrawn by the bars and output that come after it. So the bar leaves
            // the area, and a loop that keeps a line prints it as a plain line above
            // the bars still running, where nothing draws over it.
            let summary = match how {
                Ended::Done if self.transient => None,
                Ended::Done => Some(summary(bar, &self.message, None)),
                Ended::Failed => Some(summary(bar, &self.message, Some("failed"))),
                Ended::Panicked => Some(summary(bar, &self.message, Some("panicked"))),
            };
            bar.finish_and_clear();
            multi.remove(bar);
            if let Some(summary) = summary {
                // Above the bars still running, wherever the multi-bar draws.
                let _ = multi.println(summary);
            }
        }
    }

    /// The line a finished bar leaves: `Resizing 1,000/1,000 in 1.2s`, or
    /// `Checking (failed) 41/100 after 3ms`.
    fn summary(bar: &ProgressBar, message: &str, why: Option<&str>) -> String {
        let done = indicatif::HumanCount(bar.position());
        let count = match bar.length() {
            Some(len) => format!("{done}/{}", indicatif::HumanCount(len)),
            None => format!("{done}"),
        };
        let took = Took(bar.elapsed());
        match why {
            None => format!("{message} {count} in {took}"),
            Some(why) => format!("{} {count} after {took}", stopped(message, why)),
        }
    }

    /// A duration as people read it: `850µs`, `12.3ms`, `4.56s`, `3m 20s`.
    struct Took(Duration);

    impl std::fmt::Display for Took {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let secs = self.0.as_secs_f64();
            if secs >= 60.0 {
                write!(f, "{}", indicatif::HumanDuration(self.0))
            } else if secs >= 1.0 {
                write!(f, "{secs:.2}s")
            } else if secs >= 1e-3 {
                write!(f, "{:.1}ms", secs * 1e3)
            } else {
                write!(f, "{:.0}µs", secs * 1e6)
            }
        }
    }

    impl Drop for Bar {
        /// A call that unwound before it ended (a panic outside the loop body) still
        /// leaves a finished bar behind. Runs on the calling thread, where the call's
        /// `Work` lives.
        fn drop(&mut self) {
            self.end(Ended::Panicked);
            CALLER_BARS.set(CALLER_BARS.get().saturating_sub(1));
        }
    }

    fn stopped(message: &str, why: &str) -> String {
        if message.is_empty() {
            why.to_owned()
        } else {
            format!("{message} ({why})")
        }
    }

    /// The items of one task, counted as they are done.
    pub(crate) struct Counted<'b, I> {
        items: I,
        bar: &'b Bar,
        /// An item was handed out and has not been counted yet.
        running: bool,
        /// Items done but not yet added to the bar.
        pending: usize,
    }

    impl<I: Iterator> Iterator for Counted<'_, I> {
        type Item = I::Item;

        #[inline]
        fn next(&mut self) -> Option<I::Item> {
            // Asked for the next item: the previous one is done.
            if self.running {
                self.pending += 1;
                if self.pending >= self.bar.stride {
                    self.bar.add(self.pending);
                    self.pending = 0;
                }
            }
            let item = self.items.next();
            self.running = item.is_some();
            item
        }

        fn size_hint(&self) -> (usize, Option<usize>) {
            self.items.size_hint()
        }
    }

    /// A task that ends (also by an error or a panic) adds what it counted; an item
    /// that failed is not counted as done.
    impl<I> Drop for Counted<'_, I> {
        fn drop(&mut self) {
            self.bar.add(self.pending);
        }
    }

    #[cfg(test)]
    pub(super) mod tests {
        use std::cell::RefCell;
        use std::io;
        use std::sync::{Arc, Mutex, PoisonError};

        use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, TermLike};

        use super::{Ended, MULTI, Progress, ProgressSpec};
        use crate::Parallel;

        thread_local! {
            /// The last bar started on this thread.
            static LAST: RefCell<Option<ProgressBar>> = const { RefCell::new(None) };
        }

        /// One test at a time draws: autopar's `MultiProgress` is process-wide.
        static DRAWING: Mutex<()> = Mutex::new(());

        pub(super) fn started(bar: &ProgressBar) {
            LAST.with(|l| *l.borrow_mut() = Some(bar.clone()));
        }

        /// An in-memory terminal: rows of text and a cursor, enough of one for a single
        /// bar's lines (whole lines, cursor moves up and down, line clears).
        #[derive(Clone, Debug, Default)]
        struct Screen(Arc<Mutex<ScreenState>>);

        #[derive(Debug, Default)]
        struct ScreenState {
            rows: Vec<String>,
            cursor: usize,
        }

        impl ScreenState {
            fn row(&mut self) -> &mut String {
                if self.rows.len() <= self.cursor {
                    self.rows.resize(self.cursor + 1, String::new());
                }
                &mut self.rows[self.cursor]
            }
        }

        impl Screen {
            /// The screen's non-empty rows, top to bottom.
            fn rows(&self) -> Vec<String> {
                let state = self.0.lock().unwrap();
                state
                    .rows
                    .iter()
                    .map(|r| r.trim_end().to_owned())
                    .filter(|r| !r.is_empty())
                    .collect()
            }

            fn last_line(&self) -> String {
                self.rows().pop().unwrap_or_default()
            }
        }

        impl TermLike for Screen {
            fn width(&self) -> u16 {
                120
            }
            fn move_cursor_up(&self, n: usize) -> io::Result<()> {
                let mut state = self.0.lock().unwrap();
                state.cursor = state.cursor.saturating_sub(n);
                Ok(())
            }
            fn move_cursor_down(&self, n: usize) -> io::Result<()> {
                self.0.lock().unwrap().cursor += n;
                Ok(())
            }
            fn move_cursor_right(&self, _: usize) -> io::Result<()> {
                Ok(())
            }
            fn move_cursor_left(&self, _: usize) -> io::Result<()> {
                Ok(())
            }
            fn write_line(&self, s: &str) -> io::Result<()> {
                let mut state = self.0.lock().unwrap();
                state.row().push_str(s);
                state.cursor += 1;
                Ok(())
            }
            fn write_str(&self, s: &str) -> io::Result<()> {
                self.0.lock().unwrap().row().push_str(s);
                Ok(())
            }
            fn clear_line(&self) -> io::Result<()> {
                self.0.lock().unwrap().row().clear();
                Ok(())
            }
            fn flush(&self) -> io::Result<()> {
                Ok(())
            }
        }

        /// Runs `call` with autopar's bars drawn to a fresh in-memory screen; returns the
        /// last bar started on this thread and the screen.
        fn on_screen(call: impl FnOnce()) -> (ProgressBar, Screen) {
            let (bar, screen) = screen_of(call);
            (bar.expect("the call started a bar"), screen)
        }

        /// [`on_screen`] for calls that may start their bars on other threads.
        fn screen_of(call: impl FnOnce()) -> (Option<ProgressBar>, Screen) {
            let _alone = DRAWING.lock().unwrap_or_else(PoisonError::into_inner);
            let screen = Screen::default();
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::term_like(Box::new(
                screen.clone(),
            )));
            *MULTI.lock().unwrap() = Some(multi);
            LAST.with(|l| *l.borrow_mut() = None);
            call();
            *MULTI.lock().unwrap() = None;
            (LAST.with(|l| l.borrow_mut().take()), screen)
        }

        #[test]
        fn a_cpu_loop_counts_every_item_and_ends_at_the_total() {
            let (bar, screen) = on_screen(|| {
                Parallel::cpu()
                    .chunk(7)
                    .progress("Crunching")
                    .for_each(0..10_000u32, |x| {
                        std::hint::black_box(x);
                    });
            });
            let line = screen.last_line();
            assert!(bar.is_finished());
            assert_eq!((bar.position(), bar.length()), (10_000, Some(10_000)));
            assert!(line.starts_with("Crunching 10,000/10,000 in "), "{line:?}");
        }

        #[test]
        fn auto_loops_count_the_profiled_items_too() {
            for n in [1usize, 5, 3_000, 200_000] {
                let (bar, _) = on_screen(|| {
                    let v: Vec<usize> = Parallel::auto().progress("p").map(0..n, |x| x + 1);
                    assert_eq!(v.len(), n);
                });
                assert_eq!(bar.position(), n as u64, "n = {n}");
            }
        }

        #[test]
        fn io_loops_and_iterators_show_a_count() {
            let (bar, screen) = on_screen(|| {
                Parallel::io()
                    .workers(8)
                    .progress("Downloading")
                    .for_each(crate::iter((0..200).filter(|x| x % 2 == 0)), |_| {
                        std::thread::sleep(std::time::Duration::from_micros(50))
                    });
            });
            let line = screen.last_line();
            assert!(bar.is_finished());
            assert_eq!((bar.position(), bar.length()), (100, None));
            assert!(line.starts_with("Downloading 100 in "), "{line:?}");
        }

        #[test]
        fn an_empty_message_shows_the_label_or_the_location() {
            let (_, screen) = on_screen(|| {
                Parallel::seq()
                    .label("resize")
                    .progress("")
                    .for_each(0..10, |_| ());
            });
            let line = screen.last_line();
            assert!(line.contains("resize"), "{line:?}");
            assert!(line.contains("10/10"), "{line:?}");
            let (_, screen) = on_screen(|| {
                Parallel::seq().progress("").for_each(0..10, |_| ());
            });
            let line = screen.last_line();
            assert!(
                line.contains("loop at runtime/src/progress.rs:"),
                "{line:?}"
            );
        }

        #[test]
        fn messages_may_be_owned_strings() {
            let files = 12;
            let (_, screen) = on_screen(|| {
                Parallel::seq()
                    .progress(format!("Hashing {files} files"))
                    .for_each(0..files, |_| ());
            });
            assert!(screen.last_line().contains("Hashing 12 files"));
        }

        #[test]
        fn an_error_finishes_the_bar_where_it_stopped() {
            let (bar, screen) = on_screen(|| {
                let r = Parallel::seq()
                    .progress("Checking")
                    .try_for_each(0..100, |i| if i == 41 { Err(i) } else { Ok(()) });
                assert_eq!(r, Err(41));
            });
            let line = screen.last_line();
            assert!(bar.is_finished());
            // Items 0..=40 are done; 41 failed.
            assert!(
                line.starts_with("Checking (failed) 41/100 after "),
                "{line:?}"
            );
        }

        #[test]
        fn a_panic_finishes_the_bar_as_panicked() {
            let (bar, screen) = on_screen(|| {
                let r = std::panic::catch_unwind(|| {
                    Parallel::cpu()
                        .chunk(4)
                        .progress("Risky")
                        .for_each(0..1000, |i| {
                            if i == 500 {
                                std::panic::resume_unwind(Box::new("deliberate"));
                            }
                        });
                });
                assert!(r.is_err());
            });
            assert!(bar.is_finished());
            let line = screen.last_line();
            assert!(line.starts_with("Risky (panicked) "), "{line:?}");
            assert!(!line.contains("1,000/1,000"), "{line:?}");
        }

        #[test]
        fn concurrent_loops_keep_a_line_each_and_nested_ones_none() {
            let (_, screen) = screen_of(|| {
                std::thread::scope(|s| {
                    for name in ["left", "right"] {
                        s.spawn(move || {
                            Parallel::cpu().chunk(1).progress(name).for_each(0..8, |_| {
                                Parallel::seq()
                                    .progress("inner")
                                    .for_each(0..50, |_| std::thread::yield_now());
                            });
                        });
                    }
                });
            });
            let rows = screen.rows();
            assert!(
                rows.iter().all(|r| !r.contains("inner")),
                "finished inner bars cleared their lines: {rows:?}"
            );
            // Loops on two threads of the application are not nested: each keeps a
            // line (this screen keeps too little of cursor motion to show both; the
            // tmux test in `tests/progress_tty.rs` checks both on a real terminal).
            assert!(
                rows.iter()
                    .any(|r| r.starts_with("left 8/8 in ") || r.starts_with("right 8/8 in ")),
                "{rows:?}"
            );
        }

        #[test]
        fn the_applications_bar_is_counted_and_finished_in_its_style() {
            let _alone = DRAWING.lock().unwrap_or_else(PoisonError::into_inner);
            let bar = ProgressBar::hidden().with_message("mine");
            Parallel::cpu()
                .chunk(3)
                .progress_bar(bar.clone())
                .for_each(0..100, |_| ());
            assert_eq!((bar.position(), bar.length()), (100, Some(100)));
            assert!(bar.is_finished());
            assert_eq!(bar.message(), "mine");
        }

        #[test]
        fn no_terminal_no_bar() {
            let _alone = DRAWING.lock().unwrap_or_else(PoisonError::into_inner);
            // Tests run with stderr captured or piped, not a terminal: no bar, no cost.
            if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                let spec = ProgressSpec::Message("x".into());
                assert!(Progress::start(&spec, String::new, Some(10)).is_none());
            }
            let _ = Ended::Done;
        }
    }
}

#[cfg(all(test, not(feature = "progress")))]
mod tests {
    use crate::Parallel;

    #[test]
    fn without_the_feature_progress_compiles_and_does_nothing() {
        assert_eq!(std::mem::size_of::<Option<super::Progress>>(), 0);
        let spec = super::ProgressSpec::Message("x".into());
        assert!(super::Progress::start(&spec, String::new, Some(10)).is_none());
        let v: Vec<u32> = Parallel::auto()
            .progress("Working")
            .map(0..100u32, |x| x * 2);
        assert_eq!(v[99], 198);
    }
}
