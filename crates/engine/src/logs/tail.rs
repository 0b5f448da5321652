//! Where `--tail N` starts: found by reading the files backwards from the end in blocks,
//! looking only at each entry's stream and tag, so that the cost follows N, not the log.

use std::os::unix::fs::FileExt as _;

use super::LogError;
use super::reader::{Cursor, parse_entry};

/// Bytes read backwards at a time.
const BLOCK: usize = 64 << 10;
/// Enough of an entry for its timestamp (with a zone), stream and tag.
const HEAD: usize = 64;

/// Counts lines backwards. A line is a stream's run of `P` entries ended by an `F` one;
/// lines are in the order of their `F` entries, and a stream's last run of `P` entries
/// without an `F` is a line of its own, printed last.
#[derive(Debug)]
struct Scan {
    n: usize,
    /// Lines met so far.
    count: usize,
    /// Per stream: a counted line whose first entry may still be further back.
    open: [bool; 2],
    /// Per stream: any entry met.
    seen: [bool; 2],
}

impl Scan {
    /// Takes the entry whose start is `head`; true once everything before it (this entry
    /// included) belongs to older lines only.
    fn entry(&mut self, head: &[u8]) -> bool {
        let Some(e) = parse_entry(head) else {
            return false;
        };
        let i = e.stream.index();
        let first = !self.seen[i];
        self.seen[i] = true;
        if !e.partial {
            // Ends the stream's previous line: counted if still among the last n.
            self.open[i] = self.count < self.n;
            if self.open[i] {
                self.count += 1;
            }
        } else if first {
            // An unfinished last line.
            self.count += 1;
            self.open[i] = true;
        }
        self.count >= self.n && !self.open[0] && !self.open[1]
    }
}

/// `(index in files, offset)` from which a forward read holds the last `n` lines (and maybe
/// a few older ones, which the reader's ring of `n` lines drops).
///
/// # Errors
///
/// [`LogError::Io`] if a file cannot be read.
pub(super) fn start(files: &[Cursor], n: usize) -> Result<(usize, u64), LogError> {
    let io = |op, c: &Cursor| {
        let path = c.path.clone();
        move |source| LogError::Io { op, path, source }
    };
    if n == 0 {
        return match files.last() {
            None => Ok((0, 0)),
            Some(c) => Ok((
                files.len() - 1,
                c.file.metadata().map_err(io("stat", c))?.len(),
            )),
        };
    }
    let mut scan = Scan {
        n,
        count: 0,
        open: [false; 2],
        seen: [false; 2],
    };
    let mut window = Vec::with_capacity(BLOCK + HEAD);
    for (fi, c) in files.iter().enumerate().rev() {
        let len = c.file.metadata().map_err(io("stat", c))?.len();
        let mut hi = len;
        // The first HEAD bytes at `hi` and after.
        let mut later: Vec<u8> = Vec::with_capacity(HEAD);
        // The newline ending the line whose start is being looked for.
        let mut line_end: Option<u64> = None;
        while hi > 0 {
            let lo = hi.saturating_sub(BLOCK as u64);
            let blen = (hi - lo) as usize;
            window.clear();
            window.resize(blen, 0);
            c.file
                .read_exact_at(&mut window, lo)
                .map_err(io("read", c))?;
            window.extend_from_slice(&later);
            let mut j = blen;
            while let Some(nl) = window[..j].iter().rposition(|&b| b == b'\n') {
                let p = lo + nl as u64;
                if let Some(end) = line_end {
                    let s = nl + 1;
                    let e = (s + HEAD).min(s + (end - p - 1) as usize).min(window.len());
                    if scan.entry(&window[s..e]) {
                        return Ok((fi, end + 1));
                    }
                }
                line_end = Some(p);
                j = nl;
            }
            later.clear();
            later.extend_from_slice(&window[..HEAD.min(window.len())]);
            hi = lo;
        }
        if let Some(end) = line_end
            && scan.entry(&later[..HEAD.min(end as usize).min(later.len())])
        {
            return Ok((fi, end + 1));
        }
    }
    Ok((0, 0))
}
