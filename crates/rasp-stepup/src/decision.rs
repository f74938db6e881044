//! What the layer decided about a request.

use std::fmt;
use std::time::Duration;

use http::StatusCode;

use crate::level::Sensitivity;
use crate::outcome::Outcome;

/// The outcome of evaluating a request. Non-allow decisions are inserted into
/// the response extensions (in monitor mode wrapped in [`Monitored`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Decision {
    /// The request passes.
    Allow,
    /// A second factor is needed: 401 with an RFC 9470 challenge.
    StepUp(Challenge),
    /// The request is refused (401 `invalid_token`, 403, 429, 503...).
    Reject(Rejection),
}

impl Decision {
    /// The status the decision answers with (200 placeholder for `Allow`).
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Allow => StatusCode::OK,
            Self::StepUp(_) => StatusCode::UNAUTHORIZED,
            Self::Reject(r) => r.kind.status(),
        }
    }

    /// A short name for logs: `allow`, `step_up` or the rejection kind.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::StepUp(_) => "step_up",
            Self::Reject(r) => r.kind.as_str(),
        }
    }
}

/// The would-be decision of a request that passed in monitor mode.
#[derive(Clone, Debug, PartialEq)]
pub struct Monitored(pub Decision);

/// An RFC 9470 step-up challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Challenge {
    /// The challenge id to send to the verify route.
    pub id: String,
    /// The sensitivity whose requirement was not met.
    pub sensitivity: Sensitivity,
    /// Acceptable `acr` values.
    pub acr_values: Vec<String>,
    /// Required freshness, in seconds.
    pub max_age: u64,
    /// Seconds until the challenge expires.
    pub expires_in: u64,
    /// Where to complete it.
    pub verify_uri: String,
    /// Factors that can complete it (`"totp"`).
    pub methods: Vec<String>,
}

/// A refused request. The client sees only the status, a generic body and
/// an incident id; the kind goes to logs and response extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub(crate) kind: RejectionKind,
    pub(crate) incident: String,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) description: &'static str,
    pub(crate) rate: Option<crate::risk::RateLimited>,
    /// Rule ids behind an injection rejection (logs only, never sent).
    pub(crate) rules: Vec<&'static str>,
}

impl Rejection {
    /// The attack classes of this rejection's rules, once each, sorted: a
    /// detection rule's class, or for a sink guard's rule (`sink-sql`…)
    /// the class of that sink's injection.
    pub(crate) fn finding_classes(&self) -> Vec<&'static str> {
        let mut classes: Vec<&'static str> = self
            .rules
            .iter()
            .filter_map(|id| match id.strip_prefix("sink-") {
                Some("sql") => Some("sqli"),
                Some("path") => Some("traversal"),
                Some("url") => Some("ssrf"),
                Some(_) => Some("cmdi"),
                None => rasp_detect::rules()
                    .find(|r| r.id() == *id)
                    .map(|r| r.class().as_str()),
            })
            .collect();
        classes.sort_unstable();
        classes.dedup();
        classes
    }

    pub(crate) fn new(kind: RejectionKind, incident: String) -> Self {
        Self {
            kind,
            incident,
            retry_after: None,
            description: kind.default_description(),
            rate: None,
            rules: Vec::new(),
        }
    }

    pub(crate) fn retry_after(mut self, d: Duration) -> Self {
        self.retry_after = Some(d);
        self
    }

    pub(crate) fn describe(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    /// What kind of rejection.
    #[must_use]
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// The incident id given to the client, to correlate with logs.
    #[must_use]
    pub fn incident_id(&self) -> &str {
        &self.incident
    }

    /// The rule ids behind an injection rejection (for logs and tuning;
    /// never sent to the client).
    #[must_use]
    pub fn rule_ids(&self) -> &[&'static str] {
        &self.rules
    }

    /// The `Retry-After` hint, when the kind has one.
    #[must_use]
    pub fn retry_after_hint(&self) -> Option<Duration> {
        self.retry_after
    }
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionKind {
    /// Missing or invalid credentials (401 `invalid_token`, RFC 6750).
    InvalidToken,
    /// An injection attack was detected (403).
    Injection,
    /// The request's risk is above the reject threshold (403).
    Risk,
    /// The device differs from the session's (403).
    DeviceDrift,
    /// Too many requests or attempts (429).
    RateLimited,
    /// A store or randomness source failed and the route fails closed (503).
    Unavailable,
    /// The layers are assembled wrongly (500), e.g. [`Sensitive`](crate::Sensitive)
    /// without an outer [`RaspStepUp`](crate::RaspStepUp).
    Misconfigured,
    /// The body is larger than the inspection limit allows (413).
    PayloadTooLarge,
    /// The request could not be read (400): the body stream failed, or
    /// the body is not what its headers declare (two `Content-Type`
    /// headers, JSON that does not parse, multipart without a boundary,
    /// compressed data that does not decompress).
    BadRequest,
    /// The body's `Content-Encoding` is one the policy does not inspect
    /// (415).
    UnsupportedMediaType,
}

impl RejectionKind {
    /// The answer's status.
    #[must_use]
    pub fn status(self) -> StatusCode {
        self.outcome().wire().status
    }

    /// How this rejection is answered (the one table in `outcome.rs`).
    pub(crate) fn outcome(self) -> Outcome {
        match self {
            Self::InvalidToken => Outcome::InvalidToken,
            Self::Injection | Self::Risk | Self::DeviceDrift => Outcome::Rejected,
            Self::RateLimited => Outcome::TooManyRequests,
            Self::Unavailable => Outcome::Unavailable,
            Self::Misconfigured => Outcome::Misconfigured,
            Self::PayloadTooLarge => Outcome::PayloadTooLarge,
            Self::BadRequest => Outcome::InvalidRequest,
            Self::UnsupportedMediaType => Outcome::UnsupportedMediaType,
        }
    }

    /// The kind's name in logs.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidToken => "invalid_token",
            Self::Injection => "injection",
            Self::Risk => "risk",
            Self::DeviceDrift => "device_drift",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Misconfigured => "misconfigured",
            Self::PayloadTooLarge => "payload_too_large",
            Self::BadRequest => "bad_request",
            Self::UnsupportedMediaType => "unsupported_media_type",
        }
    }

    fn default_description(self) -> &'static str {
        match self {
            Self::InvalidToken => "the access token is missing or invalid",
            Self::RateLimited => "too many requests",
            Self::Unavailable => "temporarily unavailable",
            Self::Misconfigured => "server misconfiguration",
            _ => "the request was rejected",
        }
    }
}

impl fmt::Display for RejectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Renders the layer's own answers (challenges, rejections, throttles) in
/// the application's format: its own JSON error shape, an HTML page for
/// browsers. The layer keeps what the protocols need whatever the hook
/// returns: the status, `WWW-Authenticate` (RFC 6750, RFC 9470),
/// `Retry-After`, `RateLimit` and `RateLimit-Policy`, `Cache-Control:
/// no-store`, `X-Request-Id`, and the response extensions (`Challenge`,
/// `Rejection`, `Decision`); it takes the body and every other header from
/// the hook.
///
/// ```
/// use bytes::Bytes;
/// use http::{Response, header};
/// use rasp_stepup::{Decision, Responder};
///
/// struct OwnErrors;
///
/// impl Responder for OwnErrors {
///     fn respond(&self, decision: &Decision, default: Response<Bytes>) -> Response<Bytes> {
///         let code = match decision {
///             Decision::StepUp(c) => format!("step_up:{}", c.id),
///             Decision::Reject(r) => r.kind().as_str().to_owned(),
///             _ => return default,
///         };
///         let mut res = Response::new(Bytes::from(format!(r#"{{"error":"{code}"}}"#)));
///         res.headers_mut()
///             .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
///         res
///     }
/// }
/// # let _ = rasp_stepup::Policy::builder().responder(OwnErrors);
/// ```
pub trait Responder: Send + Sync + 'static {
    /// The answer to send for `decision`; `default` is the layer's
    /// problem+json answer.
    fn respond(
        &self,
        decision: &Decision,
        default: http::Response<bytes::Bytes>,
    ) -> http::Response<bytes::Bytes>;

    /// The answer of the companion verify route when a verification fails;
    /// `kind` names the failure as `VerifyError::as_str` does
    /// (`invalid_code`, `invalid_challenge`, `locked`…), `default` is the
    /// route's problem+json answer. The same headers stay the route's.
    /// By default the route's answer is sent as it is.
    fn respond_verify(
        &self,
        kind: &'static str,
        default: http::Response<bytes::Bytes>,
    ) -> http::Response<bytes::Bytes> {
        let _ = kind;
        default
    }
}
