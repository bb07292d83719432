//! Random values that are public once used — GCM IVs, request ids — drawn from aws-lc's DRBG
//! a kilobyte at a time per thread.
//!
//! aws-lc's `RAND_bytes` reseeds from the CPU (RDRAND) on every call, which for a 12-byte IV
//! costs more than the draw itself: one request at a time, that was ~2 % of an Encrypt.
//! Batching is sound for values that are not secret: an IV only has to be unique and
//! unpredictable before use, and a batch holds 85 of them for the microseconds until the
//! thread's next requests take them. Each byte is handed out once: the cursor only advances.
//! Key material never comes from here (see [`crate::soft::random_fill`]): a pooled secret
//! would sit unwiped in memory until drawn.

use std::cell::RefCell;

use crate::provider::CryptoError;

const POOL: usize = 1024;

thread_local! {
    static BATCH: RefCell<([u8; POOL], usize)> = const { RefCell::new(([0; POOL], POOL)) };
}

/// `N` random bytes never handed out before.
pub fn unique_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    const { assert!(N <= POOL) };
    BATCH.with_borrow_mut(|(pool, next)| {
        if POOL - *next < N {
            aws_lc_rs::rand::fill(pool).map_err(|_| CryptoError::Backend)?;
            *next = 0;
        }
        let mut out = [0u8; N];
        out.copy_from_slice(&pool[*next..*next + N]);
        *next += N;
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_do_not_repeat_across_refills() {
        let mut seen = std::collections::HashSet::new();
        // Several refills, with a size that does not divide the pool (the tail is skipped).
        for _ in 0..3 * POOL / 12 {
            assert!(seen.insert(unique_bytes::<12>().unwrap()), "an IV was handed out twice");
        }
        let ids: std::collections::HashSet<[u8; 16]> = (0..200).map(|_| unique_bytes::<16>().unwrap()).collect();
        assert_eq!(ids.len(), 200);
    }

    #[test]
    fn threads_draw_different_values() {
        let a = std::thread::spawn(|| unique_bytes::<16>().unwrap()).join().unwrap();
        let b = std::thread::spawn(|| unique_bytes::<16>().unwrap()).join().unwrap();
        assert_ne!(a, b);
    }
}
