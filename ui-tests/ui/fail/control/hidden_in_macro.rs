// Control flow inside a `macro_rules!` call is invisible to the attribute;
// it still fails to compile, with rustc's messages.
use autopar::parallel;

macro_rules! bail {
    () => {
        return
    };
}

macro_rules! stop {
    () => {
        break
    };
}

#[parallel]
fn f(v: &[u32]) {
    for x in v {
        if *x == 0 {
            bail!();
        }
        if *x == 1 {
            stop!();
        }
    }
}

fn main() {
    f(&[]);
}
