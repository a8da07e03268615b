//! Master-data deltas as a stream: the body is decoded while it arrives,
//! on a blocking thread, and handed over in batches through a bounded
//! channel, so memory stays bounded whatever the size of `ResponseData`;
//! the envelope's verdict is still checked, even when it comes after the
//! array.

use std::fmt;
use std::io::Read;

use agora_domain::envelope::{EnvelopeField, Verdict, read_envelope_field};
use agora_domain::routes::Route;
use agora_domain::{DecodeError, Envelope, ReadLenient, SetAside};
use agora_ports::{AgoraError, DeltaSummary, RecordStream, Records, ServiceMessage};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use serde::de::{
    DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::answers::{bare_envelope, redact};
use crate::bounds::{Deadline, RecordMeter, SkipBom, Tripped, tripped_error};
use crate::config::{ApiKey, ClientConfig};
use crate::skeleton::{Skeleton, Stop};

/// Batches in flight between the decoding thread and the consumer: at
/// most [`CHANNEL_BATCHES`], and no more than [`CHANNEL_RECORDS`] records
/// (one batch at least), so that memory stays flat whatever the batch size.
fn channel_batches(batch: usize) -> usize {
    (CHANNEL_RECORDS / batch.max(1)).clamp(1, CHANNEL_BATCHES)
}

/// The most batches in flight between the decoding thread and the consumer.
const CHANNEL_BATCHES: usize = 4;

/// The most records those batches hold (two of the default size).
const CHANNEL_RECORDS: usize = 20_000;

struct Head {
    envelope: Envelope<()>,
    /// Elements of `ResponseData`, set aside ones included.
    records: u64,
    /// The first elements set aside, and how many there were.
    set_aside: Vec<SetAside>,
    set_aside_total: u64,
}

/// The records of a delta whose answer `resp` came back 2xx: its body is
/// decoded on a blocking thread as it arrives, under the delta's overall
/// `deadline` and per-record limit, and handed over in batches.
pub(crate) fn records<T>(
    route: Route,
    resp: reqwest::Response,
    deadline: tokio::time::Instant,
    config: &ClientConfig,
) -> Records<T>
where
    T: DeserializeOwned + ReadLenient + Send + 'static,
{
    let limits = &config.limits;
    // Bounded: an overall deadline on the body, and a size limit on
    // each record and on the envelope around them.
    let tripped = Tripped::default();
    let body = Deadline::new(
        resp.bytes_stream()
            .map_err(|e| std::io::Error::other(e.to_string())),
        deadline,
        limits.delta_deadline,
        tripped.clone(),
    );
    let reader = RecordMeter::new(
        SkipBom::new(SyncIoBridge::new(StreamReader::new(body))),
        limits.delta_record_bytes,
        route.name(),
        tripped.clone(),
    );
    let (tx, rx) = mpsc::channel(channel_batches(config.delta_batch_size));
    let batch = config.delta_batch_size;
    let handle = tokio::task::spawn_blocking(move || decode_stream::<T, _>(reader, &tx, batch));
    Box::new(HttpRecords {
        route,
        key: config.api_key.clone(),
        rx,
        handle: Some(handle),
        summary: DeltaSummary::default(),
        tripped,
    })
}

/// Decodes an envelope from `reader`, sending `ResponseData`'s elements in
/// batches: the records are decoded by the [`Skeleton`] as they pass, and
/// what is left of the envelope is parsed here with path tracking.
fn decode_stream<T: DeserializeOwned + ReadLenient, R: Read>(
    reader: R,
    tx: &mpsc::Sender<Vec<T>>,
    batch: usize,
) -> Result<Head, Stop> {
    let mut skeleton = Skeleton::new(reader, tx, batch.max(1));
    let mut de = serde_json::Deserializer::from_reader(&mut skeleton);
    let mut track = serde_path_to_error::Track::new();
    let result = EnvelopeSeed
        .deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track))
        .and_then(|head| de.end().map(|()| head));
    drop(de);
    match result {
        Ok(mut head) => {
            (head.set_aside, head.set_aside_total) = skeleton.take_set_aside();
            Ok(head)
        }
        Err(e) => Err(skeleton.take_failure().unwrap_or_else(|| {
            let mut error = DecodeError::from_path_error(
                "delta envelope",
                serde_path_to_error::Error::new(track.path(), e),
            );
            (error.line, error.column) = skeleton.place(error.line, error.column);
            Stop::Decode(error)
        })),
    }
}

/// The envelope around the records: its fields, and how many records
/// `ResponseData` held (each a `{}` in the skeleton).
struct EnvelopeSeed;

impl<'de> DeserializeSeed<'de> for EnvelopeSeed {
    type Value = Head;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Head, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed {
    type Value = Head;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an AgoraPlus response envelope (a JSON object)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head, A::Error> {
        let mut envelope = Envelope::<()>::default();
        let mut records = 0;
        while let Some(key) = map.next_key::<EnvelopeField>()? {
            if key == EnvelopeField::ResponseData {
                // As in the whole-body decoder, `null` is no data.
                let count = map.next_value_seed(CountSeed)?;
                records += count.unwrap_or(0);
                envelope.response_data = count.map(|_| ());
            } else {
                read_envelope_field(&mut envelope, key, &mut map)?;
            }
        }
        Ok(Head {
            envelope,
            records,
            set_aside: Vec::new(),
            set_aside_total: 0,
        })
    }
}

/// `ResponseData` in the skeleton: `null`, or an array of placeholders
/// (read as the whole-body decoder reads an `Option<Vec<_>>`).
struct CountSeed;

impl<'de> DeserializeSeed<'de> for CountSeed {
    type Value = Option<u64>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<u64>, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for CountSeed {
    type Value = Option<u64>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<u64>, D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<u64>, A::Error> {
        let mut count = 0u64;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            count += 1;
        }
        Ok(Some(count))
    }
}

/// The records of a delta arriving over HTTP.
struct HttpRecords<T> {
    route: Route,
    key: ApiKey,
    rx: mpsc::Receiver<Vec<T>>,
    handle: Option<JoinHandle<Result<Head, Stop>>>,
    summary: DeltaSummary,
    /// Why the body's reader stopped, when a limit stopped it.
    tripped: Tripped,
}

#[async_trait]
impl<T: Send + 'static> RecordStream<T> for HttpRecords<T> {
    async fn next_batch(&mut self) -> Result<Option<Vec<T>>, AgoraError> {
        if let Some(batch) = self.rx.recv().await {
            return Ok(Some(batch));
        }
        let Some(handle) = self.handle.take() else {
            return Ok(None);
        };
        let head = handle.await;
        // A limit that stopped the reader is the error, whatever the
        // decoder made of the stop.
        if let Some(error) = tripped_error(&self.tripped) {
            return Err(error);
        }
        let head = match head {
            Ok(Ok(head)) => head,
            Ok(Err(Stop::Decode(error))) => {
                return Err(AgoraError::Decode {
                    error: error.redacted(self.key.expose()),
                    snippet: "(streamed body)".to_owned(),
                });
            }
            Ok(Err(Stop::Io(reason))) => {
                return Err(AgoraError::transport(format!(
                    "the {} answer was cut short: {reason}",
                    self.route.name()
                )));
            }
            Ok(Err(Stop::Cancelled)) | Err(_) => {
                return Err(AgoraError::transport(format!(
                    "decoding the {} answer stopped",
                    self.route.name()
                )));
            }
        };
        let env = head.envelope;
        // A body that says nothing (`{}`) is no verdict: the cursor must
        // not move past records it never read.
        if env.is_bare() {
            return Err(AgoraError::Decode {
                error: bare_envelope(self.route),
                snippet: "(streamed body)".to_owned(),
            });
        }
        let message = env.message().map(|m| redact(m, &self.key));
        match env.verdict() {
            Verdict::Error => Err(AgoraError::Rejected(ServiceMessage {
                message,
                status: env.response_status,
            })),
            verdict => {
                let mut set_aside = head.set_aside;
                for item in &mut set_aside {
                    agora_domain::redact::redact_json(&mut item.raw, self.key.expose());
                    item.reason = redact(&item.reason, &self.key);
                }
                self.summary = DeltaSummary {
                    records: head.records.saturating_sub(head.set_aside_total),
                    set_aside,
                    set_aside_total: head.set_aside_total,
                    message: env
                        .response_message
                        .as_deref()
                        .map(|m| redact(m, &self.key)),
                    warning: if verdict == Verdict::Warning {
                        message
                    } else {
                        None
                    },
                };
                Ok(None)
            }
        }
    }

    fn summary(&self) -> DeltaSummary {
        self.summary.clone()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::skeleton::{SET_ASIDE_KEPT, offset_of};
    use agora_domain::SparePart;

    fn run(bytes: &[u8], batch: usize) -> (Vec<SparePart>, Result<Head, Stop>) {
        run_chopped(bytes, batch, usize::MAX)
    }

    /// A source that hands out at most `most` bytes a read, so records
    /// straddle the decoder's reads.
    struct Chopped<'a> {
        bytes: &'a [u8],
        most: usize,
    }

    impl Read for Chopped<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = out.len().min(self.most).min(self.bytes.len());
            out[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    fn run_chopped(
        bytes: &[u8],
        batch: usize,
        most: usize,
    ) -> (Vec<SparePart>, Result<Head, Stop>) {
        let (tx, mut rx) = mpsc::channel(1 << 16);
        let out = decode_stream::<SparePart, _>(Chopped { bytes, most }, &tx, batch);
        drop(tx);
        let mut all = Vec::new();
        while let Ok(b) = rx.try_recv() {
            all.extend(b);
        }
        (all, out)
    }

    #[test]
    fn the_channel_holds_four_batches_and_no_more_than_its_records() {
        assert_eq!(channel_batches(1_000), 4);
        assert_eq!(channel_batches(5_000), 4);
        assert_eq!(channel_batches(10_000), 2);
        assert_eq!(channel_batches(100_000), 1);
        assert_eq!(channel_batches(1), 4);
    }

    #[test]
    fn decodes_in_batches_whatever_the_field_order() {
        let body = br#"{"ResponseData":[{"Reference":"A"},{"Reference":"B"},{"Reference":"C"}],"ResponseStatus":"W","IsValid":true,"ResponseMessage":"late","Extra":1}"#;
        let (all, out) = run(body, 2);
        assert_eq!(all.len(), 3);
        let head = out.ok().unwrap();
        assert_eq!(head.records, 3);
        assert_eq!(head.envelope.verdict(), Verdict::Warning);
        let (all, out) = run(br#"{"ResponseStatus":"S","ResponseData":null}"#, 2);
        assert!(all.is_empty() && out.is_ok());
    }

    #[test]
    fn odd_records_are_kept_or_set_aside_and_the_stream_goes_on() {
        let body = br#"{"ResponseData":[{"Reference":"A"},{"Reference":7,"Label":"x"},5,"s",{"Reference":"C"}],"ResponseStatus":"S"}"#;
        for most in [usize::MAX, 3] {
            let (all, out) = run_chopped(body, 1, most);
            let head = out.ok().unwrap();
            // The value of the wrong type is kept as it came, the rest read.
            assert_eq!(all.len(), 3);
            assert_eq!(all[1].reference, None);
            assert_eq!(all[1].raw("Reference"), Some(&serde_json::json!(7)));
            assert_eq!(all[1].label.as_deref(), Some("x"));
            assert_eq!(all[2].reference.as_deref(), Some("C"));
            // The elements that are no object are set aside, with their place.
            assert_eq!(head.records, 5);
            assert_eq!(head.set_aside_total, 2);
            let aside: Vec<_> = head
                .set_aside
                .iter()
                .map(|a| (a.index, a.raw.clone()))
                .collect();
            assert_eq!(
                aside,
                [(2, serde_json::json!(5)), (3, serde_json::json!("s"))]
            );
        }
    }

    #[test]
    fn set_aside_records_are_kept_up_to_a_bound_and_all_counted() {
        let n = SET_ASIDE_KEPT + 10;
        let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        let body = format!(
            r#"{{"ResponseData":[{},{{"Reference":"A"}}]}}"#,
            items.join(",")
        );
        let (all, out) = run(body.as_bytes(), 4);
        let head = out.ok().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(head.set_aside_total, n as u64);
        assert_eq!(head.set_aside.len(), SET_ASIDE_KEPT);
        assert_eq!(
            head.set_aside.last().map(|a| a.index),
            Some(SET_ASIDE_KEPT - 1)
        );
    }

    #[test]
    fn a_broken_record_names_its_place() {
        let (_, out) = run(
            br#"{"ResponseData":[{"Reference":"A"},{"Reference":7,"Label":tru}]}"#,
            10,
        );
        let Err(Stop::Decode(e)) = out else {
            panic!("expected a decode error")
        };
        assert_eq!(e.path, "ResponseData[1].Label");
    }

    #[test]
    fn a_cut_record_names_its_field_and_its_place_in_the_body() {
        let body = b"{\"ResponseData\": [\n  {\"Reference\": \"A\"},\n  {\"Reference\": \"B\", \"Label\": \"unfinis";
        let (all, out) = run_chopped(body, 1, 3);
        assert_eq!(all.len(), 1);
        let Err(Stop::Decode(e)) = out else {
            panic!("expected a decode error")
        };
        assert_eq!(e.path, "ResponseData[1].Label");
        assert!(e.is_truncated());
        assert_eq!(
            (e.line, e.column),
            (
                3,
                body.len() - 1 - body.iter().rposition(|&b| b == b'\n').unwrap_or(0)
            )
        );
    }

    /// Pieces of JSON to build envelopes from: each strategy yields text
    /// that is valid JSON of its kind.
    fn ws() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["", "", " ", "\n", "\t ", "\r\n  "])
    }

    fn record() -> impl Strategy<Value = String> {
        let reference = prop::sample::select(vec![
            r#""A""#,
            r#""B\u0041""#,
            r#""x\"}]""#,
            "7",
            "null",
            r#""é""#,
        ]);
        let extra = prop::sample::select(vec![
            "",
            r#","Label":"a, {b} [c]""#,
            r#","Unknown":{"ResponseData":[1,{"x":"]"}]}"#,
            r#","Price":12.5"#,
            r#","Price":"dear""#,
            r#","Label":"\\""#,
        ]);
        let odd = prop::sample::select(vec!["5", "[]", r#""s""#, "null", "{}", "123456789"]);
        prop_oneof![
            8 => (reference, extra, ws()).prop_map(|(r, e, w)| format!("{{{w}\"Reference\"{w}:{w}{r}{e}}}")),
            1 => odd.prop_map(str::to_owned),
        ]
    }

    fn data() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => (prop::collection::vec((record(), ws()), 0..6)).prop_map(|rs| {
                let items: Vec<String> = rs.into_iter().map(|(r, w)| format!("{w}{r}{w}")).collect();
                format!("[{}]", items.join(","))
            }),
            1 => prop::sample::select(vec!["null", "5", "{}", r#""[]""#]).prop_map(str::to_owned),
        ]
    }

    fn envelope() -> impl Strategy<Value = String> {
        let field = prop::sample::select(vec![
            r#""ResponseStatus":"S""#,
            r#""ResponseStatus":"W""#,
            r#""ResponseStatus":"E""#,
            r#""ResponseStatus":5"#,
            r#""IsValid":true"#,
            r#""IsValid":"yes""#,
            r#""ResponseMessage":"the \"ResponseData\":[ field""#,
            r#""ResponseErrorMessage":null"#,
            r#""Extra":{"ResponseData":[{"Reference":7}],"b":"]}"}"#,
            r#""Response\u0044ata2":[1]"#,
        ]);
        (
            prop::collection::vec((field, ws()), 0..4),
            prop::option::of((data(), ws(), any::<bool>())),
            any::<prop::sample::Index>(),
            ws(),
        )
            .prop_map(|(fields, data, at, w)| {
                let mut fields: Vec<String> = fields
                    .into_iter()
                    .map(|(f, w)| format!("{w}{f}{w}"))
                    .collect();
                if let Some((d, w, escaped)) = data {
                    let key = if escaped {
                        r#""Response\u0044ata""#
                    } else {
                        r#""ResponseData""#
                    };
                    fields.insert(at.index(fields.len() + 1), format!("{w}{key}{w}:{w}{d}{w}"));
                }
                format!("{w}{{{}}}{w}", fields.join(","))
            })
    }

    /// A way to damage a body: cut it, or overwrite or insert one byte.
    #[derive(Debug, Clone)]
    enum Damage {
        None,
        Cut(prop::sample::Index),
        Overwrite(prop::sample::Index, u8),
        Insert(prop::sample::Index, u8),
    }

    fn damage() -> impl Strategy<Value = Damage> {
        let byte = prop::sample::select(b"{}[]\",:0 \n\\ax".to_vec());
        prop_oneof![
            2 => Just(Damage::None),
            1 => any::<prop::sample::Index>().prop_map(Damage::Cut),
            1 => (any::<prop::sample::Index>(), byte.clone()).prop_map(|(i, b)| Damage::Overwrite(i, b)),
            1 => (any::<prop::sample::Index>(), byte).prop_map(|(i, b)| Damage::Insert(i, b)),
        ]
    }

    fn damaged(body: String, damage: &Damage) -> Vec<u8> {
        let mut bytes = body.into_bytes();
        match damage {
            Damage::None => {}
            Damage::Cut(i) => bytes.truncate(i.index(bytes.len())),
            Damage::Overwrite(i, b) => {
                let i = i.index(bytes.len());
                bytes[i] = *b;
            }
            Damage::Insert(i, b) => bytes.insert(i.index(bytes.len() + 1), *b),
        }
        bytes
    }

    proptest! {
        /// The streaming decoder agrees with decoding the whole body at
        /// once, tolerantly: the same records, set-aside elements and
        /// envelope, or the same error at the same path and place, however
        /// the body arrives.
        #[test]
        fn streams_like_the_whole_body_decodes(
            body in envelope(),
            damage in damage(),
            batch in 1usize..4,
            most in prop_oneof![Just(usize::MAX), 1usize..9],
        ) {
            let bytes = damaged(body, &damage);
            let whole = Envelope::<Vec<SparePart>>::from_slice_tolerant(&bytes);
            let (streamed, out) = run_chopped(&bytes, batch, most);
            match (whole, out) {
                (Ok((whole, set_aside)), Ok(head)) => {
                    let records = whole.response_data.clone().unwrap_or_default();
                    prop_assert_eq!(&streamed, &records);
                    prop_assert_eq!(&head.set_aside, &set_aside);
                    prop_assert_eq!(head.set_aside_total, set_aside.len() as u64);
                    prop_assert_eq!(head.records, (records.len() + set_aside.len()) as u64);
                    let env = head.envelope;
                    prop_assert_eq!(env.response_data.is_some(), whole.response_data.is_some());
                    prop_assert_eq!(env.response_status, whole.response_status);
                    prop_assert_eq!(env.is_valid, whole.is_valid);
                    prop_assert_eq!(env.response_message, whole.response_message);
                    prop_assert_eq!(env.response_error_message, whole.response_error_message);
                    prop_assert_eq!(env.extra, whole.extra);
                }
                (Err(whole), Err(Stop::Decode(e))) => {
                    prop_assert_eq!(&e.path, &whole.path);
                    // A record is decoded from memory, as the whole body is;
                    // the envelope around it is read from the stream, where
                    // serde_json's place of an error takes in the byte it
                    // looked ahead at.
                    let ahead = offset_of(&bytes, e.line, e.column) as isize
                        - offset_of(&bytes, whole.line, whole.column) as isize;
                    if e.path.starts_with("ResponseData[") {
                        prop_assert_eq!(ahead, 0);
                    } else {
                        prop_assert!(ahead == 0 || ahead == 1, "{:?} against {:?}", (e.line, e.column), (whole.line, whole.column));
                    }
                    prop_assert_eq!(e.is_truncated(), whole.is_truncated());
                    let message = whole.message.replace("expected a sequence", "expected an array of records");
                    prop_assert_eq!(e.message, message);
                }
                (whole, out) => {
                    let out = out.map(|h| h.records).map_err(|s| match s {
                        Stop::Decode(e) => format!("{e:?}"),
                        Stop::Io(r) => r,
                        Stop::Cancelled => "cancelled".to_owned(),
                    });
                    prop_assert!(false, "whole: {:?}\nstreamed: {:?}", whole.map(|_| ()), out);
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = run(&bytes, 1 << 20);
        }

        #[test]
        fn any_cut_of_a_valid_body_is_an_error_not_a_panic(cut in 0usize..120) {
            let body = br#"{"ResponseStatus":"S","IsValid":true,"ResponseData":[{"Reference":"A","Label":"x"},{"Reference":"B"}]}"#;
            let cut = cut.min(body.len() - 1);
            let (_, out) = run(&body[..cut], 1 << 20);
            prop_assert!(out.is_err());
        }
    }
}
