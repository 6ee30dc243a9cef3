//! A session's image open for writing: records appended in commit order and
//! made durable by group commit — one fsync covers every record appended
//! before it, so committers that arrive while a sync is under way share the
//! next one instead of queueing one fsync each.

use super::format::Record;
use super::frame::{ImageError, ImageFile, frame, lock_target, read_only, write_atomically};
use super::replay::Replayed;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

/// Where the appends are (sequence numbers count records).
struct Appends {
    file: ImageFile,
    written: u64,
}

#[derive(Default)]
struct Durability {
    synced: u64,
    syncing: bool,
    /// After a failed fsync nothing more is written: what is in memory may
    /// no longer match what is on disk, and the user must be told.
    failed: Option<String>,
}

pub struct Journal {
    appends: Mutex<Appends>,
    since_checkpoint: AtomicUsize,
    durability: Mutex<Durability>,
    synced: Condvar,
    /// A second handle on the file, so an fsync does not hold up appends.
    syncer: Mutex<File>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Journal {
    /// Appends to `file`, which holds `since_checkpoint` records after its
    /// last checkpoint.
    pub fn new(file: ImageFile, since_checkpoint: usize) -> Result<Journal, ImageError> {
        let syncer = file.syncer()?;
        Ok(Journal {
            appends: Mutex::new(Appends { file, written: 0 }),
            since_checkpoint: AtomicUsize::new(since_checkpoint),
            durability: Mutex::new(Durability::default()),
            synced: Condvar::new(),
            syncer: Mutex::new(syncer),
        })
    }

    /// Appends a record (not yet durable): its sequence number, for
    /// [`Journal::sync`]. Callers append under the lock that orders what
    /// the record describes, so the file's order is the commit order.
    pub fn append(&self, record: &Record) -> Result<u64, String> {
        if let Some(e) = &lock(&self.durability).failed {
            return Err(e.clone());
        }
        let bytes = frame(record);
        let mut a = lock(&self.appends);
        a.file.write(&bytes).map_err(|e| {
            format!("the image could not be written, so nothing of this change was committed ({e}); free some disk space and try again")
        })?;
        a.written += 1;
        self.since_checkpoint.fetch_add(1, Ordering::Relaxed);
        Ok(a.written)
    }

    /// The sequence number of the last record appended.
    pub fn written(&self) -> u64 {
        lock(&self.appends).written
    }

    /// Returns once record `seq` (and everything before it) is on disk.
    pub fn sync(&self, seq: u64) -> Result<(), String> {
        let mut d = lock(&self.durability);
        loop {
            if let Some(e) = &d.failed {
                return Err(e.clone());
            }
            if d.synced >= seq {
                return Ok(());
            }
            if !d.syncing {
                break;
            }
            d = self.synced.wait(d).unwrap_or_else(|e| e.into_inner());
        }
        d.syncing = true;
        drop(d);
        // Everything appended until now is covered by this fsync.
        let target = self.written();
        let result = lock(&self.syncer).sync_data();
        let mut d = lock(&self.durability);
        d.syncing = false;
        match result {
            Ok(()) => d.synced = d.synced.max(target),
            Err(e) => {
                d.failed = Some(format!(
                    "the image could not be flushed to disk ({e}); the last change is in memory only, and nothing more is saved: :save IMAGE to another disk"
                ))
            }
        }
        self.synced.notify_all();
        match &d.failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Makes everything appended so far durable.
    pub fn sync_all(&self) -> Result<(), String> {
        self.sync(self.written())
    }

    /// `:save`: writes a compacted copy of the image (every transaction,
    /// then one checkpoint) atomically to `to`, or over the image itself —
    /// which is then the file appended to. Nothing is appended meanwhile.
    /// Answers where, and the size.
    pub fn save(&self, to: Option<&Path>) -> Result<(PathBuf, u64), String> {
        self.sync_all()?;
        let mut a = lock(&self.appends);
        let here = a.file.path().to_path_buf();
        let image = read_only(&here).map_err(|e| e.to_string())?;
        let bytes = Replayed::open(&image).map_err(|e| e.to_string())?.compacted()?;
        let target = to.map(Path::to_path_buf).unwrap_or_else(|| here.clone());
        let ours = to.is_none() || same_file(&target, &here);
        // Another process's image is never replaced under it.
        let _held = if ours { None } else { lock_target(&target).map_err(|e| e.to_string())? };
        let file = write_atomically(&target, &bytes).map_err(|e| e.to_string())?;
        if ours {
            // The new file was locked before it took the image's name.
            *lock(&self.syncer) = file.try_clone().map_err(|e| e.to_string())?;
            a.file = ImageFile::adopt(file, &here);
            self.since_checkpoint.store(0, Ordering::SeqCst);
        }
        Ok((target, bytes.len() as u64))
    }

    /// Records appended since the last checkpoint (the file's, then ours).
    pub fn since_checkpoint(&self) -> usize {
        self.since_checkpoint.load(Ordering::SeqCst)
    }

    /// Record `seq`, a checkpoint, was appended: makes it durable.
    pub fn checkpointed(&self, seq: u64) -> Result<(), String> {
        self.sync(seq)?;
        self.since_checkpoint.store(0, Ordering::SeqCst);
        Ok(())
    }
}

/// Whether two paths name the same file (the image itself).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
