use autopar::parallel;

struct Stats {
    last: u32,
}

#[parallel]
fn f(v: &[u32], stats: &mut Stats) -> u32 {
    let mut last = 0;
    for x in v {
        last = *x;
        stats.last = *x;
    }
    last
}

fn main() {
    f(&[], &mut Stats { last: 0 });
}
