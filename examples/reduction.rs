//! Reductions: variables declared before the loop and updated in it.
//!
//! Each worker keeps its own partial (`0` for `+=`, an empty `Vec` for
//! `push`, ...), and the partials are combined in input order after the
//! loop, so the results equal the plain loop's: exactly for integers and
//! collections (`push` keeps the sequential order), up to rounding for
//! floats (a parallel sum adds in a different order).
//!
//! Run with `cargo run --release --example reduction`.

use std::collections::{BTreeMap, HashSet};

use autopar::parallel;

/// Statistics of a list of words, in one pass.
#[derive(Debug, PartialEq)]
struct Stats {
    letters: usize,
    words: usize,
    longest: usize,
    shortest: usize,
    checksum: u64,
    mean_len: f64,
    long_words: Vec<String>,
    distinct_initials: HashSet<char>,
    last_index_by_len: BTreeMap<usize, usize>,
}

#[parallel]
fn stats(words: &[String]) -> Stats {
    let mut letters = 0;
    let mut count = 0;
    let mut longest = 0;
    let mut shortest = usize::MAX;
    let mut checksum = 0u64;
    let mut len_sum = 0.0;
    let mut long_words = Vec::new();
    let mut distinct_initials = HashSet::new();
    let mut last_index_by_len = BTreeMap::new();
    for (i, word) in words.iter().enumerate() {
        if word.is_empty() {
            continue;
        }
        count += 1;
        letters += word.len();
        longest = longest.max(word.len());
        shortest = shortest.min(word.len());
        checksum ^= word
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        len_sum += word.len() as f64;
        if word.len() > 8 {
            long_words.push(word.clone());
        }
        if let Some(c) = word.chars().next() {
            distinct_initials.insert(c);
        }
        // Later inserts of a key win, as in the plain loop.
        last_index_by_len.insert(word.len(), i);
    }
    Stats {
        letters,
        words: count,
        longest,
        shortest,
        checksum,
        mean_len: if count == 0 {
            0.0
        } else {
            len_sum / count as f64
        },
        long_words,
        distinct_initials,
        last_index_by_len,
    }
}

fn main() {
    let words: Vec<String> = (0..200_000u64)
        .map(|i| {
            let len = (i * 7 % 13) as usize;
            (0..len)
                .map(|k| char::from(b'a' + ((i + k as u64 * 3) % 26) as u8))
                .collect()
        })
        .collect();
    let s = stats(&words);
    println!("{} words, {} letters", s.words, s.letters);
    println!(
        "longest {}, shortest {}, mean {:.3}",
        s.longest, s.shortest, s.mean_len
    );
    println!("checksum {:#x}", s.checksum);
    println!(
        "{} long words (first: {:?}), {} distinct initials",
        s.long_words.len(),
        s.long_words.first(),
        s.distinct_initials.len()
    );
    println!("last index by length: {:?}", s.last_index_by_len);
}
