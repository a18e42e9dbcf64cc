#![deny(deprecated)]
use autopar::parallel;

// Stand-ins with rayon's names: the lint goes by the call's text.
mod rayon {
    pub fn join<A, B>(a: impl FnOnce() -> A, b: impl FnOnce() -> B) -> (A, B) {
        (a(), b())
    }
}

trait ParIter {
    fn par_iter(&self) -> std::slice::Iter<'_, u32>;
}

impl ParIter for Vec<u32> {
    fn par_iter(&self) -> std::slice::Iter<'_, u32> {
        self.iter()
    }
}

#[parallel]
fn f(rows: &[Vec<u32>]) -> usize {
    let mut n = 0;
    for row in rows {
        let h = std::thread::spawn(|| 1);
        n += h.join().unwrap();
        std::thread::scope(|_| {});
        let p = autopar::Parallel::auto();
        let _ = std::hint::black_box(p);
        n += rayon::join(|| 1, || 2).0;
        n += row.len() + row.par_iter().count();
    }
    n
}

fn main() {
    f(&[]);
}
