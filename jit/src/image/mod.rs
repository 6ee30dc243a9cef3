//! Images (SPEC 10): the on-disk record types (`format`), their framing
//! with lengths and checksums, and reading a file back that tells a torn
//! tail (cut off) from corruption (refused); appending with group commit
//! (`journal`); folding records into what reopening needs (`replay`). The
//! layout is documented in `docs/image-format.md`. Nothing here knows the
//! runtime's in-memory structures: values are converted to and from
//! [`format::Value`] (`values`).

pub mod format;
pub mod frame;
pub mod journal;
pub mod replay;
pub mod values;

pub use format::{GlobalWrite, Record, TaskRecord, TaskStatus, Value};
pub use frame::{FORMAT_VERSION, Image, ImageError, ImageFile, Opened, read};
pub use journal::Journal;
pub use replay::Replayed;
