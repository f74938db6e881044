//! The layers: [`RaspStepUp`] (the whole pipeline) and [`Sensitive`] (a
//! route-site annotation that can only make a route stricter).
//!
//! ```
//! use axum::{Router, routing::{get, post}};
//! use rasp_stepup::{Policy, RaspStepUp, Sensitive, Sensitivity, TokenConfig};
//!
//! let policy = Policy::builder()
//!     .route("POST", "/transfer", Sensitivity::High)
//!     .tokens(TokenConfig::ed25519_from_seed([1; 32]).issuer("bank").audience("bank-api"))
//!     .build()
//!     .unwrap();
//! let app: Router = Router::new()
//!     .route("/account", get(|| async { "ok" }))
//!     .route("/transfer", post(|| async { "sent" }))
//!     .route("/payees", post(|| async { "added" }).layer(Sensitive::high()))
//!     .layer(RaspStepUp::new(policy));
//! # let _ = app;
//! ```

#[cfg(feature = "axum")]
mod extract;
mod future;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

pub use future::ResponseFuture;
use future::{AfterBody, Meta, attach};

use crate::decision::RejectionKind;
#[cfg(feature = "axum")]
use crate::error::ConfigError;
use crate::evaluate::{self, Evaluation, Input, StepUpContext};
use crate::evaluate::{budget_decision, injection_decision};
use crate::extract::{bearer_token, risk_input};
use crate::inspect::{BodyPlan, BodyRefusal, RequestFindings, body_plan, suspect_confidence};
use crate::level::Sensitivity;
use crate::policy::Policy;
use crate::respond::{At, RequestTag, log_decision, respond, respond_for};

/// The layer: extract, decide, respond. Wrap a router, a route or any
/// `tower::Service`.
///
/// A request is guarded once: a `RaspStepUp` that meets a request another
/// one already took in charge (an outer layer, such as the app's around the
/// companion router's own) passes it on untouched, whatever its policy.
/// Give one router one policy.
#[derive(Clone, Debug)]
#[must_use]
pub struct RaspStepUp {
    policy: Policy,
}

impl RaspStepUp {
    /// A layer enforcing `policy`.
    pub fn new(policy: Policy) -> Self {
        Self { policy }
    }
}

impl<S> Layer<S> for RaspStepUp {
    type Service = RaspStepUpService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RaspStepUpService {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// The service [`RaspStepUp`] wraps around the app.
#[derive(Clone)]
pub struct RaspStepUpService<S> {
    inner: S,
    policy: Policy,
}

impl<S: fmt::Debug> fmt::Debug for RaspStepUpService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RaspStepUpService")
            .field("inner", &self.inner)
            .field("policy", &self.policy)
            .finish()
    }
}

impl<S> RaspStepUpService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// Whether the request announces a body.
fn may_have_body(headers: &http::HeaderMap) -> bool {
    headers.contains_key(http::header::TRANSFER_ENCODING)
        || content_length(headers).is_some_and(|n| n > 0)
}

/// The declared `Content-Length`, when it is a number.
pub(crate) fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

fn matched_path<B>(req: &Request<B>) -> Option<&str> {
    #[cfg(feature = "axum")]
    {
        req.extensions()
            .get::<axum::extract::MatchedPath>()
            .map(axum::extract::MatchedPath::as_str)
    }
    #[cfg(not(feature = "axum"))]
    {
        let _ = req;
        None
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RaspStepUpService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ReqBody: http_body::Body + From<Bytes> + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        if let Some(probe) = req.extensions().get::<RouteProbe>() {
            // Only Axum's own match counts: the table's matcher would
            // "match" a mistyped key against itself.
            probe.record(matched_path(&req));
            return ResponseFuture::respond(crate::respond::probe_answer());
        }
        // A request an outer layer already guards passes: the companion
        // router carries its own layer, so that it is guarded whether it is
        // merged outside the app's layer (the README's order) or inside.
        if req.extensions().get::<Guarded>().is_some() {
            return ResponseFuture::inner(self.inner.call(req));
        }
        req.extensions_mut().insert(Guarded);
        start(&self.policy, &mut self.inner, req, None)
    }
}

/// The subject a failed login named, as a response extension of a login
/// route (see [`PolicyBuilder::login_route`](crate::PolicyBuilder::login_route)):
/// the layer counts the 401 or 403 against that subject as well as the
/// client's address, so that guessing one user's password from many
/// addresses raises that user's risk.
///
/// ```
/// use axum::http::StatusCode;
/// use axum::response::IntoResponse;
/// use rasp_stepup::LoginSubject;
///
/// let mut res = StatusCode::UNAUTHORIZED.into_response();
/// res.extensions_mut().insert(LoginSubject("alice".into()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginSubject(pub String);

/// Marks a request a layer has taken in charge.
#[derive(Clone, Copy, Debug)]
struct Guarded;

/// The whole pipeline of a request, from its route's sensitivity on.
///
/// Decisions that need nothing but the client's address come first: a
/// denied network (on routes that need an identity; public routes stay
/// open) and the per-address quota, so such a client costs no inspection
/// of its path, query, headers or body; in monitor mode the evaluation
/// judges the denied network as before. The quota may need a store, so it
/// runs in the response future's throttling stage, which calls `start`
/// again with its answer in `quota` (in monitor mode, a rejection the
/// request passes with). Then the head is inspected, and the handler runs
/// at once (public fast path) or after the body and the evaluation.
pub(crate) fn start<S, ReqBody, ResBody>(
    policy: &Policy,
    service: &mut S,
    mut req: Request<ReqBody>,
    quota: Option<Option<crate::decision::Decision>>,
) -> ResponseFuture<S, ReqBody, ResBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ReqBody: http_body::Body + From<Bytes> + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    ResBody: From<Bytes>,
{
    let p = &*policy.inner;
    let (level, template) = p.sensitivity(req.method(), matched_path(&req), req.uri().path());
    // Login and verify routes are where clients prove who they are: public
    // whatever the table says, with their own per-address quota.
    let entry = p.is_entry(req.method(), template.unwrap_or(req.uri().path()));
    let level = if entry { Sensitivity::Public } else { level };
    let client_quota_checked = quota.is_some();
    if !client_quota_checked {
        match address_stage(policy, &req, level, entry) {
            None => {}
            Some(Address::Deny(d)) => {
                let tag = RequestTag::of(p, &req);
                let at = At {
                    level,
                    route: template,
                    tag: &tag,
                };
                log_decision(p, &d, &at, None, None, false);
                let mut res = respond_for(p, d);
                tag.echo(&mut res);
                return ResponseFuture::respond(res);
            }
            Some(Address::Throttle(check)) => {
                let (inner, resume) = (take_ready(service), start::<S, ReqBody, ResBody>);
                return ResponseFuture::throttling(
                    check,
                    inner,
                    req,
                    policy.clone(),
                    level,
                    resume,
                );
            }
        }
    }
    // Inspect: path, query, headers, cookies (bodies below).
    let (mut head, found) = inspect_head(p, &req, level, template);
    let monitor = p.mode == crate::policy::Mode::Monitor;
    // A body the headers alone condemn (two Content-Types, a coding not
    // decoded) is refused unless the head already was.
    let (inspect_body, refused) = match body_to_inspect(p, &req) {
        Ok(plan) => (plan, None),
        Err(refusal) => (None, Some(evaluate::refuse_body(p, refusal))),
    };
    let found = found.or(refused);
    let tag = found.as_ref().map(|_| RequestTag::of(p, &req));
    let pre = match future::settle_early(p, found, monitor, |d, m| {
        if let Some(tag) = &tag {
            let at = At {
                level,
                route: template,
                tag,
            };
            log_decision(p, d, &at, None, None, m);
        }
    }) {
        future::Early::Answer(mut res) => {
            if let Some(tag) = &tag {
                tag.echo(&mut res);
            }
            return ResponseFuture::respond(res);
        }
        // in monitor mode the head's decision is carried, else the quota's
        future::Early::GoOn(carried) => carried.or(quota.flatten()),
    };
    let public = !p.requirements[level].needs_identity();
    if public
        && bearer_token(req.headers()).is_none()
        && p.identity.is_none()
        && (client_quota_checked || p.address_quota(level, entry).is_none())
        && inspect_body.is_none()
    {
        // Fast path: a public route without credentials, quota or body needs no store.
        let ctx = StepUpContext {
            policy: policy.clone(),
            identity: None,
            level,
            assessment: None,
        };
        let client_ip = head.inputs.as_ref().and_then(|_| {
            crate::risk::client_ip(
                crate::risk::peer_of(req.extensions()),
                req.headers(),
                &p.risk.trusted_proxies,
                &p.risk.client_header,
            )
        });
        let sink_watch = future::SinkWatch::new(
            head.inputs.take(),
            policy,
            level,
            template.map(str::to_owned),
            (None, client_ip),
            (req.method(), req.headers()),
        );
        attach(&mut req, ctx);
        return ResponseFuture::inner_monitored(service.call(req), pre, sink_watch);
    }
    let template = template.map(str::to_owned);
    let (req, mut input) = evaluation_input(p, req, level, public, client_quota_checked, entry);
    input.risk.injection = suspect_confidence(&head.findings);
    let meta = Meta {
        policy: policy.clone(),
        level,
        template,
        client_ip: input.risk.ip,
        set_cookie: device_cookie_to_set(p, &input, public),
        pre,
        inputs: head.inputs.take(),
    };
    let body = inspect_body.map(|kind| (kind, head.left, head.over_budget));
    after_head(take_ready(service), req, input, meta, body)
}

/// The ready service, for a future to call; a fresh clone stays in its
/// place (tower's rule for services polled ready).
fn take_ready<S: Clone>(service: &mut S) -> S {
    let clone = service.clone();
    std::mem::replace(service, clone)
}

/// The request goes on to the body stage (`body`: its kind, the budget
/// left and whether the head spent it) or straight to the evaluation.
fn after_head<S, ReqBody, ResBody>(
    inner: S,
    req: Request<ReqBody>,
    input: Input,
    meta: Meta,
    body: Option<(BodyPlan, usize, bool)>,
) -> ResponseFuture<S, ReqBody, ResBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ReqBody: http_body::Body + From<Bytes> + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    ResBody: From<Bytes>,
{
    let policy = meta.policy.clone();
    let Some((kind, budget_left, budget_spent)) = body else {
        let eval = Box::pin(evaluate::evaluate(policy, input));
        return ResponseFuture::deciding(eval, inner, req, meta);
    };
    let rules = &policy.inner.inspector.rules;
    let read = future::read_body(req, rules.max_body_bytes, rules.over_limit);
    let next = AfterBody {
        meta,
        input,
        kind,
        budget_left,
        budget_spent,
    };
    ResponseFuture::reading_body(read, inner, next)
}

/// Inspects the request head (path, query, headers, cookies) within the
/// level's budget: the findings, and an injection or a spent budget to
/// decide on.
fn inspect_head<B>(
    p: &crate::policy::PolicyInner,
    req: &Request<B>,
    level: Sensitivity,
    template: Option<&str>,
) -> (RequestFindings, Option<crate::decision::Decision>) {
    let units = p.inspector.rules.budgets[level].units;
    let head = p.inspector.head(template, req.uri(), req.headers(), units);
    let found = injection_decision(p, &head.findings)
        .or_else(|| budget_decision(p, level, template, &head));
    (head, found)
}

/// How to read and inspect the body, if there is one; `Err` when the
/// headers alone condemn it.
fn body_to_inspect<B: http_body::Body>(
    p: &crate::policy::PolicyInner,
    req: &Request<B>,
) -> Result<Option<BodyPlan>, BodyRefusal> {
    let may = may_have_body(req.headers()) || !http_body::Body::is_end_stream(req.body());
    if p.inspector.rules.enabled && may {
        body_plan(req.headers(), p.inspector.rules.compressed_bodies).map(Some)
    } else {
        Ok(None)
    }
}

/// What the address stage makes of a request.
enum Address {
    /// A denied network on a level that needs an identity (enforce mode).
    Deny(crate::decision::Decision),
    /// The per-address quota, to be awaited by the throttling stage.
    Throttle(future::QuotaFuture),
}

/// The decisions that need nothing but the client's address; `None` when
/// there is nothing to decide here.
fn address_stage<B>(
    policy: &Policy,
    req: &Request<B>,
    level: Sensitivity,
    entry: bool,
) -> Option<Address> {
    let p = &*policy.inner;
    let quota = p.address_quota(level, entry).is_some();
    let denies = !p.risk.denied_networks.is_empty()
        && p.mode == crate::policy::Mode::Enforce
        && p.requirements[level].needs_identity();
    if !quota && !denies {
        return None;
    }
    let peer = crate::risk::peer_of(req.extensions());
    let ip = crate::risk::client_ip(
        peer,
        req.headers(),
        &p.risk.trusted_proxies,
        &p.risk.client_header,
    );
    if denies && crate::risk::in_any(&p.risk.denied_networks, ip) {
        return Some(Address::Deny(evaluate::reject(p, RejectionKind::Risk)));
    }
    let (key, quota) = p.client_quota(level, entry, ip?)?;
    let owned = policy.clone();
    Some(Address::Throttle(Box::pin(async move {
        let p = &*owned.inner;
        let now = p.rt.clock.now();
        evaluate::check_quota(p, level, "client", key, Some(quota), now).await
    })))
}

/// What the evaluation reads of a request: credentials, the app's own
/// identity answer, and the risk facts.
fn evaluation_input<B>(
    p: &crate::policy::PolicyInner,
    req: Request<B>,
    level: Sensitivity,
    public: bool,
    client_quota_checked: bool,
    entry: bool,
) -> (Request<B>, Input) {
    let bearer = bearer_token(req.headers()).map(str::to_owned);
    let user_agent = req
        .headers()
        .get(http::header::USER_AGENT)
        .map(|v| v.as_bytes().to_vec());
    let risk = risk_input(p, req.headers(), req.extensions(), !public);
    let (parts, body) = req.into_parts();
    let custom = p.identity.as_ref().map(|x| x.identify(&parts));
    let input = Input {
        level,
        bearer,
        user_agent,
        custom,
        risk,
        client_quota_checked,
        entry,
    };
    (Request::from_parts(parts, body), input)
}

/// A new device cookie for a request without one, where subjects are
/// assessed (public routes get none).
fn device_cookie_to_set(
    p: &crate::policy::PolicyInner,
    input: &Input,
    public: bool,
) -> Option<http::HeaderValue> {
    match (&p.device_cookie, &input.risk.cookie_device) {
        (Some(dc), None) if !public => crate::clock::random_id(&*p.rt.random)
            .ok()
            .and_then(|id| http::HeaderValue::try_from(dc.issue(&id)).ok()),
        _ => None,
    }
}

/// A route-site annotation: requires at least `level` on the routes it wraps.
///
/// It reads the identity the outer [`RaspStepUp`] verified, so it must sit
/// *inside* it (`MethodRouter::layer` or `Router::route_layer` on routes that
/// the outer layer also covers). Without the outer layer it fails closed
/// with 500. Strictest wins: it never relaxes the route table.
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct Sensitive {
    level: Sensitivity,
}

impl Sensitive {
    /// Requires `level`.
    pub fn new(level: Sensitivity) -> Self {
        Self { level }
    }

    /// Requires an authenticated caller.
    pub fn authenticated() -> Self {
        Self::new(Sensitivity::Authenticated)
    }

    /// Requires [`Sensitivity::High`].
    pub fn high() -> Self {
        Self::new(Sensitivity::High)
    }

    /// Requires [`Sensitivity::Critical`].
    pub fn critical() -> Self {
        Self::new(Sensitivity::Critical)
    }
}

impl<S> Layer<S> for Sensitive {
    type Service = SensitiveService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SensitiveService {
            inner,
            level: self.level,
        }
    }
}

/// The service [`Sensitive`] wraps around a route.
#[derive(Clone, Debug)]
pub struct SensitiveService<S> {
    inner: S,
    level: Sensitivity,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SensitiveService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let Some(ctx) = req.extensions().get::<StepUpContext>().cloned() else {
            tracing::error!(
                target: "rasp::decision",
                "Sensitive annotation without an outer RaspStepUp layer; failing closed"
            );
            let decision = crate::decision::Decision::Reject(crate::decision::Rejection::new(
                RejectionKind::Misconfigured,
                "misconfigured".into(),
            ));
            // no policy to log under: the error above is the event
            crate::metrics::decision(&decision, self.level, None, false);
            return ResponseFuture::respond(respond(decision));
        };
        if self.level <= ctx.level {
            return ResponseFuture::inner(self.inner.call(req));
        }
        let level = self.level;
        let user_agent = req
            .headers()
            .get(http::header::USER_AGENT)
            .map(|v| v.as_bytes().to_vec());
        let template = matched_path(&req).map(str::to_owned);
        req.extensions_mut().insert(StepUpContext {
            level,
            ..ctx.clone()
        });
        let policy = ctx.policy.clone();
        let client_ip = risk_input(&policy.inner, req.headers(), req.extensions(), false).ip;
        let eval = Box::pin(async move {
            let now = ctx.policy.inner.rt.clock.now();
            let ua = user_agent.as_deref();
            let decision = match (&ctx.identity, &ctx.assessment) {
                (Some(id), Some(a)) => {
                    evaluate::decide_with_risk(&ctx.policy, id, level, a, ua, now).await
                }
                _ => {
                    evaluate::decide(&ctx.policy, ctx.identity.as_ref(), level, None, ua, now).await
                }
            };
            Evaluation {
                decision,
                identity: ctx.identity,
                assessment: ctx.assessment,
                after: None,
            }
        });
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::deciding(
            eval,
            inner,
            req,
            Meta {
                policy,
                level,
                template,
                client_ip,
                set_cookie: None,
                pre: None,
                inputs: None,
            },
        )
    }
}

/// Marks a request as a route probe (see [`check_routes`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct RouteProbe(Arc<Mutex<Option<Option<String>>>>);

impl RouteProbe {
    fn record(&self, template: Option<&str>) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(template.map(str::to_owned));
        }
    }

    #[cfg(feature = "axum")]
    fn seen(&self) -> Option<Option<String>> {
        self.0.lock().ok().and_then(|s| s.clone())
    }
}

#[cfg(feature = "axum")]
fn probe_path(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut in_param = false;
    for c in template.chars() {
        match (c, in_param) {
            ('{', false) => in_param = true,
            ('}', true) => {
                in_param = false;
                out.push_str("rasp-probe");
            }
            (_, true) => {}
            (c, false) => out.push(c),
        }
    }
    out
}

/// Checks that every route-table key of `policy` is served by `app`.
///
/// ```
/// use axum::{Router, routing::post};
/// use rasp_stepup::{ConfigError, Policy, RaspStepUp, Sensitivity, TokenConfig, check_routes};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let policy = Policy::builder()
///     .route("POST", "/transfer", Sensitivity::High)
///     .route("POST", "/tranfser", Sensitivity::High) // a typo: no route serves it
///     .tokens(TokenConfig::ed25519_from_seed([4; 32]).issuer("bank").audience("bank-api"))
///     .build()?;
/// let app = Router::new()
///     .route("/transfer", post(|| async { "sent" }))
///     .layer(RaspStepUp::new(policy.clone()));
/// let err = check_routes(&app, &policy).await.unwrap_err();
/// assert!(matches!(err, ConfigError::UnroutedKey { .. }), "{err}");
/// # Ok(()) }
/// ```
///
/// Sends one probe request per key through `app` (which must carry
/// `RaspStepUp::new(policy)` as a layer); the layer answers probes itself,
/// so no handler runs. A key no route serves is logged as a warning
/// (target `rasp::policy`) and returned as [`ConfigError::UnroutedKey`].
///
/// # Errors
///
/// The first key that matches no route.
#[cfg(feature = "axum")]
pub async fn check_routes(app: &axum::Router, policy: &Policy) -> Result<(), ConfigError> {
    const PROBE_METHODS: [http::Method; 5] = [
        http::Method::GET,
        http::Method::POST,
        http::Method::PUT,
        http::Method::PATCH,
        http::Method::DELETE,
    ];
    for key in policy.route_keys() {
        let methods: Vec<http::Method> = match &key.method {
            Some(m) => vec![m.clone()],
            None => PROBE_METHODS.to_vec(),
        };
        let mut routed = false;
        for method in methods {
            let probe = RouteProbe::default();
            let mut req = Request::new(axum::body::Body::empty());
            *req.method_mut() = method;
            *req.uri_mut() = match probe_path(&key.template).parse() {
                Ok(u) => u,
                Err(_) => break,
            };
            req.extensions_mut().insert(probe.clone());
            let mut svc = app.clone();
            if std::future::poll_fn(|cx| {
                Service::<Request<axum::body::Body>>::poll_ready(&mut svc, cx)
            })
            .await
            .is_err()
            {
                break;
            }
            let _ = svc.call(req).await;
            if probe.seen().flatten().as_deref() == Some(key.template.as_str()) {
                routed = true;
                break;
            }
        }
        if !routed {
            tracing::warn!(
                target: "rasp::policy",
                check = "route_table",
                route.method = key.method_str(),
                route.template = %key.template,
                "route-table key matches no route"
            );
            return Err(ConfigError::UnroutedKey {
                method: key.method_str().to_owned(),
                route: key.template.clone(),
            });
        }
    }
    Ok(())
}
