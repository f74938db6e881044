//! Decision -> response: the only place that knows statuses, headers and bodies.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response};
use serde_json::json;

use crate::decision::{Challenge, Decision, Monitored, Rejection, RejectionKind};
use crate::level::Sensitivity;

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
}

/// Quotes a value for an auth-param (RFC 9110 §5.6.4 quoted-string).
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        if c.is_ascii() && !c.is_ascii_control() {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// The `WWW-Authenticate` value of a step-up challenge (RFC 9470 §3).
#[must_use]
pub fn step_up_header(challenge: &Challenge) -> String {
    format!(
        "Bearer error=\"insufficient_user_authentication\", error_description={}, acr_values={}, max_age={}",
        quoted(&describe_level(challenge.sensitivity)),
        quoted(&challenge.acr_values.join(" ")),
        quoted(&challenge.max_age.to_string()),
    )
}

fn describe_level(level: Sensitivity) -> String {
    format!("a stronger, more recent authentication is required for this {level} operation")
}

/// The `WWW-Authenticate` value of an `invalid_token` answer (RFC 6750 §3).
#[must_use]
pub fn invalid_token_header(description: &str) -> String {
    format!(
        "Bearer error=\"invalid_token\", error_description={}",
        quoted(description)
    )
}

pub(crate) fn problem<B: From<Bytes>>(
    status: http::StatusCode,
    body: serde_json::Value,
) -> Response<B> {
    let mut res = Response::new(B::from(Bytes::from(body.to_string())));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

pub(crate) fn retry_after_value(d: std::time::Duration) -> HeaderValue {
    let secs = d.as_millis().div_ceil(1000).max(1);
    HeaderValue::from(u64::try_from(secs).unwrap_or(u64::MAX))
}

fn header(value: String) -> HeaderValue {
    // Built from quoted ASCII only; fall back to a minimal valid value.
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

/// Builds the response of a non-allow decision and records the decision in
/// its extensions.
pub(crate) fn respond<B: From<Bytes>>(decision: Decision) -> Response<B> {
    let mut res = match &decision {
        Decision::Allow => {
            // Never called with Allow; answer safely anyway.
            problem(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                json!({"type": problem_types::MISCONFIGURED, "title": "Internal error", "status": 500}),
            )
        }
        Decision::StepUp(c) => step_up(c),
        Decision::Reject(r) => reject(r),
    };
    match &decision {
        Decision::StepUp(c) => {
            res.extensions_mut().insert(c.clone());
        }
        Decision::Reject(r) => {
            res.extensions_mut().insert(r.clone());
        }
        Decision::Allow => {}
    }
    res.extensions_mut().insert(decision);
    res
}

fn step_up<B: From<Bytes>>(c: &Challenge) -> Response<B> {
    let mut res = problem(
        http::StatusCode::UNAUTHORIZED,
        json!({
            "type": problem_types::STEP_UP_REQUIRED,
            "title": "Step-up authentication required",
            "status": 401,
            "detail": describe_level(c.sensitivity),
            "challenge_id": c.id,
            "verify_uri": c.verify_uri,
            "methods": c.methods,
            "expires_in": c.expires_in,
            "acr_values": c.acr_values.join(" "),
            "max_age": c.max_age,
        }),
    );
    res.headers_mut()
        .insert(WWW_AUTHENTICATE, header(step_up_header(c)));
    res
}

fn reject<B: From<Bytes>>(r: &Rejection) -> Response<B> {
    let status = r.kind.status();
    let (kind, title) = match r.kind {
        RejectionKind::InvalidToken => (
            problem_types::INVALID_TOKEN,
            "Invalid or missing access token",
        ),
        RejectionKind::RateLimited => (problem_types::TOO_MANY_REQUESTS, "Too many requests"),
        RejectionKind::Unavailable => (problem_types::UNAVAILABLE, "Service unavailable"),
        RejectionKind::Misconfigured => (problem_types::MISCONFIGURED, "Internal error"),
        RejectionKind::PayloadTooLarge => (problem_types::PAYLOAD_TOO_LARGE, "Payload too large"),
        RejectionKind::BadRequest => (problem_types::INVALID_REQUEST, "Invalid request"),
        _ => (problem_types::REJECTED, "Request rejected"),
    };
    let mut body = json!({
        "type": kind,
        "title": title,
        "status": status.as_u16(),
        "incident_id": r.incident,
    });
    if r.kind == RejectionKind::InvalidToken {
        body["detail"] = r.description.into();
    }
    if let Some(d) = r.retry_after {
        body["retry_after"] = retry_after_value(d)
            .to_str()
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .into();
    }
    let mut res = problem(status, body);
    let h = res.headers_mut();
    if r.kind == RejectionKind::InvalidToken {
        h.insert(
            WWW_AUTHENTICATE,
            header(invalid_token_header(r.description)),
        );
    }
    if let Some(d) = r.retry_after {
        h.insert(RETRY_AFTER, retry_after_value(d));
    }
    if let Some(rate) = &r.rate {
        h.insert("ratelimit-policy", header(rate.policy_header()));
        h.insert("ratelimit", header(rate.limit_header()));
    }
    res
}

/// [`log_decision`], with throttled requests summarized by the policy's
/// [`ThrottleLog`](crate::policy::ThrottleLog).
pub(crate) fn log_outcome(
    p: &crate::policy::PolicyInner,
    decision: &Decision,
    level: Sensitivity,
    route: Option<&str>,
    subject: Option<&str>,
    assessment: Option<&crate::risk::Assessment>,
    monitor: bool,
) {
    let r = match decision {
        Decision::Reject(r) if r.kind == RejectionKind::RateLimited => r,
        _ => return log_decision(decision, level, route, subject, assessment, monitor),
    };
    let route = route.unwrap_or("<unmatched>");
    match p.throttle_log.admit(p.clock.now().as_secs()) {
        Some(quiet) => tracing::warn!(
            target: "rasp::decision",
            decision = r.kind.as_str(),
            monitor,
            route.template = route,
            route.sensitivity = level.as_str(),
            subject = subject.unwrap_or(""),
            incident = %r.incident,
            status = r.kind.status().as_u16(),
            throttled_since_last_warning = quiet,
            "request rejected"
        ),
        None => tracing::debug!(
            target: "rasp::decision",
            decision = r.kind.as_str(),
            monitor,
            route.template = route,
            route.sensitivity = level.as_str(),
            subject = subject.unwrap_or(""),
            incident = %r.incident,
            status = r.kind.status().as_u16(),
            "request rejected"
        ),
    }
}

/// Logs one decision: one `tracing` event per non-allow decision, target
/// `rasp::decision`, structured fields only (never tokens, codes or bodies).
pub(crate) fn log_decision(
    decision: &Decision,
    level: Sensitivity,
    route: Option<&str>,
    subject: Option<&str>,
    assessment: Option<&crate::risk::Assessment>,
    monitor: bool,
) {
    let route = route.unwrap_or("<unmatched>");
    let subject = subject.unwrap_or("");
    let (risk_score, risk_codes) =
        assessment.map_or((0.0, String::new()), |a| (a.score, a.codes().join(",")));
    match decision {
        Decision::Allow => {}
        Decision::StepUp(c) => tracing::info!(
            target: "rasp::decision",
            decision = "step_up",
            monitor,
            route.template = route,
            route.sensitivity = level.as_str(),
            subject,
            challenge.acr_values = %c.acr_values.join(" "),
            challenge.max_age = c.max_age,
            risk.score = risk_score,
            risk.codes = %risk_codes,
            "step-up required"
        ),
        Decision::Reject(r) => tracing::warn!(
            target: "rasp::decision",
            decision = r.kind.as_str(),
            monitor,
            route.template = route,
            route.sensitivity = level.as_str(),
            subject,
            incident = %r.incident,
            status = r.kind.status().as_u16(),
            rules = %r.rules.join(","),
            risk.score = risk_score,
            risk.codes = %risk_codes,
            "request rejected"
        ),
    }
}

/// Attaches a monitored decision to a passed response.
pub(crate) fn attach_monitored<B>(res: &mut Response<B>, decision: Decision) {
    res.extensions_mut().insert(Monitored(decision));
}
