//! Every kind of fn the attribute goes on.
use autopar::parallel;

struct Image {
    pixels: Vec<u32>,
    gain: u32,
}

impl Image {
    #[parallel]
    fn brightness(&self) -> u64 {
        let mut total = 0u64;
        for p in &self.pixels {
            total += u64::from(*p * self.gain);
        }
        total
    }

    #[parallel]
    fn scale(&mut self, k: u32) {
        for p in self.pixels.iter_mut() {
            *p *= k;
        }
    }

    #[parallel(cpu)]
    pub(crate) fn count_bright(&self, threshold: u32) -> usize {
        let mut n = 0;
        for p in &self.pixels {
            if *p > threshold {
                n += 1;
            }
        }
        n
    }
}

#[parallel]
fn generic_sum<T>(v: &[T]) -> T
where
    T: Copy + Send + Sync + std::ops::AddAssign + Default,
{
    let mut total = T::default();
    #[parallel(allow_nested)]
    for x in v {
        std::hint::black_box(x);
    }
    for x in v.iter().take(0) {
        total += *x;
    }
    total
}

#[parallel(io, workers = 8)]
async fn async_total(v: &[u64]) -> Result<u64, std::io::Error> {
    let mut total = 0;
    for x in v {
        total += std::hint::black_box(*x);
    }
    Ok(total)
}

#[autopar::parallel]
pub unsafe fn unsafe_fn(v: &[u8]) -> u32 {
    let mut total = 0u32;
    for x in v {
        total += u32::from(*x);
    }
    total
}

fn main() {
    let mut img = Image {
        pixels: vec![1, 2, 3],
        gain: 2,
    };
    assert_eq!(img.brightness(), 12);
    img.scale(10);
    assert_eq!(img.count_bright(15), 2);
    assert_eq!(generic_sum(&[1u8, 2]), 0);
    let _ = async_total(&[1, 2]);
    assert_eq!(unsafe { unsafe_fn(&[1, 2]) }, 3);
}
