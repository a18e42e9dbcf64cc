//! autopar: parallel loops that decide for themselves.
#![warn(missing_docs)]

mod exec;
mod sync;
mod env;
