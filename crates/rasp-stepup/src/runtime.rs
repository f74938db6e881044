//! The policy's shared state, beside its configuration: the stores, the
//! clock and the randomness source, and what the layer counts as it runs.

use std::sync::{Arc, RwLock};

use crate::clock::{Clock, Random};
use crate::store::Stores;

/// State shared by every clone of the layer and the companion routes.
pub(crate) struct Runtime {
    pub(crate) stores: Stores,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) random: Arc<dyn Random>,
    pub(crate) throttle_log: ThrottleLog,
    /// The factor methods the companion routes accept, as their
    /// [`StepUpState`](crate::StepUpState)s register them: what challenges
    /// advertise.
    pub(crate) methods: RwLock<Vec<&'static str>>,
}

impl Runtime {
    /// The factor methods a challenge advertises (none until a
    /// `StepUpState` registers its factors).
    pub(crate) fn factor_methods(&self) -> Vec<String> {
        let methods = self.methods.read().unwrap_or_else(|e| e.into_inner());
        methods.iter().map(|m| (*m).to_owned()).collect()
    }

    /// Records the methods of `factors` (kept: methods already known).
    pub(crate) fn register_methods(&self, factors: impl IntoIterator<Item = &'static str>) {
        let mut methods = self.methods.write().unwrap_or_else(|e| e.into_inner());
        for m in factors {
            if !methods.contains(&m) {
                methods.push(m);
            }
        }
    }
}

/// At most one warning a second for throttled requests: a client that
/// keeps hammering past its quota must not turn every 429 into a log line.
/// The first throttled request of each second (by the policy's clock) is
/// logged as a warning with the number of throttled requests since the
/// last warning; the others go to `debug`.
#[derive(Debug, Default)]
pub(crate) struct ThrottleLog {
    second: std::sync::atomic::AtomicU64,
    quiet: std::sync::atomic::AtomicU64,
}

impl ThrottleLog {
    /// `Some(quiet since the last warning)` when this throttled request
    /// gets the warning of second `now`.
    pub(crate) fn admit(&self, now: u64) -> Option<u64> {
        use std::sync::atomic::Ordering::Relaxed;
        let last = self.second.load(Relaxed);
        if last != now
            && self
                .second
                .compare_exchange(last, now, Relaxed, Relaxed)
                .is_ok()
        {
            return Some(self.quiet.swap(0, Relaxed));
        }
        self.quiet.fetch_add(1, Relaxed);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::ThrottleLog;

    #[test]
    fn throttled_requests_warn_once_a_second_and_count_the_rest() {
        let log = ThrottleLog::default();
        assert_eq!(log.admit(1_800_000_000), Some(0));
        assert_eq!(log.admit(1_800_000_000), None);
        assert_eq!(log.admit(1_800_000_000), None);
        assert_eq!(log.admit(1_800_000_001), Some(2));
        assert_eq!(log.admit(1_800_000_001), None);
        assert_eq!(log.admit(1_800_000_005), Some(1));
        // 1,000 threads' worth of calls in one second: one warning
        let warnings = (0..1_000)
            .filter(|_| log.admit(1_800_000_006).is_some())
            .count();
        assert_eq!(warnings, 1);
        assert_eq!(log.admit(1_800_000_007), Some(999));
    }
}
