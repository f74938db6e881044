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
use crate::identity::{bearer_token, device_fingerprint};
use crate::respond::{invalid_token_header, problem, problem_types, retry_after_value};
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
        match self {
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidChallenge | Self::InvalidCode { .. } => StatusCode::FORBIDDEN,
            Self::ChallengeBurned | Self::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
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
        let status = self.status();
        let (kind, title, detail) = match self {
            Self::InvalidRequest(why) => (problem_types::INVALID_REQUEST, "Invalid request", *why),
            Self::InvalidToken(e) => (
                problem_types::INVALID_TOKEN,
                "Invalid or missing access token",
                e.description(),
            ),
            Self::InvalidChallenge => (
                problem_types::INVALID_CHALLENGE,
                "Invalid challenge",
                "the challenge is unknown, expired or already used; retry the original request for a new one",
            ),
            Self::InvalidCode { .. } => (
                problem_types::INVALID_CODE,
                "Invalid code",
                "the code is not valid",
            ),
            Self::ChallengeBurned => (
                problem_types::TOO_MANY_REQUESTS,
                "Too many attempts",
                "this challenge used up its attempts; retry the original request for a new one",
            ),
            Self::Locked { .. } => (
                problem_types::TOO_MANY_REQUESTS,
                "Too many attempts",
                "too many failed verifications; wait before trying again",
            ),
            Self::Unavailable => (
                problem_types::UNAVAILABLE,
                "Service unavailable",
                "try again later",
            ),
        };
        let mut body =
            json!({"type": kind, "title": title, "status": status.as_u16(), "detail": detail});
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
            body["retry_after"] = r.as_secs().max(1).into();
        }
        let mut res = problem(status, body);
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
        let result = self.verify_inner(parts, body).await;
        match &result {
            Ok(e) => {
                tracing::info!(target: "rasp::verify", outcome = "elevated", acr = %e.acr, "step-up verified")
            }
            Err(e) => {
                tracing::warn!(target: "rasp::verify", outcome = e.as_str(), status = e.status().as_u16(), "step-up verification failed")
            }
        }
        result
    }

    async fn verify_inner(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<Elevation, VerifyError> {
        let p = &*self.policy.inner;
        let now = p.clock.now();
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

        if body.len() > MAX_VERIFY_BODY {
            return Err(VerifyError::InvalidRequest("the request body is too large"));
        }
        let req: VerifyBody = serde_json::from_slice(body).map_err(|_| {
            VerifyError::InvalidRequest("expected JSON {\"challenge_id\", \"method\", \"code\"}")
        })?;
        let factor = self
            .factor(&req.method)
            .ok_or(VerifyError::InvalidRequest("unsupported method"))?
            .clone();

        let subject = identity.subject();
        if let SubjectGate::Locked { retry_after, .. } = p
            .stores
            .attempts
            .begin(subject, &p.step_up.subject_limits, now)
            .await?
        {
            return Err(VerifyError::Locked { retry_after });
        }

        let max = p.step_up.max_attempts;
        let record = match p
            .stores
            .challenges
            .attempt(&req.challenge_id, subject, identity.session(), max, now)
            .await?
        {
            ChallengeAttempt::Missing => return Err(VerifyError::InvalidChallenge),
            ChallengeAttempt::Burned => return Err(VerifyError::ChallengeBurned),
            ChallengeAttempt::Counted(r) => r,
        };
        let device = device_fingerprint(user_agent);
        let same_device: bool =
            subtle::ConstantTimeEq::ct_eq(record.device.as_bytes(), device.as_bytes()).into();
        if !same_device {
            return Err(VerifyError::InvalidChallenge);
        }

        let ctx = FactorContext {
            policy: &self.policy,
            subject,
            now,
            skew: p.step_up.totp_skew,
        };
        match factor.verify(ctx, &req.code).await? {
            FactorOutcome::Accepted => {}
            FactorOutcome::Rejected | FactorOutcome::Replayed => {
                return Err(VerifyError::InvalidCode {
                    attempts_remaining: max.saturating_sub(record.attempts),
                });
            }
        }
        if !p.stores.challenges.consume(&record.id, now).await? {
            return Err(VerifyError::InvalidChallenge);
        }
        p.stores.attempts.succeed(subject, now).await?;

        let acr = record
            .acr_values
            .first()
            .cloned()
            .unwrap_or_else(|| "mfa".into());
        let amr: Vec<String> = factor.amr().iter().map(|s| (*s).to_owned()).collect();
        let jti = random_id(&*p.random)
            .map_err(|e| VerifyError::from(StoreError::Unavailable(e.to_string())))?;
        let grant = ElevationGrant {
            subject,
            session: identity.session(),
            acr: &acr,
            amr: &amr,
            device: &device,
            max_age: Duration::from_secs(record.max_age.max(1)),
            jti: &jti,
        };
        let minted = p
            .tokens
            .mint_elevated(&grant, now)
            .map_err(|_| VerifyError::Unavailable)?;
        // The context the factor was proven from is now the subject's own.
        let input = p.risk_input(&parts.headers, &parts.extensions, true);
        crate::evaluate::confirm_step_up(&p.risk, &p.stores, identity.subject(), &input, now)
            .await?;
        Ok(Elevation {
            access_token: minted.token,
            expires_in: minted.expires_in,
            acr,
            amr,
        })
    }
}

#[cfg(feature = "axum")]
pub(crate) async fn handler(
    axum::extract::State(state): axum::extract::State<StepUpState>,
    req: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_VERIFY_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return VerifyError::InvalidRequest("the request body is too large or unreadable")
                .to_response();
        }
    };
    match state.verify(&parts, &bytes).await {
        Ok(e) => e.to_response(),
        Err(e) => e.to_response(),
    }
}
