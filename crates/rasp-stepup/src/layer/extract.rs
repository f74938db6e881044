//! The `Identity` extractor for handlers behind the layer.

use crate::decision::{Decision, Rejection, RejectionKind};
use crate::token::Identity;

/// The verified identity of the request, for handlers behind
/// [`RaspStepUp`](crate::RaspStepUp).
///
/// Without one (an unauthenticated request that monitor mode let through,
/// or a route whose level needs no identity), the handler answers what the
/// layer would have: 401 `invalid_token`, never 500. Use `Option<Identity>`
/// where an identity is optional. Without the layer in front of the route,
/// both answer 500 (misassembled layers; logged).
#[cfg(feature = "axum")]
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Identity {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        match identity_of(parts).ok_or_else(misassembled)? {
            Some(id) => Ok(id),
            None => {
                let ctx = parts.extensions.get::<crate::evaluate::StepUpContext>();
                let decision = |incident| {
                    Decision::Reject(Rejection::new(RejectionKind::InvalidToken, incident))
                };
                Err(match ctx {
                    Some(c) => {
                        let p = &c.policy.inner;
                        crate::respond::respond_for(p, decision(crate::evaluate::incident(p)))
                    }
                    None => crate::respond::respond(decision("unavailable".to_owned())),
                })
            }
        }
    }
}

#[cfg(feature = "axum")]
impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for Identity {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        identity_of(parts).ok_or_else(misassembled)
    }
}

/// The identity the layer verified (`Some(None)` when it verified none);
/// `None` when no layer ran in front of the handler.
#[cfg(feature = "axum")]
fn identity_of(parts: &http::request::Parts) -> Option<Option<Identity>> {
    if let Some(id) = parts.extensions.get::<Identity>() {
        return Some(Some(id.clone()));
    }
    parts
        .extensions
        .get::<crate::evaluate::StepUpContext>()
        .map(|_| None)
}

/// The 500 of an identity extractor without the layer in front (logged).
#[cfg(feature = "axum")]
fn misassembled() -> axum::response::Response {
    tracing::error!(
        target: "rasp::decision",
        "Identity extractor used on a route without the RaspStepUp layer in front"
    );
    crate::respond::respond(Decision::Reject(Rejection::new(
        RejectionKind::Misconfigured,
        "misconfigured".into(),
    )))
}
