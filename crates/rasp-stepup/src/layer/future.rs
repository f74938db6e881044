//! The response future shared by [`RaspStepUpService`](super::RaspStepUpService)
//! and [`SensitiveService`](super::SensitiveService).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::decision::Decision;
use crate::evaluate::{Evaluation, StepUpContext};
use crate::policy::{Mode, Policy, Sensitivity};
use crate::respond::{attach_monitored, log_decision, respond};

pub(crate) type EvalFuture = Pin<Box<dyn Future<Output = Evaluation> + Send>>;

/// What the future needs to finish a decision.
pub(crate) struct Meta {
    pub(crate) policy: Policy,
    pub(crate) level: Sensitivity,
    pub(crate) template: Option<String>,
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
                KindProj::Deciding {
                    eval,
                    inner,
                    req,
                    meta,
                } => {
                    let evaluation = ready!(eval.as_mut().poll(cx));
                    let meta = meta.take().expect("polled after completion");
                    let mut req = req.take().expect("polled after completion");
                    let mut inner = inner.take().expect("polled after completion");
                    let Evaluation { decision, identity } = evaluation;
                    let monitor = meta.policy.mode() == Mode::Monitor;
                    log_decision(
                        &decision,
                        meta.level,
                        meta.template.as_deref(),
                        identity.as_ref().map(|i| i.subject()),
                        monitor,
                    );
                    if decision != Decision::Allow && !monitor {
                        Kind::Respond {
                            res: Some(respond(decision)),
                        }
                    } else {
                        let ctx = StepUpContext {
                            policy: meta.policy,
                            identity,
                            level: meta.level,
                        };
                        attach(&mut req, ctx);
                        Kind::Inner {
                            fut: inner.call(req),
                            monitored: (decision != Decision::Allow).then_some(decision),
                        }
                    }
                }
                KindProj::Inner { fut, monitored } => {
                    let mut res = ready!(fut.poll(cx))?;
                    if let Some(d) = monitored.take() {
                        attach_monitored(&mut res, d);
                    }
                    return Poll::Ready(Ok(res));
                }
                KindProj::Respond { res } => {
                    return Poll::Ready(Ok(res.take().expect("polled after completion")));
                }
            };
            self.as_mut().project().kind.set(next);
        }
    }
}
