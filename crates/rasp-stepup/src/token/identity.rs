//! Who is calling: the verified identity handlers see.

use std::fmt;
use std::sync::Arc;

/// The caller's verified identity, inserted into request extensions by the
/// layer. Cheap to clone.
///
/// Apps with their own sessions build one in their
/// [`IdentityExtractor`](crate::IdentityExtractor):
///
/// ```
/// use rasp_stepup::Identity;
///
/// let id = Identity::new("alice", "session-1");
/// assert_eq!(id.subject(), "alice");
/// assert!(!id.is_elevated());
/// ```
#[derive(Clone)]
pub struct Identity(Arc<IdentityData>);

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct IdentityData {
    pub(crate) subject: String,
    pub(crate) session: String,
    pub(crate) acr: Option<String>,
    pub(crate) amr: Vec<String>,
    pub(crate) auth_time: Option<u64>,
    pub(crate) elevated: bool,
    pub(crate) token_id: Option<String>,
    pub(crate) issued_at: u64,
    pub(crate) expires_at: u64,
    pub(crate) not_before: Option<u64>,
    pub(crate) device: Option<String>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        f.debug_struct("Identity")
            .field("subject", &d.subject)
            .field("session", &d.session)
            .field("acr", &d.acr)
            .field("amr", &d.amr)
            .field("auth_time", &d.auth_time)
            .field("elevated", &d.elevated)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// An identity for `subject` in `session`, with no second factor.
    #[must_use]
    pub fn new(subject: impl Into<String>, session: impl Into<String>) -> Self {
        Self(Arc::new(IdentityData {
            subject: subject.into(),
            session: session.into(),
            acr: None,
            amr: Vec::new(),
            auth_time: None,
            elevated: false,
            token_id: None,
            issued_at: 0,
            expires_at: u64::MAX,
            not_before: None,
            device: None,
        }))
    }

    /// The same identity, authenticated with `acr` at `auth_time` (Unix seconds),
    /// for sessions whose login already included a second factor.
    #[must_use]
    pub fn with_authentication(self, acr: impl Into<String>, auth_time: u64) -> Self {
        let mut d = (*self.0).clone();
        d.acr = Some(acr.into());
        d.auth_time = Some(auth_time);
        Self(Arc::new(d))
    }

    pub(crate) fn from_data(data: IdentityData) -> Self {
        Self(Arc::new(data))
    }

    pub(crate) fn data(&self) -> &IdentityData {
        &self.0
    }

    /// The subject (`sub`).
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The session (`sid`).
    #[must_use]
    pub fn session(&self) -> &str {
        &self.0.session
    }

    /// Authentication context class (`acr`), when known.
    #[must_use]
    pub fn acr(&self) -> Option<&str> {
        self.0.acr.as_deref()
    }

    /// Authentication methods (`amr`, RFC 8176).
    #[must_use]
    pub fn amr(&self) -> &[String] {
        &self.0.amr
    }

    /// When the factor behind `acr` was verified (Unix seconds).
    #[must_use]
    pub fn auth_time(&self) -> Option<u64> {
        self.0.auth_time
    }

    /// Whether the caller presented an elevated (step-up) token.
    #[must_use]
    pub fn is_elevated(&self) -> bool {
        self.0.elevated
    }

    /// The token id (`jti`), when the token had one.
    #[must_use]
    pub fn token_id(&self) -> Option<&str> {
        self.0.token_id.as_deref()
    }
}
