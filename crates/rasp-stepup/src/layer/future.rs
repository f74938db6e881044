//! The response future shared by [`RaspStepUpService`](super::RaspStepUpService)
//! and [`SensitiveService`](super::SensitiveService).

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::LoginSubject;
use crate::decision::{Decision, RejectionKind};
use crate::evaluate::{Evaluation, Input, StepUpContext, budget_decision, injection_decision};
use crate::inspect::{BodyPlan, RequestFindings, decode, inspect_body, suspect_confidence};
use crate::level::Sensitivity;
use crate::policy::{Mode, Policy};
use crate::respond::{At, RequestTag, attach_monitored, log_decision, log_outcome, respond_for};
use crate::risk::Assessment;
use crate::store::CounterKey;

pub(crate) type EvalFuture = Pin<Box<dyn Future<Output = Evaluation> + Send>>;
pub(crate) type QuotaFuture = Pin<Box<dyn Future<Output = Option<Decision>> + Send>>;
/// What runs after the per-address quota (the layer's `start`, taken as a
/// function pointer where its bounds hold).
pub(crate) type Resume<S, B, R> =
    fn(&Policy, &mut S, Request<B>, Option<Option<Decision>>) -> ResponseFuture<S, B, R>;
type ObserveFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
pub(crate) type BodyFuture<B> = Pin<Box<dyn Future<Output = BodyRead<B>> + Send>>;

/// What reading the body gave.
pub(crate) enum BodyOutcome {
    /// The bytes to inspect (the whole body, or its head).
    Read(Bytes),
    /// Passed on without reading (over the limit with `OverLimit::Pass`).
    Skipped,
    /// Larger than the limit allows.
    TooLarge,
    /// The body stream failed.
    Unreadable,
}

/// The request, its body restored, and what reading gave.
pub(crate) struct BodyRead<B> {
    pub(crate) req: Request<B>,
    pub(crate) outcome: BodyOutcome,
}

/// What the future needs after the body is read.
pub(crate) struct AfterBody {
    pub(crate) meta: Meta,
    pub(crate) input: Input,
    pub(crate) kind: BodyPlan,
    /// Inspection work units the head left for the body.
    pub(crate) budget_left: usize,
    /// The head already spent the budget (and its decision was taken).
    pub(crate) budget_spent: bool,
}

/// The request's inputs for the sink guards, and how a hit is answered.
pub(crate) struct SinkWatch {
    pub(crate) scope: std::sync::Arc<crate::sink::Scope>,
    pub(crate) policy: Policy,
    pub(crate) level: Sensitivity,
    pub(crate) template: Option<String>,
    /// Who a hit flags: the subject when known, else the client address.
    pub(crate) subject: Option<String>,
    pub(crate) client_ip: Option<IpAddr>,
    /// What the event says of the request (its tag is made at a hit only).
    pub(crate) method: http::Method,
    pub(crate) request_id: Option<HeaderValue>,
}

impl SinkWatch {
    /// The request's inputs for the handler's guards (`None` when none
    /// were kept).
    pub(crate) fn new(
        inputs: Option<crate::sink::Inputs>,
        policy: &Policy,
        level: Sensitivity,
        template: Option<String>,
        (subject, client_ip): (Option<String>, Option<IpAddr>),
        head: (&http::Method, &http::HeaderMap),
    ) -> Option<Self> {
        let monitor = policy.inner.mode == Mode::Monitor;
        inputs.map(|inputs| Self {
            scope: crate::sink::Scope::new(inputs, monitor),
            policy: policy.clone(),
            level,
            template,
            subject,
            client_ip,
            method: head.0.clone(),
            request_id: crate::respond::given_request_id(head.1),
        })
    }

    /// Flags the subject (else the address) for the policy's period, and
    /// revokes the subject's tokens when the policy says so.
    fn flag(self) -> Option<ObserveFuture> {
        let p = &*self.policy.inner;
        let period = p.inspector.rules.sink_flag;
        let revoke = p.inspector.rules.sink_revokes_session && self.subject.is_some();
        let key = match (&self.subject, self.client_ip) {
            (Some(s), _) => CounterKey::SinkHitsOfSubject(s.as_str().into()),
            (None, Some(ip)) => CounterKey::SinkHitsOfClient(p.risk.address_key(ip)),
            (None, None) => return None,
        };
        if period.is_zero() && !revoke {
            return None;
        }
        let policy = self.policy.clone();
        let subject = self.subject;
        Some(Box::pin(async move {
            let p = &*policy.inner;
            let now = p.rt.clock.now();
            if !period.is_zero()
                && let Err(e) = p.rt.stores.counters.bump(&key, period, now).await
            {
                tracing::warn!(target: "rasp::decision", error = %e, "could not flag a sink guard's hit");
            }
            if revoke
                && let Some(s) = subject
                && let Err(e) = policy.revoke_subject(&s).await
            {
                tracing::warn!(target: "rasp::decision", error = %e, "could not revoke the session after a sink guard's hit");
            }
        }))
    }

    /// A guard's hit during the handler: 403 in enforce mode whatever the
    /// handler answered, attached as `Monitored` in monitor mode; one
    /// event either way.
    /// Returns what flags the subject or address, when anything does.
    fn settle<R: From<Bytes>>(self, res: &mut Response<R>) -> Option<ObserveFuture> {
        let hit = self.scope.take_hit()?;
        let p = &*self.policy.inner;
        let monitor = p.mode == Mode::Monitor;
        let mut r =
            crate::decision::Rejection::new(RejectionKind::Injection, crate::evaluate::incident(p));
        r.rules = vec![match hit.sink {
            crate::sink::Sink::Sql => "sink-sql",
            crate::sink::Sink::Path => "sink-path",
            crate::sink::Sink::Url => "sink-url",
            crate::sink::Sink::Shell => "sink-shell",
            _ => "sink-exec",
        }];
        let tag = RequestTag::with_id(self.method.clone(), self.client_ip, self.request_id.clone());
        tracing::warn!(
            target: "rasp::decision",
            decision = "injection",
            monitor,
            route.template = self.template.as_deref().unwrap_or("<unmatched>"),
            route.sensitivity = self.level.as_str(),
            request.method = %tag.method,
            request.id = tag.id(),
            client.address = %tag.client(p.log_addresses),
            subject = self.subject.as_deref().unwrap_or(""),
            finding.classes = %r.finding_classes().join(","),
            incident = %r.incident_id(),
            status = 403u16,
            rules = r.rules[0],
            sink = %hit.sink,
            sink.key = %hit.key,
            sink.reason = hit.reason,
            "sink injection refused"
        );
        let d = Decision::Reject(r);
        crate::metrics::decision(&d, self.level, self.template.as_deref(), monitor);
        if monitor {
            attach_monitored(res, d);
        } else {
            *res = respond_for(p, d);
            tag.echo(res);
        }
        self.flag()
    }
}

/// What the future needs to finish a decision.
pub(crate) struct Meta {
    pub(crate) policy: Policy,
    pub(crate) level: Sensitivity,
    pub(crate) template: Option<String>,
    pub(crate) client_ip: Option<IpAddr>,
    /// `Set-Cookie` for a new device id.
    pub(crate) set_cookie: Option<HeaderValue>,
    /// An injection decision already taken in monitor mode.
    pub(crate) pre: Option<Decision>,
    /// The inputs kept for the sink guards (`None` in an inner
    /// `Sensitive`, whose outer layer keeps them).
    pub(crate) inputs: Option<crate::sink::Inputs>,
}

/// Decorations applied to the final response, and what to observe of it.
pub(crate) struct Finish {
    policy: Policy,
    set_cookie: Option<HeaderValue>,
    assessment: Option<Assessment>,
    observe: Option<(Option<IpAddr>, Option<String>)>,
}

impl Finish {
    fn decorate<R>(&mut self, res: &mut Response<R>) {
        if let Some(c) = self.set_cookie.take() {
            res.headers_mut().append(http::header::SET_COOKIE, c);
        }
        if let Some(a) = self.assessment.take() {
            if self.policy.inner.risk.debug_header
                && let Ok(v) = HeaderValue::try_from(a.header_value())
            {
                res.headers_mut().insert("x-rasp-risk", v);
            }
            res.extensions_mut().insert(a);
        }
    }

    /// Counts 401/403/404 answers of the app for burst signals: against
    /// the client's address and the subject (the verified one, else the one
    /// a login route names in a [`LoginSubject`] extension).
    fn observe<R>(&mut self, res: &Response<R>) -> Option<ObserveFuture> {
        let status = res.status();
        let (ip, subject) = self.observe.take()?;
        let subject = subject.or_else(|| {
            res.extensions()
                .get::<LoginSubject>()
                .map(|s| s.0.clone())
                .filter(|s| !s.is_empty())
        });
        let auth = status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN;
        let not_found = status == StatusCode::NOT_FOUND;
        if !auth && !not_found {
            return None;
        }
        let policy = self.policy.clone();
        Some(Box::pin(async move {
            let p = &*policy.inner;
            let now = p.rt.clock.now();
            let mut keys = Vec::with_capacity(2);
            let ip = ip.map(|ip| p.risk.address_key(ip));
            if auth {
                keys.extend(ip.map(CounterKey::AuthFailuresOfClient));
                keys.extend(subject.map(|s| CounterKey::AuthFailuresOfSubject(s.into())));
            } else {
                keys.extend(ip.map(CounterKey::NotFoundOfClient));
            }
            let window = if auth {
                p.risk.auth_failures.window
            } else {
                p.risk.not_found.window
            };
            for key in keys {
                if let Err(e) = p.rt.stores.counters.bump(&key, window, now).await {
                    tracing::warn!(target: "rasp::decision", error = %e, "could not count an answer of the app");
                }
            }
        }))
    }
}

pin_project! {
    /// Response future of the step-up services.
    pub struct ResponseFuture<S, B, R>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        kind: Kind<S, B, R>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<S, B, R>
    where
        S: Service<Request<B>>,
    {
        Throttling {
            check: QuotaFuture,
            inner: Option<S>,
            req: Option<Request<B>>,
            policy: Policy,
            level: Sensitivity,
            resume: Resume<S, B, R>,
        },
        ReadingBody {
            read: BodyFuture<B>,
            inner: Option<S>,
            next: Option<AfterBody>,
        },
        Deciding {
            eval: EvalFuture,
            inner: Option<S>,
            req: Option<Request<B>>,
            meta: Option<Meta>,
        },
        Inner {
            #[pin]
            fut: S::Future,
            monitored: Option<Decision>,
            finish: Option<Finish>,
            // the request's inputs, current while the handler runs, and
            // what a sink guard's hit is answered with
            sink_watch: Option<SinkWatch>,
            // the evaluation's store work left to run beside the handler
            // (the subject's history saved): the response waits for it, so
            // a client's next request sees it
            after: Option<ObserveFuture>,
        },
        Observing {
            fut: ObserveFuture,
            res: Option<Response<R>>,
        },
        Respond {
            res: Option<Response<R>>,
        },
    }
}

impl<S, B, R> fmt::Debug for ResponseFuture<S, B, R>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S, B, R> ResponseFuture<S, B, R>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    pub(crate) fn inner(fut: S::Future) -> Self {
        Self {
            kind: Kind::Inner {
                fut,
                monitored: None,
                finish: None,
                sink_watch: None,
                after: None,
            },
        }
    }

    pub(crate) fn inner_monitored(
        fut: S::Future,
        monitored: Option<Decision>,
        sink_watch: Option<SinkWatch>,
    ) -> Self {
        Self {
            kind: Kind::Inner {
                fut,
                monitored,
                finish: None,
                sink_watch,
                after: None,
            },
        }
    }

    pub(crate) fn throttling(
        check: QuotaFuture,
        inner: S,
        req: Request<B>,
        policy: Policy,
        level: Sensitivity,
        resume: Resume<S, B, R>,
    ) -> Self {
        Self {
            kind: Kind::Throttling {
                check,
                inner: Some(inner),
                req: Some(req),
                policy,
                level,
                resume,
            },
        }
    }

    pub(crate) fn reading_body(read: BodyFuture<B>, inner: S, next: AfterBody) -> Self {
        Self {
            kind: Kind::ReadingBody {
                read,
                inner: Some(inner),
                next: Some(next),
            },
        }
    }

    pub(crate) fn respond(res: Response<R>) -> Self {
        Self {
            kind: Kind::Respond { res: Some(res) },
        }
    }

    pub(crate) fn deciding(eval: EvalFuture, inner: S, req: Request<B>, meta: Meta) -> Self {
        Self {
            kind: Kind::Deciding {
                eval,
                inner: Some(inner),
                req: Some(req),
                meta: Some(meta),
            },
        }
    }
}

/// A decision taken before the evaluation (the address stage, the body):
/// in enforce mode a rejection answers at once, in monitor mode the request
/// goes on carrying it; either way it is logged once.
pub(super) fn settle_early<R: From<Bytes>>(
    p: &crate::policy::PolicyInner,
    decision: Option<Decision>,
    monitor: bool,
    log: impl FnOnce(&Decision, bool),
) -> Early<R> {
    match decision {
        Some(d) if !monitor => {
            log(&d, false);
            Early::Answer(respond_for(p, d))
        }
        other => {
            if let Some(d) = &other {
                log(d, true);
            }
            Early::GoOn(other)
        }
    }
}

/// What [`settle_early`] makes of a decision.
pub(super) enum Early<R> {
    /// Answer with this.
    Answer(Response<R>),
    /// Go on, carrying the monitored decision if any.
    GoOn(Option<Decision>),
}

/// Leaves the verified identity and the context for inner layers and handlers.
pub(crate) fn attach<B>(req: &mut Request<B>, ctx: StepUpContext) {
    if let Some(id) = &ctx.identity {
        req.extensions_mut().insert(id.clone());
    }
    req.extensions_mut().insert(ctx);
}

impl<S, B, R> Future for ResponseFuture<S, B, R>
where
    S: Service<Request<B>, Response = Response<R>>,
    R: From<Bytes>,
{
    type Output = Result<Response<R>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project().kind.project() {
                KindProj::Throttling {
                    check,
                    inner,
                    req,
                    policy,
                    level,
                    resume,
                } => {
                    let verdict = ready!(check.as_mut().poll(cx));
                    let inner = inner.take().expect("polled after completion");
                    let req = req.take().expect("polled after completion");
                    after_quota(verdict, inner, req, policy, *level, *resume)
                }
                KindProj::ReadingBody { read, inner, next } => {
                    let read = ready!(read.as_mut().poll(cx));
                    let inner = inner.take().expect("polled after completion");
                    after_body(read, inner, next.take().expect("polled after completion"))
                }
                KindProj::Deciding {
                    eval,
                    inner,
                    req,
                    meta,
                } => {
                    let evaluation = ready!(eval.as_mut().poll(cx));
                    let inner = inner.take().expect("polled after completion");
                    let req = req.take().expect("polled after completion");
                    let meta = meta.take().expect("polled after completion");
                    after_evaluation(evaluation, inner, req, meta)
                }
                KindProj::Inner {
                    fut,
                    monitored,
                    finish,
                    sink_watch,
                    after,
                } => {
                    if let Some(a) = after
                        && a.as_mut().poll(cx).is_ready()
                    {
                        *after = None;
                    }
                    let entered = sink_watch
                        .as_ref()
                        .map(|g| crate::sink::enter(g.scope.clone()));
                    let polled = fut.poll(cx);
                    drop(entered);
                    let mut res = ready!(polled)?;
                    if let Some(d) = monitored.take() {
                        attach_monitored(&mut res, d);
                    }
                    let flag = sink_watch.take().and_then(|g| g.settle(&mut res));
                    let observe = match finish.take() {
                        Some(mut f) => {
                            f.decorate(&mut res);
                            f.observe(&res)
                        }
                        None => None,
                    };
                    let mut rest = [after.take(), flag, observe].into_iter().flatten();
                    let fut: ObserveFuture = match (rest.next(), rest.next(), rest.next()) {
                        (None, ..) => return Poll::Ready(Ok(res)),
                        (Some(one), None, _) => one,
                        (Some(a), Some(b), c) => Box::pin(async move {
                            a.await;
                            b.await;
                            if let Some(c) = c {
                                c.await;
                            }
                        }),
                    };
                    Kind::Observing {
                        fut,
                        res: Some(res),
                    }
                }
                KindProj::Observing { fut, res } => {
                    ready!(fut.as_mut().poll(cx));
                    return Poll::Ready(Ok(res.take().expect("polled after completion")));
                }
                KindProj::Respond { res } => {
                    return Poll::Ready(Ok(res.take().expect("polled after completion")));
                }
            };
            self.as_mut().project().kind.set(next);
        }
    }
}

/// The address stage answered: a throttled or denied client is answered
/// (or carried, in monitor mode); the others resume the pipeline.
fn after_quota<S, B, R>(
    verdict: Option<Decision>,
    mut inner: S,
    req: Request<B>,
    policy: &Policy,
    level: Sensitivity,
    resume: Resume<S, B, R>,
) -> Kind<S, B, R>
where
    S: Service<Request<B>, Response = Response<R>>,
    R: From<Bytes>,
{
    let monitor = policy.inner.mode == Mode::Monitor;
    let tag = verdict
        .as_ref()
        .map(|_| RequestTag::of(&policy.inner, &req));
    let early = settle_early(&policy.inner, verdict, monitor, |d, m| {
        if let Some(tag) = &tag {
            let route = super::matched_path(&req);
            log_outcome(&policy.inner, d, &At { level, route, tag }, None, None, m);
        }
    });
    match early {
        Early::Answer(mut res) => {
            if let Some(tag) = &tag {
                tag.echo(&mut res);
            }
            Kind::Respond { res: Some(res) }
        }
        Early::GoOn(carried) => resume(policy, &mut inner, req, Some(carried)).kind,
    }
}

/// The body was read: judge it, then evaluate the request (or answer).
fn after_body<S, B, R>(read: BodyRead<B>, inner: S, next: AfterBody) -> Kind<S, B, R>
where
    S: Service<Request<B>, Response = Response<R>>,
    R: From<Bytes>,
{
    let BodyRead { req, outcome } = read;
    let AfterBody {
        mut meta,
        mut input,
        kind,
        budget_left,
        budget_spent,
    } = next;
    let policy = meta.policy.clone();
    let p = &*policy.inner;
    let stop = match outcome {
        BodyOutcome::TooLarge => Some(crate::evaluate::reject(p, RejectionKind::PayloadTooLarge)),
        BodyOutcome::Unreadable => Some(crate::evaluate::reject(p, RejectionKind::BadRequest)),
        BodyOutcome::Skipped => None,
        BodyOutcome::Read(bytes) => {
            let rules = &p.inspector.rules;
            let max = rules.max_body_bytes;
            // what the body holds: the bytes, or what they decompress to
            let plain = if kind.codings.is_empty() {
                Ok((bytes.slice(..bytes.len().min(max)), bytes.len() <= max))
            } else {
                decode(&bytes, &kind.codings, max).and_then(|(d, cut)| {
                    use crate::inspect::OverLimit;
                    match rules.over_limit {
                        OverLimit::Reject if cut => Err(crate::inspect::BodyRefusal::TooLarge),
                        // nothing is inspected past the limit in this mode
                        OverLimit::Pass if cut => Ok((Bytes::new(), false)),
                        _ => Ok((Bytes::from(d), !cut)),
                    }
                })
            };
            let mut found =
                RequestFindings::with_budget(budget_left).collecting(meta.inputs.is_some());
            let template = meta.template.as_deref();
            let refused = match plain {
                Ok((head, complete)) => inspect_body(
                    &p.inspector,
                    template,
                    &kind.kind,
                    &head,
                    complete,
                    &mut found,
                )
                .err(),
                Err(refusal) => Some(refusal),
            };
            input.risk.injection = input
                .risk
                .injection
                .max(suspect_confidence(&found.findings));
            if let (Some(kept), Some(body)) = (&mut meta.inputs, found.inputs.take()) {
                kept.extend(&body);
            }
            injection_decision(p, &found.findings)
                .or_else(|| refused.map(|r| crate::evaluate::refuse_body(p, r)))
                .or_else(|| {
                    // a budget the head spent was judged there
                    (!budget_spent)
                        .then(|| budget_decision(p, meta.level, template, &found))
                        .flatten()
                })
        }
    };
    let tag = stop.as_ref().map(|_| RequestTag::of(p, &req));
    let early = settle_early(p, stop, p.mode == Mode::Monitor, |d, m| {
        if let Some(tag) = &tag {
            let at = At {
                level: meta.level,
                route: meta.template.as_deref(),
                tag,
            };
            log_decision(p, d, &at, None, None, m);
        }
    });
    match early {
        Early::Answer(mut res) => {
            if let Some(tag) = &tag {
                tag.echo(&mut res);
            }
            Kind::Respond { res: Some(res) }
        }
        Early::GoOn(carried) => {
            meta.pre = meta.pre.take().or(carried);
            Kind::Deciding {
                eval: Box::pin(crate::evaluate::evaluate(policy.clone(), input)),
                inner: Some(inner),
                req: Some(req),
                meta: Some(meta),
            }
        }
    }
}

/// The evaluation decided: answer, or call the inner service with the
/// identity attached (carrying the decision in monitor mode).
fn after_evaluation<S, B, R>(
    evaluation: Evaluation,
    mut inner: S,
    mut req: Request<B>,
    meta: Meta,
) -> Kind<S, B, R>
where
    S: Service<Request<B>, Response = Response<R>>,
    R: From<Bytes>,
{
    let Evaluation {
        decision,
        identity,
        assessment,
        after,
    } = evaluation;
    let monitor = meta.policy.mode() == Mode::Monitor;
    let tag = (decision != Decision::Allow)
        .then(|| RequestTag::new(req.method().clone(), meta.client_ip, req.headers()));
    if let Some(tag) = &tag {
        let at = At {
            level: meta.level,
            route: meta.template.as_deref(),
            tag,
        };
        log_outcome(
            &meta.policy.inner,
            &decision,
            &at,
            identity.as_ref().map(|i| i.subject()),
            assessment.as_ref(),
            monitor,
        );
    }
    let mut finish = Finish {
        policy: meta.policy.clone(),
        set_cookie: meta.set_cookie,
        assessment: assessment.clone(),
        observe: Some((
            meta.client_ip,
            identity.as_ref().map(|i| i.subject().to_owned()),
        )),
    };
    if decision != Decision::Allow && !monitor {
        let mut res = respond_for(&meta.policy.inner, decision);
        if let Some(tag) = &tag {
            tag.echo(&mut res);
        }
        finish.decorate(&mut res);
        return match after {
            Some(fut) => Kind::Observing {
                fut,
                res: Some(res),
            },
            None => Kind::Respond { res: Some(res) },
        };
    }
    let sink_watch = SinkWatch::new(
        meta.inputs,
        &meta.policy,
        meta.level,
        meta.template,
        (
            identity.as_ref().map(|i| i.subject().to_owned()),
            meta.client_ip,
        ),
        (req.method(), req.headers()),
    );
    let ctx = StepUpContext {
        policy: meta.policy,
        identity,
        level: meta.level,
        assessment,
    };
    attach(&mut req, ctx);
    Kind::Inner {
        fut: inner.call(req),
        monitored: (decision != Decision::Allow)
            .then_some(decision)
            .or(meta.pre),
        finish: Some(finish),
        sink_watch,
        after,
    }
}

/// Reads the body for inspection within the limits, and restores it.
pub(crate) fn read_body<B>(
    req: Request<B>,
    max: usize,
    over: crate::inspect::OverLimit,
) -> BodyFuture<B>
where
    B: http_body::Body + From<Bytes> + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use crate::inspect::OverLimit;
    use http_body_util::BodyExt as _;
    let declared: Option<u64> = super::content_length(req.headers())
        .or_else(|| http_body::Body::size_hint(req.body()).exact());
    Box::pin(async move {
        let (parts, body) = req.into_parts();
        let over_limit = declared.is_some_and(|len| len > max as u64);
        match over {
            OverLimit::Reject if over_limit => {
                return BodyRead {
                    req: Request::from_parts(parts, body),
                    outcome: BodyOutcome::TooLarge,
                };
            }
            // Bodies that cannot be bounded up front pass untouched.
            OverLimit::Pass if over_limit || declared.is_none() => {
                return BodyRead {
                    req: Request::from_parts(parts, body),
                    outcome: BodyOutcome::Skipped,
                };
            }
            _ => {}
        }
        let cap = if over == OverLimit::InspectPrefix {
            max.saturating_mul(16)
        } else {
            max
        };
        match http_body_util::Limited::new(body, cap).collect().await {
            Ok(collected) => {
                let bytes = collected.to_bytes();
                BodyRead {
                    req: Request::from_parts(parts, B::from(bytes.clone())),
                    outcome: BodyOutcome::Read(bytes),
                }
            }
            Err(e) => {
                let too_large = e
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some();
                BodyRead {
                    req: Request::from_parts(parts, B::from(Bytes::new())),
                    outcome: if too_large {
                        BodyOutcome::TooLarge
                    } else {
                        BodyOutcome::Unreadable
                    },
                }
            }
        }
    })
}
