//! `pipelined`, the catalog sync's writer loop: every record written once,
//! in order, the last batch marked (it carries the sync's cursor), an
//! empty delta still completing, and a delta that fails never marking one.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use agora_app::{Write, pipelined};
use agora_ports::{AgoraError, DeltaSummary, RecordStream, Records, VecRecords};
use async_trait::async_trait;

type Calls = Arc<Mutex<Vec<(Vec<u32>, bool)>>>;

/// Runs `pipelined` over `stream`, recording each write and each progress;
/// with `queued`, each write is still pending at its first poll (as a
/// store's writer busy with the previous batch), else done at once.
async fn run_with(
    mut stream: Records<u32>,
    queued: bool,
) -> (Result<u64, AgoraError>, Vec<(Vec<u32>, bool)>, Vec<u64>) {
    let calls: Calls = Arc::default();
    let mut progress = Vec::new();
    let seen = calls.clone();
    let result = pipelined(
        &mut stream,
        &mut |n| progress.push(n),
        move |batch, last| {
            let n = batch.len() as u64;
            seen.lock().unwrap().push((batch, last));
            let write: Write<'static> = Box::pin(async move {
                if queued {
                    tokio::task::yield_now().await;
                }
                Ok(n)
            });
            write
        },
    )
    .await;
    let calls = calls.lock().unwrap().clone();
    (result, calls, progress)
}

async fn run(stream: Records<u32>) -> (Result<u64, AgoraError>, Vec<(Vec<u32>, bool)>, Vec<u64>) {
    run_with(stream, false).await
}

#[tokio::test]
async fn every_batch_is_written_in_order_and_only_the_last_is_marked() {
    let stream = Box::new(VecRecords::new(
        (0..10).collect(),
        4,
        DeltaSummary::default(),
    ));
    let (result, calls, progress) = run(stream).await;
    assert_eq!(result.unwrap(), 10);
    assert_eq!(
        calls,
        vec![
            (vec![0, 1, 2, 3], false),
            (vec![4, 5, 6, 7], false),
            (vec![8, 9], true)
        ]
    );
    assert_eq!(progress, vec![4, 8, 10]);
}

#[tokio::test]
async fn writes_still_queued_when_the_next_batch_comes_are_counted_as_they_end() {
    let stream = Box::new(VecRecords::new(
        (0..5).collect(),
        2,
        DeltaSummary::default(),
    ));
    let (result, calls, progress) = run_with(stream, true).await;
    assert_eq!(result.unwrap(), 5);
    assert_eq!(
        calls.iter().map(|(_, last)| *last).collect::<Vec<_>>(),
        vec![false, false, true]
    );
    assert_eq!(progress, vec![2, 4, 5]);
}

#[tokio::test]
async fn an_empty_delta_writes_one_empty_last_batch() {
    let stream = Box::new(VecRecords::new(Vec::new(), 4, DeltaSummary::default()));
    let (result, calls, _) = run(stream).await;
    assert_eq!(result.unwrap(), 0);
    assert_eq!(calls, vec![(vec![], true)]);
}

/// Two batches, then the delta fails.
struct Failing(u32);

#[async_trait]
impl RecordStream<u32> for Failing {
    async fn next_batch(&mut self) -> Result<Option<Vec<u32>>, AgoraError> {
        self.0 += 1;
        if self.0 > 2 {
            return Err(AgoraError::transport("the delta was cut"));
        }
        Ok(Some(vec![self.0]))
    }

    fn summary(&self) -> DeltaSummary {
        DeltaSummary::default()
    }
}

#[tokio::test]
async fn a_delta_that_fails_never_marks_a_batch_as_the_last() {
    let (result, calls, _) = run(Box::new(Failing(0))).await;
    assert!(
        matches!(result, Err(AgoraError::Transport(_))),
        "{result:?}"
    );
    // What arrived is written; none of it as the last batch.
    assert_eq!(calls, vec![(vec![1], false), (vec![2], false)]);
}
