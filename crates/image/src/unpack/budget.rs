//! A bound on what the `tar` parser may read between two entries we are handed.
//!
//! Before it hands us an entry, `tar` reads that entry's GNU long name (`L`), long link
//! (`K`) and PAX (`x`) records **into memory in full**, whatever size their headers declare;
//! a hostile layer (a gzip bomb of one `L` entry) could make it allocate gigabytes before
//! any check of ours runs. [`Budget`] sits between `tar` and the stream and counts every
//! byte `tar` reads; before each step to the next entry the unpacker moves the limit to the
//! end of the current entry's data (which `tar` skips, or we read), plus one header, plus
//! [`UnpackOptions::max_header_bytes`](super::UnpackOptions::max_header_bytes). A read past
//! the limit fails with [`BudgetExceeded`], which `tar` passes up as the error of that step.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

/// Bytes `tar` has read, and how far it may read, shared between the reader and the
/// unpacker.
#[derive(Debug, Default)]
pub(crate) struct Limit {
    pub(crate) pos: Cell<u64>,
    pub(crate) end: Cell<u64>,
}

/// The error a read past the limit returns (its message names the bound).
#[derive(Debug, thiserror::Error)]
#[error(
    "the extension headers (GNU long names, PAX records) before the next entry exceed {0} bytes"
)]
pub(crate) struct BudgetExceeded(pub(crate) u64);

/// The counting reader.
#[derive(Debug)]
pub(crate) struct Budget<R> {
    inner: R,
    limit: Rc<Limit>,
    allowance: u64,
}

impl<R: Read> Budget<R> {
    /// Wraps `inner`; `tar` may read up to `allowance` bytes past each limit set.
    pub(crate) fn new(inner: R, allowance: u64) -> (Self, Rc<Limit>) {
        let limit = Rc::new(Limit::default());
        limit.end.set(allowance.saturating_add(512));
        (
            Self {
                inner,
                limit: Rc::clone(&limit),
                allowance,
            },
            limit,
        )
    }

    /// No more bounds (for reading the rest of the stream for the diff_id).
    pub(crate) fn into_inner(self) -> R {
        self.inner
    }
}

impl Limit {
    /// Lets the parser read to `data_end` (the end of the current entry's data, as an
    /// offset in the stream), then one 512-byte header, then `allowance` bytes of extension
    /// headers.
    pub(crate) fn allow_after(&self, data_end: u64, allowance: u64) {
        let padded = data_end.saturating_add(511) & !511;
        self.end
            .set(padded.saturating_add(512).saturating_add(allowance));
    }
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let pos = self.limit.pos.get();
        let room = self.limit.end.get().saturating_sub(pos);
        if room == 0 && !buf.is_empty() {
            return Err(io::Error::other(BudgetExceeded(self.allowance)));
        }
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.limit.pos.set(pos + n as u64);
        Ok(n)
    }
}
