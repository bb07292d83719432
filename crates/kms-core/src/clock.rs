//! Wall-clock time, injected: deletion windows and timestamps are wall time, so tests move a
//! clock of their own instead of sleeping.

use time::OffsetDateTime;

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// The system clock plus an offset that only moves forward: `--dev-clock` lets tests watch a
/// key rotate or be destroyed in seconds. Request signatures keep using real time.
#[derive(Debug, Default)]
pub struct DevClock {
    offset_secs: std::sync::atomic::AtomicI64,
}

impl DevClock {
    /// Moves the clock forward by `secs` (negative values are ignored: time never runs back).
    pub fn advance(&self, secs: i64) {
        self.offset_secs.fetch_add(secs.max(0), std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for DevClock {
    fn now(&self) -> OffsetDateTime {
        let offset = self.offset_secs.load(std::sync::atomic::Ordering::SeqCst);
        OffsetDateTime::now_utc() + time::Duration::seconds(offset)
    }
}
