//! The route table: (method, route template) -> sensitivity.

use std::collections::HashMap;

use http::Method;

use super::{ConfigError, Sensitivity};

/// One route-table key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RouteKey {
    /// `None` for `*` (every method).
    pub(crate) method: Option<Method>,
    pub(crate) template: String,
    pub(crate) sensitivity: Sensitivity,
}

impl RouteKey {
    pub(crate) fn method_str(&self) -> &str {
        self.method.as_ref().map_or("*", Method::as_str)
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct RouteTable {
    keys: Vec<RouteKey>,
    by_template: HashMap<String, Vec<(Option<Method>, Sensitivity)>>,
    matcher: matchit::Router<String>,
}

pub(crate) fn parse_method(method: &str) -> Result<Option<Method>, ConfigError> {
    if method == "*" {
        return Ok(None);
    }
    let upper = method.to_ascii_uppercase();
    Method::from_bytes(upper.as_bytes())
        .map(Some)
        .map_err(|_| ConfigError::InvalidMethod(method.to_owned()))
}

impl RouteTable {
    pub(crate) fn new(keys: Vec<RouteKey>) -> Result<Self, ConfigError> {
        let mut by_template: HashMap<String, Vec<(Option<Method>, Sensitivity)>> = HashMap::new();
        let mut matcher = matchit::Router::new();
        for key in &keys {
            if !key.template.starts_with('/') {
                return Err(ConfigError::InvalidRoute {
                    route: key.template.clone(),
                    reason: "a route template starts with '/'".into(),
                });
            }
            let entry = by_template.entry(key.template.clone()).or_default();
            if entry.iter().any(|(m, _)| *m == key.method) {
                return Err(ConfigError::DuplicateRoute {
                    method: key.method_str().to_owned(),
                    route: key.template.clone(),
                });
            }
            if entry.is_empty() {
                matcher
                    .insert(key.template.clone(), key.template.clone())
                    .map_err(|e| ConfigError::InvalidRoute {
                        route: key.template.clone(),
                        reason: e.to_string(),
                    })?;
            }
            entry.push((key.method.clone(), key.sensitivity));
        }
        Ok(Self {
            keys,
            by_template,
            matcher,
        })
    }

    pub(crate) fn keys(&self) -> &[RouteKey] {
        &self.keys
    }

    /// The table template whose pattern matches the raw path, if any.
    pub(crate) fn pattern_match(&self, path: &str) -> Option<&str> {
        if self.keys.is_empty() {
            return None;
        }
        self.matcher.at(path).ok().map(|m| m.value.as_str())
    }

    /// The strictest sensitivity the table gives (method, template), if any.
    pub(crate) fn lookup(&self, method: &Method, template: &str) -> Option<Sensitivity> {
        self.by_template
            .get(template)?
            .iter()
            .filter(|(m, _)| m.as_ref().is_none_or(|m| m == method))
            .map(|(_, s)| *s)
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(m: &str, t: &str, s: Sensitivity) -> RouteKey {
        RouteKey {
            method: parse_method(m).unwrap(),
            template: t.into(),
            sensitivity: s,
        }
    }

    #[test]
    fn strictest_of_method_and_wildcard_wins() {
        let t = RouteTable::new(vec![
            key("GET", "/admin/{*rest}", Sensitivity::Public),
            key("*", "/admin/{*rest}", Sensitivity::Critical),
            key("post", "/transfer", Sensitivity::High),
        ])
        .unwrap();
        assert_eq!(
            t.lookup(&Method::GET, "/admin/{*rest}"),
            Some(Sensitivity::Critical)
        );
        assert_eq!(
            t.lookup(&Method::POST, "/transfer"),
            Some(Sensitivity::High)
        );
        assert_eq!(t.lookup(&Method::GET, "/transfer"), None);
    }

    #[test]
    fn raw_paths_match_templates_without_axum() {
        let t = RouteTable::new(vec![key("*", "/admin/{*rest}", Sensitivity::Critical)]).unwrap();
        assert_eq!(t.pattern_match("/admin/settings"), Some("/admin/{*rest}"));
        assert_eq!(t.pattern_match("/account"), None);
    }

    #[test]
    fn bad_keys_are_config_errors() {
        assert!(matches!(
            RouteTable::new(vec![key("GET", "transfer", Sensitivity::High)]),
            Err(ConfigError::InvalidRoute { .. })
        ));
        assert!(matches!(
            RouteTable::new(vec![
                key("GET", "/a", Sensitivity::High),
                key("GET", "/a", Sensitivity::Public)
            ]),
            Err(ConfigError::DuplicateRoute { .. })
        ));
        assert!(matches!(
            parse_method("GE T"),
            Err(ConfigError::InvalidMethod(_))
        ));
    }
}
