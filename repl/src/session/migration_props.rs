//! Session tests of migrations (issue 6): a property test — for random
//! record types and random field changes with defaults, the migrated values
//! print as the same values constructed directly in the new version, also
//! through functions taking the type — and types that mention a changed
//! type.

use super::tests::{ok, session};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Field {
    Int(i64),
    Str(String),
}

impl Field {
    fn ty(&self) -> &'static str {
        match self {
            Field::Int(_) => "int",
            Field::Str(_) => "str",
        }
    }
    fn literal(&self) -> String {
        match self {
            Field::Int(n) => n.to_string(),
            Field::Str(s) => format!("{s:?}"),
        }
    }
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![(-1000i64..1000).prop_map(Field::Int), "[a-z]{0,6}".prop_map(Field::Str)]
}

/// Old fields (one value per record), which of them the new version keeps,
/// and new fields with their defaults.
fn change() -> impl Strategy<Value = (Vec<Vec<Field>>, Vec<bool>, Vec<Field>)> {
    (1usize..5, 1usize..4).prop_flat_map(|(nfields, nvalues)| {
        let kinds = proptest::collection::vec(any::<bool>(), nfields);
        (kinds, proptest::collection::vec(any::<bool>(), nfields), proptest::collection::vec(field(), 0..3))
            .prop_flat_map(move |(kinds, keep, added)| {
                let record = kinds
                    .iter()
                    .map(|&is_int| {
                        if is_int {
                            (-1000i64..1000).prop_map(Field::Int).boxed()
                        } else {
                            "[a-z]{0,6}".prop_map(Field::Str).boxed()
                        }
                    })
                    .collect::<Vec<_>>();
                (proptest::collection::vec(record, nvalues), Just(keep), Just(added))
            })
    })
}

fn construct(fields: &[(String, &Field)]) -> String {
    let inits: Vec<String> = fields.iter().map(|(n, v)| format!("{n}: {}", v.literal())).collect();
    format!("T {{ {} }}", inits.join(", "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn migrated_values_equal_values_built_in_the_new_version((records, keep, added) in change()) {
        let s = session();
        let old: Vec<(String, &Field)> = records[0].iter().enumerate().map(|(i, f)| (format!("f{i}"), f)).collect();
        let decl: Vec<String> = old.iter().map(|(n, f)| format!("{n}: {}", f.ty())).collect();
        ok(&s, &format!("type T {{ {} }}", decl.join(", ")));
        let values: Vec<String> = records
            .iter()
            .map(|r| construct(&r.iter().enumerate().map(|(i, f)| (format!("f{i}"), f)).collect::<Vec<_>>()))
            .collect();
        ok(&s, &format!("var xs: [T] = [{}]", values.join(", ")));
        // Functions taking the type, calling each other: re-checked against
        // its new version, they keep working.
        ok(&s, "fn pick(ts: [T]) -> [T] { ts }\nfn all() -> [T] { pick(xs) }");

        let mut new_decl: Vec<String> = Vec::new();
        for (i, (n, f)) in old.iter().enumerate() {
            if keep[i] {
                new_decl.push(format!("{n}: {}", f.ty()));
            }
        }
        for (j, d) in added.iter().enumerate() {
            new_decl.push(format!("g{j}: {} = {}", d.ty(), d.literal()));
        }
        if new_decl.is_empty() {
            new_decl.push("g: int = 0".into());
        }
        ok(&s, &format!("type T {{ {} }}", new_decl.join(", ")));
        let migrated = ok(&s, "xs").echo.unwrap_or_default();
        prop_assert_eq!(ok(&s, "all()").echo.unwrap_or_default(), migrated.clone());

        let expected: Vec<String> = records
            .iter()
            .map(|r| {
                let mut fields: Vec<(String, &Field)> = Vec::new();
                for (i, f) in r.iter().enumerate() {
                    if keep[i] {
                        fields.push((format!("f{i}"), f));
                    }
                }
                let zero = Field::Int(0);
                for (j, d) in added.iter().enumerate() {
                    fields.push((format!("g{j}"), d));
                }
                if fields.is_empty() {
                    fields.push(("g".into(), &zero));
                }
                construct(&fields)
            })
            .collect();
        let direct = ok(&s, &format!("[{}]", expected.join(", "))).echo.unwrap_or_default();
        prop_assert!(migrated.starts_with("[T {"), "{}", migrated);
        prop_assert_eq!(migrated, direct);
    }
}

#[test]
fn a_type_that_mentions_a_changed_type_keeps_its_version() {
    let s = session();
    ok(&s, "type Person { name: str }\ntype Booking { who: Person, seat: int }\ntype Trip { legs: [Booking] }");
    ok(&s, "var trips = [Trip { legs: [Booking { who: Person { name: \"ann\" }, seat: 3 }] }]");
    let o = ok(&s, "type Person { name: str, vip: bool = false }");
    assert_eq!(o.ack.as_deref(), Some("world 4: type Person v2 (migrated 1 values)"));
    assert_eq!(
        ok(&s, "trips").echo.as_deref(),
        Some("[Trip { legs: [Booking { who: Person { name: \"ann\", vip: false }, seat: 3 }] }]")
    );
    assert_eq!(s.history("Booking").len(), 1, "Booking stays v1");
    assert_eq!(s.history("Trip").len(), 1, "Trip stays v1");
    assert_eq!(
        ok(&s, "Booking { who: Person { name: \"x\", vip: true }, seat: 1 }.who.vip").echo.as_deref(),
        Some("true")
    );
}

#[test]
fn code_in_the_same_input_as_a_type_change_reads_types_that_mention_it_at_the_new_version() {
    let s = session();
    ok(&s, "type Inner { x: int, s: str }\ntype Outer { a: Inner }\nenum Wrap { W(Inner), Nothing }");
    ok(&s, "var g: Outer = Outer { a: Inner { x: 1, s: \"one\" } }");
    // Fields reordered and one added, with code reading through `Outer` and
    // `Wrap` in the same input: it must use the new `Inner`'s shape.
    ok(
        &s,
        "type Inner { s: str, x: int, y: int = 7 }\nfn f(o: Outer) -> str { o.a.s + str(o.a.x + o.a.y) }\nfn w(v: Wrap) -> int { match v { Wrap::W(i) => i.x + i.y, Wrap::Nothing => 0 } }",
    );
    assert_eq!(ok(&s, "f(g)").echo.as_deref(), Some("\"one8\""));
    assert_eq!(ok(&s, "f(Outer { a: Inner { x: 2, s: \"two\", y: 1 } })").echo.as_deref(), Some("\"two3\""));
    assert_eq!(ok(&s, "w(Wrap::W(Inner { x: 5, s: \"\" }))").echo.as_deref(), Some("12"));
}

#[test]
fn a_type_defined_after_its_name_was_forgotten_takes_new_versions() {
    let s = session();
    ok(&s, "type Fg { x: int }\nfn step(p: Fg) -> Fg { sleep(2); p }\nvar g: Fg = Fg { x: 1 }");
    ok(&s, "let t = spawn loop step(Fg { x: 12345 })");
    ok(&s, "sleep(10);");
    ok(&s, "forget t;\nforget step;\nforget g;\nforget Fg;");
    // A new type of the name: its values have another shape, under a new
    // schema version, so nothing still holding an old `Fg` reads it as one.
    let o = ok(&s, "type Fg { s: str }\nfn step(p: Fg) -> Fg { print(p.s); done(); p }");
    assert_eq!(o.ack.as_deref(), Some("world 5: type Fg v2, step v2"));
    // Paused when `step` was forgotten; resumed, it meets the new `Fg`.
    let _ = s.input("resume(1);", "<test>");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let task = loop {
        let t = s.tasks().into_iter().next().expect("the task");
        let migrating = t.error.as_ref().is_some_and(|e| e.message.contains("migration"));
        if (t.status == jit::tasks::Status::Paused && migrating) || std::time::Instant::now() > deadline {
            break t;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    assert_eq!(task.status, jit::tasks::Status::Paused);
    let err = task.error.map(|e| e.message).unwrap_or_default();
    assert!(err.contains("no migration of `Fg` from v1"), "{err}");
    assert_eq!(ok(&s, "Fg { s: \"new\" }.s").echo.as_deref(), Some("\"new\""));
}
