//! Compile tests of `#[parallel]`: every supported form compiles
//! (`ui/pass`), every misuse fails with the message in its `.stderr` file
//! (`ui/fail/<category>`). Warnings are tested as failures under
//! `#![deny(deprecated)]` (trybuild ignores warnings of passing cases).
//!
//! After an intended change of a message, regenerate with
//! `TRYBUILD=overwrite cargo test -p autopar-ui-tests` and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*/*.rs");
}
