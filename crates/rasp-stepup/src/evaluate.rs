//! Request -> decision: identity, requirement, challenge. Pure of HTTP
//! responses; the layer turns the result into one with `respond`.

use std::time::Duration;

use crate::clock::{Timestamp, random_id};
use crate::decide::{Risk, Verdict, verdict};
use crate::decision::{Challenge, Decision, Rejection, RejectionKind};
use crate::extract::{device_binding, risk_input};
use crate::identity::IdentityFuture;
use crate::level::Sensitivity;
use crate::policy::{FailMode, Policy, PolicyInner, Requirement};
use crate::risk::{
    Assessment, Bursts, Pending, RateLimited, RiskInput, RiskRules, codes, remembered, score,
};
use crate::store::{ChallengeRecord, CounterKey, RateKey, StoreError, Stores};
use crate::token::{Identity, TokenError};

/// `Retry-After` of 503 answers when a store fails closed.
pub(crate) const UNAVAILABLE_RETRY: Duration = Duration::from_secs(5);

/// What the outer layer hands to [`evaluate`].
pub(crate) struct Input {
    pub(crate) level: Sensitivity,
    pub(crate) bearer: Option<String>,
    pub(crate) user_agent: Option<Vec<u8>>,
    pub(crate) custom: Option<IdentityFuture>,
    pub(crate) risk: RiskInput,
    /// The per-address quota was applied before the body was read.
    pub(crate) client_quota_checked: bool,
    /// A login or verify route (its own per-address quota).
    pub(crate) entry: bool,
}

/// Store work that follows a decision without deciding anything (the
/// subject's history saved): the layer runs it while the handler runs.
pub(crate) type AfterFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// The result of an evaluation.
pub(crate) struct Evaluation {
    pub(crate) decision: Decision,
    pub(crate) identity: Option<Identity>,
    pub(crate) assessment: Option<Assessment>,
    /// To finish before the response leaves, beside the handler.
    pub(crate) after: Option<AfterFuture>,
}

impl Evaluation {
    fn plain(decision: Decision, identity: Option<Identity>) -> Self {
        Self {
            decision,
            identity,
            assessment: None,
            after: None,
        }
    }
}

/// Per-request context the outer layer leaves for route-site annotations
/// ([`Sensitive`](crate::Sensitive)) and handlers.
#[derive(Clone, Debug)]
pub(crate) struct StepUpContext {
    pub(crate) policy: Policy,
    pub(crate) identity: Option<Identity>,
    pub(crate) level: Sensitivity,
    pub(crate) assessment: Option<Assessment>,
}

pub(crate) fn incident(policy: &PolicyInner) -> String {
    random_id(&*policy.rt.random).unwrap_or_else(|_| "unavailable".into())
}

pub(crate) fn reject(policy: &PolicyInner, kind: RejectionKind) -> Decision {
    Decision::Reject(Rejection::new(kind, incident(policy)))
}

/// The answer to a body the layer refuses to read: 400, 413 or 415 with
/// the reason in the body.
pub(crate) fn refuse_body(policy: &PolicyInner, refusal: crate::inspect::BodyRefusal) -> Decision {
    use crate::inspect::BodyRefusal;
    let (kind, why) = match refusal {
        BodyRefusal::Malformed(why) => (RejectionKind::BadRequest, why),
        BodyRefusal::TooLarge => (
            RejectionKind::PayloadTooLarge,
            "the decompressed body is larger than the server inspects",
        ),
        BodyRefusal::Coding(why) => (RejectionKind::UnsupportedMediaType, why),
    };
    Decision::Reject(Rejection::new(kind, incident(policy)).describe(why))
}

/// The rejection for blocking findings, if any (rule ids go to logs only).
pub(crate) fn injection_decision(
    p: &PolicyInner,
    findings: &rasp_detect::Findings,
) -> Option<Decision> {
    if !findings.blocks() {
        return None;
    }
    let mut r = Rejection::new(RejectionKind::Injection, incident(p));
    r.rules = findings
        .iter()
        .filter(|f| f.confidence == rasp_detect::Confidence::High)
        .map(|f| f.rule)
        .collect();
    Some(Decision::Reject(r))
}

/// What the budget of `level` says of a request whose inspection ran out
/// of it: a rejection (413), or nothing after a logged warning.
pub(crate) fn budget_decision(
    p: &PolicyInner,
    level: Sensitivity,
    route: Option<&str>,
    found: &crate::inspect::RequestFindings,
) -> Option<Decision> {
    if !found.over_budget {
        return None;
    }
    let budget = p.inspector.rules.budgets[level];
    match budget.over {
        crate::inspect::OverBudget::Reject => Some(reject(p, RejectionKind::PayloadTooLarge)),
        crate::inspect::OverBudget::InspectPrefix => {
            tracing::warn!(
                target: "rasp::decision",
                decision = "inspection_budget_spent",
                route.template = route.unwrap_or("<unmatched>"),
                route.sensitivity = level.as_str(),
                budget.units = budget.units,
                "inspection budget spent: the rest of the request passed uninspected"
            );
            None
        }
    }
}

fn invalid_token(policy: &PolicyInner, e: TokenError) -> Decision {
    Decision::Reject(
        Rejection::new(RejectionKind::InvalidToken, incident(policy)).describe(e.description()),
    )
}

fn store_failed(policy: &PolicyInner, level: Sensitivity, e: &StoreError) -> Decision {
    crate::metrics::store_error("decide");
    match policy.fail_modes[level] {
        FailMode::Open => {
            tracing::warn!(target: "rasp::decision", error = %e, route.sensitivity = level.as_str(), "store failed; failing open");
            Decision::Allow
        }
        FailMode::Closed => {
            tracing::error!(target: "rasp::decision", error = %e, route.sensitivity = level.as_str(), "store failed; failing closed");
            Decision::Reject(
                Rejection::new(RejectionKind::Unavailable, incident(policy))
                    .retry_after(UNAVAILABLE_RETRY),
            )
        }
    }
}

/// Verifies a bearer token: signature and claims (cached), device binding of
/// elevated tokens, revocation.
pub(crate) async fn verify_bearer(
    policy: &PolicyInner,
    token: &str,
    user_agent: Option<&[u8]>,
    now: Timestamp,
) -> Result<Result<Identity, TokenError>, StoreError> {
    let identity = match verify_token(policy, token, user_agent, now).await? {
        Ok(id) => id,
        Err(e) => return Ok(Err(e)),
    };
    if is_revoked(policy, &identity, now).await? {
        return Ok(Err(TokenError::Revoked));
    }
    Ok(Ok(identity))
}

/// A bearer token's signature and claims (cached) and the device binding of
/// elevated tokens: everything but revocation, without a store call.
async fn verify_token(
    policy: &PolicyInner,
    token: &str,
    user_agent: Option<&[u8]>,
    now: Timestamp,
) -> Result<Result<Identity, TokenError>, StoreError> {
    let identity = match policy.tokens.verify(token, now).await {
        Ok(id) => id,
        // Keys that cannot be had are an outage of a dependency, not a
        // bad token: the route's fail mode decides.
        Err(TokenError::KeysUnavailable) => {
            return Err(StoreError::Unavailable(
                "identity provider keys unavailable".into(),
            ));
        }
        Err(e) => return Ok(Err(e)),
    };
    if let Some(bound) = &identity.data().device {
        let here = device_binding(user_agent);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            bound.as_bytes(),
            here.as_bytes(),
        )) {
            return Ok(Err(TokenError::WrongDevice));
        }
    }
    Ok(Ok(identity))
}

/// Whether a verified token was revoked (its subject's epoch or its `jti`).
async fn is_revoked(
    policy: &PolicyInner,
    identity: &Identity,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let d = identity.data();
    policy
        .rt
        .stores
        .revocation
        .is_revoked(&d.subject, d.token_id.as_deref(), d.issued_at, now)
        .await
}

fn rate_limited(
    p: &PolicyInner,
    scope: &'static str,
    quota: crate::risk::Quota,
    verdict: crate::risk::RateVerdict,
) -> Decision {
    let mut r =
        Rejection::new(RejectionKind::RateLimited, incident(p)).retry_after(verdict.retry_after);
    r.rate = Some(RateLimited {
        scope,
        quota,
        verdict,
    });
    Decision::Reject(r)
}

/// Applies one quota; `Some(decision)` when the request must stop here.
pub(crate) async fn check_quota(
    p: &PolicyInner,
    level: Sensitivity,
    scope: &'static str,
    key: RateKey,
    quota: Option<crate::risk::Quota>,
    now: Timestamp,
) -> Option<Decision> {
    let quota = quota?;
    match p.rt.stores.rate.check(&key, &quota, now).await {
        Ok(v) if !v.allowed => Some(rate_limited(p, scope, quota, v)),
        Ok(_) => None,
        Err(e) => match store_failed(p, level, &e) {
            Decision::Allow => None,
            d => Some(d),
        },
    }
}

/// The outer layer's evaluation: quotas, identity, risk, requirement.
pub(crate) async fn evaluate(policy: Policy, input: Input) -> Evaluation {
    let started = policy.inner.rt.clock.now();
    let evaluation = evaluate_stages(&policy, input).await;
    crate::metrics::stage_time("decide", policy.inner.rt.clock.now().since(started));
    evaluation
}

/// [`evaluate`] without its timing.
async fn evaluate_stages(policy: &Policy, mut input: Input) -> Evaluation {
    let p = &*policy.inner;
    let now = p.rt.clock.now();
    let level = input.level;
    let req = &p.requirements[level];
    if let Some((key, quota)) = input
        .risk
        .ip
        .filter(|_| !input.client_quota_checked)
        .and_then(|ip| p.client_quota(level, input.entry, ip))
        && let Some(d) = check_quota(p, level, "client", key, Some(quota), now).await
    {
        return Evaluation::plain(d, None);
    }
    // A bearer token alone (no session extractor): its revocation is read
    // with the subject's quota and risk state below, in one round trip of
    // a multiplexed store, when the level needs the identity.
    let bearer_only = input.custom.is_none();
    let resolved = if bearer_only {
        match input.bearer.as_deref() {
            Some(token) => verify_token(p, token, input.user_agent.as_deref(), now)
                .await
                .map(|r| r.map(Some)),
            None => Ok(Ok(None)),
        }
    } else {
        resolve_identity(
            p,
            input.bearer.as_deref(),
            input.user_agent.as_deref(),
            input.custom.take(),
            now,
        )
        .await
    };
    let identity = match resolved {
        Ok(Ok(id)) => id,
        Ok(Err(e)) if req.needs_identity() => return Evaluation::plain(invalid_token(p, e), None),
        Ok(Err(_)) => None,
        Err(e) if req.needs_identity() => {
            return Evaluation::plain(store_failed(p, level, &e), None);
        }
        Err(_) => None,
    };
    let (Some(id), true) = (&identity, req.needs_identity()) else {
        // A level without an identity requirement still hands the handler
        // only an identity whose token is not revoked.
        let identity = match identity {
            Some(id) if bearer_only && !matches!(is_revoked(p, &id, now).await, Ok(false)) => None,
            other => other,
        };
        let user_agent = input.user_agent.as_deref();
        let decision = decide(policy, identity.as_ref(), level, None, user_agent, now).await;
        return Evaluation::plain(decision, identity);
    };
    let user_agent = input.user_agent.as_deref();
    let subject = Subject {
        id,
        level,
        risk: &input.risk,
        user_agent,
        check_revocation: bearer_only,
    };
    let judged = judge_subject(policy, subject, now).await;
    let identity = judged.revoked.is_none().then_some(identity).flatten();
    Evaluation {
        decision: judged.decision,
        identity,
        assessment: judged.assessment,
        after: judged.save,
    }
}

/// An identity on a level that needs one, and what the judging reads.
struct Subject<'a> {
    id: &'a Identity,
    level: Sensitivity,
    risk: &'a RiskInput,
    user_agent: Option<&'a [u8]>,
    /// The identity is a bearer token's whose revocation is not read yet.
    check_revocation: bool,
}

/// What [`judge_subject`] found.
struct Judged {
    decision: Decision,
    assessment: Option<Assessment>,
    /// The subject's history saved (after the decision, beside the handler).
    save: Option<AfterFuture>,
    /// The token turned out revoked (the decision says `invalid_token`).
    revoked: Option<()>,
}

/// An authenticated subject on a level that needs one: revocation (when
/// asked), its quota and the risk state of the request read at once (one
/// round trip on a multiplexed store), then the risk and the requirement;
/// the history save is left to run beside the handler.
async fn judge_subject(policy: &Policy, s: Subject<'_>, now: Timestamp) -> Judged {
    let p = &*policy.inner;
    let (level, id) = (s.level, s.id);
    let quota = p.risk.rate.per_subject[level];
    let key = RateKey::Subject(level, id.subject().into());
    let revocation = async {
        if s.check_revocation {
            Some(is_revoked(p, id, now).await)
        } else {
            None
        }
    };
    let (revoked, throttled, assessed) = crate::join::join3(
        revocation,
        check_quota(p, level, "subject", key, quota, now),
        assess(&p.risk, &p.rt.stores, id.subject(), s.risk, now),
    )
    .await;
    let stop = |decision| Judged {
        decision,
        assessment: None,
        save: None,
        revoked: None,
    };
    match revoked {
        Some(Ok(true)) => {
            return Judged {
                revoked: Some(()),
                ..stop(invalid_token(p, TokenError::Revoked))
            };
        }
        Some(Err(e)) => {
            return Judged {
                revoked: Some(()),
                ..stop(store_failed(p, level, &e))
            };
        }
        Some(Ok(false)) | None => {}
    }
    if let Some(d) = throttled {
        return stop(d);
    }
    let (assessment, pending) = match assessed {
        Ok(r) => r,
        Err(e) => return stop(store_failed(p, level, &e)),
    };
    let decision = decide_with_risk(policy, id, level, &assessment, s.user_agent, now).await;
    let confirm = decision == Decision::Allow && assessment.score < p.risk.confirm_below;
    let (policy, subject) = (policy.clone(), id.subject().to_owned());
    let save: AfterFuture = Box::pin(async move {
        let p = &*policy.inner;
        if let Err(e) = settle(&p.risk, &p.rt.stores, &subject, pending, confirm, now).await {
            crate::metrics::store_error("settle");
            tracing::warn!(target: "rasp::decision", error = %e, "could not save risk history");
        }
    });
    Judged {
        decision,
        assessment: Some(assessment),
        save: Some(save),
        revoked: None,
    }
}

/// Risk thresholds first, then the requirement.
pub(crate) async fn decide_with_risk(
    policy: &Policy,
    identity: &Identity,
    level: Sensitivity,
    assessment: &Assessment,
    user_agent: Option<&[u8]>,
    now: Timestamp,
) -> Decision {
    let risk = Risk {
        score: assessment.score,
        denied: assessment.has(codes::DENIED_NETWORK),
    };
    decide(policy, Some(identity), level, Some(risk), user_agent, now).await
}

pub(crate) async fn resolve_identity(
    p: &PolicyInner,
    bearer: Option<&str>,
    user_agent: Option<&[u8]>,
    custom: Option<IdentityFuture>,
    now: Timestamp,
) -> Result<Result<Option<Identity>, TokenError>, StoreError> {
    let bearer = match bearer {
        Some(token) => Some(verify_bearer(p, token, user_agent, now).await?),
        None => None,
    };
    let Some(custom) = custom else {
        return Ok(bearer.transpose());
    };
    let session = match custom.await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(target: "rasp::decision", error = %e, "identity extractor refused the credentials");
            return Ok(Err(TokenError::Invalid));
        }
    };
    Ok(match (bearer, session) {
        // An elevated token is bound to the session it was minted for.
        (Some(Ok(elevated)), session) if elevated.is_elevated() => match session {
            Some(s) if s.subject() == elevated.subject() && s.session() == elevated.session() => {
                Ok(Some(elevated))
            }
            _ => Err(TokenError::WrongSession),
        },
        (Some(Err(e)), _) => Err(e),
        (_, session) => Ok(session),
    })
}

/// Requirement check and challenge creation for an identity at a level.
/// `force`: challenge even when the requirement is met (risk says so).
pub(crate) async fn decide(
    policy: &Policy,
    identity: Option<&Identity>,
    level: Sensitivity,
    risk: Option<Risk>,
    user_agent: Option<&[u8]>,
    now: Timestamp,
) -> Decision {
    let p = &*policy.inner;
    let req = &p.requirements[level];
    match (verdict(req, identity, risk, now), identity) {
        (Verdict::Allow, _) => Decision::Allow,
        (Verdict::NoIdentity, _) | (Verdict::StepUp, None) => Decision::Reject(
            Rejection::new(RejectionKind::InvalidToken, incident(p))
                .describe("the access token is missing"),
        ),
        (Verdict::RejectRisk, _) => reject(p, RejectionKind::Risk),
        (Verdict::StepUp, Some(identity)) => {
            match challenge(p, identity, level, req, user_agent, now).await {
                Ok(c) => Decision::StepUp(c),
                Err(e) => store_failed(p, level, &e),
            }
        }
    }
}

async fn challenge(
    p: &PolicyInner,
    identity: &Identity,
    level: Sensitivity,
    req: &Requirement,
    user_agent: Option<&[u8]>,
    now: Timestamp,
) -> Result<Challenge, StoreError> {
    let id = random_id(&*p.rt.random).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    let ttl = p.step_up.challenge_ttl;
    // A level without an acr requirement (risk forced the challenge) asks
    // for what `high` asks.
    let req = if req.acr_values.is_empty() {
        &p.requirements[Sensitivity::High]
    } else {
        req
    };
    let max_age = req.max_age.map_or(0, |d| d.as_secs());
    let record = ChallengeRecord::new(
        id.clone(),
        identity.subject().to_owned(),
        identity.session().to_owned(),
        device_binding(user_agent),
        level,
        req.acr_values.clone(),
        max_age,
        now.plus(ttl),
    );
    p.rt.stores.challenges.create(record, now).await?;
    Ok(Challenge {
        id,
        sensitivity: level,
        acr_values: req.acr_values.clone(),
        max_age,
        expires_in: ttl.as_secs(),
        verify_uri: p.step_up.verify_uri.clone(),
        methods: p.rt.factor_methods(),
    })
}

/// Reads what the risk engine needs of `subject` (its history and the
/// burst counters, together: one round trip on a shared backend) and
/// scores the request.
pub(crate) async fn assess(
    rules: &RiskRules,
    stores: &Stores,
    subject: &str,
    input: &RiskInput,
    now: Timestamp,
) -> Result<(Assessment, Pending), StoreError> {
    let subject_key = CounterKey::AuthFailuresOfSubject(subject.into());
    let flag_key = CounterKey::SinkHitsOfSubject(subject.into());
    let client_keys: Vec<CounterKey> = input
        .ip
        .map(|ip| {
            let ip = rules.address_key(ip);
            vec![
                CounterKey::AuthFailuresOfClient(ip),
                CounterKey::NotFoundOfClient(ip),
                CounterKey::SinkHitsOfClient(ip),
            ]
        })
        .unwrap_or_default();
    let (hist, by_subject, flagged, by_client) = crate::join::join4(
        stores.history.load(subject, now),
        stores.counters.count(&subject_key, now),
        stores.counters.count(&flag_key, now),
        crate::join::join_all(
            client_keys
                .iter()
                .map(|k| stores.counters.count(k, now))
                .collect(),
        ),
    )
    .await;
    let mut by_client = by_client.into_iter();
    let mut next = || by_client.next().unwrap_or(Ok(0));
    let (failures_of_client, not_found_of_client, client_flagged) = (next()?, next()?, next()?);
    let bursts = Bursts {
        failures_of_subject: by_subject?,
        failures_of_client,
        not_found_of_client,
        sink_hits: flagged?.saturating_add(client_flagged),
    };
    let (assessment, pending) = score(rules, hist?.unwrap_or_default(), bursts, input, now);
    crate::metrics::signals(&assessment);
    Ok((assessment, pending))
}

/// Saves the subject's history after a request (its context remembered
/// when `confirm`).
pub(crate) async fn settle(
    rules: &RiskRules,
    stores: &Stores,
    subject: &str,
    pending: Pending,
    confirm: bool,
    now: Timestamp,
) -> Result<(), StoreError> {
    stores
        .history
        .save(
            subject,
            remembered(pending, confirm, now),
            rules.history_ttl,
            now,
        )
        .await
}

/// After a successful step-up: the new context is confirmed and the bursts
/// that led to it are resolved.
pub(crate) async fn confirm_step_up(
    rules: &RiskRules,
    stores: &Stores,
    subject: &str,
    input: &RiskInput,
    now: Timestamp,
) -> Result<(), StoreError> {
    let (_, mut pending) = assess(rules, stores, subject, input, now).await?;
    pending.restart_networks(input.ip, now);
    if let Some(key) = crate::risk::cookie_device_key(input) {
        pending.remember_step_up_device(key);
    }
    if let Some(ip) = input.ip {
        stores
            .counters
            .reset(
                &CounterKey::AuthFailuresOfClient(rules.address_key(ip)),
                now,
            )
            .await?;
    }
    // the step-up answers for the sink hits that flagged the subject or
    // the address
    if let Some(ip) = input.ip {
        stores
            .counters
            .reset(&CounterKey::SinkHitsOfClient(rules.address_key(ip)), now)
            .await?;
    }
    for key in [
        CounterKey::AuthFailuresOfSubject(subject.into()),
        CounterKey::SinkHitsOfSubject(subject.into()),
    ] {
        stores.counters.reset(&key, now).await?;
    }
    settle(rules, stores, subject, pending, true, now).await
}

impl Policy {
    /// Assesses a request of `identity` the way the layer does, without
    /// deciding: the score and signals (for login handlers, audits, tuning).
    /// Counters and the subject's recent networks are updated; nothing is
    /// confirmed.
    ///
    /// # Errors
    ///
    /// When a store fails.
    pub async fn assess(
        &self,
        identity: &Identity,
        parts: &http::request::Parts,
    ) -> Result<Assessment, StoreError> {
        let p = &self.inner;
        let now = p.rt.clock.now();
        let input = risk_input(p, &parts.headers, &parts.extensions, true);
        let subject = identity.subject();
        let (assessment, pending) = assess(&p.risk, &p.rt.stores, subject, &input, now).await?;
        settle(&p.risk, &p.rt.stores, subject, pending, false, now).await?;
        Ok(assessment)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::MockClock;
    use crate::risk::{Quota, RateVerdict};
    use crate::store::{RateStore, StoreFuture};
    use crate::token::TokenConfig;

    /// A rate store that answers one fixed verdict, or fails.
    struct FixedRate(Option<RateVerdict>);

    impl RateStore for FixedRate {
        fn check<'a>(
            &'a self,
            _key: &'a RateKey,
            _quota: &'a Quota,
            _now: Timestamp,
        ) -> StoreFuture<'a, RateVerdict> {
            let answer = self.0.ok_or_else(|| StoreError::Unavailable("down".into()));
            Box::pin(std::future::ready(answer))
        }
    }

    fn policy(rate: Option<RateVerdict>, mode: FailMode) -> Policy {
        let stores = Stores {
            rate: Arc::new(FixedRate(rate)),
            ..Stores::default()
        };
        Policy::builder()
            .tokens(
                TokenConfig::ed25519_from_seed([5; 32])
                    .issuer("i")
                    .audience("a"),
            )
            .with_clock(MockClock::new(Timestamp::from_secs(1_800_000_000)))
            .with_stores(stores)
            .fail_mode(Sensitivity::High, mode)
            .build()
            .expect("a valid policy")
    }

    fn verdict(allowed: bool) -> RateVerdict {
        RateVerdict {
            allowed,
            remaining: if allowed { 4 } else { 0 },
            reset: Duration::from_secs(60),
            retry_after: Duration::from_millis(if allowed { 0 } else { 1_500 }),
        }
    }

    fn run(p: &Policy, quota: Option<Quota>) -> Option<Decision> {
        let now = Timestamp::from_secs(1_800_000_000);
        let key = RateKey::Client(Sensitivity::High, "192.0.2.1".parse().unwrap());
        let fut = check_quota(&p.inner, Sensitivity::High, "client", key, quota, now);
        futures_ready(fut)
    }

    /// The stores here answer at once: one poll settles the future.
    fn futures_ready<F: std::future::Future>(fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("a ready store left the future pending"),
        }
    }

    #[test]
    fn quotas_and_fail_modes() {
        let quota = Some(Quota::per_minute(5));
        // no quota: nothing to ask
        assert_eq!(run(&policy(None, FailMode::Closed), None), None);
        // allowed
        assert_eq!(
            run(&policy(Some(verdict(true)), FailMode::Closed), quota),
            None
        );
        // refused: 429 with the wait
        let Some(Decision::Reject(r)) = run(&policy(Some(verdict(false)), FailMode::Closed), quota)
        else {
            panic!("expected a rejection");
        };
        assert_eq!(r.kind(), RejectionKind::RateLimited);
        assert_eq!(r.retry_after_hint(), Some(Duration::from_millis(1_500)));
        // a failed store: open lets it through, closed answers 503
        assert_eq!(run(&policy(None, FailMode::Open), quota), None);
        let Some(Decision::Reject(r)) = run(&policy(None, FailMode::Closed), quota) else {
            panic!("expected a rejection");
        };
        assert_eq!(r.kind(), RejectionKind::Unavailable);
        assert_eq!(r.retry_after_hint(), Some(UNAVAILABLE_RETRY));
    }
}
