//! Exclusions: silence a rule or a class for a route template and a key
//! path. Each counts its hits; one that never matched is reported.

use std::sync::atomic::{AtomicU64, Ordering};

use rasp_detect::{Class, Findings};

/// What an exclusion silences.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    /// Route template (`/search`); `None` for every route.
    #[serde(default)]
    pub route: Option<String>,
    /// Key path (`query.q`, `body.comment`, `header.user-agent`); a
    /// trailing `*` matches a prefix; `None` for every key.
    #[serde(default)]
    pub key: Option<String>,
    /// A rule id (`sqli-union`).
    #[serde(default)]
    pub rule: Option<String>,
    /// A class (`sqli`).
    #[serde(default)]
    pub class: Option<String>,
}

impl Exclusion {
    /// Silences `rule_or_class` (a rule id such as `xss-js-scheme`, or a class
    /// such as `xss`) on `key` of `route`.
    #[must_use]
    pub fn new(route: Option<&str>, key: Option<&str>, rule_or_class: &str) -> Self {
        let is_class = Class::from_name(rule_or_class).is_some();
        Self {
            route: route.map(str::to_owned),
            key: key.map(str::to_owned),
            rule: (!is_class).then(|| rule_or_class.to_owned()),
            class: is_class.then(|| rule_or_class.to_owned()),
        }
    }

    fn describe(&self) -> String {
        format!(
            "route={} key={} {}",
            self.route.as_deref().unwrap_or("*"),
            self.key.as_deref().unwrap_or("*"),
            match (&self.rule, &self.class) {
                (Some(r), _) => format!("rule={r}"),
                (None, Some(c)) => format!("class={c}"),
                (None, None) => "everything".into(),
            }
        )
    }

    fn matches_key(&self, key: &str) -> bool {
        match &self.key {
            None => true,
            Some(k) => match k.strip_suffix('*') {
                Some(prefix) => key.starts_with(prefix),
                None => k == key,
            },
        }
    }
}

/// How often each exclusion matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExclusionReport {
    /// The exclusion, described.
    pub exclusion: String,
    /// Findings it silenced.
    pub hits: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Compiled {
    list: Vec<(Exclusion, AtomicU64)>,
}

impl Compiled {
    pub(crate) fn new(list: &[Exclusion]) -> Self {
        Self {
            list: list
                .iter()
                .map(|e| (e.clone(), AtomicU64::new(0)))
                .collect(),
        }
    }

    pub(crate) fn validate(list: &[Exclusion]) -> Result<(), String> {
        for e in list {
            if let Some(c) = &e.class
                && Class::from_name(c).is_none()
            {
                return Err(format!("unknown class {c:?} in exclusion {}", e.describe()));
            }
            if let Some(r) = &e.rule
                && !rasp_detect::rules().any(|rule| rule.id() == r)
            {
                return Err(format!("unknown rule {r:?} in exclusion {}", e.describe()));
            }
        }
        Ok(())
    }

    pub(crate) fn apply(&self, route: Option<&str>, key: &str, findings: &mut Findings) {
        if self.list.is_empty() {
            return;
        }
        findings.retain(|f| {
            for (e, hits) in &self.list {
                let route_ok = e.route.as_deref().is_none_or(|r| Some(r) == route);
                let target_ok = match (&e.rule, &e.class) {
                    (Some(r), _) => r == f.rule,
                    (None, Some(c)) => c == f.class.as_str(),
                    (None, None) => true,
                };
                if route_ok && target_ok && e.matches_key(key) {
                    hits.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
            }
            true
        });
    }

    pub(crate) fn report(&self) -> Vec<ExclusionReport> {
        self.list
            .iter()
            .map(|(e, hits)| ExclusionReport {
                exclusion: e.describe(),
                hits: hits.load(Ordering::Relaxed),
            })
            .collect()
    }
}
