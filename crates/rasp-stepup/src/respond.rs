//! Decision -> response: the only place that knows statuses, headers and bodies.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response};
use serde_json::json;

pub use crate::decision::Responder;
use crate::decision::{Challenge, Decision, Monitored, Rejection, RejectionKind};
use crate::level::Sensitivity;
use crate::policy::LogAddresses;

use crate::outcome::{Outcome, PROBLEM_JSON, retry_after_secs};

/// The header a request id is read from and echoed in (as tower-http's
/// request-id layers name it).
pub(crate) const REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// What a decision event says of the request around it: its method, the
/// client's address (as the policy logs addresses), and its request id
/// (the client's `X-Request-Id` when it sent a usable one, else a new one;
/// echoed in the layer's own answers). Built only when an event is logged.
#[derive(Clone, Debug)]
pub(crate) struct RequestTag {
    pub(crate) method: http::Method,
    client: Option<std::net::IpAddr>,
    id: HeaderValue,
}

impl RequestTag {
    /// The tag of `req` under policy `p`.
    pub(crate) fn of<B>(p: &crate::policy::PolicyInner, req: &http::Request<B>) -> Self {
        let client = crate::risk::client_ip(
            crate::risk::peer_of(req.extensions()),
            req.headers(),
            &p.risk.trusted_proxies,
            &p.risk.client_header,
        );
        Self::new(req.method().clone(), client, req.headers())
    }

    pub(crate) fn new(
        method: http::Method,
        client: Option<std::net::IpAddr>,
        headers: &http::HeaderMap,
    ) -> Self {
        Self::with_id(method, client, given_request_id(headers))
    }

    /// The tag with the client's request id, when it sent one.
    pub(crate) fn with_id(
        method: http::Method,
        client: Option<std::net::IpAddr>,
        given: Option<HeaderValue>,
    ) -> Self {
        Self {
            method,
            client,
            id: given.unwrap_or_else(new_request_id),
        }
    }

    /// Echoes the request id in a response of the layer's own.
    pub(crate) fn echo<B>(&self, res: &mut Response<B>) {
        res.headers_mut()
            .entry(REQUEST_ID)
            .or_insert_with(|| self.id.clone());
    }

    pub(crate) fn id(&self) -> &str {
        self.id.to_str().unwrap_or("")
    }

    pub(crate) fn client(&self, how: LogAddresses) -> String {
        use std::net::IpAddr;
        match (how, self.client) {
            (LogAddresses::Omitted, _) | (_, None) => String::new(),
            (LogAddresses::Full, Some(ip)) => ip.to_string(),
            (LogAddresses::Truncated, Some(IpAddr::V4(v4))) => {
                let [a, b, c, _] = v4.octets();
                format!("{a}.{b}.{c}.0/24")
            }
            (LogAddresses::Truncated, Some(IpAddr::V6(v6))) => {
                let net = u128::from(v6) & (u128::MAX << 80);
                format!("{}/48", std::net::Ipv6Addr::from(net))
            }
        }
    }
}

/// The client's `X-Request-Id`, when it is 1–128 visible ASCII characters.
pub(crate) fn given_request_id(headers: &http::HeaderMap) -> Option<HeaderValue> {
    headers
        .get(&REQUEST_ID)
        .filter(|v| {
            let b = v.as_bytes();
            (1..=128).contains(&b.len()) && b.iter().all(|c| c.is_ascii_graphic())
        })
        .cloned()
}

/// A request id unique across processes: a random prefix drawn once per
/// process, and a counter.
fn new_request_id() -> HeaderValue {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let mut b = [0u8; 8];
        // without randomness the counter alone still tells this process's
        // requests apart
        let _ = getrandom::fill(&mut b);
        u64::from_le_bytes(b)
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    HeaderValue::try_from(format!("{prefix:016x}-{n:x}"))
        .unwrap_or_else(|_| HeaderValue::from_static("-"))
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
    HeaderValue::from(retry_after_secs(d))
}

/// The answer to a route probe of `check_routes` (no body).
pub(crate) fn probe_answer<B: From<Bytes>>() -> Response<B> {
    let mut res = Response::new(B::from(Bytes::new()));
    *res.status_mut() = http::StatusCode::NO_CONTENT;
    res
}

/// A problem+json answer for `outcome` with the table's status, type and
/// title, and `extra` members.
pub(crate) fn problem_of<B: From<Bytes>>(
    outcome: Outcome,
    extra: serde_json::Value,
) -> Response<B> {
    let w = outcome.wire();
    let mut body = json!({
        "type": w.problem_type,
        "title": w.title,
        "status": w.status.as_u16(),
    });
    if let (Some(body), serde_json::Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    problem(w.status, body)
}

fn header(value: String) -> HeaderValue {
    // Built from quoted ASCII only; fall back to a minimal valid value.
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

/// Builds the response of a non-allow decision and records the decision in
/// its extensions.
/// The headers the protocols need, kept from the layer's own answer.
const KEPT: [http::HeaderName; 5] = [
    WWW_AUTHENTICATE,
    RETRY_AFTER,
    CACHE_CONTROL,
    http::HeaderName::from_static("ratelimit"),
    http::HeaderName::from_static("ratelimit-policy"),
];

/// [`respond`] under policy `p`: its responder hook, and its choice of
/// `WWW-Authenticate` challenges.
pub(crate) fn respond_for<B: From<Bytes>>(
    p: &crate::policy::PolicyInner,
    decision: Decision,
) -> Response<B> {
    if p.responder.is_none() && p.bearer_challenges {
        return respond(decision);
    }
    let mut default: Response<Bytes> = respond(decision.clone());
    if !p.bearer_challenges {
        default.headers_mut().remove(WWW_AUTHENTICATE);
    }
    let Some(hook) = &p.responder else {
        return default.map(B::from);
    };
    keep_protocol(default, |d| hook.respond(&decision, d)).map(B::from)
}

#[cfg(feature = "axum")]
/// The verify route's answer to a failure under policy `p`: its
/// responder's `respond_verify`, and its choice of `WWW-Authenticate`.
pub(crate) fn verify_failure_for<B: From<Bytes>>(
    p: &crate::policy::PolicyInner,
    kind: &'static str,
    mut default: Response<Bytes>,
) -> Response<B> {
    if !p.bearer_challenges {
        default.headers_mut().remove(WWW_AUTHENTICATE);
    }
    match &p.responder {
        Some(hook) => keep_protocol(default, |d| hook.respond_verify(kind, d)).map(B::from),
        None => default.map(B::from),
    }
}

/// `render(default)`, with the status, the protocol headers and the
/// extensions of `default` put back.
fn keep_protocol(
    default: Response<Bytes>,
    render: impl FnOnce(Response<Bytes>) -> Response<Bytes>,
) -> Response<Bytes> {
    let status = default.status();
    let kept: Vec<(http::HeaderName, HeaderValue)> = KEPT
        .iter()
        .filter_map(|n| default.headers().get(n).map(|v| (n.clone(), v.clone())))
        .collect();
    let extensions = default.extensions().clone();
    let mut res = render(default);
    *res.status_mut() = status;
    for name in &KEPT {
        res.headers_mut().remove(name);
    }
    for (name, value) in kept {
        res.headers_mut().insert(name, value);
    }
    *res.extensions_mut() = extensions;
    res
}

pub(crate) fn respond<B: From<Bytes>>(decision: Decision) -> Response<B> {
    let mut res = match &decision {
        Decision::Allow => {
            // Never called with Allow; answer safely anyway.
            problem_of(Outcome::Misconfigured, json!({}))
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
    let mut res = problem_of(
        Outcome::StepUpRequired,
        json!({
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
    let mut extra = json!({ "incident_id": r.incident });
    // what the client must fix: its token, or its body (never which rule)
    if matches!(
        r.kind,
        RejectionKind::InvalidToken
            | RejectionKind::BadRequest
            | RejectionKind::PayloadTooLarge
            | RejectionKind::UnsupportedMediaType
    ) {
        extra["detail"] = r.description.into();
    }
    if let Some(d) = r.retry_after {
        extra["retry_after"] = retry_after_secs(d).into();
    }
    let mut res = problem_of(r.kind.outcome(), extra);
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

/// Where a decision was taken: the route's level and template, and the
/// request's tag.
pub(crate) struct At<'a> {
    pub(crate) level: Sensitivity,
    pub(crate) route: Option<&'a str>,
    pub(crate) tag: &'a RequestTag,
}

/// [`log_decision`], with throttled requests summarized by the policy's
/// [`ThrottleLog`](crate::policy::ThrottleLog).
pub(crate) fn log_outcome(
    p: &crate::policy::PolicyInner,
    decision: &Decision,
    at: &At<'_>,
    subject: Option<&str>,
    assessment: Option<&crate::risk::Assessment>,
    monitor: bool,
) {
    let (level, route) = (at.level, at.route);
    let r = match decision {
        Decision::Reject(r) if r.kind == RejectionKind::RateLimited => r,
        _ => return log_decision(p, decision, at, subject, assessment, monitor),
    };
    crate::metrics::decision(decision, level, route, monitor);
    let route = route.unwrap_or("<unmatched>");
    match p.rt.throttle_log.admit(p.rt.clock.now().as_secs()) {
        Some(quiet) => tracing::warn!(
            target: "rasp::decision",
            decision = r.kind.as_str(),
            monitor,
            route.template = route,
            route.sensitivity = level.as_str(),
            request.method = %at.tag.method,
            request.id = at.tag.id(),
            client.address = %at.tag.client(p.log_addresses),
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
            request.method = %at.tag.method,
            request.id = at.tag.id(),
            client.address = %at.tag.client(p.log_addresses),
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
    p: &crate::policy::PolicyInner,
    decision: &Decision,
    at: &At<'_>,
    subject: Option<&str>,
    assessment: Option<&crate::risk::Assessment>,
    monitor: bool,
) {
    let (level, route) = (at.level, at.route);
    crate::metrics::decision(decision, level, route, monitor);
    let client = at.tag.client(p.log_addresses);
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
            request.method = %at.tag.method,
            request.id = at.tag.id(),
            client.address = %client,
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
            request.method = %at.tag.method,
            request.id = at.tag.id(),
            client.address = %client,
            subject,
            incident = %r.incident,
            status = r.kind.status().as_u16(),
            rules = %r.rules.join(","),
            finding.classes = %r.finding_classes().join(","),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn body(res: &Response<Bytes>) -> serde_json::Value {
        serde_json::from_slice(res.body()).expect("a JSON body")
    }

    fn header<'a>(res: &'a Response<Bytes>, name: &str) -> Option<&'a str> {
        res.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// Every rejection kind: status, problem type, title, and the headers
    /// that go with it; `Retry-After` and the body's `retry_after` agree.
    #[test]
    fn every_rejection_on_the_wire() {
        use RejectionKind::*;
        let rows = [
            (InvalidToken, 401, "invalid-token", true),
            (Injection, 403, "request-rejected", false),
            (Risk, 403, "request-rejected", false),
            (DeviceDrift, 403, "request-rejected", false),
            (RateLimited, 429, "too-many-requests", false),
            (Unavailable, 503, "unavailable", false),
            (Misconfigured, 500, "misconfigured", false),
            (PayloadTooLarge, 413, "payload-too-large", false),
            (BadRequest, 400, "invalid-request", false),
            (UnsupportedMediaType, 415, "unsupported-media-type", false),
        ];
        for (kind, status, problem, challenge_header) in rows {
            let r = Rejection::new(kind, "inc-1".into())
                .retry_after(std::time::Duration::from_millis(1_500));
            let res: Response<Bytes> = respond(Decision::Reject(r));
            let b = body(&res);
            assert_eq!(res.status().as_u16(), status, "{kind:?}");
            assert_eq!(b["status"], status, "{kind:?}");
            assert_eq!(
                b["type"],
                format!("urn:rasp-stepup:problem:{problem}"),
                "{kind:?}"
            );
            assert_eq!(b["title"], kind.outcome().wire().title, "{kind:?}");
            assert_eq!(b["incident_id"], "inc-1", "{kind:?}");
            assert_eq!(header(&res, "content-type"), Some(PROBLEM_JSON));
            assert_eq!(header(&res, "cache-control"), Some("no-store"));
            assert_eq!(header(&res, "retry-after"), Some("2"), "{kind:?}");
            assert_eq!(b["retry_after"], 2, "{kind:?}");
            assert_eq!(
                header(&res, "www-authenticate").is_some(),
                challenge_header,
                "{kind:?}"
            );
            assert_eq!(kind.status().as_u16(), status);
        }
    }

    #[test]
    fn a_challenge_on_the_wire() {
        let c = Challenge {
            id: "ch-1".into(),
            sensitivity: Sensitivity::High,
            acr_values: vec!["mfa".into()],
            max_age: 300,
            expires_in: 120,
            verify_uri: "/step-up/verify".into(),
            methods: vec!["totp".into()],
        };
        let res: Response<Bytes> = respond(Decision::StepUp(c.clone()));
        let b = body(&res);
        assert_eq!(res.status().as_u16(), 401);
        assert_eq!(b["type"], crate::outcome::problem_types::STEP_UP_REQUIRED);
        assert_eq!(b["title"], "Step-up authentication required");
        assert_eq!(b["challenge_id"], "ch-1");
        assert_eq!(b["max_age"], 300);
        assert_eq!(
            header(&res, "www-authenticate").map(str::to_owned),
            Some(step_up_header(&c))
        );
        assert_eq!(res.extensions().get::<Challenge>(), Some(&c));
    }
}
