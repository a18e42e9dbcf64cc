use autopar::parallel;

#[parallel]
fn min_index(v: &[u32]) -> Option<usize> {
    let mut best = (u32::MAX, usize::MAX);
    for (i, &x) in v.iter().enumerate() {
        best = best.min((x, i));
    }
    (best.1 != usize::MAX).then_some(best.1)
}

#[parallel]
fn chunk_sums(v: &[u32]) -> Vec<u32> {
    let mut out = Vec::new();
    for c in v.chunks(3) {
        out.push(c.iter().sum());
    }
    out
}

#[parallel]
fn muts(v: &mut [u32], w: &[u32]) {
    for (a, b) in v.iter_mut().zip(w.iter().rev()) {
        *a += b;
    }
}

#[parallel]
fn lits() -> Vec<i32> {
    let mut out = Vec::new();
    for x in (0..10).rev().step_by(3) {
        out.push(x);
    }
    out
}

#[test]
fn smoke() {
    let v: Vec<u32> = (0..100).map(|x| (x * 7919) % 101).collect();
    assert_eq!(
        min_index(&v),
        v.iter()
            .enumerate()
            .min_by_key(|(_, x)| **x)
            .map(|(i, _)| i)
    );
    assert_eq!(
        chunk_sums(&v),
        v.chunks(3).map(|c| c.iter().sum()).collect::<Vec<u32>>()
    );
    let mut m = v.clone();
    muts(&mut m, &v);
    assert_eq!(lits(), vec![9, 6, 3, 0]);
}
