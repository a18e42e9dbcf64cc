//! Outputs in input order from items that finish in any order.

use std::collections::VecDeque;

/// A reorder buffer: `accept(index, value)` in any order, `emit` sees the values in
/// index order. It holds the values between the oldest unfinished item and the newest
/// finished one; items that finish in order pass straight through.
pub(crate) struct InOrder<T, Emit> {
    next: usize,
    waiting: VecDeque<Option<T>>,
    emit: Emit,
}

impl<T, Emit: FnMut(T)> InOrder<T, Emit> {
    pub(crate) fn new(emit: Emit) -> Self {
        InOrder {
            next: 0,
            waiting: VecDeque::new(),
            emit,
        }
    }

    #[inline]
    pub(crate) fn accept(&mut self, index: usize, value: T) {
        if index == self.next && self.waiting.is_empty() {
            self.next += 1;
            (self.emit)(value);
            return;
        }
        let at = index - self.next;
        if self.waiting.len() <= at {
            self.waiting.resize_with(at + 1, || None);
        }
        self.waiting[at] = Some(value);
        while let Some(Some(_)) = self.waiting.front() {
            let value = self.waiting.pop_front().flatten().expect("checked above");
            self.next += 1;
            (self.emit)(value);
        }
    }

    /// Items that never finished (a deadline): `missing(index)` stands in for each
    /// value not accepted among the first `started` items, and the values after such a
    /// gap are emitted in order.
    pub(crate) fn fill(&mut self, started: usize, mut missing: impl FnMut() -> T) {
        while self.next < started {
            let value = match self.waiting.pop_front() {
                Some(Some(value)) => value,
                _ => missing(),
            };
            self.next += 1;
            (self.emit)(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_finishing_order_comes_out_in_input_order(order in Just((0..64usize).collect::<Vec<_>>()).prop_shuffle()) {
            let mut out = Vec::new();
            let mut buffer = InOrder::new(|v| out.push(v));
            for &i in &order {
                buffer.accept(i, i * 10);
            }
            drop(buffer);
            prop_assert_eq!(out, (0..64).map(|i| i * 10).collect::<Vec<_>>());
        }
    }

    #[test]
    fn fill_stands_in_for_items_that_never_finished() {
        let mut out = Vec::new();
        let mut buffer = InOrder::new(|v| out.push(v));
        buffer.accept(0, 0);
        buffer.accept(2, 2);
        buffer.accept(4, 4);
        buffer.fill(6, || -1);
        drop(buffer);
        assert_eq!(out, [0, -1, 2, -1, 4, -1]);
    }
}
