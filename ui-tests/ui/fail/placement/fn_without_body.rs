use autopar::parallel;

trait Work {
    #[parallel]
    fn run(&self, v: &[u32]);
}

fn main() {}
