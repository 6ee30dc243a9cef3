//! Reading an input's items: which definitions it makes, whether their text
//! changed, whether it ends with an expression to echo, and its
//! acknowledgement line.

use jit::program::World;
use lang::ast::{self, Item};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The acknowledgement's items, in the input's order: `NAME vK`,
/// `type NAME vK` (with ` (migrated M values)` when its commit migrated
/// live values), `forget NAME` (section 12).
pub(super) fn ack_items(
    items: &[Item],
    ours: &HashSet<Arc<str>>,
    versions: &HashMap<Arc<str>, u32>,
    migrated: &HashMap<Arc<str>, u64>,
) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| {
            if let Item::Forget(id) = i {
                return Some(format!("forget {}", id.name));
            }
            let name = def_name(i)?;
            if !ours.contains(name) {
                return None;
            }
            let v = versions.get(name)?;
            Some(match i {
                Item::Experiment(_) => format!("experiment {name} v{v}"),
                Item::Type(_) | Item::Enum(_) => match migrated.get(name) {
                    Some(&m) if m > 0 => format!("type {name} v{v} (migrated {m} values)"),
                    _ => format!("type {name} v{v}"),
                },
                _ => format!("{name} v{v}"),
            })
        })
        .collect()
}

/// The name a definition item defines.
pub(super) fn def_name(item: &Item) -> Option<&str> {
    match item {
        Item::Fn(d) => Some(&d.name.name),
        Item::Type(d) => Some(&d.name.name),
        Item::Enum(d) => Some(&d.name.name),
        Item::Global(d) => Some(&d.name.name),
        Item::Experiment(d) => Some(&d.name.name),
        _ => None,
    }
}

/// The tokens of `text`, as source slices: equal sequences mean the same
/// definition, whitespace and comments aside.
fn tokens(text: &str) -> Vec<&str> {
    lang::lexer::lex(text).tokens.iter().map(|t| &text[t.span.range()]).collect()
}

/// The transaction without definitions whose text equals their current
/// version token for token (they create no version); `keep` names are kept
/// regardless (dependents being re-checked).
pub(super) fn drop_unchanged(
    prog: &ast::Program,
    source: &str,
    world: &World,
    keep: &HashSet<Arc<str>>,
) -> ast::Program {
    let items = prog
        .items
        .iter()
        .filter(|item| {
            let Some(name) = def_name(item) else { return true };
            if keep.contains(name) {
                return true;
            }
            let text = &source[item.span().range()];
            world.text_of(name).is_none_or(|old| tokens(&old) != tokens(text))
        })
        .cloned()
        .collect();
    ast::Program { items }
}

/// Whether the input ends with an expression not followed by `;`.
pub(super) fn ends_with_expression(prog: &ast::Program, source: &str) -> bool {
    match prog.items.last() {
        Some(Item::Expr(e)) => {
            let rest = &source[(e.span.end as usize).min(source.len())..];
            tokens(rest).first().is_none_or(|t| *t != ";")
        }
        _ => false,
    }
}
