//! A confirmed answer is never lost: recording it is retried with backoff
//! while the store is briefly away; if it stays away, the answer is kept in
//! a directory (`AppConfig::answer_spool`), one JSON file per answer,
//! written atomically and synced, and printed whole in the error. The next
//! process records kept answers before its recovery parks anything in
//! doubt.

use std::path::{Path, PathBuf};
use std::time::Duration;

use agora_ports::{AgoraError, Attempt, Finish, OperationAnswer, Outbox, OutboxEntry};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::hub::Agora;

/// The waits between tries to record an answer while the store fails:
/// about 12 s in all, then the answer is kept.
const RECORD_BACKOFF: [Duration; 6] = [
    Duration::from_millis(200),
    Duration::from_millis(400),
    Duration::from_millis(800),
    Duration::from_millis(1600),
    Duration::from_millis(3200),
    Duration::from_millis(6400),
];

/// An answer AgoraPlus gave that the store could not record: what
/// [`Outbox::finish`] needs to record it later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct KeptAnswer {
    /// The outbox entry.
    pub entry: u64,
    /// The operation's name, for people reading the file.
    pub operation: String,
    /// The holder of the attempt.
    pub owner: String,
    /// The attempt's number.
    pub attempt: u32,
    /// What AgoraPlus answered (a claim id, order numbers, a file id).
    pub answer: OperationAnswer,
    /// When it was received (RFC 3339).
    pub received_at: String,
}

impl KeptAnswer {
    /// Its file's name in the directory: one per attempt.
    fn file_name(&self) -> String {
        format!("entry-{}-attempt-{}.json", self.entry, self.attempt)
    }
}

/// Writes `kept` into `dir` atomically (a temporary file, synced, renamed
/// into place, the directory synced): a crash leaves the whole answer or
/// none of it.
pub(crate) fn keep(dir: &Path, kept: &KeptAnswer) -> std::io::Result<PathBuf> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(kept.file_name());
    let temporary = dir.join(format!(".{}.{}.tmp", kept.file_name(), std::process::id()));
    let mut line = serde_json::to_vec(kept).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(&line)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, &path)?;
    sync_dir(dir)?;
    Ok(path)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The answers kept in `dir`, oldest entry first, with their files; a file
/// that cannot be read is reported and left where it is.
pub(crate) fn kept_answers(dir: &Path) -> std::io::Result<Vec<(PathBuf, KeptAnswer)>> {
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut kept = Vec::new();
    for item in listing {
        let path = item?.path();
        let named = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("entry-") && n.ends_with(".json"));
        if !named {
            continue;
        }
        match serde_json::from_slice::<KeptAnswer>(&std::fs::read(&path)?) {
            Ok(answer) => kept.push((path, answer)),
            Err(e) => {
                tracing::error!(file = %path.display(), error = %e, "kept answer unreadable: left for a person")
            }
        }
    }
    kept.sort_by_key(|(_, k)| (k.entry, k.attempt));
    Ok(kept)
}

impl<A, S: Outbox> Agora<A, S> {
    /// Records AgoraPlus's answer to attempt `entry.attempts` by `owner`.
    /// While the store fails, tried again with backoff; if it stays away,
    /// the answer is kept in `answer_spool` for the next process, and the
    /// error shows it whole (with what it created) and where it is kept.
    pub(crate) async fn record_answer(
        &self,
        entry: &OutboxEntry,
        owner: &str,
        answer: &OperationAnswer,
        now: Timestamp,
    ) -> Result<Finish, AgoraError> {
        let attempt = Attempt::Delivered(answer.clone());
        let mut waits = RECORD_BACKOFF.iter();
        let error = loop {
            match self
                .store
                .finish(entry.id, owner, entry.attempts, &attempt, now)
                .await
            {
                Ok(finished) => return Ok(finished),
                Err(e) => match waits.next() {
                    Some(wait) => {
                        tracing::warn!(entry = entry.id, error = %e, "answer not recorded yet; trying again");
                        tokio::time::sleep(*wait).await;
                    }
                    None => break e,
                },
            }
        };
        let kept = KeptAnswer {
            entry: entry.id,
            operation: entry.operation.name().to_owned(),
            owner: owner.to_owned(),
            attempt: entry.attempts,
            answer: answer.clone(),
            received_at: now.to_string(),
        };
        let shown = serde_json::to_string(answer).unwrap_or_default();
        let where_kept = match &self.config.answer_spool {
            Some(dir) => match keep(dir, &kept) {
                Ok(path) => format!(
                    "kept in {}: the next agora to start records it",
                    path.display()
                ),
                Err(e) => format!(
                    "NOT kept ({e} in {}): record it by hand with `agora outbox resolve {} --as applied`",
                    dir.display(),
                    entry.id
                ),
            },
            None => format!(
                "no answer spool is set: record it by hand with `agora outbox resolve {} --as applied`",
                entry.id
            ),
        };
        let message = format!(
            "AgoraPlus applied outbox entry {} ({}, attempt {}) and answered {shown}, but the store could not record it: {error}; the answer is {where_kept}",
            entry.id,
            entry.operation.name(),
            entry.attempts,
        );
        tracing::error!("{message}");
        Err(AgoraError::store_from(message, error))
    }

    /// Records the answers kept by processes whose store was away
    /// ([`Agora::record_answer`]), removing each once recorded. Fails,
    /// keeping them, while the store still fails: recovery must not park
    /// in doubt what a kept answer settles.
    pub(crate) async fn record_kept_answers(&self) -> Result<(), AgoraError> {
        let Some(dir) = &self.config.answer_spool else {
            return Ok(());
        };
        let kept = kept_answers(dir).map_err(|e| {
            AgoraError::store(format!(
                "cannot read kept answers in {}: {e}",
                dir.display()
            ))
        })?;
        for (path, kept) in kept {
            let attempt = Attempt::Delivered(kept.answer.clone());
            let now = self.outbox_now().await;
            let finished = self
                .store
                .finish(kept.entry, &kept.owner, kept.attempt, &attempt, now)
                .await;
            match finished {
                Ok(finished) => {
                    tracing::info!(entry = kept.entry, outcome = ?finished, "kept answer recorded");
                }
                Err(AgoraError::Missing(what)) => {
                    tracing::error!(file = %path.display(), "kept answer for {what}, which this store does not hold: left for a person");
                    continue;
                }
                Err(e) => return Err(e),
            }
            std::fs::remove_file(&path)
                .and_then(|()| sync_dir(dir))
                .map_err(|e| {
                    AgoraError::store(format!(
                        "kept answer recorded, but {} could not be removed: {e}",
                        path.display()
                    ))
                })?;
        }
        Ok(())
    }
}
