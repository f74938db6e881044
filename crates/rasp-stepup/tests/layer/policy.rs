//! Policy building, TOML loading and route checks.

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use rasp_stepup::{
    ConfigError, FailMode, MockClock, Mode, Policy, RaspStepUp, Requirement, Sensitivity,
    Timestamp, TokenConfig,
};

use crate::support::*;

fn tokens() -> TokenConfig {
    TokenConfig::ed25519_from_seed([5; 32])
        .issuer("bank")
        .audience("bank-api")
}

#[test]
fn build_reports_bad_settings() {
    let e = Policy::builder().build().unwrap_err();
    assert_eq!(e, ConfigError::Missing("tokens"));
    assert_eq!(e.to_string(), "missing setting `tokens`");

    let e = Policy::builder()
        .tokens(TokenConfig::ed25519_from_seed([1; 32]))
        .build()
        .unwrap_err();
    assert_eq!(e, ConfigError::Missing("tokens.issuer"));

    let e = Policy::builder()
        .tokens(TokenConfig::hs256(&[1; 31]).issuer("i").audience("a"))
        .build()
        .unwrap_err();
    assert!(matches!(e, ConfigError::InvalidKey(_)), "{e}");
    assert!(
        Policy::builder()
            .tokens(TokenConfig::hs256(&[1; 32]).issuer("i").audience("a"))
            .build()
            .is_ok()
    );

    let e = Policy::builder()
        .route("GET", "transfer", Sensitivity::High)
        .tokens(tokens())
        .build()
        .unwrap_err();
    assert!(matches!(e, ConfigError::InvalidRoute { .. }), "{e}");

    let e = Policy::builder()
        .subject_limits({
            let mut l = rasp_stepup::store::SubjectLimits::default();
            l.hard_cap = 101;
            l
        })
        .tokens(tokens())
        .build()
        .unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::Invalid {
                setting: "step_up.hard_cap",
                ..
            }
        ),
        "{e}"
    );

    let e = Policy::builder()
        .requirement(Sensitivity::High, Requirement::none())
        .tokens(tokens())
        .build()
        .unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::Invalid {
                setting: "levels",
                ..
            }
        ),
        "{e}"
    );

    let e = Policy::builder()
        .tokens(tokens().base_token_types(["stepup+jwt"]))
        .build()
        .unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::Invalid {
                setting: "tokens.base_token_types",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn ed25519_key_pairs_must_match() {
    let e = Policy::builder()
        .tokens(
            TokenConfig::ed25519(&[0; 48], &[0; 32])
                .issuer("i")
                .audience("a"),
        )
        .build()
        .unwrap_err();
    assert!(matches!(e, ConfigError::InvalidKey(_)), "{e}");
}

const DOC: &str = r#"
mode = "monitor"
default_sensitivity = "authenticated"

[[routes]]
method = "POST"
path = "/transfer"
sensitivity = "critical"

[[routes]]
path = "/reports/{id}"
sensitivity = "high"

[levels.critical]
acr_values = ["mfa", "hwk"]
max_age = 60

[fail_mode]
authenticated = "open"

[step_up]
challenge_ttl = 120
max_attempts = 3

[tokens]
elevated_ttl = 90
"#;

#[test]
fn toml_policy_sets_routes_levels_and_limits() {
    let clock = MockClock::new(Timestamp::from_secs(START));
    let p = Policy::builder()
        .tokens(tokens())
        .with_clock(clock)
        .toml(DOC)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(p.mode(), Mode::Monitor);
    assert_eq!(p.sensitivity_of("POST", "/transfer"), Sensitivity::Critical);
    assert_eq!(p.sensitivity_of("DELETE", "/reports/7"), Sensitivity::High);
    assert_eq!(
        p.sensitivity_of("GET", "/elsewhere"),
        Sensitivity::Authenticated
    );
    let crit = p.requirement(Sensitivity::Critical);
    assert_eq!(crit.acr_values(), ["mfa".to_owned(), "hwk".to_owned()]);
    assert_eq!(crit.max_age(), Some(Duration::from_secs(60)));
    let _ = FailMode::Open;
}

#[test]
fn toml_errors_name_the_problem() {
    let e = Policy::builder()
        .tokens(tokens())
        .toml("mode = \"loud\"")
        .unwrap_err();
    assert!(matches!(e, ConfigError::File(_)), "{e}");
    let e = Policy::builder()
        .tokens(tokens())
        .toml("[step_up]\nmax_atempts = 3")
        .unwrap_err();
    assert!(e.to_string().contains("max_atempts"), "{e}");
    let e = Policy::builder()
        .toml_file("/nonexistent/policy.toml")
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("policy file: /nonexistent/policy.toml"),
        "{e}"
    );
    let e = Policy::builder()
        .tokens(tokens())
        .toml(DOC)
        .unwrap()
        .max_attempts_per_challenge(0)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::Invalid {
                setting: "step_up.max_attempts",
                ..
            }
        ),
        "{e}"
    );
}

#[tokio::test]
async fn check_routes_reports_keys_no_route_serves() {
    let (policy, _) = policy();
    let app: Router = Router::new()
        .route("/search", get(|| async { "s" }))
        .route("/transfer", post(|| async { "t" }))
        .route("/admin/{*rest}", get(|| async { "a" }))
        .layer(RaspStepUp::new(policy.clone()));
    rasp_stepup::check_routes(&app, &policy).await.unwrap();

    let clock = MockClock::new(Timestamp::from_secs(START));
    let typo = builder(&clock)
        .route("POST", "/transfre", Sensitivity::High)
        .build()
        .unwrap();
    let app: Router = Router::new()
        .route("/search", get(|| async { "s" }))
        .route("/transfer", post(|| async { "t" }))
        .route("/admin/{*rest}", get(|| async { "a" }))
        .layer(RaspStepUp::new(typo.clone()));
    let e = rasp_stepup::check_routes(&app, &typo).await.unwrap_err();
    assert_eq!(
        e,
        ConfigError::UnroutedKey {
            method: "POST".into(),
            route: "/transfre".into()
        }
    );
    // No handler ran during the probes: the layer answers them itself.
}

#[test]
fn a_misspelt_signal_code_is_a_configuration_error() {
    let build = |rules: rasp_stepup::RiskRules| {
        Policy::builder()
            .tokens(tokens())
            .risk(rules)
            .build()
            .map(|_| ())
    };
    let e = build(rasp_stepup::RiskRules::default().weight("anonymus_ip", 95.0)).unwrap_err();
    let ConfigError::Invalid { setting, reason } = &e else {
        panic!("{e}");
    };
    assert_eq!(*setting, "risk.weight");
    assert!(
        reason.starts_with("unknown signal code \"anonymus_ip\" (known: impossible_travel,"),
        "{reason}"
    );
    assert_eq!(
        build(rasp_stepup::RiskRules::default().weight("anonymous_ip", 95.0)),
        Ok(())
    );
    assert_eq!(
        build(
            rasp_stepup::RiskRules::default()
                .signal_weight(rasp_stepup::SignalCode::NewDevice, 10.0)
        ),
        Ok(())
    );
}

#[tokio::test]
async fn the_risk_section_of_a_policy_file_sets_risk_rules() {
    use tower::{Layer, ServiceExt};
    let toml = r#"
[risk]
weights = { new_device = 0, sink_injection = 80 }
denied_networks = ["198.51.100.0/24"]
ipv6_prefix = 56
max_speed_kmh = 1000
learning_sightings = 5
auth_failure_burst = { count = 20, window = 600 }
multi_ip_burst = { networks = 6, window = 300 }
not_found_burst = { count = 50, window = 60 }
baseline = { factor = 8, floor_per_minute = 40 }
device_cookie = "bank_device"
[risk.quotas]
entry = "off"
[risk.quotas.client]
public = { limit = 2, window = 60 }
[risk.quotas.subject]
high = "off"
"#;
    let clock = MockClock::new(Timestamp::from_secs(START));
    let policy = builder(&clock).toml(toml).unwrap().build().unwrap();
    let (inner, _) = counting_echo();
    let svc = RaspStepUp::new(policy.clone()).layer(inner);
    let send = |peer: &str, path: &str| {
        let mut r = req("GET", path, None);
        r.extensions_mut().insert(rasp_stepup::PeerAddr(
            format!("{peer}:4000").parse().unwrap(),
        ));
        svc.clone().oneshot(r)
    };
    // the public quota: two a minute per address
    for _ in 0..2 {
        assert_eq!(send("203.0.113.9", "/search").await.unwrap().status(), 200);
    }
    let res = send("203.0.113.9", "/search").await.unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["ratelimit-policy"], "\"client\";q=2;w=60");
    // a denied network gets 403 where an identity is needed
    let res = send("198.51.100.7", "/account").await.unwrap();
    assert_eq!(res.status(), 403);

    // errors name the setting and the allowed range
    for (doc, setting, part) in [
        (
            "[risk]\nweights = { nope = 5 }",
            "risk.weights",
            "names no signal",
        ),
        (
            "[risk]\nweights = { new_device = 500 }",
            "risk.weights",
            "between -100 and 100",
        ),
        (
            "[risk]\ntrusted_proxies = [\"10.0.0.0/33\"]",
            "risk.trusted_proxies",
            "not an address",
        ),
        (
            "[risk]\nipv6_prefix = 129",
            "risk.ipv6_prefix",
            "between 0 and 128",
        ),
        (
            "[risk]\nmax_speed_kmh = 0",
            "risk.max_speed_kmh",
            "between 1",
        ),
        (
            "[risk]\nauth_failure_burst = { count = 0, window = 60 }",
            "risk.auth_failure_burst",
            "between 1",
        ),
        (
            "[risk.quotas.client]\npublic = \"none\"",
            "risk.quotas.client",
            "\"off\"",
        ),
        (
            "[risk.quotas.client]\npublic = { limit = 5, window = 0 }",
            "risk.quotas.client",
            "between 1 and 86,400",
        ),
        (
            "[risk]\ndevice_cookie = \"a b\"",
            "risk.device_cookie",
            "letters",
        ),
    ] {
        match builder(&clock).toml(doc) {
            Err(ConfigError::Invalid { setting: s, reason }) => {
                assert_eq!(s, setting, "{doc}");
                assert!(reason.contains(part), "{doc}: {reason}");
            }
            other => panic!("{doc}: {other:?}"),
        }
    }
    // unknown keys are refused
    assert!(builder(&clock).toml("[risk]\nweight = 3").is_err());
    assert!(builder(&clock).toml("[risk.quotas]\nclients = {}").is_err());
}
