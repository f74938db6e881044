//! Adaptive risk: client address, rate limits, location, device and
//! behaviour signals, combined into an explainable score.
//!
//! Each assessor yields [`Signal`]s (`code`, `confidence`, `points`). Signals
//! fall into categories (location, network, device, behaviour); a category
//! contributes its strongest signal (network adds its trusted-network bonus),
//! and the categories add up to a score from 0 to 100. Each level's
//! [`Requirement`](crate::Requirement) compares the score with its
//! `risk_step_up` and `risk_reject` thresholds. See `docs/risk.md`.

mod client;
mod device;
mod location;
mod rate;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

pub use client::{ClientAddressHeader, PeerAddr};
pub(crate) use client::{address_key, client_ip, peer_of};
pub(crate) use device::{DeviceCookie, device_key, fingerprint};
#[cfg(feature = "geoip")]
pub use location::GeoIp;
pub use location::{Anonymity, GeoIpError, Location, Locator, distance_km};
pub(crate) use rate::RateLimited;
pub use rate::{Quota, RateRules, RateVerdict, gcra, gcra_params};

use crate::clock::Timestamp;

/// Signal codes.
pub mod codes {
    /// Two sightings farther apart than the maximum speed allows.
    pub const IMPOSSIBLE_TRAVEL: &str = "impossible_travel";
    /// A country this subject was not confirmed in before.
    pub const NEW_COUNTRY: &str = "new_country";
    /// An autonomous system this subject was not confirmed in before.
    pub const NEW_ASN: &str = "new_asn";
    /// Tor, public proxy, anonymous VPN or hosting network.
    pub const ANONYMOUS_IP: &str = "anonymous_ip";
    /// An allow-listed network (lowers the score).
    pub const TRUSTED_NETWORK: &str = "trusted_network";
    /// A deny-listed network (always rejected).
    pub const DENIED_NETWORK: &str = "denied_network";
    /// A device this subject was not confirmed on before.
    pub const NEW_DEVICE: &str = "new_device";
    /// One subject from many networks in a short window.
    pub const MULTI_IP_BURST: &str = "multi_ip_burst";
    /// Many 401/403 answers of the app to this client or subject.
    pub const AUTH_FAILURE_BURST: &str = "auth_failure_burst";
    /// Many 404 answers of the app to this client (enumeration).
    pub const NOT_FOUND_BURST: &str = "not_found_burst";
    /// A request rate far above the subject's own baseline.
    pub const RATE_ABOVE_BASELINE: &str = "rate_above_baseline";
    /// No location data for the address (informational).
    pub const MISSING_GEOIP: &str = "missing_geoip";
    /// No client address known (informational).
    pub const MISSING_CLIENT_ADDR: &str = "missing_client_addr";
    /// Within the subject's learning period (informational).
    pub const INITIAL_SIGHTING: &str = "initial_sighting";
    /// Lower-confidence injection findings in the request's inputs.
    pub const INJECTION_SUSPECT: &str = "injection_suspect";
    /// A sink guard refused an input of this subject, or of this client
    /// address, within the flag period (see `InspectionRules::sink_flag`).
    pub const SINK_INJECTION: &str = "sink_injection";
}

/// A risk signal, typed: settings that name one by its code are checked
/// against this list when the policy is built, so a misspelt code is a
/// configuration error rather than a weight that never applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignalCode {
    /// `impossible_travel` (see [`codes::IMPOSSIBLE_TRAVEL`]).
    ImpossibleTravel,
    /// `new_country` (see [`codes::NEW_COUNTRY`]).
    NewCountry,
    /// `new_asn` (see [`codes::NEW_ASN`]).
    NewAsn,
    /// `anonymous_ip` (see [`codes::ANONYMOUS_IP`]).
    AnonymousIp,
    /// `trusted_network` (see [`codes::TRUSTED_NETWORK`]).
    TrustedNetwork,
    /// `denied_network` (see [`codes::DENIED_NETWORK`]).
    DeniedNetwork,
    /// `new_device` (see [`codes::NEW_DEVICE`]).
    NewDevice,
    /// `multi_ip_burst` (see [`codes::MULTI_IP_BURST`]).
    MultiIpBurst,
    /// `auth_failure_burst` (see [`codes::AUTH_FAILURE_BURST`]).
    AuthFailureBurst,
    /// `not_found_burst` (see [`codes::NOT_FOUND_BURST`]).
    NotFoundBurst,
    /// `rate_above_baseline` (see [`codes::RATE_ABOVE_BASELINE`]).
    RateAboveBaseline,
    /// `missing_geoip` (see [`codes::MISSING_GEOIP`]).
    MissingGeoip,
    /// `missing_client_addr` (see [`codes::MISSING_CLIENT_ADDR`]).
    MissingClientAddr,
    /// `initial_sighting` (see [`codes::INITIAL_SIGHTING`]).
    InitialSighting,
    /// `injection_suspect` (see [`codes::INJECTION_SUSPECT`]).
    InjectionSuspect,
    /// `sink_injection` (see [`codes::SINK_INJECTION`]).
    SinkInjection,
}

impl SignalCode {
    /// Every signal.
    pub const ALL: [SignalCode; 16] = [
        Self::ImpossibleTravel,
        Self::NewCountry,
        Self::NewAsn,
        Self::AnonymousIp,
        Self::TrustedNetwork,
        Self::DeniedNetwork,
        Self::NewDevice,
        Self::MultiIpBurst,
        Self::AuthFailureBurst,
        Self::NotFoundBurst,
        Self::RateAboveBaseline,
        Self::MissingGeoip,
        Self::MissingClientAddr,
        Self::InitialSighting,
        Self::InjectionSuspect,
        Self::SinkInjection,
    ];

    /// The code as logs, headers and settings spell it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ImpossibleTravel => codes::IMPOSSIBLE_TRAVEL,
            Self::NewCountry => codes::NEW_COUNTRY,
            Self::NewAsn => codes::NEW_ASN,
            Self::AnonymousIp => codes::ANONYMOUS_IP,
            Self::TrustedNetwork => codes::TRUSTED_NETWORK,
            Self::DeniedNetwork => codes::DENIED_NETWORK,
            Self::NewDevice => codes::NEW_DEVICE,
            Self::MultiIpBurst => codes::MULTI_IP_BURST,
            Self::AuthFailureBurst => codes::AUTH_FAILURE_BURST,
            Self::NotFoundBurst => codes::NOT_FOUND_BURST,
            Self::RateAboveBaseline => codes::RATE_ABOVE_BASELINE,
            Self::MissingGeoip => codes::MISSING_GEOIP,
            Self::MissingClientAddr => codes::MISSING_CLIENT_ADDR,
            Self::InitialSighting => codes::INITIAL_SIGHTING,
            Self::InjectionSuspect => codes::INJECTION_SUSPECT,
            Self::SinkInjection => codes::SINK_INJECTION,
        }
    }

    /// The signal a code names, if any.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    fn category(self) -> Category {
        match self {
            Self::ImpossibleTravel | Self::NewCountry | Self::NewAsn => Category::Location,
            Self::AnonymousIp | Self::TrustedNetwork | Self::DeniedNetwork => Category::Network,
            Self::NewDevice => Category::Device,
            Self::MultiIpBurst
            | Self::AuthFailureBurst
            | Self::NotFoundBurst
            | Self::RateAboveBaseline => Category::Behaviour,
            Self::MissingGeoip | Self::MissingClientAddr | Self::InitialSighting => Category::Info,
            Self::InjectionSuspect | Self::SinkInjection => Category::Input,
        }
    }
}

impl std::fmt::Display for SignalCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Category {
    Location,
    Network,
    Device,
    Behaviour,
    Input,
    Info,
}

/// One finding of an assessor.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Signal {
    /// The code (see [`codes`]).
    pub code: &'static str,
    /// The same, typed.
    pub kind: SignalCode,
    /// 0 to 1.
    pub confidence: f32,
    /// Points it adds (weight × confidence; negative lowers the score).
    pub points: f32,
}

/// The assessment of one request: a score and the signals behind it.
/// Inserted into response extensions.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Assessment {
    /// 0 to 100.
    pub score: f32,
    /// Every signal, informational ones included.
    pub signals: Vec<Signal>,
}

impl Assessment {
    /// The codes of all signals.
    #[must_use]
    pub fn codes(&self) -> Vec<&'static str> {
        self.signals.iter().map(|s| s.code).collect()
    }

    /// Whether a signal with `code` is present.
    #[must_use]
    pub fn has(&self, code: &str) -> bool {
        self.signals.iter().any(|s| s.code == code)
    }

    fn push(&mut self, kind: SignalCode, confidence: f32, rules: &RiskRules) {
        let points = rules.weight_of(kind) * confidence;
        self.signals.push(Signal {
            code: kind.as_str(),
            kind,
            confidence,
            points,
        });
    }

    fn finish(&mut self) {
        let mut by_cat = [0f32; 5];
        let mut bonus = 0f32;
        for s in &self.signals {
            let i = match s.kind.category() {
                Category::Location => 0,
                Category::Network => 1,
                Category::Device => 2,
                Category::Behaviour => 3,
                Category::Input => 4,
                Category::Info => continue,
            };
            if s.points < 0.0 {
                bonus += s.points;
            } else {
                by_cat[i] = by_cat[i].max(s.points);
            }
        }
        self.score = (by_cat.iter().sum::<f32>() + bonus).clamp(0.0, 100.0);
    }

    /// `score=50 codes=impossible_travel,new_country` (debug header).
    pub(crate) fn header_value(&self) -> String {
        format!("score={:.0} codes={}", self.score, self.codes().join(","))
    }
}

/// A confirmed sighting: where the subject last was, and when.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sighting {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Accuracy radius, km.
    pub radius_km: f64,
    /// When (ms since the epoch).
    pub at_ms: u64,
}

/// A small most-recent-last set of at most `N` items, stored inline (no heap).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    from = "Vec<T>",
    into = "Vec<T>",
    bound(
        serialize = "T: Copy + Default + Serialize",
        deserialize = "T: Copy + Default + Deserialize<'de>"
    )
)]
pub struct Ring<T: Copy + Default, const N: usize> {
    items: [T; N],
    len: u8,
}

impl<T: Copy + Default, const N: usize> Default for Ring<T, N> {
    fn default() -> Self {
        Self {
            items: [T::default(); N],
            len: 0,
        }
    }
}

impl<T: Copy + Default, const N: usize> From<Vec<T>> for Ring<T, N> {
    fn from(v: Vec<T>) -> Self {
        let mut r = Self::default();
        for item in v
            .into_iter()
            .rev()
            .take(N)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            r.items[r.len as usize] = item;
            r.len += 1;
        }
        r
    }
}

impl<T: Copy + Default, const N: usize> From<Ring<T, N>> for Vec<T> {
    fn from(r: Ring<T, N>) -> Self {
        r.items[..r.len as usize].to_vec()
    }
}

impl<T: Copy + Default + PartialEq, const N: usize> Ring<T, N> {
    /// The items, oldest first.
    #[must_use]
    pub fn as_slice(&self) -> &[T] {
        &self.items[..self.len as usize]
    }

    /// Whether `item` is present.
    #[must_use]
    pub fn contains(&self, item: &T) -> bool {
        self.as_slice().contains(item)
    }

    /// Number of items.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether there are no items.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps the items for which `f` is true.
    pub fn retain(&mut self, mut f: impl FnMut(&T) -> bool) {
        let mut w = 0;
        for r in 0..self.len as usize {
            let item = self.items[r];
            if f(&item) {
                self.items[w] = item;
                w += 1;
            }
        }
        self.len = w as u8;
    }

    /// Adds `item` as the most recent (moving it if present), dropping the
    /// oldest when full.
    pub fn remember(&mut self, item: T) {
        self.retain(|x| *x != item);
        if self.len as usize == N {
            self.items.copy_within(1.., 0);
            self.len -= 1;
        }
        self.items[self.len as usize] = item;
        self.len += 1;
    }

    /// Empties the ring.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

/// What the risk engine remembers of one subject. Bounded and inline (about
/// 260 bytes): every list keeps its most recent entries only.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SubjectHistory {
    /// Confirmed (low-risk or stepped-up) sightings so far.
    pub sightings: u32,
    /// Last confirmed location.
    pub last: Option<Sighting>,
    /// Confirmed countries (ISO codes).
    pub countries: Ring<[u8; 2], 8>,
    /// Confirmed ASNs.
    pub asns: Ring<u32, 8>,
    /// Confirmed device keys.
    pub devices: Ring<u64, 8>,
    /// Recent networks (hash, seen at seconds since the epoch), for multi-IP bursts.
    pub networks: Ring<(u32, u32), 8>,
    /// Current minute (since the epoch).
    pub minute: u64,
    /// Requests in `minute`.
    pub minute_count: u32,
    /// Moving average of requests per minute.
    pub baseline: f32,
    /// Devices (keys of their signed cookies) that completed a step-up:
    /// failed verifications from one of them lock out that device only.
    #[serde(default)]
    pub step_up_devices: Ring<u64, 4>,
}

fn country_code(c: &str) -> Option<[u8; 2]> {
    let b = c.as_bytes();
    (b.len() == 2).then(|| [b[0], b[1]])
}

fn network_key(ip: IpAddr) -> u32 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let net: IpNet = match ip {
        IpAddr::V4(v4) => IpNet::V4(
            ipnet::Ipv4Net::new(v4, 24)
                .map(|n| n.trunc())
                .unwrap_or_default(),
        ),
        IpAddr::V6(v6) => IpNet::V6(
            ipnet::Ipv6Net::new(v6, 48)
                .map(|n| n.trunc())
                .unwrap_or_default(),
        ),
    };
    let mut h = DefaultHasher::new();
    net.hash(&mut h);
    h.finish() as u32
}

/// A burst: this many events within the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Burst {
    pub(crate) count: u32,
    pub(crate) window: Duration,
}

impl Burst {
    const fn new(count: u32, window: Duration) -> Self {
        Self { count, window }
    }
}

/// Risk settings. `RiskRules::default()` is on with sensible weights; no
/// location source until one is given.
///
/// ```
/// use std::time::Duration;
/// use rasp_stepup::risk::{Quota, RateRules, codes};
/// use rasp_stepup::{RiskRules, Sensitivity};
///
/// let rules = RiskRules::default()
///     // behind one proxy that writes X-Forwarded-For
///     .trusted_proxies(["10.0.0.0/8".parse().unwrap()])
///     // a Tor exit or an anonymous VPN is rejected on high routes
///     .weight(codes::ANONYMOUS_IP, 95.0)
///     .auth_failure_burst(5, Duration::from_secs(300))
///     .rate(RateRules::default().per_client(Sensitivity::High, Some(Quota::per_minute(20))));
/// # let _ = rules;
/// ```
#[derive(Clone)]
#[must_use]
pub struct RiskRules {
    pub(crate) trusted_proxies: Vec<IpNet>,
    pub(crate) client_header: ClientAddressHeader,
    pub(crate) ipv6_prefix: u8,
    pub(crate) rate: RateRules,
    pub(crate) locator: Option<Arc<dyn Locator>>,
    pub(crate) trusted_networks: Vec<IpNet>,
    pub(crate) denied_networks: Vec<IpNet>,
    pub(crate) max_speed_kmh: f64,
    pub(crate) learning_sightings: u32,
    pub(crate) multi_ip: Burst,
    pub(crate) auth_failures: Burst,
    pub(crate) not_found: Burst,
    pub(crate) baseline_factor: f32,
    pub(crate) baseline_floor: f32,
    weights: Vec<(SignalCode, f32)>,
    /// Codes given to [`RiskRules::weight`] that name no signal (refused
    /// when the policy is built).
    pub(crate) unknown_weights: Vec<&'static str>,
    pub(crate) device_cookie: Option<(String, Option<[u8; 32]>)>,
    pub(crate) debug_header: bool,
    pub(crate) confirm_below: f32,
    pub(crate) history_ttl: Duration,
}

impl std::fmt::Debug for RiskRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RiskRules")
            .field("trusted_proxies", &self.trusted_proxies)
            .field("client_header", &self.client_header)
            .field("ipv6_prefix", &self.ipv6_prefix)
            .field("rate", &self.rate)
            .field("locator", &self.locator.is_some())
            .field("max_speed_kmh", &self.max_speed_kmh)
            .field("weights", &self.weights)
            .finish_non_exhaustive()
    }
}

impl Default for RiskRules {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            client_header: ClientAddressHeader::XForwardedFor,
            ipv6_prefix: 64,
            rate: RateRules::default(),
            locator: None,
            trusted_networks: Vec::new(),
            denied_networks: Vec::new(),
            max_speed_kmh: 900.0,
            learning_sightings: 3,
            multi_ip: Burst::new(4, Duration::from_secs(600)),
            auth_failures: Burst::new(10, Duration::from_secs(300)),
            not_found: Burst::new(30, Duration::from_secs(60)),
            baseline_factor: 10.0,
            baseline_floor: 30.0,
            weights: vec![
                (SignalCode::ImpossibleTravel, 50.0),
                (SignalCode::NewCountry, 30.0),
                (SignalCode::NewAsn, 15.0),
                (SignalCode::AnonymousIp, 50.0),
                (SignalCode::TrustedNetwork, -30.0),
                (SignalCode::NewDevice, 45.0),
                (SignalCode::MultiIpBurst, 45.0),
                (SignalCode::AuthFailureBurst, 45.0),
                (SignalCode::NotFoundBurst, 30.0),
                (SignalCode::RateAboveBaseline, 25.0),
                (SignalCode::InjectionSuspect, 40.0),
                (SignalCode::SinkInjection, 50.0),
            ],
            unknown_weights: Vec::new(),
            device_cookie: Some(("rasp_did".into(), None)),
            debug_header: false,
            confirm_below: 30.0,
            history_ttl: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

impl RiskRules {
    /// Proxies whose client-address header is believed (none by default:
    /// the socket peer is the client). List exactly your own proxies.
    pub fn trusted_proxies<I: IntoIterator<Item = IpNet>>(mut self, nets: I) -> Self {
        self.trusted_proxies = nets.into_iter().collect();
        self
    }

    /// The header the trusted proxies write the client's address into
    /// (default `X-Forwarded-For`). No other client-address header is read.
    pub fn client_address_header(mut self, header: ClientAddressHeader) -> Self {
        self.client_header = header;
        self
    }

    /// The prefix length under which IPv6 clients are counted by the
    /// per-address quotas and the 401/403/404 bursts (default 64: one
    /// subscriber's network; IPv4 clients are counted by their whole
    /// address). 128 counts each IPv6 address alone; values above 128 count
    /// as 128.
    pub fn ipv6_prefix(mut self, bits: u8) -> Self {
        self.ipv6_prefix = bits.min(128);
        self
    }

    /// The address `ip` is counted under.
    pub(crate) fn address_key(&self, ip: IpAddr) -> IpAddr {
        address_key(ip, self.ipv6_prefix)
    }

    /// Rate quotas.
    pub fn rate(mut self, rate: RateRules) -> Self {
        self.rate = rate;
        self
    }

    /// The location source (e.g. [`GeoIp`]).
    pub fn locator(mut self, locator: impl Locator) -> Self {
        self.locator = Some(Arc::new(locator));
        self
    }

    /// Networks that lower risk (office, VPN egress).
    pub fn trusted_networks<I: IntoIterator<Item = IpNet>>(mut self, nets: I) -> Self {
        self.trusted_networks = nets.into_iter().collect();
        self
    }

    /// Networks that are always rejected (403) on authenticated routes and above.
    pub fn denied_networks<I: IntoIterator<Item = IpNet>>(mut self, nets: I) -> Self {
        self.denied_networks = nets.into_iter().collect();
        self
    }

    /// Speed above which travel is impossible (default 900 km/h).
    pub fn max_speed_kmh(mut self, kmh: f64) -> Self {
        self.max_speed_kmh = kmh;
        self
    }

    /// Confirmed sightings before location and device signals start
    /// (default 3).
    pub fn learning_sightings(mut self, n: u32) -> Self {
        self.learning_sightings = n;
        self
    }

    /// Distinct networks (/24, /48) per subject within `window` that make a
    /// burst (default 4 in 10 min).
    pub fn multi_ip_burst(mut self, networks: u32, window: Duration) -> Self {
        self.multi_ip = Burst::new(networks, window);
        self
    }

    /// 401/403 answers per client or subject within `window` that make a
    /// burst (default 10 in 5 min).
    pub fn auth_failure_burst(mut self, count: u32, window: Duration) -> Self {
        self.auth_failures = Burst::new(count, window);
        self
    }

    /// `rate_above_baseline`: a minute with more than `factor` times the
    /// subject's moving average of requests per minute, the average counted
    /// as at least `floor_per_minute / factor` (defaults 10 and 30: a
    /// subject is never flagged below 30 requests a minute). Values below 1
    /// count as 1.
    pub fn baseline_factor(mut self, factor: f32, floor_per_minute: f32) -> Self {
        let sane = |v: f32| if v.is_finite() { v.max(1.0) } else { 1.0 };
        self.baseline_factor = sane(factor);
        self.baseline_floor = sane(floor_per_minute);
        self
    }

    /// 404 answers per client within `window` that make a burst (default 30 in 1 min).
    pub fn not_found_burst(mut self, count: u32, window: Duration) -> Self {
        self.not_found = Burst::new(count, window);
        self
    }

    /// Sets the points of a signal (confidence 1), by its code
    /// (`"anonymous_ip"`, see [`codes`]). A code that names no signal makes
    /// [`PolicyBuilder::build`](crate::PolicyBuilder::build) fail with
    /// [`ConfigError::Invalid`](crate::ConfigError::Invalid) (`risk.weight`).
    pub fn weight(mut self, code: &'static str, points: f32) -> Self {
        match SignalCode::from_name(code) {
            Some(kind) => self.signal_weight(kind, points),
            None => {
                self.unknown_weights.push(code);
                self
            }
        }
    }

    /// Sets the points of a signal (confidence 1).
    pub fn signal_weight(mut self, kind: SignalCode, points: f32) -> Self {
        self.weights.retain(|(c, _)| *c != kind);
        self.weights.push((kind, points));
        self
    }

    /// The device-id cookie's name and HMAC key (default name `rasp_did`,
    /// a random key per process: give a shared key to several replicas).
    pub fn device_cookie(mut self, name: impl Into<String>, key: [u8; 32]) -> Self {
        self.device_cookie = Some((name.into(), Some(key)));
        self
    }

    /// Turns the device-id cookie off.
    pub fn no_device_cookie(mut self) -> Self {
        self.device_cookie = None;
        self
    }

    /// Adds `X-Rasp-Risk: score=.. codes=..` to responses.
    ///
    /// # Security
    ///
    /// For development only: it tells clients which signals fired.
    pub fn insecure_debug_header(mut self, on: bool) -> Self {
        self.debug_header = on;
        self
    }

    pub(crate) fn weight_of(&self, code: SignalCode) -> f32 {
        self.weights
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(0.0, |(_, w)| *w)
    }
}

/// The request facts the risk engine reads.
#[derive(Clone, Debug, Default)]
pub(crate) struct RiskInput {
    pub(crate) ip: Option<IpAddr>,
    pub(crate) fingerprint: u64,
    pub(crate) cookie_device: Option<String>,
    /// Confidence (0–1) of lower-confidence injection findings, if any.
    pub(crate) injection: f32,
}

/// What to remember if the request turns out confirmed.
#[derive(Debug)]
pub(crate) struct Pending {
    history: SubjectHistory,
    location: Option<Location>,
    devices: [u64; 2],
}

pub(crate) fn in_any(nets: &[IpNet], ip: Option<IpAddr>) -> bool {
    ip.is_some_and(|ip| nets.iter().any(|n| n.contains(&ip)))
}

/// What the stores count of the subject and the client: recent
/// authentication failures and not-found answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bursts {
    pub(crate) failures_of_subject: u32,
    pub(crate) failures_of_client: u32,
    pub(crate) not_found_of_client: u32,
    /// Sink guard hits of the subject and of the client address within
    /// the flag period.
    pub(crate) sink_hits: u32,
}

/// Scores one authenticated request from its facts, the subject's history
/// and the burst counters. Pure: the caller reads and saves the stores.
pub(crate) fn score(
    rules: &RiskRules,
    mut hist: SubjectHistory,
    bursts: Bursts,
    input: &RiskInput,
    now: Timestamp,
) -> (Assessment, Pending) {
    let mut a = Assessment::default();
    if input.injection > 0.0 {
        a.push(SignalCode::InjectionSuspect, input.injection, rules);
    }
    if bursts.sink_hits > 0 {
        a.push(SignalCode::SinkInjection, 1.0, rules);
    }
    let learning = hist.sightings < rules.learning_sightings;
    if learning {
        a.push(SignalCode::InitialSighting, 1.0, rules);
    }
    let mut location = None;
    match input.ip {
        None => a.push(SignalCode::MissingClientAddr, 1.0, rules),
        Some(ip) => {
            if in_any(&rules.denied_networks, Some(ip)) {
                a.push(SignalCode::DeniedNetwork, 1.0, rules);
            }
            if in_any(&rules.trusted_networks, Some(ip)) {
                a.push(SignalCode::TrustedNetwork, 1.0, rules);
            }
            if let Some(locator) = &rules.locator {
                location = locator.locate(ip);
                if location.is_none() {
                    a.push(SignalCode::MissingGeoip, 1.0, rules);
                }
            }
            if let Some(loc) = &location {
                location_signals(rules, &hist, loc, learning, now, &mut a);
            }
            network_signals(rules, &mut hist, ip, now, &mut a);
        }
    }
    let dkey = device_key(input.cookie_device.as_deref(), input.fingerprint);
    if !learning && !hist.devices.contains(&dkey) && !hist.devices.contains(&input.fingerprint) {
        a.push(SignalCode::NewDevice, 1.0, rules);
    }
    behaviour_signals(rules, &mut hist, bursts, learning, now, &mut a);
    a.finish();
    let pending = Pending {
        history: hist,
        location,
        devices: [dkey, input.fingerprint],
    };
    (a, pending)
}

/// Where the request comes from against where the subject was confirmed:
/// anonymity, a new country or network operator, impossible travel.
fn location_signals(
    rules: &RiskRules,
    hist: &SubjectHistory,
    loc: &Location,
    learning: bool,
    now: Timestamp,
    a: &mut Assessment,
) {
    let anon = loc.anonymous.confidence();
    if anon > 0.0 {
        a.push(SignalCode::AnonymousIp, anon, rules);
    }
    // Travel needs one confirmed location, not a learned history: a session
    // replayed from another continent seconds after its first step-up is
    // judged like any other.
    if let (Some(last), Some((lat, lon, radius))) = (hist.last, loc.coordinates()) {
        let d = distance_km((last.lat, last.lon), (lat, lon)) - last.radius_km - radius;
        let hours = (now.as_millis().saturating_sub(last.at_ms).max(1000) as f64) / 3_600_000.0;
        if d > 0.0 && d / hours > rules.max_speed_kmh {
            a.push(SignalCode::ImpossibleTravel, 1.0, rules);
        }
    }
    // The novelty signals need a history to be new against.
    if learning {
        return;
    }
    if let Some(c) = loc.country.as_deref().and_then(country_code)
        && !hist.countries.is_empty()
        && !hist.countries.contains(&c)
    {
        a.push(SignalCode::NewCountry, 1.0, rules);
    }
    if let Some(asn) = loc.asn
        && !hist.asns.is_empty()
        && !hist.asns.contains(&asn)
    {
        a.push(SignalCode::NewAsn, 1.0, rules);
    }
}

/// The networks seen for this subject in the window, this one included:
/// many at once is a burst.
fn network_signals(
    rules: &RiskRules,
    hist: &mut SubjectHistory,
    ip: IpAddr,
    now: Timestamp,
    a: &mut Assessment,
) {
    let secs = u32::try_from(now.as_secs()).unwrap_or(u32::MAX);
    let Burst {
        count: threshold,
        window,
    } = rules.multi_ip;
    let window = u32::try_from(window.as_secs()).unwrap_or(u32::MAX);
    hist.networks
        .retain(|(_, at)| secs.saturating_sub(*at) < window);
    let key = network_key(ip);
    hist.networks.retain(|(k, _)| *k != key);
    hist.networks.remember((key, secs));
    if hist.networks.len() as u32 >= threshold {
        a.push(SignalCode::MultiIpBurst, 1.0, rules);
    }
}

/// Bursts the app answered, and the subject's own request rate against
/// its moving baseline (updated here).
fn behaviour_signals(
    rules: &RiskRules,
    hist: &mut SubjectHistory,
    bursts: Bursts,
    learning: bool,
    now: Timestamp,
    a: &mut Assessment,
) {
    if bursts.failures_of_subject.max(bursts.failures_of_client) >= rules.auth_failures.count {
        a.push(SignalCode::AuthFailureBurst, 1.0, rules);
    }
    if bursts.not_found_of_client >= rules.not_found.count {
        a.push(SignalCode::NotFoundBurst, 1.0, rules);
    }
    let minute = now.as_secs() / 60;
    if minute != hist.minute {
        let gap = minute.saturating_sub(hist.minute).min(60) as i32;
        // Decay over the minutes without requests too.
        let mut base = 0.8 * hist.baseline + 0.2 * hist.minute_count as f32;
        for _ in 1..gap {
            base *= 0.8;
        }
        hist.baseline = if hist.minute == 0 { 0.0 } else { base };
        hist.minute = minute;
        hist.minute_count = 0;
    }
    hist.minute_count = hist.minute_count.saturating_add(1);
    let floor = rules.baseline_floor / rules.baseline_factor;
    if !learning && hist.minute_count as f32 > rules.baseline_factor * hist.baseline.max(floor) {
        a.push(SignalCode::RateAboveBaseline, 1.0, rules);
    }
}

/// The history to save after a request: its counters always, and its
/// context (location, devices) when the request is `confirm`ed.
pub(crate) fn remembered(mut pending: Pending, confirm: bool, now: Timestamp) -> SubjectHistory {
    if confirm {
        let h = &mut pending.history;
        h.sightings = h.sightings.saturating_add(1);
        if let Some(loc) = &pending.location {
            if let Some(c) = loc.country.as_deref().and_then(country_code) {
                h.countries.remember(c);
            }
            if let Some(asn) = loc.asn {
                h.asns.remember(asn);
            }
            if let Some((lat, lon, radius_km)) = loc.coordinates() {
                h.last = Some(Sighting {
                    lat,
                    lon,
                    radius_km,
                    at_ms: now.as_millis(),
                });
            }
        }
        for d in pending.devices {
            h.devices.remember(d);
        }
    }
    pending.history
}

/// The key of the request's signed device cookie, when it carries one.
pub(crate) fn cookie_device_key(input: &RiskInput) -> Option<u64> {
    input
        .cookie_device
        .as_deref()
        .map(|id| device_key(Some(id), input.fingerprint))
}

impl Pending {
    /// After a step-up from a device with a signed cookie: that device has
    /// proven a second factor.
    pub(crate) fn remember_step_up_device(&mut self, key: u64) {
        self.history.step_up_devices.remember(key);
    }

    /// After a step-up: the networks seen so far are resolved; only the
    /// request's own counts from now on.
    pub(crate) fn restart_networks(&mut self, ip: Option<IpAddr>, now: Timestamp) {
        self.history.networks.clear();
        if let Some(ip) = ip {
            let secs = u32::try_from(now.as_secs()).unwrap_or(u32::MAX);
            self.history.networks.remember((network_key(ip), secs));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn at(secs: u64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    /// A subject past its learning period, seen on `device` only.
    fn known(device: u64) -> SubjectHistory {
        let mut h = SubjectHistory {
            sightings: 10,
            minute: NOW / 60,
            baseline: 5.0,
            ..SubjectHistory::default()
        };
        h.devices.remember(device);
        h
    }

    fn input(ip: Option<&str>, fingerprint: u64) -> RiskInput {
        RiskInput {
            ip: ip.map(|s| s.parse().expect("an address")),
            fingerprint,
            ..RiskInput::default()
        }
    }

    fn codes_of(
        rules: &RiskRules,
        hist: SubjectHistory,
        bursts: Bursts,
        input: &RiskInput,
    ) -> (Vec<&'static str>, f32) {
        let (a, _) = score(rules, hist, bursts, input, at(NOW));
        let mut c = a.codes();
        c.sort_unstable();
        (c, a.score)
    }

    /// Every address is at one place.
    struct At(f64, f64);

    impl Locator for At {
        fn locate(&self, _: IpAddr) -> Option<Location> {
            Some(Location {
                latitude: Some(self.0),
                longitude: Some(self.1),
                accuracy_km: Some(10),
                ..Location::default()
            })
        }
    }

    #[test]
    fn travel_is_judged_from_the_first_confirmed_location() {
        // confirmed once in Linköping ten seconds ago, now in Changchun
        let mut hist = SubjectHistory {
            sightings: 1,
            ..SubjectHistory::default()
        };
        hist.last = Some(Sighting {
            lat: 58.41,
            lon: 15.62,
            radius_km: 10.0,
            at_ms: (NOW - 10) * 1000,
        });
        let rules = RiskRules::default().locator(At(43.88, 125.32));
        let (codes, score) = codes_of(
            &rules,
            hist.clone(),
            Bursts::default(),
            &input(Some("198.51.100.7"), 7),
        );
        assert_eq!(codes, [codes::IMPOSSIBLE_TRAVEL, codes::INITIAL_SIGHTING]);
        assert!((score - 50.0).abs() < f32::EPSILON);
        // the same place: nothing but the learning period
        let rules = RiskRules::default().locator(At(58.41, 15.62));
        let (codes, _) = codes_of(
            &rules,
            hist,
            Bursts::default(),
            &input(Some("198.51.100.7"), 7),
        );
        assert_eq!(codes, [codes::INITIAL_SIGHTING]);
    }

    #[test]
    fn every_code_names_its_signal() {
        for kind in SignalCode::ALL {
            assert_eq!(SignalCode::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(SignalCode::from_name("anonymus_ip"), None);
        assert_eq!(SignalCode::AnonymousIp.as_str(), codes::ANONYMOUS_IP);
        let rules = RiskRules::default().weight("anonymous_ip", 95.0);
        assert!((rules.weight_of(SignalCode::AnonymousIp) - 95.0).abs() < f32::EPSILON);
        assert!(rules.unknown_weights.is_empty());
        let typo = RiskRules::default().weight("anonymus_ip", 95.0);
        assert_eq!(typo.unknown_weights, ["anonymus_ip"]);
        assert!((typo.weight_of(SignalCode::AnonymousIp) - 50.0).abs() < f32::EPSILON);
    }

    #[test]
    fn each_signal_from_its_facts() {
        let rules = RiskRules::default().denied_networks(["203.0.113.0/24".parse().unwrap()]);
        let quiet = Bursts::default();
        let ip = Some("198.51.100.7");
        // (history, bursts, input) → signals, score
        let cases: Vec<(SubjectHistory, Bursts, RiskInput, Vec<&str>, f32)> = vec![
            (known(7), quiet, input(ip, 7), vec![], 0.0),
            (
                SubjectHistory::default(),
                quiet,
                input(ip, 7),
                vec![codes::INITIAL_SIGHTING],
                0.0,
            ),
            (known(7), quiet, input(ip, 8), vec![codes::NEW_DEVICE], 45.0),
            (
                known(7),
                quiet,
                input(None, 7),
                vec![codes::MISSING_CLIENT_ADDR],
                0.0,
            ),
            (
                known(7),
                quiet,
                input(Some("203.0.113.9"), 7),
                vec![codes::DENIED_NETWORK],
                0.0,
            ),
            (
                known(7),
                Bursts {
                    failures_of_client: 10,
                    ..quiet
                },
                input(ip, 7),
                vec![codes::AUTH_FAILURE_BURST],
                45.0,
            ),
            (
                known(7),
                Bursts {
                    failures_of_subject: 9,
                    not_found_of_client: 30,
                    ..quiet
                },
                input(ip, 7),
                vec![codes::NOT_FOUND_BURST],
                30.0,
            ),
        ];
        for (i, (hist, bursts, input, want, points)) in cases.into_iter().enumerate() {
            let (got, score) = codes_of(&rules, hist, bursts, &input);
            assert_eq!(got, want, "case {i}");
            assert!((score - points).abs() < 0.01, "case {i}: {score}");
        }
    }

    #[test]
    fn many_networks_in_the_window_are_a_burst() {
        let rules = RiskRules::default();
        let mut hist = known(7);
        let secs = u32::try_from(NOW).unwrap();
        for net in ["192.0.2.1", "198.18.0.1", "198.19.0.1"] {
            hist.networks
                .remember((network_key(net.parse().unwrap()), secs - 60));
        }
        let (codes, _) = codes_of(
            &rules,
            hist.clone(),
            Bursts::default(),
            &input(Some("198.51.100.7"), 7),
        );
        assert_eq!(codes, [codes::MULTI_IP_BURST]);
        // the same networks outside the window are forgotten
        let mut old = known(7);
        for (k, _) in hist.networks.as_slice() {
            old.networks.remember((*k, secs - 700));
        }
        let (codes, _) = codes_of(
            &rules,
            old,
            Bursts::default(),
            &input(Some("198.51.100.7"), 7),
        );
        assert!(codes.is_empty(), "{codes:?}");
    }

    #[test]
    fn only_a_confirmed_request_is_remembered() {
        let rules = RiskRules::default();
        let after = |confirm: bool| {
            let new_device = input(Some("198.51.100.7"), 8);
            let (_, pending) = score(&rules, known(7), Bursts::default(), &new_device, at(NOW));
            remembered(pending, confirm, at(NOW))
        };
        let kept = after(false);
        assert_eq!(kept.sightings, 10);
        assert!(!kept.devices.contains(&8));
        assert_eq!(kept.minute_count, 1, "the counters are saved either way");
        let confirmed = after(true);
        assert_eq!(confirmed.sightings, 11);
        assert!(confirmed.devices.contains(&8) && confirmed.devices.contains(&7));
    }

    #[test]
    fn a_step_up_restarts_the_networks() {
        let rules = RiskRules::default();
        let mut hist = known(7);
        hist.networks.remember((1, 5));
        hist.networks.remember((2, 5));
        let (_, mut pending) = score(
            &rules,
            hist,
            Bursts::default(),
            &input(Some("198.51.100.7"), 7),
            at(NOW),
        );
        pending.restart_networks(Some("198.51.100.7".parse().unwrap()), at(NOW));
        let h = remembered(pending, true, at(NOW));
        let key = network_key("198.51.100.7".parse().unwrap());
        assert_eq!(h.networks.as_slice(), [(key, u32::try_from(NOW).unwrap())]);
    }
}
