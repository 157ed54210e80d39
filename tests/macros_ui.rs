//! Compile-fail and compile-pass cases of the derives (`tests/ui/derive/`).

#[test]
fn derive_ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/derive/pass/*.rs");
    cases.compile_fail("ui/derive/*.rs");
}
