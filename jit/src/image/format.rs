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
}

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
