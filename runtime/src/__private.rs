//! Items the `#[parallel]` macro expands to. Not part of the public API: names and
//! signatures here may change in any release.

use std::cell::Cell;
use std::ops::Range;

use crate::Parallel;
pub use crate::api::Mode;
pub use crate::chain::{BaseCall, ChunksExactK, ChunksK, ChunksMutK, Pick, SeqChain, WindowsK};
use crate::chain::{Chain, IntoChain};
pub use crate::input::IntoParallelInput;
use crate::input::{IndexedMut, Iter};
pub use crate::site::Site;

/// The loop at `site`, in `mode`.
#[inline]
pub fn parallel(site: &'static Site, mode: Mode) -> Parallel {
    Parallel::with_site(site, mode)
}

/// A `progress = <expr>` message as one type, whatever the expression's: a message of the
/// wrong type is then one error at the expression, not a second about the loop.
#[inline]
pub fn progress_message<M: crate::progress::ProgressMessage>(
    message: M,
) -> std::borrow::Cow<'static, str> {
    message.into()
}

/// The input of a loop, before the autoref-specialised choice between the indexed path
/// ([`ViaInput`]) and the generic iterator path ([`ViaIter`]).
pub struct InputWrap<T>(Cell<Option<T>>);

impl<T> InputWrap<T> {
    /// Wraps a loop's input expression.
    #[inline]
    pub fn new(input: T) -> Self {
        InputWrap(Cell::new(Some(input)))
    }

    fn take(&self) -> T {
        self.0
            .take()
            .expect("autopar: a loop input is converted exactly once")
    }
}

/// Preferred: inputs autopar can split by index (slices, `Vec`, arrays, ranges, ...).
/// Selected when `(&InputWrap::new(x)).__autopar_input()` resolves without autoref.
pub trait ViaInput {
    /// The converted input.
    type Input;
    /// Converts the input.
    fn __autopar_input(&self) -> Self::Input;
}

impl<T: IntoParallelInput> ViaInput for InputWrap<T> {
    type Input = T;
    #[inline]
    fn __autopar_input(&self) -> T {
        self.take()
    }
}

/// Fallback: any other iterable with `Send` items, pulled in batches.
#[diagnostic::on_unimplemented(
    message = "`{T}` cannot be the input of a parallel loop",
    label = "its items are not `Send`, or it is not iterable",
    note = "a parallel loop hands items to other threads: they must be `Send`; use `#[parallel(seq)]` to keep this loop sequential"
)]
pub trait ViaIter<T> {
    /// The converted input.
    type Input;
    /// Converts the input.
    fn __autopar_input(&self) -> Self::Input;
}

impl<T> ViaIter<T> for &InputWrap<T>
where
    T: IntoIterator,
    T::IntoIter: Send,
    T::Item: Send,
{
    type Input = Iter<T::IntoIter>;
    #[inline]
    fn __autopar_input(&self) -> Self::Input {
        crate::iter(self.take())
    }
}

/// Items `(i, &mut slice[i])` for `i` in `range`, for loops that write `out[i] = ..`.
/// Out of bounds behaves like the sequential loop: the in-bounds items run, then it
/// panics with the first bad index.
#[inline]
pub fn indexed_mut<T: Send>(
    slice: &mut [T],
    range: Range<usize>,
) -> impl IntoParallelInput<Item = (usize, &mut T)> {
    IndexedMut::new(slice, range)
}

/// A loop input's iterator chain, before the autoref-specialised choice between an
/// indexed [`Chain`] ([`ViaChain`]) and std's chain ([`ViaSeqChain`]): the base of the
/// chain, and each `zip` argument, goes through one.
pub struct ChainWrap<T>(Cell<Option<T>>);

impl<T> ChainWrap<T> {
    /// Wraps a chain's base.
    #[inline]
    pub fn new(base: T) -> Self {
        ChainWrap(Cell::new(Some(base)))
    }

    fn take(&self) -> T {
        self.0
            .take()
            .expect("autopar: a chain's base is converted exactly once")
    }
}

/// Preferred: a base autopar splits by index (a slice's `iter()`, a range, ...).
pub trait ViaChain {
    /// The chain.
    type Chain;
    /// Starts the chain.
    fn __autopar_chain(&self) -> Self::Chain;
}

impl<T: IntoChain> ViaChain for ChainWrap<T> {
    type Chain = Chain<T::Producer>;
    #[inline]
    fn __autopar_chain(&self) -> Self::Chain {
        self.take().into_chain()
    }
}

/// Fallback: any other iterable; the chain's methods are then std's.
pub trait ViaSeqChain<T> {
    /// The chain.
    type Chain;
    /// Starts the chain.
    fn __autopar_chain(&self) -> Self::Chain;
}

impl<T: IntoIterator> ViaSeqChain<T> for &ChainWrap<T> {
    type Chain = SeqChain<T::IntoIter>;
    #[inline]
    fn __autopar_chain(&self) -> Self::Chain {
        SeqChain(self.take().into_iter())
    }
}

pub use crate::reduce;
