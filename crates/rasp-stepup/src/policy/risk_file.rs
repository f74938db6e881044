//! The `[risk]` section of a policy file: every setting of `RiskRules`
//! that is not a secret or a data source (the device-cookie key and the
//! GeoIP databases stay in code). Durations are in seconds.

use std::collections::BTreeMap;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::error::ConfigError;
use crate::level::Sensitivity;
use crate::risk::{ClientAddressHeader, Quota, RiskRules, SignalCode};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RiskSection {
    /// Points per signal code.
    #[serde(default)]
    weights: BTreeMap<String, f32>,
    trusted_proxies: Option<Vec<String>>,
    client_address_header: Option<String>,
    ipv6_prefix: Option<u8>,
    trusted_networks: Option<Vec<String>>,
    denied_networks: Option<Vec<String>>,
    max_speed_kmh: Option<f64>,
    learning_sightings: Option<u32>,
    multi_ip_burst: Option<BurstEntry>,
    auth_failure_burst: Option<BurstEntry>,
    not_found_burst: Option<BurstEntry>,
    baseline: Option<BaselineEntry>,
    /// A cookie name, or `false` to turn the device cookie off.
    device_cookie: Option<CookieEntry>,
    insecure_debug_header: Option<bool>,
    #[serde(default)]
    quotas: QuotaSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BurstEntry {
    /// Events (or networks, for `multi_ip_burst`) within the window.
    #[serde(alias = "networks")]
    count: u32,
    window: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineEntry {
    factor: f32,
    floor_per_minute: f32,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CookieEntry {
    Name(String),
    On(bool),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaSection {
    /// The login and verify routes, per client address.
    entry: Option<QuotaEntry>,
    #[serde(default)]
    client: BTreeMap<Sensitivity, QuotaEntry>,
    #[serde(default)]
    subject: BTreeMap<Sensitivity, QuotaEntry>,
}

/// `{ limit, window }`, or `"off"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum QuotaEntry {
    Off(String),
    Set { limit: u32, window: u64 },
}

fn invalid(setting: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        reason: reason.into(),
    }
}

fn networks(setting: &'static str, list: &[String]) -> Result<Vec<IpNet>, ConfigError> {
    list.iter()
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    invalid(
                        setting,
                        format!("{s:?} is not an address or a CIDR network"),
                    )
                })
        })
        .collect()
}

fn window(setting: &'static str, secs: u64) -> Result<Duration, ConfigError> {
    if (1..=86_400).contains(&secs) {
        Ok(Duration::from_secs(secs))
    } else {
        Err(invalid(
            setting,
            format!("window {secs} s: between 1 and 86,400"),
        ))
    }
}

fn burst(setting: &'static str, e: &BurstEntry) -> Result<(u32, Duration), ConfigError> {
    if !(1..=100_000).contains(&e.count) {
        return Err(invalid(
            setting,
            format!("count {}: between 1 and 100,000", e.count),
        ));
    }
    Ok((e.count, window(setting, e.window)?))
}

fn quota(setting: &'static str, e: &QuotaEntry) -> Result<Option<Quota>, ConfigError> {
    match e {
        QuotaEntry::Off(s) if s == "off" => Ok(None),
        QuotaEntry::Off(s) => Err(invalid(
            setting,
            format!("{s:?}: a table {{ limit, window }} or \"off\""),
        )),
        QuotaEntry::Set { limit, window: w } => {
            if !(1..=1_000_000).contains(limit) {
                return Err(invalid(
                    setting,
                    format!("limit {limit}: between 1 and 1,000,000"),
                ));
            }
            Ok(Some(Quota {
                limit: *limit,
                window: window(setting, *w)?,
            }))
        }
    }
}

impl RiskSection {
    pub(super) fn apply(self, r: &mut RiskRules) -> Result<(), ConfigError> {
        let mut rules = std::mem::take(r);
        for (code, points) in &self.weights {
            let kind = SignalCode::from_name(code)
                .ok_or_else(|| invalid("risk.weights", format!("{code:?} names no signal")))?;
            if !points.is_finite() || !(-100.0..=100.0).contains(points) {
                return Err(invalid(
                    "risk.weights",
                    format!("{code} = {points}: between -100 and 100"),
                ));
            }
            rules = rules.signal_weight(kind, *points);
        }
        if let Some(list) = &self.trusted_proxies {
            rules = rules.trusted_proxies(networks("risk.trusted_proxies", list)?);
        }
        if let Some(name) = &self.client_address_header {
            rules = rules.client_address_header(ClientAddressHeader::from_name(name)?);
        }
        if let Some(bits) = self.ipv6_prefix {
            if bits > 128 {
                return Err(invalid(
                    "risk.ipv6_prefix",
                    format!("{bits}: between 0 and 128"),
                ));
            }
            rules = rules.ipv6_prefix(bits);
        }
        if let Some(list) = &self.trusted_networks {
            rules = rules.trusted_networks(networks("risk.trusted_networks", list)?);
        }
        if let Some(list) = &self.denied_networks {
            rules = rules.denied_networks(networks("risk.denied_networks", list)?);
        }
        if let Some(kmh) = self.max_speed_kmh {
            if !kmh.is_finite() || !(1.0..=100_000.0).contains(&kmh) {
                return Err(invalid(
                    "risk.max_speed_kmh",
                    format!("{kmh}: between 1 and 100,000"),
                ));
            }
            rules = rules.max_speed_kmh(kmh);
        }
        if let Some(n) = self.learning_sightings {
            if n > 1_000 {
                return Err(invalid(
                    "risk.learning_sightings",
                    format!("{n}: at most 1,000"),
                ));
            }
            rules = rules.learning_sightings(n);
        }
        if let Some(e) = &self.multi_ip_burst {
            let (n, w) = burst("risk.multi_ip_burst", e)?;
            rules = rules.multi_ip_burst(n, w);
        }
        if let Some(e) = &self.auth_failure_burst {
            let (n, w) = burst("risk.auth_failure_burst", e)?;
            rules = rules.auth_failure_burst(n, w);
        }
        if let Some(e) = &self.not_found_burst {
            let (n, w) = burst("risk.not_found_burst", e)?;
            rules = rules.not_found_burst(n, w);
        }
        if let Some(b) = &self.baseline {
            let ok = |v: f32| v.is_finite() && (1.0..=10_000.0).contains(&v);
            if !ok(b.factor) || !ok(b.floor_per_minute) {
                return Err(invalid(
                    "risk.baseline",
                    "factor and floor_per_minute: between 1 and 10,000",
                ));
            }
            rules = rules.baseline_factor(b.factor, b.floor_per_minute);
        }
        match &self.device_cookie {
            None => {}
            Some(CookieEntry::On(false)) => rules = rules.no_device_cookie(),
            Some(CookieEntry::On(true)) if rules.device_cookie.is_none() => {
                rules.device_cookie = Some(("rasp_did".into(), None));
            }
            Some(CookieEntry::On(true)) => {}
            Some(CookieEntry::Name(name)) => {
                let valid = !name.is_empty()
                    && name.len() <= 64
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if !valid {
                    return Err(invalid(
                        "risk.device_cookie",
                        format!("{name:?}: 1-64 letters, digits, '_' or '-' (or false)"),
                    ));
                }
                // the name changes; a key given in code is kept
                let key = rules.device_cookie.take().and_then(|(_, k)| k);
                rules.device_cookie = Some((name.clone(), key));
            }
        }
        if let Some(on) = self.insecure_debug_header {
            rules = rules.insecure_debug_header(on);
        }
        let q = &self.quotas;
        if let Some(e) = &q.entry {
            rules.rate.per_client_entry = quota("risk.quotas.entry", e)?;
        }
        for (level, e) in &q.client {
            rules.rate.per_client[*level] = quota("risk.quotas.client", e)?;
        }
        for (level, e) in &q.subject {
            rules.rate.per_subject[*level] = quota("risk.quotas.subject", e)?;
        }
        *r = rules;
        Ok(())
    }
}
