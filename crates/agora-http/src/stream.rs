//! Master-data deltas as a stream: the body is decoded while it arrives,
//! on a blocking thread, and handed over in batches through a bounded
//! channel, so memory stays bounded whatever the size of `ResponseData`;
//! the envelope's verdict is still checked, even when it comes after the
//! array.

use std::fmt;
use std::io::{BufReader, Read};
use std::marker::PhantomData;

use agora_domain::envelope::{EnvelopeField, Verdict, read_envelope_field};
use agora_domain::routes::{Route, delta_path_date};
use agora_domain::{DecodeError, Envelope};
use agora_ports::{AgoraError, DeltaQuery, DeltaSummary, RecordStream, Records, ServiceMessage};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::client::{AgoraClient, Call, redact};
use crate::config::ApiKey;

/// Batches in flight between the decoding thread and the consumer.
const CHANNEL_BATCHES: usize = 4;

/// Why the decoding thread stopped.
enum Stop {
    Decode(DecodeError),
    Io(String),
    Cancelled,
}

struct Head {
    envelope: Envelope<()>,
    records: u64,
}

const CANCELLED: &str = "agora: consumer went away";

impl AgoraClient {
    /// Starts a delta of `route` (one of the two master-data routes).
    pub(crate) async fn delta<T>(
        &self,
        route: Route,
        query: DeltaQuery,
    ) -> Result<Records<T>, AgoraError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let language = query.language.path_name().ok_or_else(|| {
            AgoraError::Config(format!(
                "LCID {} has no master-data language name",
                query.language
            ))
        })?;
        let path = route
            .path()
            .replace("{ManufacturerId}", &query.manufacturer.to_string())
            .replace("{Date}", &delta_path_date(query.since))
            .replace("{Language}", language);
        let call = Call {
            route,
            url: std::borrow::Cow::Owned(self.url(&path, &[])),
            body: None,
        };
        let resp = self
            .with_retries(&call, |resp| std::future::ready(Ok(resp)))
            .await?;
        let body = resp
            .bytes_stream()
            .map_err(|e| std::io::Error::other(e.to_string()));
        let reader = SyncIoBridge::new(StreamReader::new(body));
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        let batch = self.config.delta_batch_size.max(1);
        let handle = tokio::task::spawn_blocking(move || decode_stream::<T, _>(reader, &tx, batch));
        Ok(Box::new(HttpRecords {
            route,
            key: self.config.api_key.clone(),
            rx,
            handle: Some(handle),
            summary: DeltaSummary::default(),
        }))
    }
}

/// Decodes an envelope from `reader`, sending `ResponseData`'s elements in batches.
fn decode_stream<T: DeserializeOwned, R: Read>(
    reader: R,
    tx: &mpsc::Sender<Vec<T>>,
    batch: usize,
) -> Result<Head, Stop> {
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(64 * 1024, reader));
    let mut track = serde_path_to_error::Track::new();
    let seed = EnvelopeSeed::<T> {
        tx,
        batch,
        _t: PhantomData,
    };
    let result = seed.deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track));
    let head = match result {
        Ok(head) => head,
        Err(e) => return Err(classify(serde_path_to_error::Error::new(track.path(), e))),
    };
    if let Err(e) = de.end() {
        return Err(classify(serde_path_to_error::Error::new(track.path(), e)));
    }
    Ok(head)
}

fn classify(err: serde_path_to_error::Error<serde_json::Error>) -> Stop {
    let inner = err.inner();
    if inner.is_io() {
        Stop::Io(inner.to_string())
    } else if inner.to_string().starts_with(CANCELLED) {
        Stop::Cancelled
    } else {
        Stop::Decode(DecodeError::from_path_error("delta envelope", err))
    }
}

struct EnvelopeSeed<'a, T> {
    tx: &'a mpsc::Sender<Vec<T>>,
    batch: usize,
    _t: PhantomData<T>,
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for EnvelopeSeed<'_, T> {
    type Value = Head;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Head, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for EnvelopeSeed<'_, T> {
    type Value = Head;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an AgoraPlus response envelope")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head, A::Error> {
        let mut envelope = Envelope::<()>::default();
        let mut records = 0;
        while let Some(key) = map.next_key::<EnvelopeField>()? {
            if key == EnvelopeField::ResponseData {
                records += map.next_value_seed(ArraySeed {
                    tx: self.tx,
                    batch: self.batch,
                    _t: PhantomData,
                })?;
                envelope.response_data = Some(());
            } else {
                read_envelope_field(&mut envelope, key, &mut map)?;
            }
        }
        Ok(Head { envelope, records })
    }
}

struct ArraySeed<'a, T> {
    tx: &'a mpsc::Sender<Vec<T>>,
    batch: usize,
    _t: PhantomData<T>,
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for ArraySeed<'_, T> {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for ArraySeed<'_, T> {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<u64, E> {
        Ok(0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut count = 0u64;
        let mut buf = Vec::with_capacity(self.batch);
        while let Some(item) = seq.next_element::<T>()? {
            buf.push(item);
            count += 1;
            if buf.len() == self.batch {
                let full = std::mem::replace(&mut buf, Vec::with_capacity(self.batch));
                self.tx
                    .blocking_send(full)
                    .map_err(|_| serde::de::Error::custom(CANCELLED))?;
            }
        }
        if !buf.is_empty() {
            self.tx
                .blocking_send(buf)
                .map_err(|_| serde::de::Error::custom(CANCELLED))?;
        }
        Ok(count)
    }
}

/// The records of a delta arriving over HTTP.
struct HttpRecords<T> {
    route: Route,
    key: ApiKey,
    rx: mpsc::Receiver<Vec<T>>,
    handle: Option<JoinHandle<Result<Head, Stop>>>,
    summary: DeltaSummary,
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
        let head = match handle.await {
            Ok(Ok(head)) => head,
            Ok(Err(Stop::Decode(error))) => {
                return Err(AgoraError::Decode {
                    error,
                    snippet: "(streamed body)".to_owned(),
                });
            }
            Ok(Err(Stop::Io(reason))) => {
                return Err(AgoraError::Transport(format!(
                    "the {} answer was cut short: {reason}",
                    self.route.name()
                )));
            }
            Ok(Err(Stop::Cancelled)) | Err(_) => {
                return Err(AgoraError::Transport(format!(
                    "decoding the {} answer stopped",
                    self.route.name()
                )));
            }
        };
        let env = head.envelope;
        let message = env.message().map(|m| redact(m, &self.key));
        match env.verdict() {
            Verdict::Error => Err(AgoraError::Rejected(ServiceMessage {
                message,
                status: env.response_status,
            })),
            verdict => {
                self.summary = DeltaSummary {
                    records: head.records,
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
    use agora_domain::SparePart;

    fn run(bytes: &[u8], batch: usize) -> (Vec<SparePart>, Result<Head, Stop>) {
        let (tx, mut rx) = mpsc::channel(1024);
        let out = decode_stream::<SparePart, _>(bytes, &tx, batch);
        drop(tx);
        let mut all = Vec::new();
        while let Ok(b) = rx.try_recv() {
            all.extend(b);
        }
        (all, out)
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
    fn wrong_types_name_the_record() {
        let (_, out) = run(
            br#"{"ResponseData":[{"Reference":"A"},{"Reference":7}]}"#,
            10,
        );
        let Err(Stop::Decode(e)) = out else {
            panic!("expected a decode error")
        };
        assert_eq!(e.path, "ResponseData[1].Reference");
    }

    proptest! {
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
