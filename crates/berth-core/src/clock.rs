//! The injected clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> SystemTime;

    fn now_millis(&self) -> i64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// The system clock, shifted by a fixed offset. The offset exists so that tests of
/// time-dependent behaviour (token expiry, later lifecycle ages) can run a real server in the
/// past or future; it is 0 in production.
pub struct SystemClock {
    offset_seconds: i64,
}

impl SystemClock {
    pub fn new(offset_seconds: i64) -> SystemClock {
        SystemClock { offset_seconds }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        let now = SystemTime::now();
        let shift = Duration::from_secs(self.offset_seconds.unsigned_abs());
        if self.offset_seconds >= 0 {
            now + shift
        } else {
            now - shift
        }
    }
}
