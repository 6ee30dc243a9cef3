//! The image file: a header (magic, format version), then frames of
//! `[payload length: u32 LE][CRC-32 of the payload: u32 LE][payload]`, one
//! record each. Appends are fsync'd before they count; an image is opened by
//! one writer at a time (an exclusive file lock).
//!
//! Reading tells two kinds of damage apart. A *torn tail* — the last frame
//! incomplete or failing its checksum, with nothing valid after it — is what
//! a crash during an append leaves; it was never acknowledged, so it is cut
//! off. Anything else — a bad frame followed by valid ones, a wrong magic
//! number, an unknown format version, a checksummed payload that does not
//! decode — is corruption: refused with what is wrong and where, never
//! half-loaded.

use super::format::Record;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub const MAGIC: &[u8; 8] = b"STRATAIM";
/// The format this build writes (and the newest it reads).
pub const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 16;
const FRAME_HEADER_LEN: usize = 8;
/// No record is larger (a guard against a corrupt length).
const MAX_RECORD: u32 = 1 << 30;

/// Why an image cannot be opened.
#[derive(Debug, PartialEq)]
pub enum ImageError {
    /// Shorter than a header, or not starting with the magic number.
    NotAnImage {
        path: String,
    },
    /// Written by a newer Strata.
    TooNew {
        path: String,
        version: u32,
    },
    /// Damage that is not a torn tail.
    Corrupt {
        path: String,
        offset: u64,
        reason: String,
    },
    /// Another process has the image open for writing.
    Locked {
        path: String,
    },
    Io {
        path: String,
        message: String,
    },
}

impl std::fmt::Display for ImageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageError::NotAnImage { path } => {
                write!(f, "{path} is not a Strata image (it does not start with the image header)")
            }
            ImageError::TooNew { path, version } => write!(
                f,
                "{path} is an image of format version {version}, newer than this strata reads (up to {FORMAT_VERSION}); use a newer strata"
            ),
            ImageError::Corrupt { path, offset, reason } => write!(
                f,
                "{path} is corrupt at byte {offset}: {reason}; nothing was loaded (restore a copy saved with :save)"
            ),
            ImageError::Locked { path } => {
                write!(f, "{path} is open in another strata process; attach to it with `strata attach {path}`")
            }
            ImageError::Io { path, message } => write!(f, "cannot use {path}: {message}"),
        }
    }
}

/// What reading an image found.
#[derive(Debug, PartialEq)]
pub struct Opened {
    pub records: Vec<Record>,
    /// Bytes of header and whole, valid frames.
    pub valid_len: u64,
    /// Bytes of a torn tail after them, if any (to be cut off).
    pub torn: u64,
}

/// The header of a new image.
pub fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h
}

/// One record, framed.
pub fn frame(record: &Record) -> Vec<u8> {
    // Serializing plain data into a Vec cannot fail.
    let payload = postcard::to_stdvec(record).unwrap_or_default();
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// A frame at `at`: its payload range, if it is whole and its checksum holds.
fn whole_frame(bytes: &[u8], at: usize) -> Option<std::ops::Range<usize>> {
    let head = bytes.get(at..at + FRAME_HEADER_LEN)?;
    let len = u32::from_le_bytes(head[..4].try_into().ok()?);
    let crc = u32::from_le_bytes(head[4..].try_into().ok()?);
    // No record is empty: zeros (what a crash can leave past the last
    // write on some file systems) are never a frame.
    if len == 0 || len > MAX_RECORD {
        return None;
    }
    let start = at + FRAME_HEADER_LEN;
    let payload = bytes.get(start..start + len as usize)?;
    (crc32fast::hash(payload) == crc).then_some(start..start + len as usize)
}

/// How many payload bytes [`valid_frame_after`] may checksum before it
/// gives up.
const RESYNC_BUDGET: usize = 256 << 20;

/// Whether valid, decodable frames run from somewhere after `at` to the
/// end. A bad frame whose length field is itself damaged hides where the
/// next frame starts, so every offset is tried. `None`: too much to search.
fn valid_frame_after(bytes: &[u8], at: usize) -> Option<bool> {
    let mut budget = RESYNC_BUDGET;
    for start in at + 1..bytes.len().saturating_sub(FRAME_HEADER_LEN) {
        let len = u32::from_le_bytes([bytes[start], bytes[start + 1], bytes[start + 2], bytes[start + 3]]) as usize;
        if len == 0 || start + FRAME_HEADER_LEN + len > bytes.len() {
            continue;
        }
        budget = budget.checked_sub(len)?;
        // Records after a damaged one run, whole, to the end of the file;
        // bytes that merely look like a record inside a torn append do not
        // (a user's string may hold anything).
        if let Some(r) = whole_frame(bytes, start)
            && postcard::from_bytes::<Record>(&bytes[r]).is_ok()
            && valid_frames_to_end(bytes, start)
        {
            return Some(true);
        }
    }
    Some(false)
}

/// Whether the bytes from `at` on are one or more valid frames ending
/// exactly at the end (so a bad frame before them is not a torn tail).
fn valid_frames_to_end(bytes: &[u8], mut at: usize) -> bool {
    let mut any = false;
    while at < bytes.len() {
        match whole_frame(bytes, at) {
            Some(r) => {
                at = r.end;
                any = true;
            }
            None => return false,
        }
    }
    any
}

/// Where an image's whole, checksummed frames are, without decoding them.
#[derive(Debug, PartialEq)]
pub struct Scanned {
    /// Each frame's payload.
    pub frames: Vec<std::ops::Range<usize>>,
    pub valid_len: u64,
    pub torn: u64,
}

/// Reads an image's bytes (`path` only names it in errors).
pub fn read(bytes: &[u8], path: &str) -> Result<Opened, ImageError> {
    let scanned = scan(bytes, path)?;
    let mut records = Vec::with_capacity(scanned.frames.len());
    for r in &scanned.frames {
        records.push(decode(bytes, r.clone(), path)?);
    }
    Ok(Opened { records, valid_len: scanned.valid_len, torn: scanned.torn })
}

/// The record in `range` of `bytes`; a checksummed payload that does not
/// decode is corruption.
pub fn decode(bytes: &[u8], range: std::ops::Range<usize>, path: &str) -> Result<Record, ImageError> {
    postcard::from_bytes::<Record>(&bytes[range.clone()]).map_err(|e| ImageError::Corrupt {
        path: path.to_string(),
        offset: range.start.saturating_sub(FRAME_HEADER_LEN) as u64,
        reason: format!("a record with a valid checksum does not decode ({e})"),
    })
}

/// Checks an image's header and the checksums of its frames, telling a
/// torn tail from corruption, without decoding the records.
pub fn scan(bytes: &[u8], path: &str) -> Result<Scanned, ImageError> {
    let p = || path.to_string();
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err(ImageError::NotAnImage { path: p() });
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version > FORMAT_VERSION {
        return Err(ImageError::TooNew { path: p(), version });
    }
    if version == 0 {
        return Err(ImageError::Corrupt { path: p(), offset: 8, reason: "format version 0 does not exist".into() });
    }
    let mut frames = Vec::new();
    let mut at = HEADER_LEN;
    while at < bytes.len() {
        let Some(range) = whole_frame(bytes, at) else {
            // Damage here is a torn tail only if nothing valid follows it.
            let declared = bytes
                .get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                .and_then(|len| at.checked_add(FRAME_HEADER_LEN + len));
            // Too much to search (a huge torn append): the declared length
            // alone decides.
            let follows = declared.is_some_and(|next| next < bytes.len() && valid_frames_to_end(bytes, next))
                || valid_frame_after(bytes, at) == Some(true);
            if follows {
                return Err(ImageError::Corrupt {
                    path: p(),
                    offset: at as u64,
                    reason: "a record's checksum does not match its contents, and valid records follow it".into(),
                });
            }
            return Ok(Scanned { frames, valid_len: at as u64, torn: (bytes.len() - at) as u64 });
        };
        at = range.end;
        frames.push(range);
    }
    Ok(Scanned { frames, valid_len: at as u64, torn: 0 })
}

/// An image open for appending: locked, torn tail cut off.
pub struct ImageFile {
    file: File,
    path: PathBuf,
}

impl ImageFile {
    /// Opens (or creates) the image at `path` for writing, and reads it.
    pub fn open(path: &Path) -> Result<(ImageFile, Image), ImageError> {
        let name = path.display().to_string();
        let io = |e: std::io::Error| ImageError::Io { path: name.clone(), message: e.to_string() };
        if path.is_dir() {
            return Err(ImageError::Io { path: name, message: "it is a directory, not an image file".into() });
        }
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(ImageError::Locked { path: name }),
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let mut bytes = read_shared(path).map_err(io)?;
        if bytes.is_empty() {
            file.write_all(&header()).map_err(io)?;
            file.sync_all().map_err(io)?;
            sync_dir(path).map_err(io)?;
            bytes = std::sync::Arc::from(header().as_slice());
        }
        let scanned = scan(&bytes, &name)?;
        if scanned.torn > 0 {
            file.set_len(scanned.valid_len).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        file.seek(SeekFrom::Start(scanned.valid_len)).map_err(io)?;
        Ok((ImageFile { file, path: path.to_path_buf() }, Image { bytes, scanned, path: name }))
    }

    /// Takes over `file`, already locked and positioned at its end (a
    /// compacted copy that replaced the image).
    pub fn adopt(file: File, path: &Path) -> ImageFile {
        ImageFile { file, path: path.to_path_buf() }
    }

    /// Appends `records` and makes them durable (fsync) before returning.
    pub fn append(&mut self, records: &[Record]) -> Result<(), ImageError> {
        let bytes: Vec<u8> = records.iter().flat_map(frame).collect();
        self.write(&bytes)?;
        self.sync()
    }

    fn io(&self, e: std::io::Error) -> ImageError {
        ImageError::Io { path: self.path.display().to_string(), message: e.to_string() }
    }

    /// Appends framed bytes without waiting for the disk. A failed write
    /// (a full disk) cuts the file back to where it was, so the image stays
    /// whole.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), ImageError> {
        let at = self.file.stream_position().map_err(|e| self.io(e))?;
        if let Err(e) = self.file.write_all(bytes) {
            let _ = self.file.set_len(at);
            let _ = self.file.seek(SeekFrom::Start(at));
            return Err(self.io(e));
        }
        Ok(())
    }

    /// Makes every write so far durable.
    pub fn sync(&self) -> Result<(), ImageError> {
        self.file.sync_data().map_err(|e| self.io(e))
    }

    /// A second handle on the file, to fsync while others write.
    pub fn syncer(&self) -> Result<File, ImageError> {
        self.file.try_clone().map_err(|e| self.io(e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Makes a file's directory entry durable (after creating or renaming it).
pub fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

/// Writes `bytes` (a whole image) at `path` atomically: a temporary file
/// beside it, locked, fsync'd, renamed over `path`, the directory fsync'd.
/// Answers the new file, still locked and positioned at its end, so that
/// nobody can start writing to it between the rename and its use.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<File, ImageError> {
    let name = path.display().to_string();
    let io = |e: std::io::Error| ImageError::Io { path: name.clone(), message: e.to_string() };
    if path.is_dir() {
        return Err(ImageError::Io { path: name, message: "it is a directory".into() });
    }
    let file_name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "image".into());
    let tmp = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&tmp)?;
        f.try_lock().map_err(|e| std::io::Error::other(e.to_string()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_dir(path)?;
        Ok(f)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// A whole image of `records`.
pub fn image_bytes(records: &[Record]) -> Vec<u8> {
    let mut bytes = header().to_vec();
    for r in records {
        bytes.extend(frame(r));
    }
    bytes
}

/// Refuses to replace `path` while another process holds it open for
/// writing; the returned handle keeps it locked until dropped (so nobody
/// starts writing to it before it is replaced).
pub fn lock_target(path: &Path) -> Result<Option<File>, ImageError> {
    let name = path.display().to_string();
    let file = match OpenOptions::new().read(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ImageError::Io { path: name, message: e.to_string() }),
    };
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(ImageError::Locked { path: name }),
        Err(std::fs::TryLockError::Error(e)) => Err(ImageError::Io { path: name, message: e.to_string() }),
    }
}

/// Reads an image without locking or changing it (`export`, `--eval`):
/// a torn tail is left where it is and ignored.
pub fn read_only(path: &Path) -> Result<Image, ImageError> {
    let name = path.display().to_string();
    if path.is_dir() {
        return Err(ImageError::Io { path: name, message: "it is a directory, not an image file".into() });
    }
    let bytes = read_shared(path).map_err(|e| ImageError::Io { path: name.clone(), message: e.to_string() })?;
    let scanned = scan(&bytes, &name)?;
    Ok(Image { bytes, scanned, path: name })
}

/// A whole file, read straight into shared memory (no second copy).
fn read_shared(path: &Path) -> std::io::Result<std::sync::Arc<[u8]>> {
    use std::io::Read;
    let mut f = File::open(path)?;
    let len = f.metadata()?.len() as usize;
    // SAFETY: zeroed bytes are valid `u8`s.
    let mut buf = unsafe { std::sync::Arc::<[u8]>::new_zeroed_slice(len).assume_init() };
    let slice = std::sync::Arc::get_mut(&mut buf).ok_or_else(|| std::io::Error::other("a fresh buffer is shared"))?;
    f.read_exact(slice)?;
    Ok(buf)
}

/// An image's bytes with its frames checked (not yet decoded).
pub struct Image {
    /// Shared, so that a reopened image's history can point into it.
    pub bytes: std::sync::Arc<[u8]>,
    pub scanned: Scanned,
    /// For errors.
    pub path: String,
}

impl Image {
    /// Frame `i`'s record.
    pub fn decode(&self, i: usize) -> Result<Record, ImageError> {
        decode(&self.bytes, self.scanned.frames[i].clone(), &self.path)
    }

    /// Every record, in order.
    pub fn records(&self) -> Result<Vec<Record>, ImageError> {
        (0..self.scanned.frames.len()).map(|i| self.decode(i)).collect()
    }

    /// The first byte of frame `i`'s payload: its record's variant.
    pub fn tag(&self, i: usize) -> u8 {
        self.bytes[self.scanned.frames[i].start]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::format::{GlobalWrite, Value};

    fn sample() -> Vec<Record> {
        vec![
            Record::Transaction {
                world: 2,
                committed_ms: 1,
                source_name: "<input>".into(),
                source: "fn f() -> int { 1 }".into(),
            },
            Record::Writes {
                world: 2,
                writes: vec![GlobalWrite {
                    name: "xs".into(),
                    value: Value::Vec(vec![Value::Int(1), Value::Str("a".into())]),
                }],
            },
        ]
    }

    fn image(records: &[Record]) -> Vec<u8> {
        let mut b = header().to_vec();
        for r in records {
            b.extend(frame(r));
        }
        b
    }

    #[test]
    fn records_round_trip() {
        let recs = sample();
        let b = image(&recs);
        assert_eq!(read(&b, "t").unwrap(), Opened { records: recs, valid_len: b.len() as u64, torn: 0 });
    }

    #[test]
    fn a_torn_tail_is_cut_and_the_rest_kept() {
        let recs = sample();
        let b = image(&recs);
        let first_end = HEADER_LEN + frame(&recs[0]).len();
        for cut in first_end + 1..b.len() {
            let o = read(&b[..cut], "t").unwrap();
            assert_eq!(o.records, recs[..1]);
            assert_eq!(o.valid_len, first_end as u64);
        }
    }

    #[test]
    fn damage_before_valid_records_is_refused_with_its_offset() {
        let recs = sample();
        let mut b = image(&recs);
        b[HEADER_LEN + FRAME_HEADER_LEN] ^= 0x40;
        let e = read(&b, "img").unwrap_err();
        assert!(matches!(e, ImageError::Corrupt { offset, .. } if offset == HEADER_LEN as u64), "{e:?}");
        assert!(e.to_string().contains("img is corrupt at byte 16"), "{e}");
    }

    #[test]
    fn a_damaged_length_is_corruption_not_a_torn_tail() {
        let recs = sample();
        let mut b = image(&recs);
        // The first frame's length now points past the end of the file:
        // that would look like an incomplete last append, but a valid
        // record follows, so nothing may be cut.
        b[HEADER_LEN + 3] = 0x10;
        let e = read(&b, "img").unwrap_err();
        assert!(matches!(e, ImageError::Corrupt { offset, .. } if offset == HEADER_LEN as u64), "{e:?}");
    }

    #[test]
    fn a_zero_filled_tail_is_torn() {
        let recs = sample();
        let mut b = image(&recs);
        let len = b.len() as u64;
        b.extend([0u8; 40]);
        let o = read(&b, "img").unwrap();
        assert_eq!((o.records, o.valid_len, o.torn), (recs, len, 40));
    }

    #[test]
    fn wrong_magic_and_newer_versions_are_refused() {
        assert_eq!(read(b"hello world, not an image", "x"), Err(ImageError::NotAnImage { path: "x".into() }));
        let mut b = header().to_vec();
        b[8..12].copy_from_slice(&7u32.to_le_bytes());
        assert_eq!(read(&b, "x"), Err(ImageError::TooNew { path: "x".into(), version: 7 }));
    }

    #[test]
    fn a_second_writer_is_refused_and_appends_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("strata-image-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("t.simg");
        let _ = std::fs::remove_file(&path);
        {
            let (mut img, opened) = ImageFile::open(&path).unwrap();
            assert!(opened.records().unwrap().is_empty());
            img.append(&sample()).unwrap();
            assert!(matches!(ImageFile::open(&path), Err(ImageError::Locked { .. })));
        }
        // A torn append is cut off at the next open.
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(&[9, 0, 0, 0, 1]).unwrap();
        let (_, opened) = ImageFile::open(&path).unwrap();
        assert_eq!(opened.records().unwrap(), sample());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), opened.scanned.valid_len);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
