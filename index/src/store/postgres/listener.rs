//! The store's own connection for `LISTEN`: it wakes the change-feed follower when another server commits, and keeps
//! the application registry's version current so authentication never queries the database per request. It
//! reconnects by itself; every (re)connection wakes the follower, since announcements sent while disconnected are
//! lost, and the registry version is also reread at every poll interval.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use futures::{StreamExt, stream};
use tokio_postgres::AsyncMessage;

use super::options::Connection;

pub(crate) const CHANGES_CHANNEL: &str = "faceserve_changes";
pub(crate) const APPS_CHANNEL: &str = "faceserve_apps";

/// A pending-announcement flag the follower waits on.
#[derive(Default)]
pub(crate) struct Wakeup {
    pending: Mutex<bool>,
    changed: Condvar,
}

impl Wakeup {
    pub(crate) fn wake(&self) {
        *self.pending.lock().expect("wakeup lock") = true;
        self.changed.notify_all();
    }

    /// Waits up to `timeout` for [`Self::wake`]; true (and the flag cleared) when it came.
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        let pending = self.pending.lock().expect("wakeup lock");
        let (mut pending, _) = self
            .changed
            .wait_timeout_while(pending, timeout, |pending| !*pending)
            .expect("wakeup lock");
        std::mem::take(&mut *pending)
    }
}

/// What the listener shares with the store.
pub(crate) struct ListenerState {
    pub wakeup: Wakeup,
    pub apps_version: AtomicI64,
    pub connected: AtomicBool,
    pub stopping: AtomicBool,
}

/// Runs until the store is dropped (its runtime stops), reconnecting with a growing pause on failures.
pub(crate) async fn listen(connection: Connection, state: Arc<ListenerState>, poll: Duration) {
    let mut pause = Duration::from_millis(100);
    while !state.stopping.load(Ordering::Acquire) {
        match session(&connection, &state, poll).await {
            Ok(()) => pause = Duration::from_millis(100),
            Err(error) => {
                if state.connected.swap(false, Ordering::AcqRel) {
                    tracing::warn!(target = %connection.target, %error, "lost the PostgreSQL change-feed connection; reconnecting");
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// One connection's life: `LISTEN`, then announcements until it breaks.
async fn session(
    connection: &Connection,
    state: &ListenerState,
    poll: Duration,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut conn) = match &connection.tls {
        Some(tls) => {
            let (client, conn) = connection.config.connect(tls.clone()).await?;
            (client, conn.boxed_messages())
        }
        None => {
            let (client, conn) = connection.config.connect(tokio_postgres::NoTls).await?;
            (client, conn.boxed_messages())
        }
    };
    let (sender, mut announcements) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        while let Some(message) = conn.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if sender
                        .send((n.channel().to_string(), n.payload().to_string()))
                        .is_err()
                    {
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}; LISTEN {APPS_CHANNEL}"))
        .await?;
    read_apps_version(&client, state).await?;
    if !state.connected.swap(true, Ordering::AcqRel) {
        tracing::info!(target = %connection.target, "following the PostgreSQL change feed");
    }
    // Anything announced while this connection was down is in the log: let the follower look.
    state.wakeup.wake();
    let mut ticks = tokio::time::interval(poll);
    loop {
        tokio::select! {
            announcement = announcements.recv() => match announcement {
                Some((channel, payload)) if channel == APPS_CHANNEL => {
                    if let Ok(version) = payload.parse() {
                        state.apps_version.store(version, Ordering::Release);
                    }
                }
                Some(_) => state.wakeup.wake(),
                None => break,
            },
            _ = ticks.tick() => {
                if state.stopping.load(Ordering::Acquire) {
                    break;
                }
                read_apps_version(&client, state).await?;
            }
        }
    }
    driver.abort();
    // The driver ended: the connection broke (or the store is stopping).
    client.simple_query("SELECT 1").await?;
    Ok(())
}

async fn read_apps_version(
    client: &tokio_postgres::Client,
    state: &ListenerState,
) -> Result<(), tokio_postgres::Error> {
    let row = client
        .query_one("SELECT version FROM apps_version", &[])
        .await?;
    state.apps_version.store(row.get(0), Ordering::Release);
    Ok(())
}

/// A connection's messages as a stream, whatever its TLS type.
trait BoxedMessages {
    fn boxed_messages(
        self,
    ) -> stream::BoxStream<'static, Result<AsyncMessage, tokio_postgres::Error>>;
}

impl<S, T> BoxedMessages for tokio_postgres::Connection<S, T>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    fn boxed_messages(
        mut self,
    ) -> stream::BoxStream<'static, Result<AsyncMessage, tokio_postgres::Error>> {
        stream::poll_fn(move |cx| self.poll_message(cx)).boxed()
    }
}
