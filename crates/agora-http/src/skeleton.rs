//! The records of a delta taken out of the body as it streams.
//!
//! [`Skeleton`] reads a delta envelope from a byte source and gives the
//! envelope back with every element of its top-level `ResponseData` array
//! replaced by `{}`. Each element is decoded on the way, from the buffered
//! bytes, without path tracking (serde_json's fastest path), and handed over
//! in batches. The skeleton left over is small: the envelope's own fields
//! and two bytes per record, which the caller parses with path tracking, so
//! every structural error is still serde_json's own, at its path.
//!
//! A record that strict decoding refuses is read again tolerantly, as the
//! whole-body decoder reads it (`Envelope::from_slice_tolerant`): as any
//! JSON value first, then as the model, which keeps a value of the wrong
//! type as it arrived; an element that cannot be read at all (not an
//! object) is set aside with its raw JSON and the reason, and the stream
//! goes on. Only an element that is not JSON (cut short, broken) stops it,
//! decoded again with path tracking to name the failing place. Every
//! error's place is its place in the whole body (for the envelope's own
//! fields, as serde_json reads a stream: the byte it looked ahead at may be
//! counted). Errors are found in document order: an element is decoded
//! only when the parser asks for the bytes that follow what it has read so
//! far.

use std::io::{self, Read};

use agora_domain::wire::read_item;
use agora_domain::{DecodeError, ReadLenient, SetAside};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::bounds::is_response_data;

/// Why the decoding thread stopped.
pub(crate) enum Stop {
    /// The body is not a delta envelope, or a record in it does not decode.
    Decode(DecodeError),
    /// Reading the body failed.
    Io(String),
    /// Nobody takes the batches any more.
    Cancelled,
}

/// The buffer's size at first; it grows for a record that does not fit.
const CHUNK: usize = 64 * 1024;

/// The name the parser's error carries when the skeleton stopped it; the
/// reason itself is kept in [`Skeleton::take_failure`].
const STOPPED: &str = "agora: the record stream stopped";

/// How many of the last bytes served keep their place in the document.
const RECENT: usize = 8;

/// How many set-aside records are kept with their raw JSON; past that they
/// are only counted, so memory stays bounded whatever the delta holds.
pub(crate) const SET_ASIDE_KEPT: usize = 64;

/// A byte served to the parser: its place in the skeleton, as serde_json
/// counts it, and the index in the buffer of the byte it came from (for a
/// record's `{}`, the record's last byte). The buffer keeps these bytes.
#[derive(Clone, Copy)]
struct Served {
    line: usize,
    column: usize,
    from: usize,
}

/// Where the scan stands, outside strings.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Anywhere not listed below.
    Other,
    /// Directly inside the top-level object, where a key may come.
    Key,
    /// After a top-level key; `data` when the key was `ResponseData`.
    AfterKey { data: bool },
    /// After a top-level key's colon.
    Value { data: bool },
    /// Inside `ResponseData`'s array, where an element or `]` may come.
    Element,
    /// After an element, where `,` or `]` may come.
    AfterElement,
}

/// The envelope of a delta with its records replaced by `{}`; see the module.
pub(crate) struct Skeleton<'a, R, T> {
    src: R,
    /// The bytes read, in `buf[..end]`; the rest is room to read into.
    buf: Vec<u8>,
    end: usize,
    /// The next byte of `buf` to look at.
    pos: usize,
    eof: bool,
    /// Newlines in the document before `buf[0]`.
    lines_before: usize,
    /// Bytes between the last newline before `buf[0]` and `buf[0]`.
    column_before: usize,
    state: State,
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// The top-level key being read, when `Some`.
    key: Option<Vec<u8>>,
    /// The second byte of a record's placeholder, still to serve.
    pending: Option<u8>,
    /// Index of the next element in the current `ResponseData` array.
    index: usize,
    records: Vec<T>,
    batch: usize,
    tx: &'a mpsc::Sender<Vec<T>>,
    failure: Option<Stop>,
    /// The first records set aside, and how many there were.
    set_aside: Vec<SetAside>,
    set_aside_total: u64,
    /// Line and column of the last byte served, in the skeleton.
    served_line: usize,
    served_column: usize,
    /// The last bytes served, oldest first from `next_recent`.
    recent: [Option<Served>; RECENT],
    /// The `}` of the last record's placeholder, once one was served:
    /// after it, the skeleton and the document differ by a fixed shift.
    last_placeholder: Option<Served>,
    next_recent: usize,
}

impl<'a, R: Read, T: DeserializeOwned + ReadLenient> Skeleton<'a, R, T> {
    /// A skeleton of the envelope read from `src`; records go to `tx` in
    /// batches of `batch`.
    pub(crate) fn new(src: R, tx: &'a mpsc::Sender<Vec<T>>, batch: usize) -> Self {
        Self {
            src,
            buf: vec![0; CHUNK],
            end: 0,
            pos: 0,
            eof: false,
            lines_before: 0,
            column_before: 0,
            state: State::Other,
            depth: 0,
            in_string: false,
            escaped: false,
            key: None,
            pending: None,
            index: 0,
            records: Vec::with_capacity(batch),
            batch,
            tx,
            failure: None,
            set_aside: Vec::new(),
            set_aside_total: 0,
            served_line: 1,
            served_column: 0,
            recent: [None; RECENT],
            last_placeholder: None,
            next_recent: 0,
        }
    }

    /// The records set aside (the first [`SET_ASIDE_KEPT`]) and how many
    /// there were in all.
    pub(crate) fn take_set_aside(&mut self) -> (Vec<SetAside>, u64) {
        (std::mem::take(&mut self.set_aside), self.set_aside_total)
    }

    /// Why the skeleton stopped serving bytes, if it did.
    pub(crate) fn take_failure(&mut self) -> Option<Stop> {
        self.failure.take()
    }

    /// The place in the document of the place `(line, column)` in the
    /// skeleton, where the parser found an error. The skeleton is the
    /// document with each record replaced by `{}`: before the first record
    /// the two agree, and after the last one served they differ by the
    /// lines and columns that record took. The parser may have read on
    /// after the error (to close the objects it was in, over any amount of
    /// whitespace, up to the next record): a place before the last record
    /// served is found among the last bytes served; failing that, the place
    /// of the last byte read stands in for it.
    pub(crate) fn place(&self, line: usize, column: usize) -> (usize, usize) {
        let at = (line, column);
        if let Some(served) = self
            .recent
            .iter()
            .flatten()
            .find(|s| (s.line, s.column) == at)
        {
            return self.position_of(served.from + 1);
        }
        match self.last_placeholder {
            None => at,
            Some(p) if at >= (p.line, p.column) => {
                let (doc_line, doc_column) = self.position_of(p.from + 1);
                if line == p.line {
                    (doc_line, doc_column + (column - p.column))
                } else {
                    (doc_line + (line - p.line), column)
                }
            }
            Some(_) => self.position_of(self.pos),
        }
    }

    /// Notes that `b`, taken from `buf[from]`, goes to the parser.
    fn serve(&mut self, b: u8, from: usize) -> u8 {
        if b == b'\n' {
            self.served_line += 1;
            self.served_column = 0;
        } else {
            self.served_column += 1;
        }
        self.recent[self.next_recent] = Some(Served {
            line: self.served_line,
            column: self.served_column,
            from,
        });
        self.next_recent = (self.next_recent + 1) % RECENT;
        b
    }

    /// Line and column of the document after `buf[..end]`: the line of
    /// `buf[end - 1]` and its column.
    fn position_of(&self, end: usize) -> (usize, usize) {
        let seen = &self.buf[..end.min(self.end)];
        let lines = memchr::memchr_iter(b'\n', seen).count();
        let column = match memchr::memrchr(b'\n', seen) {
            Some(nl) => seen.len() - nl - 1,
            None => self.column_before + seen.len(),
        };
        (self.lines_before + lines + 1, column)
    }

    /// The next unread byte, reading more of the source when needed;
    /// `None` at its end.
    fn peek(&mut self) -> Result<Option<u8>, Stop> {
        while self.pos == self.end {
            if self.eof {
                return Ok(None);
            }
            self.fill()?;
        }
        Ok(Some(self.buf[self.pos]))
    }

    /// Drops the bytes no longer needed (all but the last one read and
    /// those the recent served bytes came from) and reads more.
    fn fill(&mut self) -> Result<(), Stop> {
        let keep = self
            .recent
            .iter()
            .flatten()
            .chain(&self.last_placeholder)
            .map(|s| s.from)
            .fold(self.pos.saturating_sub(1), usize::min);
        if keep > 0 {
            let (lines, column) = self.position_of(keep);
            self.lines_before = lines - 1;
            self.column_before = column;
            self.buf.copy_within(keep..self.end, 0);
            self.end -= keep;
            self.pos -= keep;
            for served in self.recent.iter_mut().flatten() {
                served.from -= keep;
            }
            if let Some(p) = &mut self.last_placeholder {
                p.from -= keep;
            }
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let read = loop {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Stop::Io(e.to_string())),
            }
        };
        self.end += read;
        self.eof = read == 0;
        Ok(())
    }

    /// The next byte of the skeleton; `None` at the end of the source.
    fn next_byte(&mut self) -> Result<Option<u8>, Stop> {
        if let Some(b) = self.pending.take() {
            let b = self.serve(b, self.pos - 1);
            self.last_placeholder = Some(Served {
                line: self.served_line,
                column: self.served_column,
                from: self.pos - 1,
            });
            return Ok(Some(b));
        }
        let Some(b) = self.peek()? else {
            return Ok(None);
        };
        if self.in_string {
            self.pos += 1;
            self.string_byte(b);
        } else if self.state == State::Element && b != b']' && !is_whitespace(b) {
            self.element()?;
            self.state = State::AfterElement;
            self.pending = Some(b'}');
            return Ok(Some(self.serve(b'{', self.pos - 1)));
        } else {
            self.pos += 1;
            self.structural_byte(b)?;
        }
        Ok(Some(self.serve(b, self.pos - 1)))
    }

    fn string_byte(&mut self, b: u8) {
        if self.escaped {
            self.escaped = false;
        } else if b == b'\\' {
            self.escaped = true;
        } else if b == b'"' {
            self.in_string = false;
            if let Some(key) = self.key.take() {
                self.state = State::AfterKey {
                    data: is_response_data(&key),
                };
            }
            return;
        }
        if let Some(key) = &mut self.key {
            key.push(b);
        }
    }

    /// Steps over a byte outside strings and outside records.
    fn structural_byte(&mut self, b: u8) -> Result<(), Stop> {
        if is_whitespace(b) {
            return Ok(());
        }
        self.state = match (self.state, b) {
            (State::Key, b'"') => {
                self.in_string = true;
                self.key = Some(Vec::new());
                return Ok(());
            }
            (State::AfterKey { data }, b':') => State::Value { data },
            (State::Value { data: true }, b'[') => {
                self.depth += 1;
                self.index = 0;
                State::Element
            }
            (State::Element | State::AfterElement, b']') => {
                self.depth -= 1;
                self.flush()?;
                State::Other
            }
            (State::AfterElement, b',') => State::Element,
            _ => self.other_byte(b),
        };
        Ok(())
    }

    /// The state after a byte that is not part of the top-level key, colon
    /// and `ResponseData` steps above (or breaks them, which the parser
    /// will report).
    fn other_byte(&mut self, b: u8) -> State {
        match b {
            b'"' => {
                self.in_string = true;
                State::Other
            }
            b'{' => {
                self.depth += 1;
                if self.depth == 1 {
                    State::Key
                } else {
                    State::Other
                }
            }
            b'[' => {
                self.depth += 1;
                State::Other
            }
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                State::Other
            }
            b',' if self.depth == 1 => State::Key,
            _ => State::Other,
        }
    }

    /// Decodes the element starting at `pos` and moves past it.
    fn element(&mut self) -> Result<(), Stop> {
        loop {
            let bytes = &self.buf[self.pos..self.end];
            let mut it = serde_json::Deserializer::from_slice(bytes).into_iter::<T>();
            let error = match it.next() {
                Some(Ok(record)) => {
                    let len = it.byte_offset();
                    return self.accept(len, Ok(record));
                }
                Some(Err(e)) => e,
                None => no_element(),
            };
            if self.needs_more(bytes, &error) {
                self.fill()?;
                continue;
            }
            // Not a record as strict decoding reads it: read it as any JSON
            // value, then tolerantly (the slow path, for odd records only).
            let mut it =
                serde_json::Deserializer::from_slice(bytes).into_iter::<serde_json::Value>();
            let error = match it.next() {
                Some(Ok(value)) => {
                    let len = it.byte_offset();
                    let item = read_item::<T>(self.index, value);
                    return self.accept(len, item);
                }
                Some(Err(e)) => e,
                None => no_element(),
            };
            if self.needs_more(bytes, &error) {
                self.fill()?;
                continue;
            }
            // A number or literal followed by a byte that cannot follow a
            // value: the element is whole, the array around it is broken,
            // as the parser will tell when it reads on.
            if let Some((len, value)) = scalar(bytes) {
                let item = read_item::<T>(self.index, value);
                return self.accept(len, item);
            }
            return Err(Stop::Decode(self.record_error(error)));
        }
    }

    /// Where the buffer ends inside the element, the element may only look
    /// wrong because of the cut (a number cut in two reads as a smaller
    /// one): read on, and decode it again.
    fn needs_more(&self, bytes: &[u8], error: &serde_json::Error) -> bool {
        !self.eof && (error.is_eof() || reaches_end(bytes, error))
    }

    /// Moves past an element of `len` bytes: a record to send, or one set aside.
    fn accept(&mut self, len: usize, item: Result<T, SetAside>) -> Result<(), Stop> {
        self.pos += len;
        self.index += 1;
        match item {
            Ok(record) => {
                self.records.push(record);
                if self.records.len() >= self.batch {
                    self.flush()?;
                }
            }
            Err(aside) => {
                self.set_aside_total += 1;
                if self.set_aside.len() < SET_ASIDE_KEPT {
                    self.set_aside.push(aside);
                }
            }
        }
        Ok(())
    }

    /// The error of the element at `pos`, which is not JSON, with the
    /// failing place's path and its position in the whole document.
    fn record_error(&self, fast: serde_json::Error) -> DecodeError {
        let bytes = &self.buf[self.pos..self.end];
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let err = match serde_path_to_error::deserialize::<_, serde_json::Value>(&mut de) {
            Err(tracked) => tracked,
            Ok(_) => {
                serde_path_to_error::Error::new(serde_path_to_error::Track::new().path(), fast)
            }
        };
        let mut error = DecodeError::from_path_error("delta envelope", err);
        let here = format!("ResponseData[{}]", self.index);
        error.path = match error.path.as_str() {
            "." => here,
            inner if inner.starts_with('[') => format!("{here}{inner}"),
            inner => format!("{here}.{inner}"),
        };
        let (line, column) = self.position_of(self.pos);
        if error.line <= 1 {
            error.line = line;
            error.column += column;
        } else {
            error.line += line - 1;
        }
        error
    }

    /// Sends the records decoded so far.
    fn flush(&mut self) -> Result<(), Stop> {
        if self.records.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.records, Vec::with_capacity(self.batch));
        self.tx.blocking_send(full).map_err(|_| Stop::Cancelled)
    }
}

/// `next` of a stream deserializer returns `None` only at the end of its
/// input or after whitespace alone, and an element starts with neither;
/// should it happen all the same, it is an error, not a panic.
fn no_element() -> serde_json::Error {
    serde::de::Error::custom("an element was expected")
}

/// The number or literal (`true`, `false`, `null`) `bytes` start with,
/// with its length, when they start with one that reads (JSON's grammar,
/// as serde_json reads it: the longest prefix that is one).
fn scalar(bytes: &[u8]) -> Option<(usize, serde_json::Value)> {
    let len = [&b"true"[..], b"false", b"null"]
        .into_iter()
        .find(|lit| bytes.starts_with(lit))
        .map_or_else(|| number_len(bytes), <[u8]>::len);
    let value = serde_json::from_slice(bytes.get(..len).filter(|s| !s.is_empty())?).ok()?;
    Some((len, value))
}

/// The length of the JSON number `bytes` start with (0 if none).
fn number_len(bytes: &[u8]) -> usize {
    let digits = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    i = digits(i);
    if bytes.get(i) == Some(&b'.') {
        i = digits(i + 1);
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(i);
    }
    i
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Whether serde_json's error in `bytes` lies at their last byte.
fn reaches_end(bytes: &[u8], error: &serde_json::Error) -> bool {
    offset_of(bytes, error.line(), error.column()) >= bytes.len()
}

/// The offset in `bytes` just after serde_json's place `(line, column)`.
pub(crate) fn offset_of(bytes: &[u8], line: usize, column: usize) -> usize {
    let line_start: usize = bytes
        .split(|&b| b == b'\n')
        .take(line.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum();
    line_start + column
}

impl<R: Read, T: DeserializeOwned + ReadLenient> Read for Skeleton<'_, R, T> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let Some(slot) = out.first_mut() else {
            return Ok(0);
        };
        if self.failure.is_some() {
            return Err(io::Error::other(STOPPED));
        }
        match self.next_byte() {
            Ok(Some(b)) => {
                *slot = b;
                Ok(1)
            }
            Ok(None) => Ok(0),
            Err(failure) => {
                self.failure = Some(failure);
                Err(io::Error::other(STOPPED))
            }
        }
    }
}
