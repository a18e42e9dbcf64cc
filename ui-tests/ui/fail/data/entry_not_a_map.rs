use autopar::parallel;

struct Counter;

impl Counter {
    fn entry(&mut self, _k: u32) -> &mut Self {
        self
    }
    fn or_insert(&mut self, _v: u32) -> &mut u32 {
        unimplemented!()
    }
}

#[parallel]
fn count(v: &[u32]) -> Counter {
    let mut c = Counter;
    for &x in v {
        *c.entry(x).or_insert(0) += 1;
    }
    c
}

fn main() {
    count(&[]);
}
