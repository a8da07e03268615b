//! Bounded reading: an answer is read up to a size limit and no further
//! (the connection is then dropped, never drained); a delta's records and
//! the envelope around them are metered as they stream; a delta has an
//! overall deadline. See [`crate::Limits`] and docs/wire-notes.md.

use std::future::Future;
use std::io::{self, Read};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use agora_ports::AgoraError;
use bytes::{Bytes, BytesMut};
use futures_util::Stream;

/// The first bytes of a body, and whether more followed them.
pub(crate) struct Prefix {
    /// At most the limit asked for.
    pub bytes: Bytes,
    /// Whether the body went on past the limit (the rest was not read).
    pub cut: bool,
}

/// Reads at most `limit` bytes of `resp`'s body. Past the limit it stops
/// and drops the response, which closes the connection instead of reading
/// the rest. A body announced longer than the limit is not read at all
/// when `skip_if_announced` (the caller fails on it anyway).
pub(crate) async fn read_prefix(
    mut resp: reqwest::Response,
    limit: u64,
    skip_if_announced: bool,
) -> Result<Prefix, reqwest::Error> {
    let announced = resp.content_length();
    if skip_if_announced && announced.is_some_and(|n| n > limit) {
        return Ok(Prefix {
            bytes: Bytes::new(),
            cut: true,
        });
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    // A body in one chunk, the common case, is kept without a copy.
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    while let Some(chunk) = resp.chunk().await? {
        let have = joined
            .as_ref()
            .map_or_else(|| first.as_ref().map_or(0, Bytes::len), BytesMut::len);
        let room = limit.saturating_sub(have);
        let take = chunk.len().min(room);
        let cut = take < chunk.len();
        match (&mut joined, first.take()) {
            (Some(buf), _) => buf.extend_from_slice(&chunk[..take]),
            (None, None) if !cut => first = Some(chunk),
            (None, None) => first = Some(chunk.slice(..take)),
            (None, Some(head)) => {
                let hint = announced
                    .and_then(|n| usize::try_from(n).ok())
                    .unwrap_or(head.len() + chunk.len());
                let mut buf = BytesMut::with_capacity(hint.min(limit).max(head.len() + take));
                buf.extend_from_slice(&head);
                buf.extend_from_slice(&chunk[..take]);
                joined = Some(buf);
            }
        }
        if cut {
            // `resp` drops here with its body unread: the connection closes.
            return Ok(Prefix {
                bytes: done(first, joined),
                cut: true,
            });
        }
    }
    Ok(Prefix {
        bytes: done(first, joined),
        cut: false,
    })
}

fn done(first: Option<Bytes>, joined: Option<BytesMut>) -> Bytes {
    let body = match joined {
        Some(buf) => buf.freeze(),
        None => first.unwrap_or_default(),
    };
    if body.starts_with(BOM) {
        body.slice(BOM.len()..)
    } else {
        body
    }
}

/// The UTF-8 byte order mark some servers (Windows ones) put before their
/// JSON; JSON parsers refuse it, so bodies are read without it.
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads `inner` without a leading [`BOM`].
pub(crate) struct SkipBom<R> {
    inner: R,
    /// What was read while looking for the mark, not yet handed out.
    start: Vec<u8>,
    checked: bool,
}

impl<R> SkipBom<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            start: Vec::new(),
            checked: false,
        }
    }
}

impl<R: Read> Read for SkipBom<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if !self.checked {
            let mut head = [0_u8; 3];
            let mut n = 0;
            while n < head.len() {
                match self.inner.read(&mut head[n..])? {
                    0 => break,
                    k => n += k,
                }
            }
            self.checked = true;
            if &head[..n] != BOM {
                self.start = head[..n].to_vec();
            }
        }
        if !self.start.is_empty() {
            let k = self.start.len().min(out.len());
            out[..k].copy_from_slice(&self.start[..k]);
            self.start.drain(..k);
            return Ok(k);
        }
        self.inner.read(out)
    }
}

/// Where a delta's reader notes why it stopped, so that the stream's
/// consumer gets the typed error rather than an I/O message.
pub(crate) type Tripped = Arc<Mutex<Option<AgoraError>>>;

fn trip(tripped: &Tripped, error: AgoraError) {
    if let Ok(mut slot) = tripped.lock() {
        slot.get_or_insert(error);
    }
}

/// Takes the error a delta's reader noted, if any.
pub(crate) fn tripped_error(tripped: &Tripped) -> Option<AgoraError> {
    tripped.lock().ok().and_then(|mut slot| slot.take())
}

/// A delta's body that ends with an error once `deadline` has passed,
/// however the bytes trickle in.
pub(crate) struct Deadline<S> {
    inner: Pin<Box<S>>,
    timer: Pin<Box<tokio::time::Sleep>>,
    after: Duration,
    tripped: Tripped,
}

impl<S> Deadline<S> {
    /// `inner`, ending at `at` (which is `after` past the call's start).
    pub(crate) fn new(
        inner: S,
        at: tokio::time::Instant,
        after: Duration,
        tripped: Tripped,
    ) -> Self {
        Self {
            inner: Box::pin(inner),
            timer: Box::pin(tokio::time::sleep_until(at)),
            after,
            tripped,
        }
    }
}

impl<S: Stream<Item = io::Result<Bytes>>> Stream for Deadline<S> {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.timer.as_mut().poll(cx).is_ready() {
            trip(&this.tripped, AgoraError::Timeout(this.after));
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the delta passed its deadline",
            ))));
        }
        this.inner.as_mut().poll_next(cx)
    }
}

/// The most of a top-level key kept to recognise `ResponseData` (escapes
/// included, `\u0052esponse…` runs to 72 bytes).
const KEY_BYTES: usize = 96;

/// Where the meter stands directly inside the envelope object.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Top {
    /// Where a key may come (after `{` or `,`).
    Key,
    /// After a key; `data` when it was `ResponseData`.
    AfterKey { data: bool },
    /// After a key's colon, before its value.
    Value { data: bool },
    /// Inside a value, or anywhere else.
    Other,
}

/// Meters a delta's bytes on their way to the decoder: each element of a
/// `ResponseData` array may take at most `limit` bytes, and so may
/// everything outside those arrays together (the envelope's own fields),
/// so that no part of the body the decoder must hold whole can grow past
/// the limit. It follows the JSON lexically (strings, escapes, nesting);
/// malformed JSON is the decoder's to report.
pub(crate) struct RecordMeter<R> {
    inner: R,
    limit: u64,
    route: &'static str,
    tripped: Tripped,
    stopped: bool,
    depth: u32,
    in_string: bool,
    escaped: bool,
    top: Top,
    /// The top-level key being read.
    key: Option<Vec<u8>>,
    /// Inside a `ResponseData` array (between its brackets).
    in_data: bool,
    /// The element of that array being read, and its bytes so far.
    index: u64,
    record: u64,
    /// Bytes outside `ResponseData` arrays.
    envelope: u64,
}

impl<R> RecordMeter<R> {
    /// Meters `inner`, a delta of `route`.
    pub(crate) fn new(inner: R, limit: u64, route: &'static str, tripped: Tripped) -> Self {
        Self {
            inner,
            limit,
            route,
            tripped,
            stopped: false,
            depth: 0,
            in_string: false,
            escaped: false,
            top: Top::Other,
            key: None,
            in_data: false,
            index: 0,
            record: 0,
            envelope: 0,
        }
    }

    /// Steps over one byte; the error when it passes a limit.
    fn step(&mut self, b: u8) -> Result<(), AgoraError> {
        let part = if self.in_string {
            self.string_byte(b);
            self.part()
        } else {
            self.structural_byte(b)
        };
        self.count(part)
    }

    /// The part of the body a byte read now belongs to.
    fn part(&self) -> Part {
        if self.in_data {
            Part::Record
        } else {
            Part::Envelope
        }
    }

    fn string_byte(&mut self, b: u8) {
        if self.escaped {
            self.escaped = false;
        } else if b == b'\\' {
            self.escaped = true;
        } else if b == b'"' {
            self.in_string = false;
            if let Some(key) = self.key.take() {
                self.top = Top::AfterKey {
                    data: is_response_data(&key),
                };
            }
            return;
        }
        if let Some(key) = &mut self.key {
            if key.len() < KEY_BYTES {
                key.push(b);
            } else {
                // Too long to be `ResponseData`: no need to keep it.
                key.clear();
                key.extend_from_slice(b"(long)");
            }
        }
    }

    /// Steps over a byte outside strings; the part it belongs to.
    fn structural_byte(&mut self, b: u8) -> Part {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            return self.part();
        }
        let top_level = self.depth == 1;
        match b {
            b'"' => {
                self.in_string = true;
                if top_level && self.top == Top::Key {
                    self.key = Some(Vec::new());
                } else if top_level {
                    self.top = Top::Other;
                }
            }
            b':' if top_level => {
                if let Top::AfterKey { data } = self.top {
                    self.top = Top::Value { data };
                }
            }
            b',' if top_level => self.top = Top::Key,
            b',' if self.in_data && self.depth == 2 => {
                // Between two records: it belongs to neither.
                self.index = self.index.saturating_add(1);
                self.record = 0;
                return Part::Between;
            }
            b'[' if top_level && self.top == (Top::Value { data: true }) => {
                self.in_data = true;
                self.index = 0;
                self.record = 0;
                self.depth = 2;
                self.top = Top::Other;
                return Part::Envelope;
            }
            b'{' | b'[' => {
                if top_level {
                    self.top = Top::Other;
                }
                self.depth = self.depth.saturating_add(1);
                if self.depth == 1 {
                    self.top = Top::Key;
                }
            }
            b'}' | b']' => {
                if self.in_data && self.depth == 2 {
                    self.in_data = false;
                }
                self.depth = self.depth.saturating_sub(1);
            }
            _ if top_level => self.top = Top::Other,
            _ => {}
        }
        self.part()
    }

    fn count(&mut self, part: Part) -> Result<(), AgoraError> {
        match part {
            Part::Record => {
                self.record = self.record.saturating_add(1);
                if self.record > self.limit {
                    return Err(AgoraError::TooLarge {
                        what: format!("record {} of the {} answer", self.index, self.route),
                        limit: self.limit,
                    });
                }
            }
            Part::Envelope => {
                self.envelope = self.envelope.saturating_add(1);
                if self.envelope > self.limit {
                    return Err(AgoraError::TooLarge {
                        what: format!(
                            "the envelope around the records of the {} answer",
                            self.route
                        ),
                        limit: self.limit,
                    });
                }
            }
            Part::Between => {}
        }
        Ok(())
    }
}

/// What a byte of a delta's body is part of.
#[derive(Clone, Copy)]
enum Part {
    /// An element of a `ResponseData` array.
    Record,
    /// The envelope around the records.
    Envelope,
    /// The comma between two records.
    Between,
}

impl<R: Read> Read for RecordMeter<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.stopped {
            return Err(io::Error::other("the delta passed a size limit"));
        }
        let n = self.inner.read(out)?;
        for (i, &b) in out[..n].iter().enumerate() {
            if let Err(error) = self.step(b) {
                self.stopped = true;
                trip(&self.tripped, error);
                // The bytes before this one are whole; the next read fails.
                return if i > 0 {
                    Ok(i)
                } else {
                    Err(io::Error::other("the delta passed a size limit"))
                };
            }
        }
        Ok(n)
    }
}

/// Whether a top-level key (its raw bytes between the quotes) is
/// `ResponseData`, escapes included, in any ASCII case (as the envelope's
/// decoder reads it: `responseData` from a camelCase server).
pub(crate) fn is_response_data(raw: &[u8]) -> bool {
    if !raw.contains(&b'\\') {
        return raw.eq_ignore_ascii_case(b"ResponseData");
    }
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    serde_json::from_slice::<String>(&quoted).is_ok_and(|k| k.eq_ignore_ascii_case("ResponseData"))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Feeds `bytes` through a meter with `limit`, `most` bytes a read;
    /// returns what came through and the error noted, if any.
    fn meter(bytes: &[u8], limit: u64, most: usize) -> (Vec<u8>, Option<AgoraError>) {
        struct Chopped<'a>(&'a [u8], usize);
        impl Read for Chopped<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = out.len().min(self.1).min(self.0.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let tripped = Tripped::default();
        let mut m = RecordMeter::new(Chopped(bytes, most), limit, "Test", tripped.clone());
        let mut through = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            match m.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => through.extend_from_slice(&buf[..n]),
            }
        }
        (through, tripped_error(&tripped))
    }

    fn too_large(e: Option<AgoraError>) -> Option<String> {
        match e {
            Some(AgoraError::TooLarge { what, .. }) => Some(what),
            other => other.map(|e| format!("not TooLarge: {e}")),
        }
    }

    #[test]
    fn a_record_past_the_limit_is_named_and_nothing_after_it_passes() {
        // The envelope takes 40 bytes, record 1 takes 58.
        let body = format!(
            r#"{{"ResponseStatus":"S","ResponseData":[{{"a":"x"}},{{"a":"{}"}},{{"a":"y"}}]}}"#,
            "0".repeat(50)
        );
        let (through, e) = meter(body.as_bytes(), 57, usize::MAX);
        assert_eq!(too_large(e).as_deref(), Some("record 1 of the Test answer"));
        // Record 0 and the start of record 1 passed, nothing after it.
        assert!(body.as_bytes().starts_with(&through));
        let record_1_ends = body.find(r#""},{"a":"y""#).unwrap_or(0) + 2;
        assert!(
            through.len() < record_1_ends,
            "{}",
            String::from_utf8_lossy(&through)
        );
        // The same body passes whole under a limit its records keep.
        let (through, e) = meter(body.as_bytes(), 58, 3);
        assert!(e.is_none(), "{e:?}");
        assert_eq!(through, body.as_bytes());
    }

    #[test]
    fn the_envelope_around_the_records_is_metered_too() {
        let body =
            br#"{"ResponseMessage":"a long message, longer than the limit","ResponseData":[]}"#;
        assert_eq!(
            too_large(meter(body, 20, 5).1).as_deref(),
            Some("the envelope around the records of the Test answer")
        );
        // An array under another key is the envelope's, not records.
        let body = br#"{"Extra":[1,2,3,4,5,6,7,8,9,10,11,12],"ResponseData":[1]}"#;
        assert!(too_large(meter(body, 50, 5).1).is_some());
        assert!(meter(body, 60, 5).1.is_none());
    }

    #[test]
    fn strings_escapes_and_an_escaped_key_are_followed() {
        // Brackets and commas inside strings are not structure; the
        // escaped key is ResponseData all the same. The envelope takes 45
        // bytes, record 0 takes 74: misreading either would count the
        // record's bytes as the envelope's, past 74.
        let body = format!(
            r#"{{"Response\u0044ata":[{{"a":"],[\"{{{}"}},{{"b":1}}],"ResponseStatus":"S"}}"#,
            "p".repeat(60)
        );
        let start = body.find(":[").unwrap_or(0) + 2;
        let end = body.find(",{\"b\"").unwrap_or(0);
        assert_eq!(end - start, 74);
        let (through, e) = meter(body.as_bytes(), 74, 2);
        assert!(e.is_none(), "{e:?}");
        assert_eq!(through, body.as_bytes());
        let (_, e) = meter(body.as_bytes(), 73, 2);
        assert_eq!(too_large(e).as_deref(), Some("record 0 of the Test answer"));
    }

    proptest! {
        /// Whatever the bytes and however they arrive, the meter never
        /// panics, and lets through at most what it read.
        #[test]
        fn any_bytes_never_panic(
            bytes in prop::collection::vec(prop::sample::select(b"{}[]\",:\\ ab1".to_vec()), 0..400),
            limit in 0u64..50,
            most in 1usize..9,
        ) {
            let (through, e) = meter(&bytes, limit, most);
            prop_assert!(bytes.starts_with(&through));
            if e.is_none() {
                prop_assert_eq!(through.len(), bytes.len());
            }
        }

        /// The largest record passes a limit of its size and fails a
        /// limit one byte less, which names it.
        #[test]
        fn a_record_passes_exactly_at_its_size(sizes in prop::collection::vec(1usize..40, 1..6)) {
            let records: Vec<String> = sizes
                .iter()
                .map(|&n| format!("\"{}\"", "r".repeat(n)))
                .collect();
            let body = format!("{{\"ResponseData\":[{}]}}", records.join(","));
            let biggest = records.iter().map(String::len).max().unwrap_or(0);
            let envelope = body.len() - records.iter().map(String::len).sum::<usize>() - (records.len() - 1);
            prop_assert_eq!(envelope, r#"{"ResponseData":[]}"#.len());
            let limit = biggest.max(envelope) as u64;
            prop_assert!(meter(body.as_bytes(), limit, 3).1.is_none());
            let expected = if biggest >= envelope {
                let first = records.iter().position(|r| r.len() == biggest).unwrap_or(0);
                format!("record {first} of the Test answer")
            } else {
                "the envelope around the records of the Test answer".to_owned()
            };
            prop_assert_eq!(too_large(meter(body.as_bytes(), limit - 1, 3).1), Some(expected));
        }
    }
}
