//! Time as the framework stores and schedules it: [`Millis`] since the Unix
//! epoch, the one conversion from a [`Duration`], and the clock that maps
//! tokio's (pausable) instants to stored timestamps.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Milliseconds since the Unix epoch: the time unit of stored timestamps.
pub type Millis = u64;

/// `d` in whole milliseconds, saturating at `u64::MAX` (so `Duration::MAX`,
/// "no limit", stays the largest value).
pub(crate) fn millis(d: Duration) -> Millis {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The wall clock now, as a stored timestamp: what the embedded stores
/// stamp task times with.
pub(crate) fn wall_clock() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

/// The instant `d` from now; a `d` too large for an instant (such as
/// `Duration::MAX`, "no limit") gives a point about 30 years away.
pub(crate) fn after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400))
}

/// Maps the tokio clock (which tests may pause) to stored wall-clock millis:
/// wall-clock time when the clock was made, advanced by tokio's clock since.
#[derive(Debug)]
pub(crate) struct Clock {
    start: Instant,
    base: Millis,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Self {
            start: Instant::now(),
            base: wall_clock(),
        }
    }

    /// When the clock was made, as a stored timestamp.
    pub(crate) fn started(&self) -> Millis {
        self.base
    }

    /// Now, as a stored timestamp.
    pub(crate) fn now(&self) -> Millis {
        self.at(Instant::now())
    }

    /// Instant `at` (not before the clock was made), as a stored timestamp.
    pub(crate) fn at(&self, at: Instant) -> Millis {
        self.base
            .saturating_add(millis(at.saturating_duration_since(self.start)))
    }

    /// The tokio instant of stored timestamp `at` (now or later for times
    /// before the clock was made).
    pub(crate) fn instant(&self, at: Millis) -> Instant {
        self.start + Duration::from_millis(at.saturating_sub(self.base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_saturate() {
        assert_eq!(millis(Duration::from_micros(2_500)), 2);
        assert_eq!(millis(Duration::MAX), u64::MAX);
    }

    #[tokio::test(start_paused = true)]
    async fn the_clock_follows_tokio_time() {
        let clock = Clock::new();
        let t0 = clock.now();
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(clock.now() - t0, 3_000);
        assert_eq!(
            clock.instant(t0 + 1_000),
            clock.start + Duration::from_secs(1)
        );
    }
}
