//! The derives' generated code under strict lints, checked by clippy: this
//! target compiles `ui/derive/pass/lints.rs` (which denies warnings and
//! `clippy::pedantic`) as a module, so `cargo clippy --all-targets` sees it.

#[path = "ui/derive/pass/lints.rs"]
mod lints;

#[test]
fn strict_lints_case_runs() {
    lints::main();
}
