//! A CPU hot loop: a 3×3 box blur over a grayscale image buffer.
//!
//! `#[parallel]` on the fn, `#[parallel(cpu, ..)]` on the row loop: each
//! iteration writes its own row of the output (`out[y] = ..`), so autopar
//! can hand rows to different cores; the source image is shared read-only.
//!
//! Run with `cargo run --release --example image_blur`.

use std::time::Instant;

use autopar::parallel;

/// A grayscale image, one `Vec` per row.
struct Image {
    width: usize,
    rows: Vec<Vec<f32>>,
}

impl Image {
    /// A deterministic test pattern.
    fn pattern(width: usize, height: usize) -> Image {
        let rows = (0..height)
            .map(|y| {
                (0..width)
                    .map(|x| ((x * 31 + y * 17) % 256) as f32 / 255.0)
                    .collect()
            })
            .collect();
        Image { width, rows }
    }

    /// Row `y` of the 3×3 box blur of `self` (edges clamp); extra passes make each row
    /// heavier, as a bigger kernel would.
    fn blur_row(&self, y: usize, passes: usize) -> Vec<f32> {
        let height = self.rows.len();
        let mut row = Vec::with_capacity(self.width);
        for x in 0..self.width {
            let mut sum = 0.0;
            for dy in [-1isize, 0, 1] {
                let yy = (y as isize + dy).clamp(0, height as isize - 1) as usize;
                for dx in [-1isize, 0, 1] {
                    let xx = (x as isize + dx).clamp(0, self.width as isize - 1) as usize;
                    sum += self.rows[yy][xx];
                }
            }
            let mut v = sum / 9.0;
            for _ in 1..passes {
                v = (v * 0.5 + 0.25).sqrt();
            }
            row.push(v);
        }
        row
    }

    /// The blurred image, rows in parallel.
    #[parallel]
    fn blurred(&self, passes: usize) -> Image {
        let height = self.rows.len();
        let mut out = vec![Vec::new(); height];
        // Each iteration writes only `out[y]`: the rows are split between
        // workers. `label` names the loop in `autopar::report()`.
        #[parallel(cpu, label = "blur rows")]
        for y in 0..height {
            out[y] = self.blur_row(y, passes);
        }
        Image {
            width: self.width,
            rows: out,
        }
    }

    /// The same blur as a plain loop, for comparison.
    fn blurred_sequential(&self, passes: usize) -> Image {
        let rows = (0..self.rows.len())
            .map(|y| self.blur_row(y, passes))
            .collect();
        Image {
            width: self.width,
            rows,
        }
    }
}

fn main() {
    let image = Image::pattern(1024, 768);
    for passes in [1, 8] {
        let t = Instant::now();
        let sequential = image.blurred_sequential(passes);
        let t_seq = t.elapsed();
        // The first call profiles; later calls use the cached decision.
        let mut t_par = None;
        for _ in 0..3 {
            let t = Instant::now();
            let parallel = image.blurred(passes);
            t_par = Some(t.elapsed());
            assert_eq!(
                parallel.rows, sequential.rows,
                "same pixels as the plain loop"
            );
        }
        println!(
            "{passes} pass(es): plain loop {t_seq:.2?}, #[parallel] {:.2?} (third call)",
            t_par.unwrap_or_default()
        );
    }
    println!("\n{}", autopar::report());
}
