// Reductions on types without an identity: the runtime's trait says why.
use autopar::parallel;

#[parallel]
fn f(v: &[String]) -> String {
    let mut all = String::new();
    for s in v {
        all += s;
    }
    all
}

fn main() {
    f(&[]);
}
