//! Folding an image's records into what reopening needs: the transactions
//! that changed definitions (small: texts and versions, for the history and
//! the newest world), the newest value of every global, and the newest
//! record of every task. No definition is checked and no code is compiled
//! here, so this is linear in the file and cheap per world.

use super::format::{CommitRecord, DefsRecord, GlobalWrite, Record, TaskRecord, TaskState, TaskStatus, Value};
use std::collections::{BTreeMap, HashMap};

/// An image's records, folded.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Replayed {
    /// The newest world's age (1: nothing defined yet).
    pub age: u64,
    /// Every transaction that changed definitions, oldest first, without
    /// the values it carried.
    pub transactions: Vec<DefsRecord>,
    /// Each global of the newest world with a value, by name.
    pub globals: BTreeMap<String, Value>,
    /// The newest record of each task, by id.
    pub tasks: BTreeMap<u64, TaskRecord>,
}

impl Replayed {
    pub fn new(records: Vec<Record>) -> Replayed {
        let mut r = Replayed { age: 1, ..Replayed::default() };
        for record in records {
            r.apply(record);
        }
        r
    }

    fn apply(&mut self, record: Record) {
        match record {
            // Written by development builds before sessions were bound to
            // images: a transaction's source alone cannot rebuild a world.
            Record::Transaction { .. } => {}
            Record::Writes { writes, .. } => self.write(writes),
            Record::Task(t) => {
                self.tasks.insert(t.id, t);
            }
            Record::Defs(mut d) => {
                self.age = self.age.max(d.world);
                for name in &d.forgets {
                    self.globals.remove(name);
                }
                // A global redefined with a new value has it in `values`; a
                // `var` that kept its value is not there and keeps it.
                self.write(std::mem::take(&mut d.values));
                for s in std::mem::take(&mut d.task_states) {
                    self.set_state(s);
                }
                self.transactions.push(d);
            }
            Record::Commit(CommitRecord { writes, task, .. }) => {
                self.write(writes);
                if let Some(s) = task {
                    self.set_state(s);
                }
            }
        }
    }

    fn write(&mut self, writes: Vec<GlobalWrite>) {
        for w in writes {
            self.globals.insert(w.name, w.value);
        }
    }

    fn set_state(&mut self, s: TaskState) {
        if let Some(t) = self.tasks.get_mut(&s.id) {
            t.state = s.state;
            t.steps = s.steps;
        }
    }

    /// The same state as few records: every transaction (history is never
    /// rewritten) without the values it carried, then the newest values
    /// and tasks once each (`:save`, compaction).
    pub fn compacted(&self) -> Vec<Record> {
        let mut out: Vec<Record> = self.transactions.iter().cloned().map(Record::Defs).collect();
        let writes = self.globals.iter().map(|(name, value)| GlobalWrite { name: name.clone(), value: value.clone() });
        out.push(Record::Commit(CommitRecord { world: self.age, writes: writes.collect(), task: None }));
        out.extend(self.tasks.values().cloned().map(Record::Task));
        out
    }

    /// The loop tasks that were running when the image was last written
    /// (to restart), by id.
    pub fn running_loops(&self) -> impl Iterator<Item = &TaskRecord> {
        self.tasks.values().filter(|t| t.is_loop && t.status == TaskStatus::Running)
    }
}

/// Each name's definitions as the newest world has them: the transaction
/// that gave each its current version (text, uses, schema), and the world
/// it entered. Names forgotten later are left out. In commit order.
pub fn newest_defs(transactions: &[DefsRecord]) -> Vec<(super::format::DefRecord, u64, u64)> {
    let mut order: Vec<String> = Vec::new();
    let mut current: HashMap<String, (super::format::DefRecord, u64, u64)> = HashMap::new();
    for t in transactions {
        for name in &t.forgets {
            current.remove(name);
        }
        for d in &t.defs {
            match current.get_mut(&d.name) {
                Some(cur) if !d.new_version => cur.0 = super::format::DefRecord { version: cur.0.version, ..d.clone() },
                _ => {
                    if !current.contains_key(&d.name) {
                        order.retain(|n| n != &d.name);
                        order.push(d.name.clone());
                    }
                    current.insert(d.name.clone(), (d.clone(), t.world, t.committed_ms));
                }
            }
        }
    }
    order.into_iter().filter_map(|n| current.remove(&n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::format::{DefKind, DefRecord};

    fn def(name: &str, kind: DefKind, version: u32, text: &str) -> DefRecord {
        DefRecord {
            name: name.into(),
            kind,
            version,
            new_version: true,
            text: text.into(),
            uses: vec![],
            schema: 0,
            global_ty: if kind == DefKind::Global { "int".into() } else { String::new() },
            mutable: true,
        }
    }

    fn defs(world: u64, defs: Vec<DefRecord>, forgets: &[&str], values: Vec<GlobalWrite>) -> Record {
        Record::Defs(DefsRecord {
            world,
            committed_ms: 0,
            summary: String::new(),
            defs,
            forgets: forgets.iter().map(|s| s.to_string()).collect(),
            values,
            task_states: vec![],
        })
    }

    fn w(name: &str, v: i64) -> GlobalWrite {
        GlobalWrite { name: name.into(), value: Value::Int(v) }
    }

    #[test]
    fn the_newest_value_and_definition_of_each_name_win() {
        let records = vec![
            defs(2, vec![def("n", DefKind::Global, 1, "var n: int = 1")], &[], vec![w("n", 1)]),
            defs(3, vec![def("f", DefKind::Function, 1, "fn f() {}")], &[], vec![]),
            Record::Commit(CommitRecord { world: 3, writes: vec![w("n", 5)], task: None }),
            defs(4, vec![def("f", DefKind::Function, 2, "fn f() { }")], &["n"], vec![]),
        ];
        let r = Replayed::new(records);
        assert_eq!(r.age, 4);
        assert!(r.globals.is_empty(), "n was forgotten");
        let newest = newest_defs(&r.transactions);
        assert_eq!(newest.len(), 1);
        assert_eq!((newest[0].0.version, newest[0].1), (2, 4));
        // Compaction keeps every transaction and the same state.
        assert_eq!(Replayed::new(r.compacted()), r);
    }

    #[test]
    fn a_dependent_keeps_its_version_and_world() {
        let mut dep = def("g", DefKind::Function, 1, "fn g() -> int { f() }");
        dep.new_version = false;
        let records = vec![
            defs(2, vec![def("g", DefKind::Function, 1, "fn g() -> int { f() }")], &[], vec![]),
            defs(3, vec![dep], &[], vec![]),
        ];
        let newest = newest_defs(&Replayed::new(records).transactions);
        assert_eq!((newest[0].0.version, newest[0].1), (1, 2));
    }
}
