//! Counters through the `metrics` facade (feature `metrics`, on by
//! default): the application installs a recorder (a Prometheus exporter,
//! StatsD…); without one every call here is a load and a branch. Names
//! and labels are in docs/operations.md. Labels are bounded: route
//! templates (never paths), levels, decision and outcome kinds, finding
//! classes and signal codes from fixed lists, factor methods the policy
//! knows.

use crate::decision::Decision;
use crate::level::Sensitivity;

/// One non-allow decision of the layer (in monitor mode too).
pub(crate) fn decision(
    decision: &Decision,
    level: Sensitivity,
    route: Option<&str>,
    monitor: bool,
) {
    #[cfg(feature = "metrics")]
    {
        let kind = match decision {
            Decision::Allow => return,
            Decision::StepUp(_) => "step_up",
            Decision::Reject(r) => r.kind.as_str(),
        };
        let route = route.unwrap_or("<unmatched>").to_owned();
        metrics::counter!(
            "rasp_decisions_total",
            "decision" => kind,
            "level" => level.as_str(),
            "route" => route,
            "monitor" => if monitor { "true" } else { "false" },
        )
        .increment(1);
        match decision {
            Decision::StepUp(_) => {
                metrics::counter!("rasp_challenges_created_total", "level" => level.as_str())
                    .increment(1);
            }
            Decision::Reject(r) => {
                match r.rules.iter().find_map(|id| id.strip_prefix("sink-")) {
                    Some(sink) => {
                        metrics::counter!("rasp_sink_hits_total", "sink" => sink).increment(1);
                    }
                    // the finding classes of an injection, once each
                    None => {
                        for class in r.finding_classes() {
                            metrics::counter!("rasp_findings_total", "class" => class).increment(1);
                        }
                    }
                }
            }
            Decision::Allow => {}
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (decision, level, route, monitor);
}

/// One answer of the verify route: `elevated` or the error's kind.
pub(crate) fn verification(outcome: &'static str, method: Option<&'static str>) {
    #[cfg(feature = "metrics")]
    metrics::counter!(
        "rasp_verifications_total",
        "outcome" => outcome,
        "method" => method.unwrap_or("unknown"),
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (outcome, method);
}

/// A store call that failed, by the stage that made it.
pub(crate) fn store_error(stage: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("rasp_store_errors_total", "stage" => stage).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = stage;
}

/// The signals of one assessed request, by code.
pub(crate) fn signals(a: &crate::risk::Assessment) {
    #[cfg(feature = "metrics")]
    for s in &a.signals {
        metrics::counter!("rasp_risk_signals_total", "code" => s.code).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = a;
}

/// The time of a stage that calls the stores (`decide`: quotas, identity
/// with revocation, risk history and counters, challenge; `verify`: the
/// verify route), by the policy's clock: on a shared store, mostly its
/// round trips.
pub(crate) fn stage_time(stage: &'static str, took: std::time::Duration) {
    #[cfg(feature = "metrics")]
    metrics::histogram!("rasp_store_stage_seconds", "stage" => stage).record(took.as_secs_f64());
    #[cfg(not(feature = "metrics"))]
    let _ = (stage, took);
}

/// A bearer token answered from the verified-token cache, or verified.
pub(crate) fn token_cache(hit: bool) {
    #[cfg(feature = "metrics")]
    metrics::counter!(
        "rasp_token_cache_total",
        "result" => if hit { "hit" } else { "miss" },
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = hit;
}

/// One fetch of an identity provider's keys: `ok` or `error`.
#[cfg(feature = "jwks")]
pub(crate) fn key_fetch(issuer: &str, outcome: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(
        "rasp_key_fetches_total",
        "issuer" => issuer.to_owned(),
        "outcome" => outcome,
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (issuer, outcome);
}
