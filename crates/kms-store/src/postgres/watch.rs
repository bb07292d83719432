//! The lookup generation of a shared database, as this process knows it
//! ([`crate::Store::lookups_generation`]).
//!
//! Three sources move it, each only forward: the first round trip of every request reads it
//! (the replay guard's nonce insert on the classic API, the access generation on the instance
//! gateway), so a request sees every change acknowledged before it was sent; a connection
//! `LISTEN`ing on `kmsd_lookups` hears each change as it commits (and reads the counter then);
//! and that connection polls the counter every [`POLL`], so a lost notification or a broken connection still bounds how long
//! anything else (background jobs) can be served from what the cache held: a poll that gets no
//! answer within half a second, or a connect that takes over a second, counts as missed changes
//! and empties the cache, so about a second at most, half-open connections included.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio_postgres::AsyncMessage;

use super::connect::Tls;

/// How often the watching connection reads the counter, whatever it heard.
const POLL: Duration = Duration::from_millis(250);
/// How long a broken watch waits before connecting again.
const RECONNECT: Duration = Duration::from_millis(250);

/// The newest generation seen; shared by the store's clones and its watcher.
#[derive(Debug, Default)]
pub(super) struct Generation {
    /// The database's counter, as far as it has been seen.
    db: AtomicI64,
    /// Moved by this process when it may have missed changes (the watch broke).
    epoch: AtomicI64,
}

impl Generation {
    pub(super) fn seen(&self, n: i64) {
        self.db.fetch_max(n, Ordering::SeqCst);
    }

    /// A value that changes whenever either part does (a cache compares it for equality).
    pub(super) fn get(&self) -> i64 {
        (self.epoch.load(Ordering::SeqCst) << 40) ^ self.db.load(Ordering::SeqCst)
    }

    fn missed(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }
}

/// Watches until the last store handle is gone. While no connection stands, the generation is
/// moved on every poll interval, so a cache serves nothing older than that from memory.
pub(super) async fn watch(config: tokio_postgres::Config, tls: Tls, generation: Weak<Generation>) {
    loop {
        let outcome = match &tls {
            Tls::Plain(t) => watch_once(&config, *t, &generation).await,
            Tls::Rustls(t) => watch_once(&config, t.clone(), &generation).await,
        };
        let Some(g) = generation.upgrade() else { return };
        if outcome.is_err() {
            // Changes may have gone unheard: whatever is cached goes, and again on every retry
            // until the watch stands.
            g.missed();
        }
        drop(g);
        tokio::time::sleep(RECONNECT).await;
    }
}

async fn watch_once<T>(config: &tokio_postgres::Config, tls: T, generation: &Weak<Generation>) -> Result<(), String>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    T::Stream: Send + 'static,
{
    let (client, mut connection) = tokio::time::timeout(Duration::from_secs(1), config.connect(tls))
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    // A notification says that something changed, not to what: the loop reads the counter.
    let heard = Arc::new(tokio::sync::Notify::new());
    let wake = heard.clone();
    let (closed_tx, mut closed) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(_))) => wake.notify_one(),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            }
        }
        drop(closed_tx);
    });
    let limit = Duration::from_millis(500);
    let run = |sql: &'static str| tokio::time::timeout(limit, client.simple_query(sql));
    run("LISTEN kmsd_lookups").await.map_err(|_| "LISTEN timed out".to_owned())?.map_err(|e| e.to_string())?;
    let mut tick = tokio::time::interval(POLL);
    loop {
        tokio::select! {
            _ = &mut closed => return Err("the watching connection closed".into()),
            _ = tick.tick() => {}
            _ = heard.notified() => {}
        }
        let Some(g) = generation.upgrade() else { return Ok(()) };
        let rows = run("SELECT SUM(n)::BIGINT FROM lookup_generation")
            .await
            .map_err(|_| "poll timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        for row in rows {
            if let tokio_postgres::SimpleQueryMessage::Row(r) = row
                && let Some(v) = r.get(0).and_then(|v| v.parse::<i64>().ok())
            {
                g.seen(v);
            }
        }
    }
}

/// Starts watching for `generation`; the watcher holds only a weak handle, so it ends with
/// the last store handle.
pub(super) fn start(config: tokio_postgres::Config, tls: Tls, generation: &Arc<Generation>) {
    tokio::spawn(watch(config, tls, Arc::downgrade(generation)));
}
