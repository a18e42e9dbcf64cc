//! Every plan gives the sequential loop's results: map in order, reduce, try_map, for
//! inputs of every shape.

use std::collections::BTreeMap;
use std::sync::Mutex;

use autopar::Parallel;
use proptest::prelude::*;

/// Every way a loop can be made to run.
fn all_plans() -> Vec<Parallel> {
    vec![
        Parallel::auto(),
        Parallel::seq(),
        Parallel::cpu(),
        Parallel::cpu().chunk(1),
        Parallel::cpu().chunk(7),
        Parallel::cpu().workers(3).chunk(5),
        Parallel::io(),
        Parallel::io().workers(1),
        Parallel::io().workers(4),
        Parallel::io().workers(16).chunk(3),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn map_keeps_input_order(items in proptest::collection::vec(any::<i64>(), 0..3000)) {
        let expected: Vec<i64> = items.iter().map(|x| x.wrapping_mul(31) ^ 7).collect();
        for plan in all_plans() {
            prop_assert_eq!(&plan.map(&items, |x| x.wrapping_mul(31) ^ 7), &expected, "{:?}", plan);
            let from_iter = plan.map(autopar::iter(items.iter().filter(|_| true)), |x| x.wrapping_mul(31) ^ 7);
            prop_assert_eq!(&from_iter, &expected, "iter {:?}", plan);
            prop_assert_eq!(&plan.map(items.clone(), |x| x.wrapping_mul(31) ^ 7), &expected);
        }
    }

    #[test]
    fn reduce_equals_the_sequential_fold(items in proptest::collection::vec(any::<u32>(), 0..3000)) {
        let sum: u64 = items.iter().map(|&x| x as u64).sum();
        let concat: String = items.iter().map(|x| (x % 10).to_string()).collect();
        for plan in all_plans() {
            prop_assert_eq!(plan.reduce(&items, || 0u64, |a, &x| a + x as u64, |a, b| a + b), sum);
            // A non-commutative combine: order matters.
            let s = plan.reduce(&items, String::new, |mut a, x| { a.push_str(&(x % 10).to_string()); a }, |a, b| a + &b);
            prop_assert_eq!(&s, &concat, "{:?}", plan);
        }
    }

    #[test]
    fn try_map_returns_every_outcome_in_order(items in proptest::collection::vec(0u8..20, 0..2000)) {
        let expected: Vec<Result<u8, u8>> = items.iter().map(|&x| if x % 5 == 0 { Err(x) } else { Ok(x) }).collect();
        for plan in all_plans() {
            prop_assert_eq!(&plan.try_map(&items, |&x| if x % 5 == 0 { Err(x) } else { Ok(x) }), &expected);
        }
    }

    #[test]
    fn mutable_slices_are_updated_in_place(items in proptest::collection::vec(any::<i32>(), 0..2000)) {
        for plan in all_plans() {
            let mut data = items.clone();
            plan.for_each(&mut data, |x| *x = x.wrapping_add(1));
            let expected: Vec<i32> = items.iter().map(|x| x.wrapping_add(1)).collect();
            prop_assert_eq!(data, expected);
        }
    }

    #[test]
    fn ranges_of_every_width(start in -1000i64..1000, len in 0i64..3000) {
        let expected: i64 = (start..start + len).sum();
        for plan in all_plans() {
            prop_assert_eq!(plan.reduce(start..start + len, || 0, |a, x| a + x, |a, b| a + b), expected);
            prop_assert_eq!(plan.reduce(start..=start + len - 1, || 0, |a, x| a + x, |a, b| a + b), expected);
            let s32 = start as i32;
            prop_assert_eq!(plan.reduce(s32..s32 + len as i32, || 0i64, |a, x| a + x as i64, |a, b| a + b), expected);
        }
    }
}

#[test]
fn maps_and_sets_are_inputs() {
    let map: BTreeMap<u32, String> = (0..500).map(|i| (i, i.to_string())).collect();
    for plan in all_plans() {
        let lens: usize = plan.reduce(&map, || 0, |a, (_, v)| a + v.len(), |a, b| a + b);
        assert_eq!(lens, map.values().map(String::len).sum::<usize>());
    }
}

#[test]
fn every_item_runs_exactly_once() {
    for plan in all_plans() {
        let seen = Mutex::new(vec![0u8; 5000]);
        plan.for_each(0..5000usize, |i| seen.lock().unwrap()[i] += 1);
        assert!(
            seen.into_inner().unwrap().iter().all(|&n| n == 1),
            "{plan:?}"
        );
    }
}

#[test]
fn extreme_ranges() {
    for plan in all_plans() {
        assert_eq!(
            plan.map(u64::MAX - 2..=u64::MAX, |x| x),
            [u64::MAX - 2, u64::MAX - 1, u64::MAX]
        );
        assert_eq!(
            plan.map(i64::MIN..i64::MIN + 2, |x| x),
            [i64::MIN, i64::MIN + 1]
        );
        assert!(plan.map(5u64..5, |x| x).is_empty());
        #[allow(clippy::reversed_empty_ranges)]
        let empty = plan.map(5i64..=4, |x| x);
        assert!(empty.is_empty());
        // Narrow types at their limits: every value once, none wrapped.
        assert_eq!(plan.map(0u8..=255, |x| x), (0..=255).collect::<Vec<u8>>());
        assert_eq!(plan.map(i8::MIN..i8::MAX, |x| x).len(), 255);
        assert_eq!(plan.map(i8::MIN..=i8::MIN, |x| x), [i8::MIN]);
        assert!(plan.map(0usize..0, |x| x).is_empty());
        assert!(plan.map(i16::MIN..i16::MIN, |x| x).is_empty());
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = plan.map(10u32..3, |x| x);
        assert!(reversed.is_empty());
        assert_eq!(
            plan.map(usize::MAX - 1..usize::MAX, |x| x),
            [usize::MAX - 1]
        );
    }
}

#[test]
fn empty_inputs_of_every_kind() {
    use std::collections::{BTreeSet, HashMap};
    fn count<T>(acc: usize, _: T) -> usize {
        acc + 1
    }
    for plan in all_plans() {
        assert_eq!(
            plan.reduce(&BTreeMap::<u8, u8>::new(), || 0, count, |a, b| a + b),
            0
        );
        assert_eq!(
            plan.reduce(&HashMap::<u8, u8>::new(), || 0, count, |a, b| a + b),
            0
        );
        assert_eq!(
            plan.reduce(BTreeSet::<u8>::new(), || 0, count, |a, b| a + b),
            0
        );
        assert_eq!(
            plan.reduce(
                autopar::iter(std::iter::empty::<u8>()),
                || 0,
                count,
                |a, b| a + b
            ),
            0
        );
        assert_eq!(plan.reduce(Vec::<u8>::new(), || 0, count, |a, b| a + b), 0);
        assert_eq!(plan.reduce(0..0u64, || 0, count, |a, b| a + b), 0);
    }
}

#[test]
fn large_outputs_are_concatenated_in_order() {
    // Over a mebibyte of output: the chunks move into place in parallel.
    let n = 300_000usize;
    for plan in [
        Parallel::cpu().chunk(1000),
        Parallel::io().workers(4).chunk(5000),
        Parallel::auto(),
    ] {
        let out = plan.map(0..n, |i| i.to_string());
        assert_eq!(out.len(), n);
        assert!(
            out.iter().enumerate().all(|(i, s)| *s == i.to_string()),
            "{plan:?}"
        );
    }
}
