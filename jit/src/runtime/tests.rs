//! Runtime tests. Tests run in parallel in one process and share the global
//! live-object counter, so leak checks use the per-thread counter
//! (`thread_live_objects`). Test layouts use versions >= 90_000 so they never
//! collide with layouts other tests of the crate register.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::heap::thread_live_objects;
use super::types::try_layout;
use super::*;
use crate::abi::{Ctx, EvalState, Header, IMMORTAL_RC, Output};

// ---------------------------------------------------------------------------
// Fixtures.

#[derive(Clone, Default)]
pub(super) struct Capture(Arc<Mutex<Vec<String>>>);

impl Output for Capture {
    fn write_line(&self, line: &str) {
        self.0.lock().unwrap().push(line.to_string());
    }
}

/// A detached evaluation context for calling runtime helpers directly.
pub(super) struct TestCtx {
    ctx: Box<Ctx>,
    _eval: Box<EvalState>,
    out: Capture,
}

impl TestCtx {
    pub(super) fn new() -> Self {
        let out = Capture::default();
        let eval = Box::new(EvalState::detached(Box::new(out.clone())));
        let ctx = Box::new(Ctx {
            table: std::ptr::null(),
            stack_limit: AtomicUsize::new(0),
            err: AtomicU8::new(0),
            eval: &*eval,
            world_age: 1,
        });
        TestCtx { ctx, _eval: eval, out }
    }

    pub(super) fn ptr(&mut self) -> *mut Ctx {
        &mut *self.ctx
    }

    /// The error message raised so far (and resets the flag and slot).
    pub(super) fn take_err(&mut self) -> Option<String> {
        let flagged = self.ctx.err.swap(0, Ordering::Relaxed) == 1;
        // SAFETY: `eval` is owned by this fixture.
        let msg = unsafe { (*self.ctx.eval).error.borrow_mut().take() }.map(|e| e.message);
        assert_eq!(flagged, msg.is_some(), "err flag and recorded error disagree");
        msg
    }
}

fn s(text: &str) -> *mut Header {
    // SAFETY: always safe.
    unsafe { new_str(text) }
}

fn text(p: *const Header) -> String {
    // SAFETY: tests pass live strings.
    unsafe { str_value(p) }.to_string()
}

fn show(bits: i64, td: u32) -> String {
    // SAFETY: tests pass live values of the right type.
    unsafe { display(bits as u64, td, false) }
}

fn drop_ref(p: *const Header) {
    // SAFETY: tests own the references they drop.
    unsafe { dec(p) }
}

fn ints(xs: &[i64]) -> *mut Header {
    // SAFETY: a fresh, solely owned vector.
    unsafe {
        let v = rt_vec_new(0);
        for &x in xs {
            rt_vec_build_push(v, x);
        }
        v
    }
}

fn floats(xs: &[f64]) -> *mut Header {
    // SAFETY: a fresh, solely owned vector.
    unsafe {
        let v = rt_vec_new(0);
        for &x in xs {
            rt_vec_build_push(v, x.to_bits() as i64);
        }
        v
    }
}

fn strs(xs: &[&str]) -> *mut Header {
    // SAFETY: a fresh, solely owned vector; each string is consumed.
    unsafe {
        let v = rt_vec_new(1);
        for x in xs {
            rt_vec_build_push(v, s(x) as i64);
        }
        v
    }
}

fn vec_td(elem: u32) -> u32 {
    tdesc(RType::Vec(elem))
}

fn rc(p: *const Header) -> u64 {
    // SAFETY: tests pass live objects.
    unsafe { (*p).rc.load(Ordering::Relaxed) }
}

struct Types {
    point: u32,
    empty: u32,
    account: u32,
    shape: u32,
    meal: u32,
    tree: u32,
}

fn types() -> Types {
    let point = register_layout(Layout {
        name: "Point".into(),
        version: 90_001,
        kind: LayoutKind::Record { fields: vec![("x".into(), TD_FLOAT), ("y".into(), TD_FLOAT)] },
    });
    let empty =
        register_layout(Layout { name: "Name".into(), version: 90_001, kind: LayoutKind::Record { fields: vec![] } });
    let account = register_layout(Layout {
        name: "Account".into(),
        version: 90_001,
        kind: LayoutKind::Record {
            fields: vec![("id".into(), TD_INT), ("owner".into(), TD_STR), ("tags".into(), vec_td(TD_STR))],
        },
    });
    let shape = register_layout(Layout {
        name: "Shape".into(),
        version: 90_001,
        kind: LayoutKind::Enum {
            variants: vec![
                ("Circle".into(), vec![TD_FLOAT]),
                ("Rect".into(), vec![TD_FLOAT, TD_FLOAT]),
                ("Empty".into(), vec![]),
            ],
        },
    });
    let meal = register_layout(Layout {
        name: "Meal".into(),
        version: 90_001,
        kind: LayoutKind::Enum {
            variants: vec![("None".into(), vec![]), ("Vegetarian".into(), vec![]), ("Vegan".into(), vec![])],
        },
    });
    // Recursive: reserve first, then complete.
    let tree = reserve_type_key("Tree", 90_001);
    let tree_td = tdesc(RType::Named(tree));
    set_layout(
        tree,
        Layout {
            name: "Tree".into(),
            version: 90_001,
            kind: LayoutKind::Enum {
                variants: vec![("Leaf".into(), vec![]), ("Node".into(), vec![tree_td, TD_INT, tree_td])],
            },
        },
    );
    Types { point, empty, account, shape, meal, tree }
}

fn record(key: u32, slots: &[i64]) -> *mut Header {
    // SAFETY: a fresh record, filled before anyone sees it.
    unsafe {
        let p = rt_alloc_record(key, slots.len() as u32);
        for (i, &x) in slots.iter().enumerate() {
            *super::heap::slot_ptr(p, i) = x as u64;
        }
        p
    }
}

fn variant(key: u32, tag: u32, slots: &[i64]) -> *mut Header {
    // SAFETY: a fresh enum value, filled before anyone sees it.
    unsafe {
        let p = rt_alloc_enum(key, tag, slots.len() as u32);
        for (i, &x) in slots.iter().enumerate() {
            *super::heap::slot_ptr(p, i) = x as u64;
        }
        p
    }
}

fn f(x: f64) -> i64 {
    x.to_bits() as i64
}

// ---------------------------------------------------------------------------
// Helper table and registry.

#[test]
fn runtime_helper_table_is_complete_and_unique() {
    let all = helpers();
    assert!(all.len() >= 46);
    let mut names = std::collections::HashSet::new();
    for h in all {
        assert!(!h.addr.is_null(), "{} has a null address", h.name);
        assert!(h.name.starts_with("rt_"), "{}", h.name);
        assert!(names.insert(h.name), "duplicate helper {}", h.name);
        assert!(std::ptr::eq(helper(h.name), h));
    }
    let get = helper("rt_vec_get");
    assert_eq!(get.params, &[AbiTy::I64, AbiTy::I64, AbiTy::I64]);
    assert_eq!(get.ret, Some(AbiTy::I64));
    let eq = helper("rt_eq");
    assert_eq!(eq.params, &[AbiTy::I64, AbiTy::I64, AbiTy::I32]);
    assert_eq!(eq.ret, Some(AbiTy::I8));
    assert_eq!(helper("rt_free").ret, None);
    assert_eq!(helper("rt_now_ms").params, &[] as &[AbiTy]);
    assert_eq!(helper("rt_parse_float").ret, Some(AbiTy::F64));
    assert_eq!(helper("rt_map_new").params, &[AbiTy::I32, AbiTy::I8]);
    assert_eq!(helper("rt_vec_get").addr, rt_vec_get as *const u8);
}

#[test]
#[should_panic(expected = "unknown runtime helper")]
fn runtime_unknown_helper_panics() {
    let _ = helper("rt_no_such_helper");
}

#[test]
fn runtime_tdesc_interning() {
    assert_eq!(tdesc(RType::Int), TD_INT);
    assert_eq!(tdesc(RType::Str), TD_STR);
    let a = tdesc(RType::Map(TD_STR, vec_td(TD_INT)));
    let b = tdesc(RType::Map(TD_STR, vec_td(TD_INT)));
    assert_eq!(a, b);
    assert_eq!(rtype(a), RType::Map(TD_STR, vec_td(TD_INT)));
    assert_eq!(rtype(TD_FLOAT), RType::Float);
    assert_ne!(vec_td(TD_INT), vec_td(TD_FLOAT));
    assert!(types::is_heap(a) && !types::is_heap(TD_BOOL));
    // Many ids, concurrently: every id maps back to its type.
    let handles: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                (0..300u32).map(|i| (i, tdesc(RType::Map(TD_INT, 1_000_000 + i)))).collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<Vec<(u32, u32)>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for r in &results {
        assert_eq!(r, &results[0]);
        for &(i, id) in r {
            assert_eq!(rtype(id), RType::Map(TD_INT, 1_000_000 + i));
        }
    }
}

#[test]
fn runtime_layout_registry() {
    let t = types();
    assert_eq!(types().point, t.point, "same name and version -> same key");
    let again =
        register_layout(Layout { name: "Point".into(), version: 90_001, kind: LayoutKind::Record { fields: vec![] } });
    assert_eq!(again, t.point);
    assert_eq!(
        layout(t.point).kind,
        LayoutKind::Record { fields: vec![("x".into(), TD_FLOAT), ("y".into(), TD_FLOAT)] }
    );
    let v2 = register_layout(Layout {
        name: "Point".into(),
        version: 90_002,
        kind: LayoutKind::Record { fields: vec![("x".into(), TD_FLOAT)] },
    });
    assert_ne!(v2, t.point);
    assert_eq!(layout(t.tree).name, "Tree");
    assert!(matches!(&layout(t.tree).kind, LayoutKind::Enum { variants } if variants.len() == 2));
    assert!(try_layout(0).is_none());
    assert!(try_layout(u32::MAX).is_none());
    // Reserved then registered: registration completes the placeholder.
    let k = reserve_type_key("Later", 90_001);
    assert_eq!(layout(k).kind, LayoutKind::Record { fields: vec![] });
    let l = Layout {
        name: "Later".into(),
        version: 90_001,
        kind: LayoutKind::Record { fields: vec![("a".into(), TD_INT)] },
    };
    assert_eq!(register_layout(l.clone()), k);
    assert_eq!(*layout(k), l);
    assert_eq!(types::lookup_type_key("Later", 90_001), Some(k));
}

// ---------------------------------------------------------------------------
// Display.

#[test]
fn runtime_display_scalars() {
    assert_eq!(show(42, TD_INT), "42");
    assert_eq!(show(-7, TD_INT), "-7");
    assert_eq!(show(f(1.0), TD_FLOAT), "1.0");
    assert_eq!(show(f(0.1), TD_FLOAT), "0.1");
    assert_eq!(show(f(1e300), TD_FLOAT), "1e300");
    assert_eq!(show(f(f64::INFINITY), TD_FLOAT), "inf");
    assert_eq!(show(f(f64::NAN), TD_FLOAT), "NaN");
    assert_eq!(show(f(2.5), TD_FLOAT), "2.5");
    assert_eq!(show(1, TD_BOOL), "true");
    assert_eq!(show(0, TD_BOOL), "false");
    assert_eq!(show(0, TD_UNIT), "()");
    let hi = s("hi");
    assert_eq!(show(hi as i64, TD_STR), "hi");
    // SAFETY: live string.
    assert_eq!(unsafe { display(hi as u64, TD_STR, true) }, "\"hi\"");
    drop_ref(hi);
    let esc = s("a\\b\"c\nd\te\rf\0g é");
    // SAFETY: live string.
    assert_eq!(unsafe { display(esc as u64, TD_STR, true) }, r#""a\\b\"c\nd\te\rf\0g é""#);
    drop_ref(esc);
}

#[test]
fn runtime_display_containers_and_types() {
    let start = thread_live_objects();
    let t = types();
    let v = ints(&[1, 2, 3]);
    assert_eq!(show(v as i64, vec_td(TD_INT)), "[1, 2, 3]");
    let e = ints(&[]);
    assert_eq!(show(e as i64, vec_td(TD_INT)), "[]");
    // [[1], [2, 3]]
    // SAFETY: fresh vectors; nested vectors are consumed.
    let nested = unsafe {
        let n = rt_vec_new(1);
        rt_vec_build_push(n, ints(&[1]) as i64);
        rt_vec_build_push(n, ints(&[2, 3]) as i64);
        n
    };
    assert_eq!(show(nested as i64, vec_td(vec_td(TD_INT))), "[[1], [2, 3]]");
    let words = strs(&["a", "b\"c"]);
    assert_eq!(show(words as i64, vec_td(TD_STR)), r#"["a", "b\"c"]"#);
    let fl = floats(&[1.0, 0.5]);
    assert_eq!(show(fl as i64, vec_td(TD_FLOAT)), "[1.0, 0.5]");

    // Maps print in key order.
    // SAFETY: fresh maps; keys and values are consumed.
    let (m, mi, mb, empty) = unsafe {
        let m = rt_map_new(KEY_STR, 0);
        rt_map_build_insert(m, s("b") as i64, 2);
        rt_map_build_insert(m, s("a") as i64, 1);
        let mi = rt_map_new(KEY_INT, 1);
        for k in [2, -1, 0] {
            rt_map_build_insert(mi, k, s(&(k * k).to_string()) as i64);
        }
        let mb = rt_map_new(KEY_BOOL, 0);
        rt_map_build_insert(mb, 1, 10);
        rt_map_build_insert(mb, 0, 20);
        (m, mi, mb, rt_map_new(KEY_STR, 0))
    };
    assert_eq!(show(m as i64, tdesc(RType::Map(TD_STR, TD_INT))), r#"{"a": 1, "b": 2}"#);
    assert_eq!(show(mi as i64, tdesc(RType::Map(TD_INT, TD_STR))), r#"{-1: "1", 0: "0", 2: "4"}"#);
    assert_eq!(show(mb as i64, tdesc(RType::Map(TD_BOOL, TD_INT))), "{false: 20, true: 10}");
    assert_eq!(show(empty as i64, tdesc(RType::Map(TD_STR, TD_INT))), "{}");

    // Records and enums.
    let p = record(t.point, &[f(1.0), f(2.0)]);
    let ptd = tdesc(RType::Named(t.point));
    assert_eq!(show(p as i64, ptd), "Point { x: 1.0, y: 2.0 }");
    let n = record(t.empty, &[]);
    assert_eq!(show(n as i64, tdesc(RType::Named(t.empty))), "Name {}");
    let acc = record(t.account, &[1, s("ann") as i64, strs(&["x"]) as i64]);
    assert_eq!(show(acc as i64, tdesc(RType::Named(t.account))), r#"Account { id: 1, owner: "ann", tags: ["x"] }"#);
    let stx = tdesc(RType::Named(t.shape));
    let c = variant(t.shape, 0, &[f(1.0)]);
    assert_eq!(show(c as i64, stx), "Shape::Circle(1.0)");
    let r = variant(t.shape, 1, &[f(2.0), f(3.0)]);
    assert_eq!(show(r as i64, stx), "Shape::Rect(2.0, 3.0)");
    let vegan = enum_unit(t.meal, 2);
    assert_eq!(show(vegan as i64, tdesc(RType::Named(t.meal))), "Meal::Vegan");
    let leaf = enum_unit(t.tree, 0);
    let node = variant(t.tree, 1, &[leaf as i64, 7, leaf as i64]);
    assert_eq!(show(node as i64, tdesc(RType::Named(t.tree))), "Tree::Node(Tree::Leaf, 7, Tree::Leaf)");
    // A vector of records.
    // SAFETY: fresh vector; `p` is shared with a new reference.
    let ps = unsafe {
        let ps = rt_vec_new(1);
        inc(p);
        rt_vec_build_push(ps, p as i64);
        ps
    };
    assert_eq!(show(ps as i64, vec_td(ptd)), "[Point { x: 1.0, y: 2.0 }]");

    // rt_to_str and rt_print.
    // SAFETY: live values.
    unsafe {
        let st = rt_to_str(v as i64, vec_td(TD_INT));
        assert_eq!(text(st), "[1, 2, 3]");
        drop_ref(st);
        let word = s("same");
        let st = rt_to_str(word as i64, TD_STR);
        assert_eq!(st, word, "str(s) is s itself");
        assert_eq!(rc(word), 2);
        drop_ref(st);
        drop_ref(word);
        let st = rt_to_str(f(2.5), TD_FLOAT);
        assert_eq!(text(st), "2.5");
        drop_ref(st);
        let mut cx = TestCtx::new();
        let hi = s("hi");
        rt_print(cx.ptr(), hi as i64, TD_STR);
        rt_print(cx.ptr(), m as i64, tdesc(RType::Map(TD_STR, TD_INT)));
        rt_print(cx.ptr(), 0, TD_UNIT);
        drop_ref(hi);
        assert_eq!(*cx.out.0.lock().unwrap(), vec!["hi", r#"{"a": 1, "b": 2}"#, "()"]);
        assert_eq!(cx.take_err(), None);
    }

    for x in [v, e, nested, words, fl, m, mi, mb, empty, p, n, acc, c, r, node, ps] {
        drop_ref(x);
    }
    assert_eq!(thread_live_objects(), start);
}

// ---------------------------------------------------------------------------
// Reference counting and freeing.

#[test]
fn runtime_refcounts_return_to_start() {
    let start = thread_live_objects();
    let t = types();
    // SAFETY: live values throughout; every owned reference is dropped.
    unsafe {
        let inner = strs(&["a", "b"]);
        let outer = rt_vec_new(1);
        for _ in 0..2 {
            inc(inner); // build_push consumes a reference: we keep ours
            rt_vec_build_push(outer, inner as i64);
        }
        assert_eq!(rc(inner), 3);
        let pushed = rt_vec_push(outer, inner as i64);
        // `pushed` shares `outer`'s tree; the copied chunk holds its own references.
        assert_eq!(rc(inner), 6);
        let zv = strs(&["z"]);
        let set = rt_vec_set(std::ptr::null_mut(), pushed, 0, zv as i64);
        // The set element was borrowed: the vector holds its own reference.
        assert_eq!(rt_vec_get(std::ptr::null_mut(), set, 0), zv as i64);
        assert_eq!(rc(zv), 2);
        let popped = rt_vec_pop(std::ptr::null_mut(), set);
        let sliced = rt_vec_slice(std::ptr::null_mut(), set, 1, 3);
        let cat = rt_vec_concat(sliced, popped);
        let rev = rt_vec_reverse(cat);
        let unsorted = strs(&["b", "a"]);
        let sorted = rt_vec_sort(unsorted, TD_STR);
        let sep = s(", ");
        let joined = rt_str_join(inner, sep);
        assert_eq!(text(joined), "a, b");

        // Maps with str keys and heap values.
        let m = rt_map_new(KEY_STR, 1);
        rt_map_build_insert(m, s("k") as i64, ints(&[1]) as i64);
        let key = s("j");
        let val = record(t.account, &[1, s("o") as i64, strs(&[]) as i64]);
        let m2 = rt_map_insert(m, key as i64, val as i64);
        let m3 = rt_map_insert(m2, key as i64, val as i64); // replace
        let k = s("k");
        let m4 = rt_map_remove(m3, k as i64);
        let ks = rt_map_keys(m3);
        let vs = rt_map_values(m3);
        assert_eq!(rt_map_len(m4), 1);
        assert_eq!(rt_map_get_or(m4, key as i64, 0), val as i64);
        assert_eq!(show(ks as i64, vec_td(TD_STR)), r#"["j", "k"]"#);
        let (xy, comma) = (s("x,y"), s(","));
        let split = rt_str_split(std::ptr::null_mut(), xy, comma);
        let ranged = rt_range(std::ptr::null_mut(), 0, 1000);

        // Records holding vectors holding records.
        let p = record(t.point, &[f(1.0), f(2.0)]);
        let holder = rt_vec_new(1);
        rt_vec_build_push(holder, p as i64);
        let acc = record(t.account, &[7, s("me") as i64, holder as i64]);
        let shape = variant(t.shape, 0, &[f(1.0)]);

        for x in [
            inner, outer, zv, pushed, set, popped, sliced, cat, rev, unsorted, sorted, sep, joined, m, key, val, m2,
            m3, m4, k, ks, vs, xy, comma, split, ranged, acc, shape,
        ] {
            drop_ref(x);
        }
    }
    assert_eq!(thread_live_objects(), start);
}

#[test]
fn runtime_immortals_are_never_freed_or_counted() {
    let start = thread_live_objects();
    let t = types();
    let lit = str_literal("literal text");
    assert_eq!(str_literal("literal text"), lit, "literals are shared");
    let unit = enum_unit(t.meal, 1);
    assert_eq!(enum_unit(t.meal, 1), unit);
    assert_ne!(enum_unit(t.meal, 0), unit);
    assert_eq!(thread_live_objects(), start);
    for _ in 0..1000 {
        // SAFETY: immortal objects ignore decrements.
        unsafe {
            dec(lit);
            dec(unit);
            rt_free(lit as *mut Header);
        }
    }
    assert!(rc(lit) >= IMMORTAL_RC / 2);
    assert_eq!(text(lit), "literal text");
    // An immortal inside a freed vector is left alone.
    // SAFETY: fresh vector.
    unsafe {
        let v = rt_vec_new(1);
        inc(lit);
        rt_vec_build_push(v, lit as i64);
        let w = rt_vec_push(v, unit as i64);
        drop_ref(v);
        drop_ref(w);
    }
    assert_eq!(text(lit), "literal text");
    assert_eq!(thread_live_objects(), start);
}

#[test]
fn runtime_million_deep_enum_chain_frees_iteratively() {
    let start = thread_live_objects();
    let t = types();
    let leaf = enum_unit(t.tree, 0);
    let mut chain = leaf as *mut Header;
    for i in 0..1_000_000 {
        // The new node takes over the previous node's reference.
        chain = variant(t.tree, 1, &[chain as i64, i, leaf as i64]);
    }
    assert_eq!(thread_live_objects() - start, 1_000_000);
    // Equality and display walk it iteratively too.
    // SAFETY: live value.
    unsafe {
        let td = tdesc(RType::Named(t.tree));
        assert!(equal(chain as u64, chain as u64, td));
        assert_eq!(super::heap::slot(chain, 1), 999_999);
    }
    // rc 1 -> rt_free path as compiled code would do it.
    // SAFETY: we own the only reference.
    unsafe {
        assert_eq!((*chain).rc.fetch_sub(1, Ordering::Release), 1);
        rt_free(chain);
    }
    assert_eq!(thread_live_objects(), start);
}

#[test]
fn runtime_deep_nested_vectors_and_records_free_iteratively() {
    let start = thread_live_objects();
    let t = types();
    let td_tree = tdesc(RType::Named(t.tree));
    let mut v = ints(&[1]);
    for _ in 0..200_000 {
        // SAFETY: fresh vector; consumes the previous one.
        unsafe {
            let outer = rt_vec_new(1);
            rt_vec_build_push(outer, v as i64);
            v = outer;
        }
    }
    // A map chain: {0: {0: ...}} through records holding maps.
    let acc_key = register_layout(Layout {
        name: "Box".into(),
        version: 90_001,
        kind: LayoutKind::Record { fields: vec![("m".into(), tdesc(RType::Map(TD_INT, td_tree)))] },
    });
    let mut chain = enum_unit(t.tree, 0) as *mut Header;
    for i in 0..200_000 {
        chain = variant(t.tree, 1, &[chain as i64, i, enum_unit(t.tree, 0) as i64]);
    }
    // SAFETY: fresh map; consumes `chain`.
    let boxed = unsafe {
        let m = rt_map_new(KEY_INT, 1);
        rt_map_build_insert(m, 0, chain as i64);
        record(acc_key, &[m as i64])
    };
    // Deep display does not overflow either.
    let shown = show(chain as i64, td_tree);
    assert!(shown.starts_with("Tree::Node(Tree::Node(") && shown.ends_with(", 199999, Tree::Leaf)"));
    drop_ref(v);
    drop_ref(boxed);
    assert_eq!(thread_live_objects(), start);
}

#[test]
fn runtime_objects_are_shared_across_threads() {
    let start = thread_live_objects();
    let v = strs(&["shared", "across", "threads"]);
    let addr = v as usize;
    let handles: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let v = addr as *const Header;
                for i in 0..2_000 {
                    // SAFETY: the main thread keeps `v` alive until joined.
                    unsafe {
                        let w = rt_vec_push(v, rt_vec_get(std::ptr::null_mut(), v, i % 3));
                        let st = rt_to_str(w as i64, vec_td(TD_STR));
                        dec(st);
                        dec(w);
                    }
                }
                thread_live_objects()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 0);
    }
    assert_eq!(rc(v), 1);
    // SAFETY: each element is held once by the vector.
    unsafe {
        for i in 0..3 {
            assert_eq!(rc(rt_vec_get(std::ptr::null_mut(), v, i) as *const Header), 1);
        }
    }
    drop_ref(v);
    assert_eq!(thread_live_objects(), start);
}

// ---------------------------------------------------------------------------
// Errors.

#[test]
fn runtime_errors_set_ctx_err() {
    let start = thread_live_objects();
    let mut cx = TestCtx::new();
    let c = cx.ptr();
    // SAFETY: live ctx and values.
    unsafe {
        let v = ints(&[1, 2]);
        assert_eq!(rt_vec_get(c, v, 1), 2);
        assert_eq!(cx.take_err(), None);
        assert_eq!(rt_vec_get(c, v, 5), 0);
        assert_eq!(cx.take_err().as_deref(), Some("index out of bounds: index 5, length 2"));
        rt_vec_get(c, v, -1);
        assert!(cx.take_err().unwrap().starts_with("index out of bounds"));
        assert!(rt_vec_set(c, v, 2, 0).is_null());
        assert!(cx.take_err().unwrap().starts_with("index out of bounds"));
        assert!(rt_vec_slice(c, v, 1, 3).is_null());
        assert!(cx.take_err().unwrap().starts_with("index out of bounds"));
        assert!(rt_vec_slice(c, v, 2, 1).is_null());
        assert!(cx.take_err().unwrap().starts_with("index out of bounds"));
        let empty = rt_vec_slice(c, v, 2, 2);
        assert_eq!(rt_vec_len(empty), 0);
        assert!(rt_vec_pop(c, empty).is_null());
        assert!(cx.take_err().unwrap().starts_with("index out of bounds"));

        let m = rt_map_new(KEY_STR, 0);
        rt_map_build_insert(m, s("a") as i64, 1);
        let b = s("b");
        assert_eq!(rt_map_get(c, m, b as i64), 0);
        assert_eq!(cx.take_err().as_deref(), Some(r#"key not found: "b""#));
        let mi = rt_map_new(KEY_INT, 0);
        rt_map_get(c, mi, 5);
        assert_eq!(cx.take_err().as_deref(), Some("key not found: 5"));

        let bad = s("12x");
        assert_eq!(rt_parse_int(c, bad), 0);
        assert_eq!(cx.take_err().as_deref(), Some(r#"invalid number: "12x""#));
        rt_parse_float(c, bad);
        assert_eq!(cx.take_err().as_deref(), Some(r#"invalid number: "12x""#));
        let good = s("-123");
        assert_eq!(rt_parse_int(c, good), -123);
        assert_eq!(rt_parse_float(c, good), -123.0);
        assert_eq!(cx.take_err(), None);

        let comma = s("a,b");
        let nothing = s("");
        assert!(rt_str_split(c, comma, nothing).is_null());
        assert!(cx.take_err().unwrap().starts_with("invalid argument"));

        rt_raise(c, ERR_DIVISION_BY_ZERO);
        assert_eq!(cx.take_err().as_deref(), Some("division by zero"));
        rt_raise(c, ERR_INTEGER_OVERFLOW);
        assert_eq!(cx.take_err().as_deref(), Some("integer overflow"));
        let msg = s("math is broken");
        rt_assert_failed(c, msg);
        assert_eq!(cx.take_err().as_deref(), Some("assertion failed: math is broken"));

        assert_eq!(rt_pow_int(c, 2, 10), 1024);
        assert_eq!(rt_pow_int(c, -3, 3), -27);
        assert_eq!(rt_pow_int(c, 7, 0), 1);
        assert_eq!(rt_pow_int(c, 1, i64::MAX), 1);
        assert_eq!(rt_pow_int(c, -1, i64::MAX), -1);
        assert_eq!(rt_pow_int(c, 2, 62), 1 << 62);
        assert_eq!(rt_pow_int(c, -2, 63), i64::MIN);
        assert_eq!(cx.take_err(), None);
        rt_pow_int(c, 2, 63);
        assert_eq!(cx.take_err().as_deref(), Some("integer overflow"));
        rt_pow_int(c, 2, -1);
        assert_eq!(cx.take_err().as_deref(), Some("invalid argument: negative exponent"));

        assert_eq!(rt_float_to_int(c, -2.9), -2);
        assert_eq!(rt_float_to_int(c, 2.9), 2);
        assert_eq!(rt_float_to_int(c, -9_223_372_036_854_775_808.0), i64::MIN);
        assert_eq!(cx.take_err(), None);
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 9_223_372_036_854_775_808.0, -1e19] {
            rt_float_to_int(c, bad);
            assert!(cx.take_err().unwrap().starts_with("invalid conversion"), "{bad}");
        }

        // The first error is kept if several are raised before anyone looks.
        rt_raise(c, ERR_DIVISION_BY_ZERO);
        rt_raise(c, ERR_INTEGER_OVERFLOW);
        assert_eq!(cx.take_err().as_deref(), Some("division by zero"));

        for x in [v, empty, m, b, mi, bad, good, comma, nothing, msg] {
            drop_ref(x);
        }
    }
    assert_eq!(thread_live_objects(), start);
}

// ---------------------------------------------------------------------------
// Strings, numbers, vectors, maps.

#[test]
fn runtime_string_helpers() {
    let start = thread_live_objects();
    // SAFETY: live strings.
    unsafe {
        let h = s("héllo");
        assert_eq!(rt_str_len(h), 5);
        let w = s(", world");
        let cat = rt_str_concat(h, w);
        assert_eq!(text(cat), "héllo, world");
        assert_eq!(rt_str_contains(cat, w), 1);
        assert_eq!(rt_str_contains(h, w), 0);
        let up = rt_str_upper(h);
        assert_eq!(text(up), "HÉLLO");
        let low = rt_str_lower(up);
        assert_eq!(text(low), "héllo");
        let pad = s(" \t hi\u{3000}\n");
        let tr = rt_str_trim(pad);
        assert_eq!(text(tr), "hi");
        let csv = s("a,b,,c");
        let comma = s(",");
        let parts = rt_str_split(std::ptr::null_mut(), csv, comma);
        assert_eq!(show(parts as i64, vec_td(TD_STR)), r#"["a", "b", "", "c"]"#);
        let dash = s("-");
        let joined = rt_str_join(parts, dash);
        assert_eq!(text(joined), "a-b--c");
        let (a, b, big_b, e) = (s("a"), s("b"), s("B"), s("é"));
        assert_eq!(rt_str_cmp(a, b), -1);
        assert_eq!(rt_str_cmp(b, a), 1);
        assert_eq!(rt_str_cmp(a, a), 0);
        assert_eq!(rt_str_cmp(big_b, a), -1);
        assert_eq!(rt_str_cmp(e, b), 1);
        assert_eq!(rt_eq(a as i64, s("a") as i64, TD_STR), 1); // leaks one "a": counted below
        for x in [h, w, cat, up, low, pad, tr, csv, comma, parts, dash, joined, a, b, big_b, e] {
            drop_ref(x);
        }
    }
    assert_eq!(thread_live_objects() - start, 1);
}

#[test]
fn runtime_number_helpers() {
    // SAFETY: pure functions.
    unsafe {
        assert_eq!(rt_pow_float(2.0, 0.5), 2f64.sqrt());
        assert_eq!(rt_fmod(-7.5, 2.0), -1.5);
        assert!(rt_fmod(1.0, 0.0).is_nan());
        let now = rt_now_ms();
        assert!(now > 1_600_000_000_000, "{now}");
    }
}

#[test]
fn runtime_sort_orders() {
    let start = thread_live_objects();
    // SAFETY: live vectors.
    unsafe {
        let v = ints(&[3, -1, 2, i64::MIN, 0]);
        let sv = rt_vec_sort(v, TD_INT);
        assert_eq!(show(sv as i64, vec_td(TD_INT)), "[-9223372036854775808, -1, 0, 2, 3]");
        assert_eq!(show(v as i64, vec_td(TD_INT)), "[3, -1, 2, -9223372036854775808, 0]", "original unchanged");
        let fl = floats(&[2.0, f64::NAN, -0.0, 0.0, f64::NEG_INFINITY, -1.5, f64::INFINITY]);
        let sf = rt_vec_sort(fl, TD_FLOAT);
        assert_eq!(show(sf as i64, vec_td(TD_FLOAT)), "[-inf, -1.5, -0.0, 0.0, 2.0, inf, NaN]");
        let st = strs(&["b", "a", "é", "B", "", "ab"]);
        let ss = rt_vec_sort(st, TD_STR);
        assert_eq!(show(ss as i64, vec_td(TD_STR)), r#"["", "B", "a", "ab", "b", "é"]"#);
        let bo = ints(&[1, 0, 1]);
        let sb = rt_vec_sort(bo, TD_BOOL);
        assert_eq!(show(sb as i64, vec_td(TD_BOOL)), "[false, true, true]");
        let r = rt_range(std::ptr::null_mut(), 3, 0);
        assert_eq!(rt_vec_len(r), 0);
        let r2 = rt_range(std::ptr::null_mut(), -2, 2);
        assert_eq!(show(r2 as i64, vec_td(TD_INT)), "[-2, -1, 0, 1]");
        let rv = rt_vec_reverse(r2);
        assert_eq!(show(rv as i64, vec_td(TD_INT)), "[1, 0, -1, -2]");
        for x in [v, sv, fl, sf, st, ss, bo, sb, r, r2, rv] {
            drop_ref(x);
        }
    }
    assert_eq!(thread_live_objects(), start);
}

#[test]
fn runtime_vector_operations_are_persistent() {
    let start = thread_live_objects();
    let td = vec_td(TD_INT);
    let mut cx = TestCtx::new();
    let c = cx.ptr();
    // SAFETY: live vectors.
    unsafe {
        let xs = ints(&[1, 2, 3]);
        let ys = rt_vec_push(xs, 4);
        assert_eq!(show(xs as i64, td), "[1, 2, 3]");
        assert_eq!(show(ys as i64, td), "[1, 2, 3, 4]");
        assert_eq!(rt_vec_len(ys), 4);
        assert_eq!(rt_vec_get(c, ys, 3), 4);
        let set = rt_vec_set(c, xs, 0, 9);
        assert_eq!(show(set as i64, td), "[9, 2, 3]");
        let sl = rt_vec_slice(c, ys, 1, 3);
        assert_eq!(show(sl as i64, td), "[2, 3]");
        let seven = ints(&[7]);
        let cat = rt_vec_concat(xs, seven);
        assert_eq!(show(cat as i64, td), "[1, 2, 3, 7]");
        let popped = rt_vec_pop(c, xs);
        assert_eq!(show(popped as i64, td), "[1, 2]");
        assert_eq!(show(xs as i64, td), "[1, 2, 3]");
        let empty_heap = rt_vec_new(1);
        let empty_bits = rt_vec_new(0);
        let cat2 = rt_vec_concat(empty_bits, empty_heap);
        assert_eq!(rt_vec_len(cat2), 0);
        // Large vectors: tree nodes, slicing and concatenation.
        let big = rt_range(std::ptr::null_mut(), 0, 10_000);
        let mid = rt_vec_slice(c, big, 4_000, 6_500);
        assert_eq!(rt_vec_len(mid), 2_500);
        assert_eq!(rt_vec_get(c, mid, 0), 4_000);
        let both = rt_vec_concat(mid, big);
        assert_eq!(rt_vec_get(c, both, 2_500 + 9_999), 9_999);
        assert_eq!(cx.take_err(), None);
        for x in [xs, ys, set, sl, seven, cat, popped, empty_heap, empty_bits, cat2, big, mid, both] {
            drop_ref(x);
        }
    }
    assert_eq!(thread_live_objects(), start);
}

#[test]
fn runtime_map_operations_and_key_order() {
    let start = thread_live_objects();
    let mtd = tdesc(RType::Map(TD_STR, TD_INT));
    let mut cx = TestCtx::new();
    let c = cx.ptr();
    // SAFETY: live maps and keys.
    unsafe {
        let m = rt_map_new(KEY_STR, 0);
        for (k, v) in [("b", 2), ("é", 5), ("a", 1), ("B", 0), ("ab", 3)] {
            rt_map_build_insert(m, s(k) as i64, v);
        }
        assert_eq!(show(m as i64, mtd), r#"{"B": 0, "a": 1, "ab": 3, "b": 2, "é": 5}"#);
        let (a, z, c_key) = (s("a"), s("z"), s("c"));
        assert_eq!(rt_map_get(c, m, a as i64), 1);
        assert_eq!(rt_map_get_or(m, z as i64, -1), -1);
        assert_eq!(rt_map_has(m, a as i64), 1);
        assert_eq!(rt_map_has(m, z as i64), 0);
        let m2 = rt_map_insert(m, c_key as i64, 3);
        assert_eq!(rt_map_len(m2), 6);
        assert_eq!(rt_map_len(m), 5);
        let m3 = rt_map_remove(m2, a as i64);
        let m4 = rt_map_remove(m3, z as i64);
        assert_eq!(show(m4 as i64, mtd), r#"{"B": 0, "ab": 3, "b": 2, "c": 3, "é": 5}"#);
        let ks = rt_map_keys(m4);
        assert_eq!(show(ks as i64, vec_td(TD_STR)), r#"["B", "ab", "b", "c", "é"]"#);
        let vs = rt_map_values(m4);
        assert_eq!(show(vs as i64, vec_td(TD_INT)), "[0, 3, 2, 3, 5]");
        // Int keys order numerically, bool keys false first.
        let mi = rt_map_new(KEY_INT, 0);
        for k in [10, -5, 0, i64::MAX, i64::MIN] {
            rt_map_build_insert(mi, k, k);
        }
        let kis = rt_map_keys(mi);
        assert_eq!(show(kis as i64, vec_td(TD_INT)), "[-9223372036854775808, -5, 0, 10, 9223372036854775807]");
        let mb = rt_map_new(KEY_BOOL, 0);
        let mb2 = rt_map_insert(mb, 1, 1);
        let mb3 = rt_map_insert(mb2, 0, 0);
        let kbs = rt_map_keys(mb3);
        assert_eq!(show(kbs as i64, vec_td(TD_BOOL)), "[false, true]");
        // Replacing a value keeps one entry.
        let mb4 = rt_map_insert(mb3, 1, 7);
        assert_eq!(show(mb4 as i64, tdesc(RType::Map(TD_BOOL, TD_INT))), "{false: 0, true: 7}");
        assert_eq!(cx.take_err(), None);
        for x in [m, a, z, c_key, m2, m3, m4, ks, vs, mi, kis, mb, mb2, mb3, kbs, mb4] {
            drop_ref(x);
        }
    }
    assert_eq!(thread_live_objects(), start);
}

// ---------------------------------------------------------------------------
// Equality.

#[test]
fn runtime_structural_equality() {
    let start = thread_live_objects();
    let t = types();
    let eq = |a: *const Header, b: *const Header, td: u32| {
        // SAFETY: live values.
        unsafe { rt_eq(a as i64, b as i64, td) == 1 }
    };
    // SAFETY: pure.
    unsafe {
        assert_eq!(rt_eq(f(f64::NAN), f(f64::NAN), TD_FLOAT), 0);
        assert_eq!(rt_eq(f(0.0), f(-0.0), TD_FLOAT), 1);
        assert_eq!(rt_eq(3, 3, TD_INT), 1);
        assert_eq!(rt_eq(1, 0, TD_BOOL), 0);
        assert_eq!(rt_eq(0, 0, TD_UNIT), 1);
    }
    let vi = vec_td(TD_INT);
    let (a, b, c) = (ints(&[1, 2]), ints(&[1, 2]), ints(&[1, 2, 3]));
    assert!(eq(a, b, vi) && eq(a, a, vi) && !eq(a, c, vi));
    let nan = floats(&[f64::NAN]);
    assert!(!eq(nan, nan, vec_td(TD_FLOAT)), "[NaN] != [NaN], even the same vector");
    let (sa, sb, sc) = (strs(&["x", "y"]), strs(&["x", "y"]), strs(&["x", "z"]));
    assert!(eq(sa, sb, vec_td(TD_STR)) && !eq(sa, sc, vec_td(TD_STR)));
    // SAFETY: fresh nested vectors.
    let (na, nb) = unsafe {
        let na = rt_vec_new(1);
        rt_vec_build_push(na, ints(&[1]) as i64);
        rt_vec_build_push(na, ints(&[2, 3]) as i64);
        let nb = rt_vec_new(1);
        rt_vec_build_push(nb, ints(&[1]) as i64);
        rt_vec_build_push(nb, ints(&[2, 4]) as i64);
        (na, nb)
    };
    assert!(!eq(na, nb, vec_td(vi)) && eq(na, na, vec_td(vi)));

    let mtd = tdesc(RType::Map(TD_STR, TD_FLOAT));
    // SAFETY: fresh maps.
    let (ma, mb, mc) = unsafe {
        let mk = |pairs: &[(&str, f64)]| {
            let m = rt_map_new(KEY_STR, 0);
            for (k, v) in pairs {
                rt_map_build_insert(m, s(k) as i64, f(*v));
            }
            m
        };
        (mk(&[("a", 1.0), ("b", 2.0)]), mk(&[("b", 2.0), ("a", 1.0)]), mk(&[("a", 1.0), ("c", 2.0)]))
    };
    assert!(eq(ma, mb, mtd) && !eq(ma, mc, mtd));

    let ptd = tdesc(RType::Named(t.point));
    let (p, q, r) =
        (record(t.point, &[f(3.0), f(4.0)]), record(t.point, &[f(3.0), f(4.0)]), record(t.point, &[f(5.0), f(4.0)]));
    assert!(eq(p, q, ptd) && !eq(p, r, ptd));
    let pn = record(t.point, &[f(f64::NAN), f(0.0)]);
    assert!(!eq(pn, pn, ptd), "a record holding NaN is not equal to itself");
    let atd = tdesc(RType::Named(t.account));
    let (x, y) = (
        record(t.account, &[1, s("o") as i64, strs(&["t"]) as i64]),
        record(t.account, &[1, s("o") as i64, strs(&["t"]) as i64]),
    );
    let z = record(t.account, &[1, s("o") as i64, strs(&["u"]) as i64]);
    assert!(eq(x, y, atd) && !eq(x, z, atd));
    let stx = tdesc(RType::Named(t.shape));
    let (c1, c2, r1) =
        (variant(t.shape, 0, &[f(1.0)]), variant(t.shape, 0, &[f(1.0)]), variant(t.shape, 1, &[f(1.0), f(1.0)]));
    assert!(eq(c1, c2, stx) && !eq(c1, r1, stx));
    let empty = enum_unit(t.shape, 2);
    assert!(eq(empty, empty, stx) && !eq(empty, c1, stx));
    // A payload-less variant allocated at run time equals the singleton.
    let empty2 = variant(t.shape, 2, &[]);
    assert!(eq(empty, empty2, stx));

    for v in [a, b, c, nan, sa, sb, sc, na, nb, ma, mb, mc, p, q, r, pn, x, y, z, c1, c2, r1, empty2] {
        drop_ref(v);
    }
    assert_eq!(thread_live_objects(), start);
}
