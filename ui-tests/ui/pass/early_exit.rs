// `break` and `return` in a parallel loop: the earliest item in input order that
// breaks or returns wins, as in the sequential loop.
use autopar::parallel;

#[parallel]
fn first_big(v: &[u32]) -> usize {
    let mut before = 0;
    for x in v {
        if *x > 100 {
            break;
        }
        before += 1;
    }
    before
}

#[parallel]
fn check(v: &[u32], seen: &mut Vec<u32>) {
    for x in v {
        if *x == 0 {
            return;
        }
        seen.push(*x);
    }
    seen.push(u32::MAX);
}

#[parallel]
fn find(v: &[u32]) -> Option<u32> {
    for x in v {
        if *x > 10 {
            return Some(*x);
        }
    }
    None
}

#[parallel]
fn parse_until_blank(lines: &[&str]) -> Result<Vec<u32>, std::num::ParseIntError> {
    let mut out = Vec::new();
    'lines: for line in lines {
        for c in line.chars() {
            if c == '#' {
                // An inner loop's `break` stays its own.
                break;
            }
        }
        if line.is_empty() {
            break 'lines;
        }
        out.push(line.parse()?);
    }
    Ok(out)
}

#[parallel(cpu, chunk = 2)]
fn in_closure(v: &[u32]) -> Option<usize> {
    let search = |t: u32| -> Option<usize> {
        // The `return` leaves the closure that holds the loop.
        #[parallel]
        for (i, x) in v.iter().enumerate() {
            if *x == t {
                return Some(i);
            }
        }
        None
    };
    search(3)
}

fn main() {
    assert_eq!(first_big(&[1, 2, 300, 4]), 2);
    let mut seen = Vec::new();
    check(&[5, 6, 0, 7], &mut seen);
    assert_eq!(seen, [5, 6]);
    assert_eq!(find(&[1, 20, 30]), Some(20));
    assert_eq!(find(&[1, 2]), None);
    assert_eq!(parse_until_blank(&["1", "2", "", "x"]), Ok(vec![1, 2]));
    assert!(parse_until_blank(&["1", "x", ""]).is_err());
    assert_eq!(in_closure(&[1, 2, 3, 3]), Some(2));
}
