//! The replay guard's shared record, batched: every classic request on a shared store records
//! its nonce in the `nonces` table before it runs, and the requests that arrive while one batch
//! is in flight go together in the next — one round trip for many requests instead of one
//! each. No request goes on before the statement holding its nonce has committed.
//!
//! The same statement reads the lookup generation (see `watch`), as of a moment after every
//! request in the batch began.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::oneshot;

use super::{PostgresStore, unavailable};
use crate::{StoreError, StoreResult};

/// Nonces waiting for the next batch, and the turn of whoever sends it.
#[derive(Default)]
pub(super) struct NonceBatch {
    pending: Mutex<Vec<Pending>>,
    /// Held by the task sending a batch, for as long as it is in flight.
    turn: std::sync::Arc<tokio::sync::Mutex<()>>,
}

struct Pending {
    access_key_id: String,
    nonce: String,
    now: i64,
    forget_after: i64,
    answer: oneshot::Sender<StoreResult<bool>>,
}

/// Most nonces in one statement (bounded by how many requests can wait at once anyway).
const MAX_BATCH: usize = 1024;

fn abandoned() -> StoreError {
    StoreError::Unavailable("the batch carrying this nonce was abandoned".into())
}

impl PostgresStore {
    /// `true` when the nonce was not yet recorded (or only past its window).
    pub(super) async fn record_nonce_batched(
        &self,
        access_key_id: &str,
        nonce: &str,
        now: i64,
        forget_after: i64,
    ) -> StoreResult<bool> {
        let (answer, mut answered) = oneshot::channel();
        let pending =
            Pending { access_key_id: access_key_id.to_owned(), nonce: nonce.to_owned(), now, forget_after, answer };
        self.nonces.pending.lock().map_err(|_| abandoned())?.push(pending);
        loop {
            let turn = self.nonces.turn.clone().lock_owned().await;
            match answered.try_recv() {
                Ok(outcome) => return outcome,
                Err(oneshot::error::TryRecvError::Closed) => return Err(abandoned()),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            // The batch: what is queued, less the requests that went away meanwhile.
            let batch: Vec<Pending> = {
                let mut pending = self.nonces.pending.lock().map_err(|_| abandoned())?;
                pending.retain(|p| !p.answer.is_closed());
                let n = pending.len().min(MAX_BATCH);
                pending.drain(..n).collect()
            };
            // Sent from a task of its own, holding the turn until it is answered: a request that
            // gives up (its own time limit) abandons only itself, never the others' batch.
            let store = self.clone();
            tokio::spawn(async move {
                let outcome = crate::timed::limited(store.timeout, store.record_batch(&batch)).await;
                match outcome {
                    Ok(firsts) => {
                        for (p, first) in batch.into_iter().zip(firsts) {
                            let _ = p.answer.send(Ok(first));
                        }
                    }
                    Err(e) => {
                        let why = e.to_string();
                        for p in batch {
                            let _ = p.answer.send(Err(StoreError::Unavailable(why.clone())));
                        }
                    }
                }
                drop(turn);
            });
            // Answered by that batch, or (when it was full before this request's turn) by the
            // next one, which this request then sends itself.
        }
    }

    /// One statement for the batch: whether each nonce was new. A nonce twice in one batch (a
    /// replay sent at once) is new only the first time. Rows go in sorted, so batches of two
    /// nodes racing for the same nonces never wait on each other in opposite orders.
    async fn record_batch(&self, batch: &[Pending]) -> StoreResult<Vec<bool>> {
        let mut first_of: HashMap<(&str, &str), usize> = HashMap::with_capacity(batch.len());
        let mut unique: Vec<usize> = Vec::with_capacity(batch.len());
        for (i, p) in batch.iter().enumerate() {
            first_of.entry((p.access_key_id.as_str(), p.nonce.as_str())).or_insert_with(|| {
                unique.push(i);
                i
            });
        }
        unique.sort_by(|&a, &b| {
            (&batch[a].access_key_id, &batch[a].nonce).cmp(&(&batch[b].access_key_id, &batch[b].nonce))
        });
        let ids: Vec<&str> = unique.iter().map(|&i| batch[i].access_key_id.as_str()).collect();
        let nonces: Vec<&str> = unique.iter().map(|&i| batch[i].nonce.as_str()).collect();
        let forget: Vec<i64> = unique.iter().map(|&i| batch[i].forget_after).collect();
        let index: Vec<i32> = unique.iter().map(|&i| i as i32).collect();
        // The earliest clock of the batch decides which stored nonces are past their window:
        // the cautious side, never reopening a nonce early.
        let now = batch.iter().map(|p| p.now).min().unwrap_or_default();
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "WITH input AS (
                     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int4[])
                         AS t(access_key_id, nonce, forget_after, i)
                 ), recorded AS (
                     INSERT INTO nonces (access_key_id, nonce, forget_after)
                     SELECT access_key_id, nonce, forget_after FROM input ORDER BY access_key_id, nonce
                     ON CONFLICT (access_key_id, nonce) DO UPDATE SET forget_after = excluded.forget_after
                     WHERE nonces.forget_after <= $5
                     RETURNING access_key_id, nonce
                 )
                 SELECT (SELECT SUM(n)::BIGINT FROM lookup_generation),
                        array(SELECT i FROM input JOIN recorded USING (access_key_id, nonce))",
            )
            .await
            .map_err(unavailable)?;
        let row = c.query_one(&stmt, &[&ids, &nonces, &forget, &index, &now]).await.map_err(unavailable)?;
        let (generation, recorded): (i64, Vec<i32>) = (row.get(0), row.get(1));
        self.generation.seen(generation);
        let mut firsts = vec![false; batch.len()];
        for i in recorded {
            if let Some(f) = firsts.get_mut(i as usize) {
                *f = true;
            }
        }
        Ok(firsts)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::fresh_database;
    use crate::Store as _;

    /// Many requests at once, some of them replays of each other and of earlier ones: each
    /// nonce is new exactly once, across batches and within one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_nonce_is_new_exactly_once_however_requests_batch() {
        let (url, _guard) = fresh_database().await;
        let store = super::PostgresStore::open(&url).await.unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..400u32 {
            let store = store.clone();
            // 100 distinct nonces, each sent four times, two access keys sharing nonce names.
            let (ak, nonce) = (format!("LTAI{}", i % 2), format!("n-{}", (i / 2) % 50));
            tasks.spawn(async move {
                ((ak.clone(), nonce.clone()), store.record_nonce(&ak, &nonce, 100, 1000).await.unwrap())
            });
        }
        let mut firsts: std::collections::HashMap<(String, String), u32> = Default::default();
        while let Some(done) = tasks.join_next().await {
            let (key, first) = done.unwrap();
            *firsts.entry(key).or_default() += u32::from(first);
        }
        assert_eq!(firsts.len(), 100);
        assert!(firsts.values().all(|&n| n == 1), "{firsts:?}");
        // Past its window a nonce may be recorded again; before it, not.
        assert!(!store.record_nonce("LTAI0", "n-0", 999, 2000).await.unwrap());
        assert!(store.record_nonce("LTAI0", "n-0", 1000, 2000).await.unwrap());
    }
}
