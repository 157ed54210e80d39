//! Compile-fail tests: illegal lifecycle transitions do not compile, and the
//! compiler says why in words a user can act on.

#[test]
fn illegal_transitions_do_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/lifecycle/*.rs");
}
