//! Compile-fail tests of `#[derive(Model)]` and `#[derive(SqlValue)]`: one mistake per file, grouped by category, with the
//! expected compiler output committed beside each file. `ui/pass` holds tricky valid input.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite`, then read every one: the span must
//! point at the offending token and the message must say what to write instead.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/attr/*.rs");
    t.compile_fail("tests/ui/relationship/*.rs");
    t.compile_fail("tests/ui/cross_model/*.rs");
    t.compile_fail("tests/ui/sql_value/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
