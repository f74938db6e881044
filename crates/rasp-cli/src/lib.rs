//! The evaluation behind `rasp eval`: corpus records (format of
//! `shared/corpus/README.md`) become HTTP requests that run through the real
//! [`RaspStepUp`] layer; a request counts as detected when the layer
//! refuses it for what it carries: injection (403), too large (413), a body
//! that is not what it declares (400), a coding it does not decode (415).

pub mod sets;
pub mod sink;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::BufRead;

use axum::body::Body;
use http::{Request, Response};
use rasp_stepup::{Policy, RaspStepUp, Rejection, RejectionKind, Sensitivity, TokenConfig};
use serde_json::{Value, json};
use tower::{Layer, ServiceExt, service_fn};

/// Counts of one group (a class, a location or a benign subset).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Count {
    /// Records sent.
    pub total: u64,
    /// Records the layer rejected.
    pub flagged: u64,
}

impl Count {
    /// `flagged / total`, 0 when empty.
    #[must_use]
    pub fn rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.flagged as f64 / self.total as f64
        }
    }
}

/// The result of an evaluation.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Attacks per class.
    pub by_class: BTreeMap<String, Count>,
    /// Attacks per location.
    pub by_location: BTreeMap<String, Count>,
    /// Benign records per subset (flagged = false positives).
    pub by_subset: BTreeMap<String, Count>,
    /// Lines that were not valid records (skipped).
    pub malformed: u64,
    /// Records that cannot be expressed as an HTTP request here (CR/LF in a
    /// header value, unparsable raw requests).
    pub unsendable: u64,
    /// Ids of attacks not detected, per class (for analysis).
    pub missed: BTreeMap<String, Vec<String>>,
    /// Ids of benign records flagged, per subset.
    pub false_positives: BTreeMap<String, Vec<String>>,
}

impl Report {
    /// The JSON summary (same numbers as the table).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let group = |m: &BTreeMap<String, Count>, key: &str| {
            m.iter()
                .map(|(k, c)| {
                    (
                        k.clone(),
                        json!({"total": c.total, key: c.flagged, "rate": c.rate()}),
                    )
                })
                .collect::<serde_json::Map<_, _>>()
        };
        json!({
            "detection_by_class": group(&self.by_class, "detected"),
            "detection_by_location": group(&self.by_location, "detected"),
            "false_positives_by_subset": group(&self.by_subset, "false_positives"),
            "malformed_lines": self.malformed,
            "unsendable_records": self.unsendable,
        })
    }

    /// The human-readable table.
    #[must_use]
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let mut section = |title: &str, col: &str, m: &BTreeMap<String, Count>| {
            s.push_str(&format!(
                "{title}\n{:<20} {:>8} {:>10} {:>8}\n",
                "", "total", col, "rate"
            ));
            for (k, c) in m {
                s.push_str(&format!(
                    "{k:<20} {:>8} {:>10} {:>7.2}%\n",
                    c.total,
                    c.flagged,
                    100.0 * c.rate()
                ));
            }
            s.push('\n');
        };
        section("Detection by class", "detected", &self.by_class);
        section("Detection by location", "detected", &self.by_location);
        section(
            "False positives by benign subset",
            "flagged",
            &self.by_subset,
        );
        s.push_str(&format!(
            "malformed lines: {}, unsendable records: {}\n",
            self.malformed, self.unsendable
        ));
        s
    }
}

/// The evaluation policy: every route public, so only inspection decides;
/// rate limits off (a corpus is not traffic).
///
/// # Errors
///
/// An invalid policy document.
pub fn default_policy(toml: Option<&str>) -> Result<Policy, rasp_stepup::ConfigError> {
    let mut b = Policy::builder()
        .default_sensitivity(Sensitivity::Public)
        .tokens(
            TokenConfig::ed25519_from_seed([0x42; 32])
                .issuer("rasp-eval")
                .audience("rasp-eval"),
        )
        .risk(rasp_stepup::RiskRules::default().rate(rasp_stepup::risk::RateRules::none()));
    if let Some(doc) = toml {
        b = b.toml(doc)?;
    }
    b.build()
}

const UNRESERVED: &[u8] = b"-._~";

fn escape(bytes: &[u8], keep: &[u8], out: &mut String) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || UNRESERVED.contains(&b) || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// Bytes legal in a URI as they are (pre-encoded `url` payloads keep them).
const URI_LEGAL: &[u8] = b"!$&'()*+,;=:@/?%[]";

/// Builds the request a record describes, or `None` when it cannot be sent.
#[must_use]
pub fn request_for(record: &Value) -> Option<Request<Body>> {
    let location = record.get("location")?.as_str()?;
    let payload = record.get("payload")?.as_str()?;
    let encoding = record
        .get("encoding")
        .and_then(Value::as_str)
        .unwrap_or("none");
    let wire = |keep_structure: &[u8]| {
        let mut s = String::new();
        match encoding {
            "url" => escape(payload.as_bytes(), URI_LEGAL, &mut s),
            _ => escape(payload.as_bytes(), keep_structure, &mut s),
        }
        s
    };
    let req = match location {
        "query" => Request::get(format!("/?q={}", wire(b"")))
            .body(Body::empty())
            .ok()?,
        "body_form" => Request::post("/")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("q={}", wire(b""))))
            .ok()?,
        "path" => Request::get(format!("/{}", wire(b"/")))
            .body(Body::empty())
            .ok()?,
        "query_string" => {
            let mut s = String::from("/?");
            escape(payload.as_bytes(), URI_LEGAL, &mut s);
            Request::get(s).body(Body::empty()).ok()?
        }
        "header" => {
            let name = record.get("param")?.as_str()?;
            let value = http::HeaderValue::from_bytes(payload.as_bytes()).ok()?;
            Request::get("/")
                .header(name, value)
                .body(Body::empty())
                .ok()?
        }
        // free text in a JSON comment field, as a user would send it
        "json_comment" => Request::post("/")
            .header("content-type", "application/json")
            .body(Body::from(json!({ "comment": payload }).to_string()))
            .ok()?,
        "body_json" => Request::post("/")
            .header("content-type", "application/json")
            .body(Body::from(payload.to_owned()))
            .ok()?,
        "body_xml" => Request::post("/")
            .header("content-type", "application/xml")
            .body(Body::from(payload.to_owned()))
            .ok()?,
        "raw" => raw_request(payload.as_bytes())?,
        _ => return None,
    };
    Some(req)
}

fn raw_request(bytes: &[u8]) -> Option<Request<Body>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    let status = parsed.parse(bytes).ok()?;
    let head_len = match status {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => bytes.len(),
    };
    let mut path = String::new();
    escape(parsed.path?.as_bytes(), URI_LEGAL, &mut path);
    let mut b = Request::builder().method(parsed.method?).uri(path);
    for h in parsed.headers.iter() {
        if let Ok(v) = http::HeaderValue::from_bytes(h.value) {
            b = b.header(h.name, v);
        }
    }
    b.body(Body::from(bytes[head_len.min(bytes.len())..].to_vec()))
        .ok()
}

/// The rule ids when the layer rejected the request for what it carries.
async fn flagged(
    svc: &rasp_stepup::RaspStepUpService<Echo>,
    req: Request<Body>,
) -> Option<Vec<&'static str>> {
    let res: Response<Body> = match svc.clone().oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let r = res.extensions().get::<Rejection>()?;
    matches!(
        r.kind(),
        RejectionKind::Injection
            | RejectionKind::PayloadTooLarge
            | RejectionKind::BadRequest
            | RejectionKind::UnsupportedMediaType
    )
    .then(|| r.rule_ids().to_vec())
}

type Echo = tower::util::BoxCloneService<Request<Body>, Response<Body>, Infallible>;

/// Runs attack and benign corpora (JSON Lines readers) through the layer.
pub async fn evaluate(policy: &Policy, attacks: impl BufRead, benign: impl BufRead) -> Report {
    let inner: Echo = tower::util::BoxCloneService::new(service_fn(|_req: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Body::empty()))
    }));
    let svc = RaspStepUp::new(policy.clone()).layer(inner);
    let mut report = Report::default();
    for (is_attack, reader) in [
        (true, Box::new(attacks) as Box<dyn BufRead>),
        (false, Box::new(benign)),
    ] {
        for line in reader.lines() {
            let Ok(line) = line else {
                report.malformed += 1;
                continue;
            };
            if line.trim().is_empty() {
                continue;
            }
            let Ok(record) = serde_json::from_str::<Value>(&line) else {
                report.malformed += 1;
                continue;
            };
            let id = record
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned();
            let group = if is_attack { "class" } else { "subset" };
            let (Some(key), Some(location)) = (
                record.get(group).and_then(Value::as_str).map(str::to_owned),
                record
                    .get("location")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            ) else {
                report.malformed += 1;
                continue;
            };
            let Some(req) = request_for(&record) else {
                report.unsendable += 1;
                continue;
            };
            let rules = flagged(&svc, req).await;
            let hit = rules.is_some();
            let bump = |m: &mut BTreeMap<String, Count>, k: &str| {
                let c = m.entry(k.to_owned()).or_default();
                c.total += 1;
                c.flagged += u64::from(hit);
            };
            if is_attack {
                bump(&mut report.by_class, &key);
                bump(&mut report.by_location, &location);
                if !hit {
                    report.missed.entry(key).or_default().push(id);
                }
            } else {
                bump(&mut report.by_subset, &key);
                if let Some(rules) = rules {
                    report
                        .false_positives
                        .entry(key)
                        .or_default()
                        .push(format!("{id}:{}", rules.join("+")));
                }
            }
        }
    }
    report
}
