//! Iterator chains as loop inputs: indexed ones (split by index) and ones over other
//! iterables (run as std's chain), as bases, `zip` arguments and nested chains.
use autopar::parallel;
use std::collections::HashMap;

struct Grid {
    cells: Vec<f32>,
    width: usize,
}

#[parallel]
fn indexed(v: &[u32], w: &Vec<u32>, a: &[u8; 8], grid: &mut Grid, out: &mut [u64]) -> Vec<u64> {
    let mut acc = Vec::new();
    for (i, &x) in v.iter().enumerate() {
        acc.push(i as u64 + x as u64);
    }
    for (x, y) in v.iter().zip(w).rev().skip(1).take(5) {
        acc.push((x * y) as u64);
    }
    for (x, y) in a.iter().copied().zip(v.iter().cloned().step_by(2)) {
        acc.push(x as u64 + y as u64);
    }
    for c in v
        .chunks(3)
        .zip(w.chunks_exact(2))
        .map(|(c, d)| c.len() + d.len())
    {
        acc.push(c as u64);
    }
    for win in (w).windows(2) {
        acc.push(win[1] as u64);
    }
    for row in grid.cells.chunks_mut(grid.width.max(1)) {
        for cell in row {
            *cell *= 0.5;
        }
    }
    for (o, x) in out.iter_mut().zip(0..10u64) {
        *o += x;
    }
    for i in (0..v.len()).rev().step_by(2) {
        acc.push(i as u64);
    }
    for x in (1..=9u8).map(|x| x * 2).enumerate() {
        acc.push(x.0 as u64 + x.1 as u64);
    }
    acc
}

#[parallel]
fn other_iterables(m: &HashMap<u32, u32>, text: &str, o: Option<u32>) -> usize {
    let mut n = 0;
    for (i, (k, v)) in m.iter().enumerate() {
        n += i + (*k + *v) as usize;
    }
    for (line, word) in text.lines().zip(text.split(' ')).skip(1) {
        n += line.len() + word.len();
    }
    for (i, c) in text.chars().rev().enumerate() {
        n += i + c.len_utf8();
    }
    for x in o.map(|x| x as usize) {
        n += x;
    }
    n
}

fn main() {
    let v = vec![1u32, 2, 3, 4, 5];
    let mut grid = Grid {
        cells: vec![1.0; 6],
        width: 3,
    };
    let mut out = vec![0u64; 4];
    let _ = indexed(&v, &v, &[1; 8], &mut grid, &mut out);
    let _ = other_iterables(&HashMap::new(), "a b\nc", Some(1));
}
