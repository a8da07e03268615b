//! Stopping a simulator process on a signal: the one behaviour of the
//! `agora-sim` binary and of `agora sim`.

/// SIGINT and SIGTERM, listened to from the moment this is built: built
/// before the URL is printed, so that a signal sent as soon as the URL is
/// read stops the server cleanly instead of killing the process.
#[cfg(unix)]
pub struct Shutdown(Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>);

#[cfg(unix)]
impl Shutdown {
    /// Starts listening for SIGINT and SIGTERM (Ctrl-C elsewhere).
    pub fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Self(
            signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok(),
        )
    }

    /// Waits for one of them.
    pub async fn wait(self) {
        match self.0 {
            Some((mut int, mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

#[cfg(not(unix))]
pub struct Shutdown;

#[cfg(not(unix))]
impl Shutdown {
    /// Starts listening for SIGINT and SIGTERM (Ctrl-C elsewhere).
    pub fn install() -> Self {
        Self
    }

    /// Waits for one of them.
    pub async fn wait(self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
