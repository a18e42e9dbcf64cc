//! Progress bars for the loops that ask for one: [`Parallel::progress`] or
//! `#[parallel(progress)]` / `#[parallel(progress = "Downloading")]`.
//!
//! With the `progress` cargo feature, such a call shows an [`indicatif`] bar on stderr
//! — items done / total, rate and ETA (a spinner with a count when the length is
//! unknown) — but only when stderr is a terminal: piped or logged output stays clean.
//! Counting is batched: each task counts its items in a local variable and adds them
//! to the bar's atomic position every `stride` items (about a thousandth of the input)
//! and when it ends, so no item takes a lock or touches a shared cache line. The bar is finished when the call ends, whether it succeeded,
//! failed or panicked (then it says so and stays where it stopped).
//!
//! Without the feature, [`Progress`] is an empty enum: `Option<Progress>` is always
//! `None`, and every hook compiles to nothing.
//!
//! [`Parallel::progress`]: crate::Parallel::progress

#[cfg(feature = "progress")]
pub(crate) use imp::Progress;
#[cfg(not(feature = "progress"))]
pub(crate) use off::Progress;

/// Starts the bar of a call that asked for one (`message` is `Some`); `None` when it did
/// not, when stderr is not a terminal, or without the `progress` feature.
///
/// An empty message shows the loop's label, if it has one.
#[inline]
pub(crate) fn start(
    message: Option<&'static str>,
    entry: &crate::site::Entry,
    len: impl FnOnce() -> Option<usize>,
) -> Option<Progress> {
    let message = message?;
    let label = || entry.site.label().or_else(|| entry.label.get().copied());
    Progress::start(message, label, len())
}

#[cfg(not(feature = "progress"))]
mod off {
    /// Uninhabited without the `progress` feature.
    pub(crate) enum Progress {}

    impl Progress {
        #[inline(always)]
        pub(crate) fn start(
            _message: &'static str,
            _label: impl FnOnce() -> Option<&'static str>,
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

        pub(crate) fn end(&self, _failed: bool) {
            match *self {}
        }
    }
}

#[cfg(feature = "progress")]
mod imp {
    use std::io::IsTerminal;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

    /// Items counted before a task adds them to the bar, for a known length: about a
    /// thousandth of the call (never more than [`MAX_STRIDE`]).
    const STRIDE_PARTS: usize = 1000;
    const MAX_STRIDE: usize = 1024;
    /// ...and for inputs of unknown length.
    const UNKNOWN_LEN_STRIDE: usize = 64;
    /// Redraws per second even when no task reports (slow items, a spinner).
    const TICK: Duration = Duration::from_millis(100);

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
        message: String,
        stride: usize,
        ended: AtomicBool,
    }

    impl Progress {
        #[cold]
        #[inline(never)]
        pub(crate) fn start(
            message: &'static str,
            label: impl FnOnce() -> Option<&'static str>,
            len: Option<usize>,
        ) -> Option<Progress> {
            let target = draw_target()?;
            let message = match message {
                "" => label().unwrap_or("").to_owned(),
                m => m.to_owned(),
            };
            let (style, stride) = match len {
                Some(len) => (
                    ProgressStyle::with_template(
                        "{msg} [{bar:30}] {human_pos}/{human_len} {per_sec} ETA {eta}",
                    ),
                    (len / STRIDE_PARTS).clamp(1, MAX_STRIDE),
                ),
                None => (
                    ProgressStyle::with_template("{spinner} {msg} {human_pos} {per_sec}"),
                    UNKNOWN_LEN_STRIDE,
                ),
            };
            let style = style
                .expect("the progress templates are valid")
                .progress_chars("=> ");
            let bar = ProgressBar::with_draw_target(len.map(|n| n as u64), target)
                .with_style(style)
                .with_message(message.clone());
            bar.enable_steady_tick(TICK);
            #[cfg(test)]
            tests::started(&bar);
            Some(Progress(Box::new(Bar {
                bar,
                message,
                stride,
                ended: AtomicBool::new(false),
            })))
        }
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

        /// Finishes the bar where it is, saying why if the call failed.
        pub(crate) fn end(&self, failed: bool) {
            if self.ended.swap(true, Ordering::Relaxed) {
                return;
            }
            if failed {
                self.bar
                    .abandon_with_message(stopped(&self.message, "failed"));
            } else {
                // `abandon` keeps the counted position (`finish` would jump to the end).
                self.bar.abandon();
            }
        }
    }

    impl Drop for Bar {
        /// A call that unwound before it ended (a panic outside the loop body) still
        /// leaves a finished bar behind.
        fn drop(&mut self) {
            if !self.ended.swap(true, Ordering::Relaxed) {
                self.bar
                    .abandon_with_message(stopped(&self.message, "interrupted"));
            }
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

    /// stderr when it is a terminal; nothing otherwise.
    fn draw_target() -> Option<ProgressDrawTarget> {
        #[cfg(test)]
        if let Some(target) = tests::target() {
            return Some(target);
        }
        std::io::stderr()
            .is_terminal()
            .then(ProgressDrawTarget::stderr)
    }

    #[cfg(test)]
    pub(super) mod tests {
        use std::cell::RefCell;

        use super::Progress;
        use std::io;
        use std::sync::{Arc, Mutex};

        use indicatif::{ProgressBar, ProgressDrawTarget, TermLike};

        use crate::Parallel;

        thread_local! {
            /// Where bars started on this thread draw (tests only).
            static SCREEN: RefCell<Option<Screen>> = const { RefCell::new(None) };
            /// The last bar started on this thread.
            static LAST: RefCell<Option<ProgressBar>> = const { RefCell::new(None) };
        }

        pub(super) fn target() -> Option<ProgressDrawTarget> {
            SCREEN.with(|s| {
                s.borrow()
                    .clone()
                    .map(|screen| ProgressDrawTarget::term_like(Box::new(screen)))
            })
        }

        pub(super) fn started(bar: &ProgressBar) {
            LAST.with(|l| *l.borrow_mut() = Some(bar.clone()));
        }

        /// An in-memory terminal: keeps the last line drawn.
        #[derive(Clone, Debug, Default)]
        struct Screen {
            line: Arc<Mutex<String>>,
            last: Arc<Mutex<String>>,
        }

        impl Screen {
            fn last_line(&self) -> String {
                self.last.lock().unwrap().trim_end().to_owned()
            }
        }

        impl TermLike for Screen {
            fn width(&self) -> u16 {
                120
            }
            fn move_cursor_up(&self, _: usize) -> io::Result<()> {
                Ok(())
            }
            fn move_cursor_down(&self, _: usize) -> io::Result<()> {
                Ok(())
            }
            fn move_cursor_right(&self, _: usize) -> io::Result<()> {
                Ok(())
            }
            fn move_cursor_left(&self, _: usize) -> io::Result<()> {
                Ok(())
            }
            fn write_line(&self, s: &str) -> io::Result<()> {
                let mut line = self.line.lock().unwrap();
                line.push_str(s);
                if !line.trim().is_empty() {
                    *self.last.lock().unwrap() = std::mem::take(&mut *line);
                }
                line.clear();
                Ok(())
            }
            fn write_str(&self, s: &str) -> io::Result<()> {
                self.line.lock().unwrap().push_str(s);
                Ok(())
            }
            fn clear_line(&self) -> io::Result<()> {
                let mut line = self.line.lock().unwrap();
                if !line.trim().is_empty() {
                    *self.last.lock().unwrap() = std::mem::take(&mut *line);
                }
                line.clear();
                Ok(())
            }
            fn flush(&self) -> io::Result<()> {
                let line = self.line.lock().unwrap();
                if !line.trim().is_empty() {
                    *self.last.lock().unwrap() = line.clone();
                }
                Ok(())
            }
        }

        /// Runs `call` with bars drawn to a fresh in-memory screen; returns the last bar
        /// started and the last line drawn.
        fn on_screen(call: impl FnOnce()) -> (ProgressBar, String) {
            let screen = Screen::default();
            SCREEN.with(|s| *s.borrow_mut() = Some(screen.clone()));
            LAST.with(|l| *l.borrow_mut() = None);
            call();
            SCREEN.with(|s| *s.borrow_mut() = None);
            let bar = LAST
                .with(|l| l.borrow_mut().take())
                .expect("the call started a bar");
            (bar, screen.last_line())
        }

        #[test]
        fn a_cpu_loop_counts_every_item_and_ends_at_the_total() {
            let (bar, line) = on_screen(|| {
                Parallel::cpu()
                    .chunk(7)
                    .progress("Crunching")
                    .for_each(0..10_000u32, |x| {
                        std::hint::black_box(x);
                    });
            });
            assert!(bar.is_finished());
            assert_eq!((bar.position(), bar.length()), (10_000, Some(10_000)));
            assert!(line.contains("Crunching"), "{line:?}");
            assert!(line.contains("10,000/10,000"), "{line:?}");
            assert!(line.contains("ETA"), "{line:?}");
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
            let (bar, line) = on_screen(|| {
                Parallel::io()
                    .workers(8)
                    .progress("Downloading")
                    .for_each(crate::iter((0..200).filter(|x| x % 2 == 0)), |_| {
                        std::thread::sleep(std::time::Duration::from_micros(50))
                    });
            });
            assert!(bar.is_finished());
            assert_eq!((bar.position(), bar.length()), (100, None));
            assert!(line.contains("Downloading 100"), "{line:?}");
        }

        #[test]
        fn an_empty_message_shows_the_label() {
            let (_, line) = on_screen(|| {
                Parallel::seq()
                    .label("resize")
                    .progress("")
                    .for_each(0..10, |_| ());
            });
            assert!(line.contains("resize"), "{line:?}");
            assert!(line.contains("10/10"), "{line:?}");
        }

        #[test]
        fn an_error_finishes_the_bar_where_it_stopped() {
            let (bar, line) = on_screen(|| {
                let r = Parallel::seq()
                    .progress("Checking")
                    .try_for_each(0..100, |i| if i == 41 { Err(i) } else { Ok(()) });
                assert_eq!(r, Err(41));
            });
            assert!(bar.is_finished());
            // Items 0..=40 are done; 41 failed.
            assert_eq!(bar.position(), 41);
            assert!(line.contains("Checking (failed)"), "{line:?}");
            assert!(line.contains("41/100"), "{line:?}");
        }

        #[test]
        fn a_panic_finishes_the_bar_too() {
            let (bar, line) = on_screen(|| {
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
            assert!(bar.position() < 1000);
            assert!(line.contains("Risky (failed)"), "{line:?}");
        }

        #[test]
        fn no_terminal_no_bar() {
            // Tests run with stderr captured or piped, not a terminal: no bar, no cost.
            if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                assert!(Progress::start("x", || None, Some(10)).is_none());
            }
        }
    }
}

#[cfg(all(test, not(feature = "progress")))]
mod tests {
    use crate::Parallel;

    #[test]
    fn without_the_feature_progress_compiles_and_does_nothing() {
        assert_eq!(std::mem::size_of::<Option<super::Progress>>(), 0);
        assert!(super::Progress::start("x", || None, Some(10)).is_none());
        let v: Vec<u32> = Parallel::auto()
            .progress("Working")
            .map(0..100u32, |x| x * 2);
        assert_eq!(v[99], 198);
    }
}
