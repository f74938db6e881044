//! The verify flow: authenticate the caller, gate the subject, count the
//! challenge attempt, check the factor, consume the challenge, mint.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::{FactorContext, FactorOutcome, StepUpState};
use crate::clock::random_id;
use crate::evaluate::resolve_identity;
use crate::extract::{bearer_token, device_binding, risk_input};
use crate::outcome::{Outcome, retry_after_secs};
use crate::respond::{invalid_token_header, problem_of, retry_after_value};
use crate::store::{ChallengeAttempt, StoreError, SubjectGate};
use crate::token::{ElevationGrant, Identity, TokenError};

/// Largest verify request body accepted.
pub(crate) const MAX_VERIFY_BODY: usize = 4096;

/// A successful verification: the elevated token.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Elevation {
    /// The elevated JWT (`typ: stepup+jwt`).
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The `acr` it carries.
    pub acr: String,
    /// The `amr` it carries.
    pub amr: Vec<String>,
}

impl fmt::Debug for Elevation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Elevation")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("acr", &self.acr)
            .field("amr", &self.amr)
            .finish()
    }
}

/// Why a verification failed. Each maps to one status and problem type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// Malformed body or unsupported method (400).
    InvalidRequest(&'static str),
    /// Missing or invalid bearer token (401 `invalid_token`).
    InvalidToken(TokenError),
    /// Unknown, expired, used, or another caller's challenge (403).
    InvalidChallenge,
    /// Wrong (or replayed) code (403).
    InvalidCode {
        /// Attempts left on this challenge.
        attempts_remaining: u32,
    },
    /// The challenge used up its attempts (429): get a new challenge.
    ChallengeBurned,
    /// The subject is backing off after repeated failures (429).
    Locked {
        /// When to try again.
        retry_after: Duration,
    },
    /// A store failed (503).
    Unavailable,
}

impl VerifyError {
    /// The status of the answer.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.outcome().wire().status
    }

    /// How this failure is answered (the one table in `outcome.rs`).
    fn outcome(&self) -> Outcome {
        match self {
            Self::InvalidRequest(_) => Outcome::InvalidRequest,
            Self::InvalidToken(_) => Outcome::InvalidToken,
            Self::InvalidChallenge => Outcome::InvalidChallenge,
            Self::InvalidCode { .. } => Outcome::InvalidCode,
            Self::ChallengeBurned | Self::Locked { .. } => Outcome::TooManyAttempts,
            Self::Unavailable => Outcome::Unavailable,
        }
    }

    /// A short name for logs.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidToken(_) => "invalid_token",
            Self::InvalidChallenge => "invalid_challenge",
            Self::InvalidCode { .. } => "invalid_code",
            Self::ChallengeBurned => "challenge_burned",
            Self::Locked { .. } => "locked",
            Self::Unavailable => "unavailable",
        }
    }

    /// The problem+json response.
    pub fn to_response<B: From<Bytes>>(&self) -> Response<B> {
        let detail = match self {
            Self::InvalidRequest(why) => why,
            Self::InvalidToken(e) => e.description(),
            Self::InvalidChallenge => {
                "the challenge is unknown, expired or already used; retry the original request for a new one"
            }
            Self::InvalidCode { .. } => "the code is not valid",
            Self::ChallengeBurned => {
                "this challenge used up its attempts; retry the original request for a new one"
            }
            Self::Locked { .. } => "too many failed verifications; wait before trying again",
            Self::Unavailable => "try again later",
        };
        let mut body = json!({ "detail": detail });
        if let Self::InvalidCode { attempts_remaining } = self {
            body["attempts_remaining"] = (*attempts_remaining).into();
        }
        let retry = match self {
            Self::Locked { retry_after } => Some(*retry_after),
            Self::ChallengeBurned => Some(Duration::from_secs(1)),
            Self::Unavailable => Some(crate::evaluate::UNAVAILABLE_RETRY),
            _ => None,
        };
        if let Some(r) = retry {
            body["retry_after"] = retry_after_secs(r).into();
        }
        let mut res = problem_of(self.outcome(), body);
        if let Some(r) = retry {
            res.headers_mut().insert(RETRY_AFTER, retry_after_value(r));
        }
        if let Self::InvalidToken(e) = self
            && let Ok(v) = HeaderValue::try_from(invalid_token_header(e.description()))
        {
            res.headers_mut().insert(WWW_AUTHENTICATE, v);
        }
        res
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for VerifyError {}

impl From<StoreError> for VerifyError {
    fn from(e: StoreError) -> Self {
        crate::metrics::store_error("verify");
        tracing::error!(target: "rasp::verify", error = %e, "store failed during verification");
        Self::Unavailable
    }
}

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for VerifyError {
    fn into_response(self) -> axum::response::Response {
        self.to_response()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    challenge_id: String,
    method: String,
    code: String,
}

impl Elevation {
    /// The JSON success response (200, `Cache-Control: no-store`).
    pub fn to_response<B: From<Bytes>>(&self) -> Response<B> {
        let body = json!({
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "acr": self.acr,
            "amr": self.amr,
        });
        let mut res = Response::new(B::from(Bytes::from(body.to_string())));
        let h = res.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }
}

impl StepUpState {
    /// Runs the verify flow for a request head and body. Framework-neutral:
    /// the Axum route calls it; other servers can too.
    ///
    /// # Errors
    ///
    /// A [`VerifyError`], whose [`to_response`](VerifyError::to_response) is the answer.
    pub async fn verify(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<Elevation, VerifyError> {
        let mut subject = None;
        let started = self.policy.inner.rt.clock.now();
        let result = self.verify_inner(parts, body, &mut subject).await;
        crate::metrics::stage_time("verify", self.policy.inner.rt.clock.now().since(started));
        let (method, challenge) = self.named(body);
        let outcome = match &result {
            Ok(_) => "elevated",
            Err(e) => e.as_str(),
        };
        crate::metrics::verification(outcome, method);
        let p = &*self.policy.inner;
        let input = risk_input(p, &parts.headers, &parts.extensions, false);
        let tag = crate::respond::RequestTag::new(parts.method.clone(), input.ip, &parts.headers);
        let subject = subject.unwrap_or_default();
        let challenge = challenge.unwrap_or_default();
        match &result {
            Ok(e) => tracing::info!(
                target: "rasp::verify",
                outcome,
                subject,
                challenge.id = %challenge,
                method = method.unwrap_or(""),
                acr = %e.acr,
                request.id = tag.id(),
                client.address = %tag.client(p.log_addresses),
                "step-up verified"
            ),
            Err(e) => tracing::warn!(
                target: "rasp::verify",
                outcome,
                status = e.status().as_u16(),
                subject,
                challenge.id = %challenge,
                method = method.unwrap_or(""),
                request.id = tag.id(),
                client.address = %tag.client(p.log_addresses),
                "step-up verification failed"
            ),
        }
        result
    }

    /// What the event and the metrics say of a verify body: the factor
    /// method it names when the policy has it (a bounded label), and the
    /// challenge id when it has the shape of the layer's ids (never an
    /// arbitrary string in a log line). Read whatever the flow made of it.
    fn named(&self, body: &[u8]) -> (Option<&'static str>, Option<String>) {
        #[derive(serde::Deserialize)]
        struct Named<'a> {
            #[serde(borrow)]
            method: Option<std::borrow::Cow<'a, str>>,
            challenge_id: Option<String>,
        }
        let Ok(named) = serde_json::from_slice::<Named<'_>>(body) else {
            return (None, None);
        };
        let method = named.method.and_then(|m| {
            self.factors
                .iter()
                .map(|f| f.method())
                .find(|known| *known == m)
        });
        let challenge = named.challenge_id.filter(|id| {
            id.len() == 22
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        (method, challenge)
    }

    /// The flow; `subject` is set once the base token is verified (the
    /// event names it, for failures after that point too).
    async fn verify_inner(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        subject: &mut Option<String>,
    ) -> Result<Elevation, VerifyError> {
        let p = &*self.policy.inner;
        let now = p.rt.clock.now();
        let user_agent = parts
            .headers
            .get(http::header::USER_AGENT)
            .map(HeaderValue::as_bytes);
        let custom = p.identity.as_ref().map(|x| x.identify(parts));
        let identity: Identity =
            resolve_identity(p, bearer_token(&parts.headers), user_agent, custom, now)
                .await?
                .map_err(VerifyError::InvalidToken)?
                .ok_or(VerifyError::InvalidToken(TokenError::Malformed))?;
        *subject = Some(identity.subject().to_owned());
        let req = parse_body(body)?;
        let factor = self
            .factor(&req.method)
            .ok_or(VerifyError::InvalidRequest("unsupported method"))?
            .clone();
        let device = device_binding(user_agent);
        let input = risk_input(p, &parts.headers, &parts.extensions, true);
        let bucket = attempt_bucket(p, identity.subject(), &input, now).await?;
        let record =
            counted_challenge(p, &identity, &bucket, &req.challenge_id, &device, now).await?;
        let ctx = FactorContext {
            policy: &self.policy,
            subject: identity.subject(),
            now,
            skew: p.step_up.totp_skew,
            method: factor.method(),
        };
        match factor.verify(ctx, &req.code).await? {
            FactorOutcome::Accepted => {}
            FactorOutcome::Rejected | FactorOutcome::Replayed => {
                return Err(VerifyError::InvalidCode {
                    attempts_remaining: p.step_up.max_attempts.saturating_sub(record.attempts),
                });
            }
        }
        if !p.rt.stores.challenges.consume(&record.id, now).await? {
            return Err(VerifyError::InvalidChallenge);
        }
        p.rt.stores.attempts.succeed(&bucket, now).await?;
        let elevation = mint(p, &identity, &record, factor.amr(), &device, now)?;
        // The context the factor was proven from is now the subject's own.
        crate::evaluate::confirm_step_up(&p.risk, &p.rt.stores, identity.subject(), &input, now)
            .await?;
        Ok(elevation)
    }
}

/// The verify request's JSON body, within its size limit.
fn parse_body(body: &[u8]) -> Result<VerifyBody, VerifyError> {
    if body.len() > MAX_VERIFY_BODY {
        return Err(VerifyError::InvalidRequest("the request body is too large"));
    }
    serde_json::from_slice(body).map_err(|_| {
        VerifyError::InvalidRequest("expected JSON {\"challenge_id\", \"method\", \"code\"}")
    })
}

/// The failure bucket of `subject`'s verifications from a device with
/// signed cookie `key`.
pub(crate) fn device_bucket(subject: &str, key: u64) -> String {
    format!("{subject}\u{1f}device:{key:016x}")
}

/// Where a verification's failures are counted (OWASP's device-cookie
/// lockout): a device whose signed cookie completed a step-up before has
/// its own bucket; every other device shares the subject's. Someone holding
/// a stolen token can then lock out the unknown devices, never the user's
/// own one.
async fn attempt_bucket(
    p: &crate::policy::PolicyInner,
    subject: &str,
    input: &crate::risk::RiskInput,
    now: crate::clock::Timestamp,
) -> Result<String, StoreError> {
    let Some(key) = crate::risk::cookie_device_key(input) else {
        return Ok(subject.to_owned());
    };
    let known =
        p.rt.stores
            .history
            .load(subject, now)
            .await?
            .is_some_and(|h| h.step_up_devices.contains(&key));
    Ok(if known {
        device_bucket(subject, key)
    } else {
        subject.to_owned()
    })
}

/// Lets the caller's failure bucket try (unless it is backing off), counts
/// the attempt on the caller's own challenge, and checks that it comes from
/// the device the challenge was issued to.
async fn counted_challenge(
    p: &crate::policy::PolicyInner,
    identity: &Identity,
    bucket: &str,
    challenge_id: &str,
    device: &str,
    now: crate::clock::Timestamp,
) -> Result<crate::store::ChallengeRecord, VerifyError> {
    let subject = identity.subject();
    let limits = &p.step_up.subject_limits;
    if let SubjectGate::Locked { retry_after, .. } =
        p.rt.stores.attempts.begin(bucket, limits, now).await?
    {
        return Err(VerifyError::Locked { retry_after });
    }
    let max = p.step_up.max_attempts;
    let record = match p
        .rt
        .stores
        .challenges
        .attempt(challenge_id, subject, identity.session(), max, now)
        .await?
    {
        ChallengeAttempt::Missing => return Err(VerifyError::InvalidChallenge),
        ChallengeAttempt::Burned => return Err(VerifyError::ChallengeBurned),
        ChallengeAttempt::Counted(r) => r,
    };
    let same_device: bool =
        subtle::ConstantTimeEq::ct_eq(record.device.as_bytes(), device.as_bytes()).into();
    if !same_device {
        return Err(VerifyError::InvalidChallenge);
    }
    Ok(record)
}

/// The elevated token for a verified challenge.
fn mint(
    p: &crate::policy::PolicyInner,
    identity: &Identity,
    record: &crate::store::ChallengeRecord,
    amr: &[&str],
    device: &str,
    now: crate::clock::Timestamp,
) -> Result<Elevation, VerifyError> {
    let acr = record
        .acr_values
        .first()
        .cloned()
        .unwrap_or_else(|| "mfa".into());
    let amr: Vec<String> = amr.iter().map(|s| (*s).to_owned()).collect();
    let jti = random_id(&*p.rt.random)
        .map_err(|e| VerifyError::from(StoreError::Unavailable(e.to_string())))?;
    let grant = ElevationGrant {
        subject: identity.subject(),
        session: identity.session(),
        acr: &acr,
        amr: &amr,
        device,
        max_age: Duration::from_secs(record.max_age.max(1)),
        jti: &jti,
    };
    let minted = p
        .tokens
        .mint_elevated(&grant, now)
        .map_err(|_| VerifyError::Unavailable)?;
    Ok(Elevation {
        access_token: minted.token,
        expires_in: minted.expires_in,
        acr,
        amr,
    })
}

#[cfg(feature = "axum")]
pub(crate) async fn handler(
    axum::extract::State(state): axum::extract::State<StepUpState>,
    req: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let failed = |e: VerifyError| {
        crate::respond::verify_failure_for(&state.policy.inner, e.as_str(), e.to_response())
    };
    let bytes = match axum::body::to_bytes(body, MAX_VERIFY_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return failed(VerifyError::InvalidRequest(
                "the request body is too large or unreadable",
            ));
        }
    };
    match state.verify(&parts, &bytes).await {
        Ok(e) => e.to_response(),
        Err(e) => failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `unlock` clears the shared bucket and those of the known devices.
    #[tokio::test]
    async fn unlock_clears_every_bucket_of_the_subject() {
        use crate::store::{SubjectGate, SubjectLimits};
        let clock = crate::MockClock::new(crate::Timestamp::from_secs(1_800_000_000));
        let policy = crate::Policy::builder()
            .tokens(
                crate::TokenConfig::ed25519_from_seed([1; 32])
                    .issuer("i")
                    .audience("a"),
            )
            .with_clock(clock.clone())
            .build()
            .unwrap();
        let state =
            super::super::StepUpState::new(policy.clone(), std::collections::HashMap::new());
        let stores = policy.stores();
        let now = crate::Clock::now(&clock);
        let mut h = crate::risk::SubjectHistory::default();
        h.step_up_devices.remember(42);
        stores
            .history
            .save("carol", h, Duration::from_secs(60), now)
            .await
            .unwrap();
        let limits = SubjectLimits {
            hard_cap: 1,
            ..SubjectLimits::default()
        };
        let device = device_bucket("carol", 42);
        for bucket in ["carol", device.as_str()] {
            // the first attempt counts as a failure; the second meets the hard cap
            stores.attempts.begin(bucket, &limits, now).await.unwrap();
            let gate = stores.attempts.begin(bucket, &limits, now).await.unwrap();
            assert!(
                matches!(gate, SubjectGate::Locked { hard: true, .. }),
                "{bucket}"
            );
        }
        state.unlock("carol").await.unwrap();
        for bucket in ["carol", device.as_str()] {
            let gate = stores.attempts.begin(bucket, &limits, now).await.unwrap();
            assert!(
                !matches!(gate, SubjectGate::Locked { .. }),
                "{bucket} after unlock"
            );
        }
    }

    /// Every verification failure: status, problem type, title, and the
    /// `Retry-After` header and body value rounded the same way.
    #[test]
    fn every_failure_on_the_wire() {
        let locked = VerifyError::Locked {
            retry_after: Duration::from_millis(4_200),
        };
        let rows: [(VerifyError, u16, &str, &str, Option<u64>); 7] = [
            (
                VerifyError::InvalidRequest("bad"),
                400,
                "invalid-request",
                "Invalid request",
                None,
            ),
            (
                VerifyError::InvalidToken(TokenError::Expired),
                401,
                "invalid-token",
                "Invalid or missing access token",
                None,
            ),
            (
                VerifyError::InvalidChallenge,
                403,
                "invalid-challenge",
                "Invalid challenge",
                None,
            ),
            (
                VerifyError::InvalidCode {
                    attempts_remaining: 2,
                },
                403,
                "invalid-code",
                "Invalid code",
                None,
            ),
            (
                VerifyError::ChallengeBurned,
                429,
                "too-many-requests",
                "Too many attempts",
                Some(1),
            ),
            (
                locked,
                429,
                "too-many-requests",
                "Too many attempts",
                Some(5),
            ),
            (
                VerifyError::Unavailable,
                503,
                "unavailable",
                "Service unavailable",
                Some(retry_after_secs(crate::evaluate::UNAVAILABLE_RETRY)),
            ),
        ];
        for (e, status, problem, title, retry) in rows {
            let res: Response<Bytes> = e.to_response();
            let b: serde_json::Value = serde_json::from_slice(res.body()).expect("JSON");
            assert_eq!(res.status().as_u16(), status, "{e:?}");
            assert_eq!(e.status().as_u16(), status, "{e:?}");
            assert_eq!(
                b["type"],
                format!("urn:rasp-stepup:problem:{problem}"),
                "{e:?}"
            );
            assert_eq!(b["title"], title, "{e:?}");
            assert_eq!(b["status"], status, "{e:?}");
            let header = res
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.parse::<u64>().ok());
            assert_eq!(header, retry, "{e:?}");
            assert_eq!(b["retry_after"].as_u64(), retry, "{e:?}");
            assert_eq!(
                res.headers().contains_key(WWW_AUTHENTICATE),
                matches!(e, VerifyError::InvalidToken(_)),
                "{e:?}"
            );
        }
    }
}
