//! What the layer and the companion route read of a request: the bearer
//! credential, the device binding, and the facts the risk engine scores
//! (the client address through trusted proxies, the device family and the
//! signed device cookie).

use crate::policy::PolicyInner;
use crate::risk::RiskInput;

/// The bearer token of `Authorization: Bearer <token>`, if well-formed.
pub(crate) fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

/// The device binding of challenges and elevated tokens: a hash of the
/// whole `User-Agent` (the raw string is never stored), so a token or a
/// challenge taken to another browser, or to the same one after an update,
/// no longer matches. The risk engine's device key is coarser on purpose
/// ([`crate::risk::fingerprint`]: browser family, OS, client hints,
/// language; or the signed device cookie), so that updates do not look
/// like new devices.
pub(crate) fn device_binding(user_agent: Option<&[u8]>) -> String {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"rasp-stepup device v1\0");
    h.update(user_agent.unwrap_or_default());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&h.finalize()[..16])
}

/// The request facts the risk engine reads. Device facts are only
/// computed for routes that assess a subject (`with_device`).
pub(crate) fn risk_input(
    p: &PolicyInner,
    headers: &http::HeaderMap,
    ext: &http::Extensions,
    with_device: bool,
) -> RiskInput {
    let ip = crate::risk::client_ip(
        crate::risk::peer_of(ext),
        headers,
        &p.risk.trusted_proxies,
        &p.risk.client_header,
    );
    if !with_device {
        return RiskInput {
            ip,
            ..RiskInput::default()
        };
    }
    RiskInput {
        ip,
        fingerprint: crate::risk::fingerprint(headers),
        cookie_device: p.device_cookie.as_ref().and_then(|c| c.read(headers)),
        injection: 0.0,
    }
}
