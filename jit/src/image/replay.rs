//! Folding an image's records into what reopening needs: the newest
//! world's definitions, the last version of every name, the newest value of
//! every global and the newest record of every task. Reading starts from
//! the last checkpoint: the transactions before it are only checksummed
//! (by the scan) and kept encoded as history, decoded when someone asks
//! for it — so opening costs what the newest state holds, not how long its
//! history is.

use super::format::{
    CHECKPOINT_TAG, CheckpointRecord, CommitRecord, CurrentDef, DEFS_TAG, DefsRecord, GlobalWrite, Record, TaskRecord,
    TaskState, Value,
};
use super::frame::{Image, ImageError, image_bytes};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Every transaction of an image, oldest first; those before its last
/// checkpoint still encoded.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// The payloads of the encoded transactions, one after another.
    encoded: Arc<[u8]>,
    ranges: Vec<std::ops::Range<usize>>,
    decoded: Vec<DefsRecord>,
}

impl History {
    pub fn len(&self) -> usize {
        self.ranges.len() + self.decoded.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every transaction, decoded, without the values it carried.
    pub fn decode(&self) -> Result<Vec<DefsRecord>, String> {
        let mut out = Vec::with_capacity(self.len());
        for r in &self.ranges {
            match postcard::from_bytes::<Record>(&self.encoded[r.clone()]) {
                Ok(Record::Defs(d)) => out.push(stripped(d)),
                Ok(_) => return Err("a history record is not a transaction".into()),
                Err(e) => return Err(format!("a history record does not decode ({e})")),
            }
        }
        out.extend(self.decoded.iter().cloned());
        Ok(out)
    }
}

fn stripped(d: DefsRecord) -> DefsRecord {
    DefsRecord { values: Vec::new(), task_states: Vec::new(), ..d }
}

/// An image's records, folded.
#[derive(Debug, Default, Clone)]
pub struct Replayed {
    /// The newest world's age (1: nothing defined yet).
    pub age: u64,
    /// The newest world's definitions, in the order they were first defined.
    pub current: Vec<CurrentDef>,
    /// The last version given to each name.
    pub versions: BTreeMap<String, u32>,
    pub history: History,
    /// Each global of the newest world with a value, by name.
    pub globals: BTreeMap<String, Value>,
    /// The newest record of each task, by id.
    pub tasks: BTreeMap<u64, TaskRecord>,
    /// Records after the last checkpoint.
    pub since_checkpoint: usize,
}

/// The newest world's definitions while folding, by name, with the order
/// each was first defined in.
#[derive(Default)]
struct Current {
    next: u64,
    defs: HashMap<String, (u64, CurrentDef)>,
}

impl Current {
    fn apply(&mut self, t: &DefsRecord) {
        for name in &t.forgets {
            self.defs.remove(name);
        }
        for d in &t.defs {
            match self.defs.get_mut(&d.name) {
                // A dependent keeps its version and the world it entered.
                Some((_, cur)) if !d.new_version => {
                    cur.def = super::format::DefRecord { version: cur.def.version, ..d.clone() };
                }
                Some((_, cur)) => *cur = CurrentDef { def: d.clone(), since: t.world, committed_ms: t.committed_ms },
                None => {
                    self.next += 1;
                    let cur = CurrentDef { def: d.clone(), since: t.world, committed_ms: t.committed_ms };
                    self.defs.insert(d.name.clone(), (self.next, cur));
                }
            }
        }
    }

    fn into_vec(self) -> Vec<CurrentDef> {
        let mut v: Vec<(u64, CurrentDef)> = self.defs.into_values().collect();
        v.sort_by_key(|(order, _)| *order);
        v.into_iter().map(|(_, d)| d).collect()
    }
}

impl Replayed {
    /// Folds an image: its last checkpoint, then every record after it.
    pub fn open(image: &Image) -> Result<Replayed, ImageError> {
        let n = image.scanned.frames.len();
        let last_checkpoint = (0..n).rev().find(|&i| image.tag(i) == CHECKPOINT_TAG);
        let start = last_checkpoint.map_or(0, |i| i + 1);
        let mut r = Replayed { age: 1, since_checkpoint: n - start, ..Replayed::default() };
        let mut current = Current::default();
        if let Some(i) = last_checkpoint {
            let Record::Checkpoint(cp) = image.decode(i)? else { return Err(tag_mismatch(image, i)) };
            r.age = cp.world;
            r.versions = cp.versions.into_iter().collect();
            r.globals = cp.values.into_iter().map(|w| (w.name, w.value)).collect();
            r.tasks = cp.tasks.into_iter().map(|t| (t.id, t)).collect();
            for d in cp.defs {
                current.next += 1;
                current.defs.insert(d.def.name.clone(), (current.next, d));
            }
        }
        // The transactions before the checkpoint: history, kept encoded —
        // in the file's own bytes when they are most of it, else copied out
        // (so superseded values are not kept in memory for long).
        let earlier: Vec<std::ops::Range<usize>> =
            (0..start).filter(|&i| image.tag(i) == DEFS_TAG).map(|i| image.scanned.frames[i].clone()).collect();
        let total: usize = earlier.iter().map(|r| r.len()).sum();
        if total * 2 >= image.bytes.len() {
            r.history.encoded = image.bytes.clone();
            r.history.ranges = earlier;
        } else {
            let mut encoded = Vec::with_capacity(total);
            for f in earlier {
                let at = encoded.len();
                encoded.extend_from_slice(&image.bytes[f.clone()]);
                r.history.ranges.push(at..at + f.len());
            }
            r.history.encoded = Arc::from(encoded);
        }
        for i in start..n {
            r.apply(image.decode(i)?, &mut current);
        }
        r.current = current.into_vec();
        Ok(r)
    }

    fn apply(&mut self, record: Record, current: &mut Current) {
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
                for def in &d.defs {
                    let v = self.versions.entry(def.name.clone()).or_insert(0);
                    *v = (*v).max(def.version);
                }
                current.apply(&d);
                // A global redefined with a new value has it in `values`; a
                // `var` that kept its value is not there and keeps it.
                self.write(std::mem::take(&mut d.values));
                for s in std::mem::take(&mut d.task_states) {
                    self.set_state(s);
                }
                self.history.decoded.push(d);
            }
            Record::Commit(CommitRecord { writes, task, .. }) => {
                self.write(writes);
                if let Some(s) = task {
                    self.set_state(s);
                }
            }
            // Only the last checkpoint is read, before everything after it.
            Record::Checkpoint(_) => {}
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

    /// The newest state as a checkpoint record.
    pub fn checkpoint(&self) -> Record {
        Record::Checkpoint(CheckpointRecord {
            world: self.age,
            defs: self.current.clone(),
            versions: self.versions.iter().map(|(n, v)| (n.clone(), *v)).collect(),
            values: self
                .globals
                .iter()
                .map(|(name, value)| GlobalWrite { name: name.clone(), value: value.clone() })
                .collect(),
            tasks: self.tasks.values().cloned().collect(),
        })
    }

    /// The same state as a whole image of few records: every transaction
    /// (history is never rewritten) without the values it carried, then one
    /// checkpoint (`:save`, compaction).
    pub fn compacted(&self) -> Result<Vec<u8>, String> {
        let mut records: Vec<Record> = self.history.decode()?.into_iter().map(|d| Record::Defs(stripped(d))).collect();
        records.push(self.checkpoint());
        Ok(image_bytes(&records))
    }
}

fn tag_mismatch(image: &Image, i: usize) -> ImageError {
    ImageError::Corrupt {
        path: image.path.clone(),
        offset: image.scanned.frames[i].start as u64,
        reason: "a record's tag and contents disagree".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::format::{DefKind, DefRecord};
    use crate::image::frame::scan;

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

    fn fold(records: &[Record]) -> Replayed {
        let bytes: Arc<[u8]> = Arc::from(image_bytes(records));
        let scanned = scan(&bytes, "t").expect("scans");
        Replayed::open(&Image { bytes, scanned, path: "t".into() }).expect("folds")
    }

    fn same_state(a: &Replayed, b: &Replayed) {
        assert_eq!(
            (a.age, &a.current, &a.versions, &a.globals, &a.tasks),
            (b.age, &b.current, &b.versions, &b.globals, &b.tasks)
        );
        assert_eq!(a.history.decode(), b.history.decode());
    }

    #[test]
    fn the_newest_value_and_definition_of_each_name_win() {
        let records = vec![
            defs(2, vec![def("n", DefKind::Global, 1, "var n: int = 1")], &[], vec![w("n", 1)]),
            defs(3, vec![def("f", DefKind::Function, 1, "fn f() {}")], &[], vec![]),
            Record::Commit(CommitRecord { world: 3, writes: vec![w("n", 5)], task: None }),
            defs(4, vec![def("f", DefKind::Function, 2, "fn f() { }")], &["n"], vec![]),
        ];
        let r = fold(&records);
        assert_eq!(r.age, 4);
        assert!(r.globals.is_empty(), "n was forgotten");
        assert_eq!(r.current.len(), 1);
        assert_eq!((r.current[0].def.version, r.current[0].since), (2, 4));
        assert_eq!(r.versions.get("n"), Some(&1));
        assert_eq!(r.history.len(), 3);
        // Compaction keeps every transaction and the same state, and reading
        // it starts from its checkpoint: the history stays encoded.
        let bytes: Arc<[u8]> = Arc::from(r.compacted().expect("compacts"));
        let scanned = scan(&bytes, "c").expect("scans");
        let c = Replayed::open(&Image { bytes, scanned, path: "c".into() }).expect("folds");
        same_state(&c, &r);
        assert_eq!((c.history.ranges.len(), c.history.decoded.len(), c.since_checkpoint), (3, 0, 0));
    }

    #[test]
    fn records_after_a_checkpoint_apply_on_top_of_it() {
        let first = fold(&[defs(2, vec![def("n", DefKind::Global, 1, "var n: int = 1")], &[], vec![w("n", 1)])]);
        let mut records = vec![
            defs(2, vec![def("n", DefKind::Global, 1, "var n: int = 1")], &[], vec![w("n", 1)]),
            first.checkpoint(),
            Record::Commit(CommitRecord { world: 2, writes: vec![w("n", 9)], task: None }),
        ];
        let r = fold(&records);
        assert_eq!((r.globals.get("n"), r.since_checkpoint), (Some(&Value::Int(9)), 1));
        records.push(defs(3, vec![def("n", DefKind::Global, 2, "var n: int = 2")], &[], vec![w("n", 2)]));
        let r = fold(&records);
        assert_eq!((r.current[0].def.version, r.versions.get("n"), r.history.len()), (2, Some(&2), 2));
    }

    #[test]
    fn a_dependent_keeps_its_version_and_world() {
        let mut dep = def("g", DefKind::Function, 1, "fn g() -> int { f() }");
        dep.new_version = false;
        let records = vec![
            defs(2, vec![def("g", DefKind::Function, 1, "fn g() -> int { f() }")], &[], vec![]),
            defs(3, vec![dep], &[], vec![]),
        ];
        let r = fold(&records);
        assert_eq!((r.current[0].def.version, r.current[0].since), (1, 2));
    }
}
