//! Every outcome the layer and the verify route answer with, and how each
//! looks on the wire: the one table of statuses, problem types and titles
//! (RFC 9457), and the one rounding of `Retry-After`.

use std::time::Duration;

use http::StatusCode;

/// `Content-Type` of every error body (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Problem type URIs, stable across versions (see docs/step-up-protocol.md).
pub mod problem_types {
    /// 401 step-up challenge.
    pub const STEP_UP_REQUIRED: &str = "urn:rasp-stepup:problem:step-up-required";
    /// 401 missing or invalid token.
    pub const INVALID_TOKEN: &str = "urn:rasp-stepup:problem:invalid-token";
    /// 403 rejected request.
    pub const REJECTED: &str = "urn:rasp-stepup:problem:request-rejected";
    /// 429 too many requests or attempts.
    pub const TOO_MANY_REQUESTS: &str = "urn:rasp-stepup:problem:too-many-requests";
    /// 503 store unavailable.
    pub const UNAVAILABLE: &str = "urn:rasp-stepup:problem:unavailable";
    /// 500 misassembled layers.
    pub const MISCONFIGURED: &str = "urn:rasp-stepup:problem:misconfigured";
    /// 400 malformed verify request.
    pub const INVALID_REQUEST: &str = "urn:rasp-stepup:problem:invalid-request";
    /// 403 unknown, expired, used or foreign challenge.
    pub const INVALID_CHALLENGE: &str = "urn:rasp-stepup:problem:invalid-challenge";
    /// 403 wrong code.
    pub const INVALID_CODE: &str = "urn:rasp-stepup:problem:invalid-code";
    /// 413 body larger than the inspection limit.
    pub const PAYLOAD_TOO_LARGE: &str = "urn:rasp-stepup:problem:payload-too-large";
    /// 415 body in an encoding the policy does not inspect.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "urn:rasp-stepup:problem:unsupported-media-type";
}

/// An outcome that is answered with a problem+json body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A step-up challenge (401).
    StepUpRequired,
    /// Missing or invalid access token (401).
    InvalidToken,
    /// Injection, risk or device drift (403).
    Rejected,
    /// A quota (429).
    TooManyRequests,
    /// A verification attempt limit or back-off (429).
    TooManyAttempts,
    /// A store or the randomness source failed, failing closed (503).
    Unavailable,
    /// Misassembled layers (500).
    Misconfigured,
    /// A body over the inspection limit or budget (413).
    PayloadTooLarge,
    /// A malformed request (400).
    InvalidRequest,
    /// A body in an encoding that is not inspected (415).
    UnsupportedMediaType,
    /// An unknown, expired, used or foreign challenge (403).
    InvalidChallenge,
    /// A wrong or replayed code (403).
    InvalidCode,
}

/// How an outcome looks on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Wire {
    pub(crate) status: StatusCode,
    pub(crate) problem_type: &'static str,
    pub(crate) title: &'static str,
}

impl Outcome {
    /// The one table.
    pub(crate) const fn wire(self) -> Wire {
        let (status, problem_type, title) = match self {
            Self::StepUpRequired => (
                StatusCode::UNAUTHORIZED,
                problem_types::STEP_UP_REQUIRED,
                "Step-up authentication required",
            ),
            Self::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                problem_types::INVALID_TOKEN,
                "Invalid or missing access token",
            ),
            Self::Rejected => (
                StatusCode::FORBIDDEN,
                problem_types::REJECTED,
                "Request rejected",
            ),
            Self::TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                problem_types::TOO_MANY_REQUESTS,
                "Too many requests",
            ),
            Self::TooManyAttempts => (
                StatusCode::TOO_MANY_REQUESTS,
                problem_types::TOO_MANY_REQUESTS,
                "Too many attempts",
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                problem_types::UNAVAILABLE,
                "Service unavailable",
            ),
            Self::Misconfigured => (
                StatusCode::INTERNAL_SERVER_ERROR,
                problem_types::MISCONFIGURED,
                "Internal error",
            ),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                problem_types::PAYLOAD_TOO_LARGE,
                "Payload too large",
            ),
            Self::InvalidRequest => (
                StatusCode::BAD_REQUEST,
                problem_types::INVALID_REQUEST,
                "Invalid request",
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                problem_types::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported media type",
            ),
            Self::InvalidChallenge => (
                StatusCode::FORBIDDEN,
                problem_types::INVALID_CHALLENGE,
                "Invalid challenge",
            ),
            Self::InvalidCode => (
                StatusCode::FORBIDDEN,
                problem_types::INVALID_CODE,
                "Invalid code",
            ),
        };
        Wire {
            status,
            problem_type,
            title,
        }
    }
}

/// Seconds to wait, as `Retry-After` and the body's `retry_after` both
/// say it: rounded up (waiting less than asked is refused again), at least 1.
pub(crate) fn retry_after_secs(d: Duration) -> u64 {
    u64::try_from(d.as_millis().div_ceil(1000))
        .unwrap_or(u64::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        use Outcome::*;
        let rows = [
            (
                StepUpRequired,
                401,
                "step-up-required",
                "Step-up authentication required",
            ),
            (
                InvalidToken,
                401,
                "invalid-token",
                "Invalid or missing access token",
            ),
            (Rejected, 403, "request-rejected", "Request rejected"),
            (
                TooManyRequests,
                429,
                "too-many-requests",
                "Too many requests",
            ),
            (
                TooManyAttempts,
                429,
                "too-many-requests",
                "Too many attempts",
            ),
            (Unavailable, 503, "unavailable", "Service unavailable"),
            (Misconfigured, 500, "misconfigured", "Internal error"),
            (
                PayloadTooLarge,
                413,
                "payload-too-large",
                "Payload too large",
            ),
            (InvalidRequest, 400, "invalid-request", "Invalid request"),
            (
                UnsupportedMediaType,
                415,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            (
                InvalidChallenge,
                403,
                "invalid-challenge",
                "Invalid challenge",
            ),
            (InvalidCode, 403, "invalid-code", "Invalid code"),
        ];
        for (outcome, status, kind, title) in rows {
            let w = outcome.wire();
            assert_eq!(w.status.as_u16(), status, "{outcome:?}");
            assert_eq!(
                w.problem_type,
                format!("urn:rasp-stepup:problem:{kind}"),
                "{outcome:?}"
            );
            assert_eq!(w.title, title, "{outcome:?}");
        }
    }

    #[test]
    fn retry_after_rounds_up() {
        for (ms, secs) in [(0, 1), (1, 1), (999, 1), (1000, 1), (1001, 2), (59_400, 60)] {
            assert_eq!(retry_after_secs(Duration::from_millis(ms)), secs, "{ms} ms");
        }
    }
}
