//! The record types of an image, format version 1. They are serialized with
//! postcard, which is not self-describing: the order of enum variants and
//! struct fields *is* the wire format, so a new kind of record or value is
//! only ever appended, and any other change needs a new format version.

use serde::{Deserialize, Serialize};

/// One record of an image. Replaying the records in order rebuilds the
/// program, its history and its data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Record {
    /// A committed transaction: its definitions as the user wrote them.
    Transaction {
        /// The world it created (0: it defined nothing).
        world: u64,
        /// Milliseconds since the Unix epoch.
        committed_ms: u64,
        /// Where it came from (`<input>`, a file name, `<define>`).
        source_name: String,
        source: String,
    },
    /// The global writes one evaluation committed, all together.
    Writes { world: u64, writes: Vec<GlobalWrite> },
    /// A task as it is after a change of its status or state.
    Task(TaskRecord),
    /// A transaction that changed definitions (what sessions write).
    Defs(DefsRecord),
    /// One evaluation's writes (what sessions write).
    Commit(CommitRecord),
    /// The whole state at one point: what reopening starts from, so that
    /// the records before it are only checksummed, not decoded.
    Checkpoint(CheckpointRecord),
}

/// The variant index of [`Record::Checkpoint`] and of [`Record::Defs`]: the
/// first byte of their payloads (postcard writes the index as a varint).
pub const CHECKPOINT_TAG: u8 = 5;
pub const DEFS_TAG: u8 = 3;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GlobalWrite {
    pub name: String,
    pub value: Value,
}

/// A value, independent of the runtime's heap layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Unit,
    Int(i64),
    /// The IEEE 754 bits.
    Float(u64),
    Bool(bool),
    Str(String),
    Vec(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Record {
        ty: String,
        version: u32,
        fields: Vec<Value>,
    },
    Enum {
        ty: String,
        version: u32,
        variant: u32,
        payload: Vec<Value>,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskStatus {
    Running,
    Paused,
    Done,
    Failed,
    Stopped,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub id: u64,
    pub function: String,
    pub is_loop: bool,
    pub status: TaskStatus,
    /// A loop's state, or a job's arguments.
    pub state: Vec<Value>,
    pub steps: u64,
    pub error: Option<String>,
}

// ----- appended after the first three variants were fixed -------------------
//
// The records below are what a session bound to an image writes; the first
// three (`Transaction`, `Writes`, `Task`) stay readable (an image written
// with them holds no definitions to rebuild, see `replay`).

/// What kind of definition a [`DefRecord`] is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DefKind {
    Function,
    Type,
    Global,
    Experiment,
}

/// One definition a transaction committed: enough to show its history and
/// to rebuild the newest world by checking the newest texts once, without
/// replaying older worlds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DefRecord {
    pub name: String,
    pub kind: DefKind,
    /// Its version (`f v2`).
    pub version: u32,
    /// False for a dependent re-checked because something it uses changed
    /// signature: it keeps its version and the world it entered.
    pub new_version: bool,
    /// The definition's own text, verbatim.
    pub text: String,
    /// The names it depends on.
    pub uses: Vec<String>,
    /// A type's schema version (values carry it); 0 for other kinds.
    pub schema: u32,
    /// A global's type as source text, and whether it is a `var`.
    pub global_ty: String,
    pub mutable: bool,
}

/// A transaction that changed definitions, with the values it produced: its
/// new globals' initial values, and every value a type change migrated
/// (globals and loop states), all in the new world's versions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DefsRecord {
    pub world: u64,
    pub committed_ms: u64,
    /// What `:worlds` shows for it.
    pub summary: String,
    pub defs: Vec<DefRecord>,
    pub forgets: Vec<String>,
    pub values: Vec<GlobalWrite>,
    pub task_states: Vec<TaskState>,
}

/// A loop task's state at some point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskState {
    pub id: u64,
    pub state: Vec<Value>,
    pub steps: u64,
}

/// One evaluation's committed global writes (values in the newest world's
/// versions) and, for a loop step, the loop's new state: all or nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommitRecord {
    pub world: u64,
    pub writes: Vec<GlobalWrite>,
    pub task: Option<TaskState>,
}

/// A definition of the newest world, with the world it entered and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurrentDef {
    pub def: DefRecord,
    pub since: u64,
    pub committed_ms: u64,
}

/// Everything reopening needs, at one point of the log: the newest world's
/// definitions, the last version given to each name, every global's value
/// and every task. The transactions before it stay in the file as history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointRecord {
    pub world: u64,
    pub defs: Vec<CurrentDef>,
    pub versions: Vec<(String, u32)>,
    pub values: Vec<GlobalWrite>,
    pub tasks: Vec<TaskRecord>,
}
