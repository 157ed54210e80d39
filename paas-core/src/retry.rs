//! [`RetryPolicy`]: exponential backoff with a cap and jitter, and the
//! decision it makes about each failed attempt ([`RetryDecision`]).

use std::time::Duration;

use crate::lifecycle::FailureKind;
use crate::time::{Millis, millis};

/// How failed attempts are retried.
///
/// The delay before retry `n` (1 for the first retry) is
/// `base_delay × multiplier^(n-1)`, capped at `max_delay`, then shortened by a
/// random fraction of up to `jitter` (0.0 = none, 1.0 = anywhere down to 0)
/// so that tasks failing together do not retry together. A task gets
/// `1 + max_retries` attempts in all; attempts are counted when proving
/// starts, so a crash mid-proof spends one too.
///
/// "Not ready" answers do not spend attempts: the task is checked again every
/// `not_ready_interval` (or the delay the prover asks for) until it has been
/// not ready for `not_ready_limit`, then fails. A permanent error fails the
/// task at once, and so does a panic unless `retry_panics` is set.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use paas_core::RetryPolicy;
///
/// let policy = RetryPolicy {
///     max_retries: 5,
///     base_delay: Duration::from_millis(100),
///     multiplier: 2.0,
///     max_delay: Duration::from_millis(500),
///     jitter: 0.0,
///     ..RetryPolicy::default()
/// };
/// assert_eq!(policy.delay(1), Duration::from_millis(100));
/// assert_eq!(policy.delay(3), Duration::from_millis(400));
/// assert_eq!(policy.delay(4), Duration::from_millis(500)); // capped
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The delay before the first retry.
    #[serde(with = "as_millis")]
    pub base_delay: Duration,
    /// Growth factor per retry (at least 1.0).
    pub multiplier: f64,
    /// The largest delay.
    #[serde(with = "as_millis")]
    pub max_delay: Duration,
    /// Fraction of the delay that may be randomly taken off, in `0.0..=1.0`.
    pub jitter: f64,
    /// How long to wait before re-checking a task that was not ready.
    #[serde(with = "as_millis")]
    pub not_ready_interval: Duration,
    /// How long a task may stay not ready before it fails.
    #[serde(with = "as_millis")]
    pub not_ready_limit: Duration,
    /// Whether an attempt whose prover panicked is retried like a transient
    /// failure (`false`, the default: a panic fails the task at once).
    pub retry_panics: bool,
}

impl Default for RetryPolicy {
    /// 3 retries from 1 s doubling up to 60 s, 20% jitter; not-ready checks
    /// every 1 s for up to 10 minutes.
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_secs(1),
            multiplier: 2.0,
            max_delay: Duration::from_secs(60),
            jitter: 0.2,
            not_ready_interval: Duration::from_secs(1),
            not_ready_limit: Duration::from_secs(600),
            retry_panics: false,
        }
    }
}

/// What a [`RetryPolicy`] decides about a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryDecision {
    /// Try again at this time; the attempt stays spent.
    RetryAt(Millis),
    /// Not ready: check again at this time; the attempt is refunded.
    RecheckAt(Millis),
    /// Give up with the failure as it is.
    GiveUp,
    /// Give up: the task has been not ready for `waited` ms, past the limit.
    NotReadyTooLong {
        /// How long it has been not ready.
        waited: Millis,
    },
}

/// A retry policy that cannot work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RetryPolicyError {
    /// `multiplier` below 1.0 or not finite.
    #[error("retry multiplier must be a finite number >= 1.0, got {0}")]
    Multiplier(f64),
    /// `jitter` outside `0.0..=1.0`.
    #[error("retry jitter must be within 0.0..=1.0, got {0}")]
    Jitter(f64),
    /// `max_delay` below `base_delay`.
    #[error("max_delay ({max:?}) is below base_delay ({base:?})")]
    MaxBelowBase {
        /// The base delay.
        base: Duration,
        /// The cap.
        max: Duration,
    },
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn no_retries() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Checks the policy's numbers.
    ///
    /// # Errors
    ///
    /// [`RetryPolicyError`] naming the first bad field.
    pub fn validate(&self) -> Result<(), RetryPolicyError> {
        if !self.multiplier.is_finite() || self.multiplier < 1.0 {
            return Err(RetryPolicyError::Multiplier(self.multiplier));
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(RetryPolicyError::Jitter(self.jitter));
        }
        if self.max_delay < self.base_delay {
            return Err(RetryPolicyError::MaxBelowBase {
                base: self.base_delay,
                max: self.max_delay,
            });
        }
        Ok(())
    }

    /// The capped delay before retry `retry` (1-based), before jitter.
    pub fn delay(&self, retry: u32) -> Duration {
        let exp = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let factor = self.multiplier.powi(exp);
        let max = self.max_delay.as_secs_f64();
        let secs = (self.base_delay.as_secs_f64() * factor).min(max);
        if secs.is_finite() {
            Duration::from_secs_f64(secs.max(0.0))
        } else {
            self.max_delay
        }
    }

    /// Decides what follows an attempt that failed with `kind` at `now`,
    /// when the task has spent `attempts` attempts (this one included) and
    /// has been not ready since `not_ready_since`, if it has. A
    /// `requested_delay` (from the prover, or the framework's own) replaces
    /// the backoff for this one failure.
    ///
    /// The one place the retry rules live: the lifecycle's
    /// [`fail`](crate::lifecycle::Task::fail) carries the decision out.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use paas_core::lifecycle::FailureKind;
    /// use paas_core::retry::{RetryDecision, RetryPolicy};
    ///
    /// let policy = RetryPolicy { max_retries: 1, jitter: 0.0, ..RetryPolicy::default() };
    /// let first = policy.decide(FailureKind::Transient, 1, None, None, 10_000);
    /// assert_eq!(first, RetryDecision::RetryAt(11_000)); // base delay 1 s
    /// let second = policy.decide(FailureKind::Transient, 2, None, None, 20_000);
    /// assert_eq!(second, RetryDecision::GiveUp); // 1 attempt + 1 retry spent
    /// assert_eq!(
    ///     policy.decide(FailureKind::Permanent, 1, None, None, 0),
    ///     RetryDecision::GiveUp
    /// );
    /// ```
    pub fn decide(
        &self,
        kind: FailureKind,
        attempts: u32,
        not_ready_since: Option<Millis>,
        requested_delay: Option<Duration>,
        now: Millis,
    ) -> RetryDecision {
        let at = |delay: Duration| now.saturating_add(millis(delay));
        match kind {
            FailureKind::Permanent => RetryDecision::GiveUp,
            FailureKind::Panicked if !self.retry_panics => RetryDecision::GiveUp,
            FailureKind::NotReady => {
                let waited = now.saturating_sub(not_ready_since.unwrap_or(now));
                if waited >= millis(self.not_ready_limit) {
                    RetryDecision::NotReadyTooLong { waited }
                } else {
                    RetryDecision::RecheckAt(at(requested_delay.unwrap_or(self.not_ready_interval)))
                }
            }
            _ if attempts > self.max_retries => RetryDecision::GiveUp,
            _ => RetryDecision::RetryAt(at(
                requested_delay.unwrap_or_else(|| self.jittered_delay(attempts))
            )),
        }
    }

    /// The delay before retry `retry` with jitter applied.
    pub fn jittered_delay(&self, retry: u32) -> Duration {
        let delay = self.delay(retry);
        if self.jitter <= 0.0 {
            return delay;
        }
        delay.mul_f64(1.0 - self.jitter * fastrand::f64())
    }
}

mod as_millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(crate::time::millis(*d))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_its_fraction() {
        let p = RetryPolicy {
            jitter: 0.5,
            base_delay: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for _ in 0..1000 {
            let d = p.jittered_delay(1);
            assert!(
                d <= Duration::from_millis(1000) && d >= Duration::from_millis(500),
                "{d:?}"
            );
        }
    }

    #[test]
    fn huge_attempt_numbers_stay_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(u32::MAX), p.max_delay);
    }

    #[test]
    fn bad_numbers_are_rejected() {
        let bad = RetryPolicy {
            multiplier: 0.5,
            ..RetryPolicy::default()
        };
        assert_eq!(bad.validate(), Err(RetryPolicyError::Multiplier(0.5)));
        let bad = RetryPolicy {
            jitter: 2.0,
            ..RetryPolicy::default()
        };
        assert!(bad.validate().is_err());
        let bad = RetryPolicy {
            max_delay: Duration::ZERO,
            ..RetryPolicy::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(RetryPolicyError::MaxBelowBase { .. })
        ));
        assert!(RetryPolicy::default().validate().is_ok());
    }
}
