//! Byte ranges into one source text (a file, a REPL input, a `define` string).

/// A half-open byte range `start..end` into the source the item came from.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start: start as u32, end: end as u32 }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// 1-based line of `start` in `src`.
    pub fn line_in(self, src: &str) -> u32 {
        let end = (self.start as usize).min(src.len());
        src.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() as u32 + 1
    }
}
