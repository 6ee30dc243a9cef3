//! Exhaustiveness of `match` (Maranget's usefulness algorithm, reduced to
//! finding one uncovered value per missing top-level case).

use super::names::Namespace;
use crate::hir::Pat;
use crate::types::Ty;

/// Work limit: nested patterns over many columns can blow up; past it the
/// match is assumed exhaustive (the generated code still traps if not).
const BUDGET: u32 = 20_000;

static WILD: Pat = Pat::Wild;

/// A constructor of a finite type: an enum variant or a bool.
struct Ctor {
    /// How a value built with it prints (`Shape::Rect`, `true`).
    label: String,
    sub_tys: Vec<Ty>,
    key: Key,
}

#[derive(Copy, Clone, PartialEq, Eq)]
enum Key {
    Variant(u32),
    Bool(bool),
}

/// `None` when `pats` cover every value of `ty`; else the uncovered cases,
/// one per missing top-level constructor (`Color::Blue`, `Tree::Node(Tree::Leaf, _, _)`,
/// or `_` for types without constructors).
pub(super) fn missing(ns: &Namespace, ty: &Ty, pats: &[&Pat]) -> Option<Vec<String>> {
    let mut ex = Ex { ns, budget: BUDGET };
    let rows: Vec<Vec<&Pat>> = pats.iter().map(|p| vec![*p]).collect();
    let out = match ex.ctors(ty) {
        Some(cs) => {
            let mut found = Vec::new();
            for c in &cs {
                let spec = specialize(&rows, c);
                if let Some(w) = ex.witness(spec, &c.sub_tys) {
                    found.push(show(c, &w));
                }
            }
            found
        }
        None => ex.witness(rows, std::slice::from_ref(ty)).unwrap_or_default(),
    };
    if out.is_empty() || ex.budget == 0 { None } else { Some(out) }
}

struct Ex<'n, 'a> {
    ns: &'n Namespace<'a>,
    budget: u32,
}

impl Ex<'_, '_> {
    fn ctors(&self, ty: &Ty) -> Option<Vec<Ctor>> {
        match ty {
            Ty::Bool => Some(vec![
                Ctor { label: "true".into(), sub_tys: Vec::new(), key: Key::Bool(true) },
                Ctor { label: "false".into(), sub_tys: Vec::new(), key: Key::Bool(false) },
            ]),
            Ty::Named(nt) if nt.is_enum => {
                let info = self.ns.type_info_of(nt)?;
                Some(
                    info.variants()
                        .iter()
                        .enumerate()
                        .map(|(i, v)| Ctor {
                            label: format!("{}::{}", nt.name, v.name),
                            sub_tys: v.payload.clone(),
                            key: Key::Variant(i as u32),
                        })
                        .collect(),
                )
            }
            _ => None,
        }
    }

    /// One row of values (as text) matched by no row of `rows`, if any.
    fn witness(&mut self, rows: Vec<Vec<&Pat>>, tys: &[Ty]) -> Option<Vec<String>> {
        if self.budget == 0 {
            return None;
        }
        self.budget -= 1;
        let Some((head, rest)) = tys.split_first() else {
            return if rows.is_empty() { Some(Vec::new()) } else { None };
        };
        if rows.is_empty() {
            return Some(vec!["_".to_string(); tys.len()]);
        }
        let cs = self.ctors(head).unwrap_or_default();
        let used = |k: Key| {
            rows.iter().any(|r| match (r.first(), k) {
                (Some(Pat::Variant { tag, .. }), Key::Variant(t)) => *tag == t,
                (Some(Pat::Bool(b)), Key::Bool(v)) => *b == v,
                _ => false,
            })
        };
        let unused: Vec<&Ctor> = cs.iter().filter(|c| !used(c.key)).collect();
        if !cs.is_empty() && unused.is_empty() {
            // Every constructor appears: a missing value must be missing
            // inside one of them.
            for c in &cs {
                let spec = specialize(&rows, c);
                let mut sub = c.sub_tys.clone();
                sub.extend_from_slice(rest);
                if let Some(w) = self.witness(spec, &sub) {
                    let n = c.sub_tys.len().min(w.len());
                    let mut out = vec![show(c, &w[..n])];
                    out.extend_from_slice(&w[n..]);
                    return Some(out);
                }
            }
            return None;
        }
        // Some constructor (or, for ints, strs and records, every value) is
        // not named: only the catch-all rows can cover the column.
        let default: Vec<Vec<&Pat>> = rows
            .iter()
            .filter(|r| matches!(r.first(), Some(Pat::Wild | Pat::Bind(_))))
            .map(|r| r[1..].to_vec())
            .collect();
        let w = self.witness(default, rest)?;
        let head_text = match unused.first() {
            Some(c) => show(c, &vec!["_".to_string(); c.sub_tys.len()]),
            None => "_".to_string(),
        };
        let mut out = vec![head_text];
        out.extend(w);
        Some(out)
    }
}

/// The rows that can match a value built with `c`, with `c`'s payload
/// patterns in place of the head.
fn specialize<'p>(rows: &[Vec<&'p Pat>], c: &Ctor) -> Vec<Vec<&'p Pat>> {
    let arity = c.sub_tys.len();
    let mut out = Vec::new();
    for r in rows {
        let Some((head, rest)) = r.split_first() else { continue };
        let mut row: Vec<&Pat> = match (head, c.key) {
            (Pat::Wild | Pat::Bind(_), _) => vec![&WILD; arity],
            (Pat::Variant { tag, args }, Key::Variant(k)) if *tag == k && args.len() == arity => args.iter().collect(),
            (Pat::Bool(b), Key::Bool(k)) if *b == k => Vec::new(),
            _ => continue,
        };
        row.extend_from_slice(rest);
        out.push(row);
    }
    out
}

fn show(c: &Ctor, args: &[String]) -> String {
    if c.sub_tys.is_empty() { c.label.clone() } else { format!("{}({})", c.label, args.join(", ")) }
}
