//! The decision core: what a level's requirement and the request's risk
//! say of a request, before any store is asked. Pure and synchronous; the
//! pipeline (`evaluate.rs`) turns a step-up into a stored challenge and a
//! refusal into its rejection.

use crate::clock::Timestamp;
use crate::policy::Requirement;
use crate::token::Identity;

/// The risk of an assessed request, as the decision reads it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Risk {
    /// The assessment's score.
    pub(crate) score: f32,
    /// The client's network is deny-listed.
    pub(crate) denied: bool,
}

/// What the requirement (and the risk) say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Let the request through.
    Allow,
    /// The level needs an identity and there is none (401).
    NoIdentity,
    /// A deny-listed network, or a score at the level's reject threshold (403).
    RejectRisk,
    /// A fresh second factor is needed: the requirement is not met, or the
    /// score reached the level's step-up threshold (401 with a challenge).
    StepUp,
}

/// The decision table: risk first (deny list, reject threshold, step-up
/// threshold), then the requirement (`acr` in the accepted set, `auth_time`
/// within `max_age`). Requests without risk (`None`) are those the risk
/// engine does not assess (no identity needed, or none given).
pub(crate) fn verdict(
    req: &Requirement,
    identity: Option<&Identity>,
    risk: Option<Risk>,
    now: Timestamp,
) -> Verdict {
    if !req.needs_identity() {
        return Verdict::Allow;
    }
    let Some(identity) = identity else {
        return Verdict::NoIdentity;
    };
    let mut forced = false;
    if let Some(r) = risk {
        if r.denied || r.score >= req.risk_reject {
            return Verdict::RejectRisk;
        }
        forced = r.score >= req.risk_step_up;
    }
    if !forced && satisfies(identity, req, now) {
        Verdict::Allow
    } else {
        Verdict::StepUp
    }
}

/// Whether `identity`'s authentication meets `req`: an accepted `acr`,
/// and an `auth_time` no older than `max_age`.
pub(crate) fn satisfies(identity: &Identity, req: &Requirement, now: Timestamp) -> bool {
    if req.acr_values.is_empty() {
        return true;
    }
    let Some(acr) = identity.acr() else {
        return false;
    };
    if !req.acr_values.iter().any(|a| a == acr) {
        return false;
    }
    match (req.max_age, identity.auth_time()) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(max_age), Some(at)) => now.as_secs().saturating_sub(at) <= max_age.as_secs(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::level::Sensitivity;
    use crate::policy::Requirement;

    const NOW: u64 = 1_800_000_000;

    /// The default requirements, as `Policy::builder()` has them.
    fn requirement(level: Sensitivity) -> Requirement {
        match level {
            Sensitivity::Public => Requirement::none(),
            Sensitivity::Authenticated => Requirement::authenticated().risk_thresholds(60.0, 90.0),
            Sensitivity::High => {
                Requirement::step_up(["mfa"], Duration::from_secs(600)).risk_thresholds(40.0, 80.0)
            }
            _ => {
                Requirement::step_up(["mfa"], Duration::from_secs(120)).risk_thresholds(30.0, 70.0)
            }
        }
    }

    #[test]
    fn the_decision_table() {
        use Sensitivity::{Authenticated as A, Critical as C, High as H, Public as P};
        use Verdict::{Allow, NoIdentity, RejectRisk, StepUp};
        let base = Identity::new("alice", "s1");
        let fresh = base.clone().with_authentication("mfa", NOW - 60);
        let older = base.clone().with_authentication("mfa", NOW - 300);
        let stale = base.clone().with_authentication("mfa", NOW - 900);
        let other_acr = base.clone().with_authentication("pwd", NOW - 10);
        let calm = Some(Risk {
            score: 0.0,
            denied: false,
        });
        let score = |s: f32| {
            Some(Risk {
                score: s,
                denied: false,
            })
        };
        let denied = Some(Risk {
            score: 0.0,
            denied: true,
        });
        // (level, identity, risk) -> verdict
        let rows: Vec<(Sensitivity, Option<&Identity>, Option<Risk>, Verdict)> = vec![
            (P, None, None, Allow),
            (P, Some(&base), denied, Allow),
            (A, None, None, NoIdentity),
            (A, Some(&base), calm, Allow),
            (A, Some(&base), None, Allow),
            (A, Some(&base), score(59.9), Allow),
            (A, Some(&base), score(60.0), StepUp),
            (A, Some(&base), score(90.0), RejectRisk),
            (A, Some(&base), denied, RejectRisk),
            (H, None, None, NoIdentity),
            (H, Some(&base), calm, StepUp),
            (H, Some(&other_acr), calm, StepUp),
            (H, Some(&fresh), calm, Allow),
            (H, Some(&older), calm, Allow),
            (H, Some(&stale), calm, StepUp),
            (H, Some(&fresh), score(40.0), StepUp),
            (H, Some(&fresh), score(80.0), RejectRisk),
            (H, Some(&fresh), denied, RejectRisk),
            (C, Some(&fresh), calm, Allow),
            (C, Some(&older), calm, StepUp),
            (C, Some(&fresh), score(29.0), Allow),
            (C, Some(&fresh), score(30.0), StepUp),
            (C, Some(&fresh), score(70.0), RejectRisk),
        ];
        for (i, (level, identity, risk, want)) in rows.into_iter().enumerate() {
            let got = verdict(
                &requirement(level),
                identity,
                risk,
                Timestamp::from_secs(NOW),
            );
            assert_eq!(got, want, "row {i}: {level} {identity:?} {risk:?}");
        }
    }

    #[test]
    fn max_age_is_inclusive_and_needs_auth_time() {
        let req = requirement(Sensitivity::High);
        let at = |age: u64| Identity::new("alice", "s1").with_authentication("mfa", NOW - age);
        let now = Timestamp::from_secs(NOW);
        assert!(satisfies(&at(600), &req, now));
        assert!(!satisfies(&at(601), &req, now));
        assert!(!satisfies(&Identity::new("alice", "s1"), &req, now));
        // a future auth_time (clock skew) counts as fresh
        assert!(satisfies(&at(0), &req, Timestamp::from_secs(NOW - 5)));
    }
}
