//! The events as a typed async stream ([`Agora::events_from`]), for a
//! product that links `agora-app` and reads them with no HTTP in between.

use std::collections::VecDeque;
use std::time::Duration;

use agora_ports::{AgoraError, Event, Events};
use futures_util::Stream;

use crate::hub::Agora;

/// Events read per query.
const PAGE: usize = 500;

struct Follow<'a, S> {
    store: &'a S,
    after: u64,
    ready: VecDeque<Event>,
    poll: Duration,
    /// Whether the last read came back empty (the next waits `poll`).
    idle: bool,
}

impl<A, S: Events> Agora<A, S> {
    /// The events with an id greater than `after`, in id order, then each
    /// new one as it is recorded (looked for every `poll`); the stream
    /// never ends. Ids are commit-ordered (see `agora_ports::Events`), so
    /// following never skips an event. A store error is yielded as an
    /// `Err` item, and the stream goes on from the same place after
    /// `poll`. Keep the id of the last event handled to resume from it.
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) {
    /// use futures_util::StreamExt;
    /// let events = app.events_from(0, std::time::Duration::from_secs(1));
    /// futures_util::pin_mut!(events);
    /// while let Some(event) = events.next().await {
    ///     match event {
    ///         Ok(e) => println!("{} {}", e.id, e.kind),
    ///         Err(e) => eprintln!("{e}"),
    ///     }
    /// }
    /// # }
    /// ```
    pub fn events_from(
        &self,
        after: u64,
        poll: Duration,
    ) -> impl Stream<Item = Result<Event, AgoraError>> + Send + '_ {
        let state = Follow {
            store: &self.store,
            after,
            ready: VecDeque::new(),
            poll,
            idle: false,
        };
        futures_util::stream::unfold(state, |mut s| async move {
            loop {
                if let Some(event) = s.ready.pop_front() {
                    s.after = event.id;
                    return Some((Ok(event), s));
                }
                if s.idle {
                    tokio::time::sleep(s.poll).await;
                }
                match s.store.events_after(s.after, PAGE).await {
                    Ok(page) => {
                        s.idle = page.is_empty();
                        s.ready.extend(page);
                    }
                    Err(e) => {
                        s.idle = true;
                        return Some((Err(e), s));
                    }
                }
            }
        })
    }
}
