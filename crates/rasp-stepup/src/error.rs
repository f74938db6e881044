//! Configuration errors, shared by every part that reads settings.

use std::fmt;

/// A setting was missing or invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A route-table method is not an HTTP method or `*`.
    InvalidMethod(String),
    /// A route-table template is not a valid Axum route template.
    InvalidRoute {
        /// The template.
        route: String,
        /// Why it was refused.
        reason: String,
    },
    /// The same (method, template) appears twice.
    DuplicateRoute {
        /// The method (`*` for all).
        method: String,
        /// The template.
        route: String,
    },
    /// A route-table key that no route of the application serves.
    UnroutedKey {
        /// The method (`*` for all).
        method: String,
        /// The template.
        route: String,
    },
    /// A required setting was not given.
    Missing(&'static str),
    /// A setting has an invalid value.
    Invalid {
        /// The setting's name (as in TOML).
        setting: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// A key could not be used.
    InvalidKey(String),
    /// The policy file could not be read or parsed.
    File(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidMethod(m) => write!(f, "invalid method {m:?} in route table"),
            Self::InvalidRoute { route, reason } => {
                write!(f, "invalid route template {route:?}: {reason}")
            }
            Self::DuplicateRoute { method, route } => {
                write!(f, "route {method} {route:?} is listed twice")
            }
            Self::UnroutedKey { method, route } => write!(
                f,
                "route-table key {method} {route:?} matches no route of the application"
            ),
            Self::Missing(setting) => write!(f, "missing setting `{setting}`"),
            Self::Invalid { setting, reason } => write!(f, "invalid `{setting}`: {reason}"),
            Self::InvalidKey(why) => write!(f, "invalid key: {why}"),
            Self::File(why) => write!(f, "policy file: {why}"),
        }
    }
}

impl std::error::Error for ConfigError {}
