//! Rate limits: GCRA quotas per client address and per subject, one quota
//! per sensitivity level, with IETF `RateLimit` / `RateLimit-Policy` headers.

use std::time::Duration;

use crate::level::{PerLevel, Sensitivity};

/// A quota: `limit` requests per `window`, with bursts up to `limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Requests allowed per window.
    pub limit: u32,
    /// The window.
    pub window: Duration,
}

impl Quota {
    /// `limit` requests per minute.
    #[must_use]
    pub const fn per_minute(limit: u32) -> Self {
        Self {
            limit,
            window: Duration::from_secs(60),
        }
    }

    /// Time between two requests at the sustained rate.
    #[must_use]
    pub fn emission(&self) -> Duration {
        self.window / self.limit.max(1)
    }
}

/// Quotas per sensitivity level, per client address and per subject.
///
/// Defaults (per minute): client 600 / 300 / 60 / 30 and subject — / 300 /
/// 30 / 15 for public / authenticated / high / critical; 60 per client
/// address on the login routes and the step-up verify route together.
#[derive(Clone, Debug, PartialEq)]
pub struct RateRules {
    pub(crate) per_client: PerLevel<Option<Quota>>,
    pub(crate) per_subject: PerLevel<Option<Quota>>,
    pub(crate) per_client_entry: Option<Quota>,
}

impl Default for RateRules {
    fn default() -> Self {
        Self {
            per_client: PerLevel::new([
                Some(Quota::per_minute(600)),
                Some(Quota::per_minute(300)),
                Some(Quota::per_minute(60)),
                Some(Quota::per_minute(30)),
            ]),
            per_subject: PerLevel::new([
                None,
                Some(Quota::per_minute(300)),
                Some(Quota::per_minute(30)),
                Some(Quota::per_minute(15)),
            ]),
            per_client_entry: Some(Quota::per_minute(60)),
        }
    }
}

impl RateRules {
    /// No limits at all.
    #[must_use]
    pub fn none() -> Self {
        Self {
            per_client: PerLevel::new([None; 4]),
            per_subject: PerLevel::new([None; 4]),
            per_client_entry: None,
        }
    }

    /// Sets the per-client-address quota of the routes where clients prove
    /// who they are: the login routes
    /// ([`PolicyBuilder::login_route`](crate::PolicyBuilder::login_route))
    /// and the step-up verify route, counted together (`None`: unlimited;
    /// default 60 a minute). It replaces the public quota on them.
    #[must_use]
    pub fn per_client_entry(mut self, quota: Option<Quota>) -> Self {
        self.per_client_entry = quota;
        self
    }

    /// Sets the per-client-address quota of `level` (`None`: unlimited).
    #[must_use]
    pub fn per_client(mut self, level: Sensitivity, quota: Option<Quota>) -> Self {
        self.per_client[level] = quota;
        self
    }

    /// Sets the per-subject quota of `level` (`None`: unlimited).
    #[must_use]
    pub fn per_subject(mut self, level: Sensitivity, quota: Option<Quota>) -> Self {
        self.per_subject[level] = quota;
        self
    }
}

/// What a limiter said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateVerdict {
    /// Whether the request may pass.
    pub allowed: bool,
    /// Requests left in the current window.
    pub remaining: u32,
    /// Time until the quota is fully available again.
    pub reset: Duration,
    /// When refused: time until one request is allowed.
    pub retry_after: Duration,
}

/// The quota that refused a request, for the 429 headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RateLimited {
    /// `client` or `subject`.
    pub(crate) scope: &'static str,
    pub(crate) quota: Quota,
    pub(crate) verdict: RateVerdict,
}

impl RateLimited {
    /// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers).
    pub(crate) fn policy_header(&self) -> String {
        format!(
            "\"{}\";q={};w={}",
            self.scope,
            self.quota.limit,
            self.quota.window.as_secs()
        )
    }

    /// `RateLimit`.
    pub(crate) fn limit_header(&self) -> String {
        format!(
            "\"{}\";r={};t={}",
            self.scope,
            self.verdict.remaining,
            self.verdict.reset.as_millis().div_ceil(1000)
        )
    }
}

/// A quota's GCRA parameters in microseconds: the emission interval (at
/// least 1 µs: up to a million requests per second per key) and the burst
/// tolerance. Shared backends pass the same numbers to their scripts.
#[must_use]
pub fn gcra_params(quota: &Quota) -> (u64, u64) {
    let t = u64::try_from(quota.emission().as_micros())
        .unwrap_or(u64::MAX)
        .max(1);
    let window = u64::try_from(quota.window.as_micros()).unwrap_or(u64::MAX);
    (t, window.saturating_sub(t))
}

/// One GCRA step on a stored theoretical arrival time (`tat`, µs since
/// the epoch; `None` when the key has no state). Returns the verdict and the
/// new `tat` to store when allowed. Shared backends apply the same step
/// atomically and derive the verdict from the previous `tat` with this
/// function, so every backend answers alike. Time is kept in microseconds:
/// in whole milliseconds a quota above 1,000 requests per second would
/// round its emission interval up and refuse what it should allow.
#[must_use]
pub fn gcra(tat: Option<u64>, now_us: u64, quota: &Quota) -> (RateVerdict, Option<u64>) {
    let (t, tau) = gcra_params(quota);
    let window = tau.saturating_add(t);
    let tat = tat.unwrap_or(now_us).max(now_us);
    if tat - now_us > tau {
        let retry = tat - now_us - tau;
        return (
            RateVerdict {
                allowed: false,
                remaining: 0,
                reset: Duration::from_micros(tat - now_us),
                retry_after: Duration::from_micros(retry),
            },
            None,
        );
    }
    let new_tat = tat.saturating_add(t);
    let used = new_tat - now_us;
    let remaining = u32::try_from(window.saturating_sub(used) / t).unwrap_or(u32::MAX);
    (
        RateVerdict {
            allowed: true,
            remaining,
            reset: Duration::from_micros(used),
            retry_after: Duration::ZERO,
        },
        Some(new_tat),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_allows_a_burst_of_limit_then_spaces_requests() {
        let q = Quota::per_minute(3);
        let mut tat = None;
        let mut remaining = Vec::new();
        for _ in 0..3 {
            let (v, next) = gcra(tat, 0, &q);
            assert!(v.allowed);
            remaining.push(v.remaining);
            tat = next;
        }
        assert_eq!(remaining, [2, 1, 0]);
        let (v, next) = gcra(tat, 0, &q);
        assert!(!v.allowed);
        assert_eq!(next, None);
        assert_eq!(v.retry_after, Duration::from_secs(20));
        assert_eq!(v.reset, Duration::from_secs(60));
        let (v, _) = gcra(tat, 20_000_000, &q);
        assert!(v.allowed);
    }

    #[test]
    fn quotas_above_a_thousand_per_second_keep_their_rate() {
        // 10,000 per second: one request every 100 µs once the burst is spent
        let q = Quota {
            limit: 10_000,
            window: Duration::from_secs(1),
        };
        let mut tat = None;
        for _ in 0..10_000 {
            let (v, next) = gcra(tat, 0, &q);
            assert!(v.allowed);
            tat = next;
        }
        assert!(!gcra(tat, 0, &q).0.allowed);
        // one millisecond later, ten more (whole milliseconds allowed one)
        let mut allowed = 0;
        for _ in 0..20 {
            let (v, next) = gcra(tat, 1_000, &q);
            if v.allowed {
                allowed += 1;
                tat = next;
            }
        }
        assert_eq!(allowed, 10);
        assert_eq!(gcra_params(&Quota::per_minute(1_000_000)), (60, 59_999_940));
    }
}
