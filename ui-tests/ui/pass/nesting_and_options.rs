//! Nested parallel loops, opted in with `allow_nested`; indexed writes;
//! `#[deny(deprecated)]` proves no warning is left.
#![deny(deprecated)]
use autopar::parallel;

#[parallel(allow_nested)]
fn matrix_sum(rows: &[Vec<u64>]) -> u64 {
    let mut total = 0;
    #[parallel]
    for row in rows {
        #[parallel]
        for x in row {
            total += x;
        }
    }
    total
}

#[parallel]
fn outer_allows(rows: &[Vec<u64>]) -> Vec<u64> {
    let mut sums = Vec::new();
    #[parallel(allow_nested)]
    for row in rows {
        let s: u64 = row.iter().sum();
        sums.push(s);
        let _ = std::thread::spawn(|| ()).join();
    }
    sums
}

#[parallel]
fn indexed(src: &[f32], dst: &mut Vec<f32>, grid: &mut [[u8; 4]]) {
    for i in 0..src.len().min(dst.len()) {
        dst[i] = src[i] * 2.0;
        dst[i] += 1.0;
    }
    #[parallel(cpu)]
    for r in 0..grid.len() {
        grid[r][0] = r as u8;
        let cell = &mut grid[r];
        cell[1] = 1;
    }
}

fn main() {
    assert_eq!(matrix_sum(&[vec![1, 2], vec![3]]), 6);
    assert_eq!(outer_allows(&[vec![1, 2], vec![3]]), [3, 3]);
    let mut dst = vec![0.0; 2];
    let mut grid = [[0u8; 4]; 3];
    indexed(&[1.0, 2.0], &mut dst, &mut grid);
    assert_eq!(dst, [3.0, 5.0]);
    assert_eq!(grid[2][0], 2);
}
