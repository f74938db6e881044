//! The TOML policy file (see `docs/policy.md`). Durations are in seconds.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, FailMode, Mode, PolicyBuilder, Requirement, Sensitivity};
use crate::token::TokenSection;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyFile {
    mode: Option<Mode>,
    log_addresses: Option<super::LogAddresses>,
    default_sensitivity: Option<Sensitivity>,
    #[serde(default)]
    routes: Vec<RouteEntry>,
    #[serde(default)]
    levels: BTreeMap<Sensitivity, LevelSection>,
    #[serde(default)]
    fail_mode: BTreeMap<Sensitivity, FailMode>,
    #[serde(default)]
    step_up: StepUpSection,
    #[serde(default)]
    tokens: TokenSection,
    #[serde(default)]
    inspection: InspectionSection,
    #[serde(default)]
    risk: super::risk_file::RiskSection,
    #[serde(default)]
    exclusions: Vec<crate::inspect::Exclusion>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InspectionSection {
    enabled: Option<bool>,
    level: Option<u8>,
    #[serde(default)]
    headers: Vec<String>,
    custom_headers: Option<bool>,
    cookies: Option<bool>,
    max_body_bytes: Option<usize>,
    over_limit: Option<crate::inspect::OverLimit>,
    max_json_depth: Option<usize>,
    compressed_bodies: Option<crate::inspect::CompressedBodies>,
    malformed_bodies: Option<crate::inspect::MalformedBodies>,
    sink_inputs: Option<bool>,
    sink_flag: Option<u64>,
    sink_revokes_session: Option<bool>,
    #[serde(default)]
    budget: BTreeMap<Sensitivity, BudgetEntry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetEntry {
    units: Option<usize>,
    over: Option<crate::inspect::OverBudget>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteEntry {
    #[serde(default = "any_method")]
    method: String,
    path: String,
    sensitivity: Sensitivity,
}

fn any_method() -> String {
    "*".into()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelSection {
    authenticated: Option<bool>,
    acr_values: Option<Vec<String>>,
    max_age: Option<u64>,
    risk_step_up: Option<f32>,
    risk_reject: Option<f32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepUpSection {
    challenge_ttl: Option<u64>,
    max_attempts: Option<u32>,
    verify_uri: Option<String>,
    totp_skew: Option<u8>,
    subject_window: Option<u64>,
    subject_max_failures: Option<u32>,
    subject_base_backoff: Option<u64>,
    subject_max_backoff: Option<u64>,
    subject_hard_cap: Option<u32>,
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

impl PolicyFile {
    pub(super) fn apply(self, mut b: PolicyBuilder) -> Result<PolicyBuilder, ConfigError> {
        if let Some(how) = self.log_addresses {
            b = b.log_addresses(how);
        }
        if let Some(m) = self.mode {
            b.mode = m;
        }
        if let Some(d) = self.default_sensitivity {
            b.default_sensitivity = d;
        }
        for r in self.routes {
            b.routes.push((r.method, r.path, r.sensitivity));
        }
        for (level, sec) in self.levels {
            sec.apply(&mut b.requirements[level]);
        }
        for (level, mode) in self.fail_mode {
            b.fail_modes[level] = mode;
        }
        self.step_up.apply(&mut b.step_up);
        self.inspection.apply(&mut b.inspection)?;
        self.risk.apply(&mut b.risk)?;
        b.inspection.exclusions.extend(self.exclusions);
        let t = self.tokens;
        let f = &mut b.file_tokens;
        f.issuer = t.issuer.or(f.issuer.take());
        f.audience = t.audience.or(f.audience.take());
        f.leeway = t.leeway.or(f.leeway);
        f.elevated_ttl = t.elevated_ttl.or(f.elevated_ttl);
        f.base_token_types = t.base_token_types.or(f.base_token_types.take());
        f.identity_providers = t.identity_providers.or(f.identity_providers.take());
        Ok(b)
    }
}

impl LevelSection {
    fn apply(self, cur: &mut Requirement) {
        if let Some(a) = self.authenticated {
            cur.authenticated = a;
        }
        if let Some(v) = self.acr_values {
            cur.acr_values = v;
        }
        if let Some(s) = self.max_age {
            cur.max_age = Some(secs(s));
        }
        if let Some(s) = self.risk_step_up {
            cur.risk_step_up = s;
        }
        if let Some(s) = self.risk_reject {
            cur.risk_reject = s;
        }
    }
}

impl StepUpSection {
    fn apply(self, st: &mut super::StepUpSettings) {
        if let Some(v) = self.challenge_ttl {
            st.challenge_ttl = secs(v);
        }
        if let Some(v) = self.max_attempts {
            st.max_attempts = v;
        }
        if let Some(v) = self.verify_uri {
            st.verify_uri = v;
        }
        if let Some(v) = self.totp_skew {
            st.totp_skew = v;
        }
        let l = &mut st.subject_limits;
        if let Some(v) = self.subject_window {
            l.window = secs(v);
        }
        if let Some(v) = self.subject_max_failures {
            l.max_failures = v;
        }
        if let Some(v) = self.subject_base_backoff {
            l.base_backoff = secs(v);
        }
        if let Some(v) = self.subject_max_backoff {
            l.max_backoff = secs(v);
        }
        if let Some(v) = self.subject_hard_cap {
            l.hard_cap = v;
        }
    }
}

impl InspectionSection {
    fn apply(self, ins: &mut crate::inspect::InspectionRules) -> Result<(), ConfigError> {
        if let Some(v) = self.enabled {
            ins.enabled = v;
        }
        if let Some(v) = self.level {
            if !(1..=4).contains(&v) {
                return Err(ConfigError::Invalid {
                    setting: "inspection.level",
                    reason: format!("{v} is not between 1 and 4"),
                });
            }
            ins.level = v;
        }
        for h in self.headers {
            let name =
                http::HeaderName::from_bytes(h.as_bytes()).map_err(|_| ConfigError::Invalid {
                    setting: "inspection.headers",
                    reason: format!("invalid header name {h:?}"),
                })?;
            if !ins.headers.contains(&name) {
                ins.headers.push(name);
            }
        }
        if let Some(v) = self.custom_headers {
            ins.custom_headers = v;
        }
        if let Some(v) = self.cookies {
            ins.cookies = v;
        }
        if let Some(v) = self.max_body_bytes {
            ins.max_body_bytes = v;
        }
        if let Some(v) = self.over_limit {
            ins.over_limit = v;
        }
        if let Some(v) = self.max_json_depth {
            ins.max_json_depth = v;
        }
        if let Some(v) = self.compressed_bodies {
            ins.compressed_bodies = v;
        }
        if let Some(v) = self.malformed_bodies {
            ins.malformed_bodies = v;
        }
        if let Some(v) = self.sink_inputs {
            ins.sink_inputs = v;
        }
        if let Some(v) = self.sink_flag {
            ins.sink_flag = Duration::from_secs(v);
        }
        if let Some(v) = self.sink_revokes_session {
            ins.sink_revokes_session = v;
        }
        for (level, e) in self.budget {
            let b = &mut ins.budgets[level];
            b.units = e.units.unwrap_or(b.units);
            b.over = e.over.unwrap_or(b.over);
        }
        Ok(())
    }
}
