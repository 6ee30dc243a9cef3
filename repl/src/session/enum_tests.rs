//! Session tests of redefining enums whose variants carry payloads (SPEC
//! 6.2): the migration matches the old version's variants, so it needs
//! their payload types although the new world no longer has that version.

use super::tests::{ok, session};

#[test]
fn enums_with_payloads_can_be_redefined_by_derivation_and_by_migration() {
    let s = session();
    ok(&s, "enum EnP { Off, On(int) }\nvar es: [EnP] = [EnP::On(4), EnP::Off]");
    assert_eq!(
        ok(&s, "enum EnP { Off, On(int), Dim(float) }").ack.as_deref(),
        Some("world 3: type EnP v2 (migrated 2 values)")
    );
    assert_eq!(ok(&s, "es").echo.as_deref(), Some("[EnP::On(4), EnP::Off]"));
    ok(
        &s,
        "enum EnP { Off, On(str), Dim(float) }\nmigrate EnP(old) { match old { EnP::On(n) => EnP::On(str(n)), EnP::Off => EnP::Off, EnP::Dim(f) => EnP::Dim(f) } }",
    );
    assert_eq!(ok(&s, "es").echo.as_deref(), Some("[EnP::On(\"4\"), EnP::Off]"));
    // A recursive one.
    ok(&s, "enum EnT { Leaf, Node([EnT], int) }\nvar t: EnT = EnT::Node([EnT::Leaf], 3)");
    ok(&s, "enum EnT { Leaf, Node([EnT], int), Other }");
    assert_eq!(ok(&s, "t").echo.as_deref(), Some("EnT::Node([EnT::Leaf], 3)"));
}
