//! The layer's invariant over arbitrary requests: the inner service runs
//! only when the layer lets the request through, never on a rejection, a
//! challenge or a throttle (the echo behind it answers 200 only).

use std::net::SocketAddr;

use axum::body::Body;
use http::{Request, StatusCode};
use proptest::prelude::*;
use rasp_stepup::RaspStepUp;
use rasp_stepup::risk::PeerAddr;
use tower::{Layer, ServiceExt};

use crate::support::*;

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Bearer eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCJ9.e30.sig".to_owned()),
        Just("application/json".to_owned()),
        Just("application/x-www-form-urlencoded".to_owned()),
        Just("multipart/form-data; boundary=X".to_owned()),
        Just("text/xml".to_owned()),
        Just("rasp_did=abc.def".to_owned()),
        Just("198.51.100.1, 10.0.0.1".to_owned()),
        "[ -~]{0,40}",
    ]
}

fn request() -> impl Strategy<Value = (String, String, Vec<(String, String)>, Vec<u8>, u8)> {
    let method = prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE")];
    let path = prop_oneof![
        Just("/search"),
        Just("/transfer"),
        Just("/admin/settings"),
        Just("/account"),
        Just("/files/..%2f..%2fetc%2fpasswd"),
    ];
    let query = "[ -~]{0,30}".prop_map(|q| {
        q.chars()
            .filter(|c| {
                !matches!(
                    c,
                    ' ' | '#' | '"' | '<' | '>' | '`' | '{' | '}' | '|' | '\\' | '^'
                )
            })
            .collect::<String>()
    });
    let name = prop_oneof![
        Just("authorization"),
        Just("content-type"),
        Just("cookie"),
        Just("user-agent"),
        Just("x-forwarded-for"),
        Just("referer"),
    ];
    let headers = prop::collection::vec((name.prop_map(str::to_owned), header_value()), 0..4);
    let body = prop::collection::vec(any::<u8>(), 0..256);
    (
        method.prop_map(str::to_owned),
        (path, query).prop_map(|(p, q)| format!("{p}?q={q}")),
        headers,
        body,
        any::<u8>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_inner_service_runs_only_on_what_passes(
        (method, uri, headers, body, last_octet) in request()
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (policy, _clock) = policy();
        let (echo, calls) = counting_echo();
        let svc = RaspStepUp::new(policy).layer(echo);
        let mut b = Request::builder().method(method.as_str()).uri(uri.as_str());
        for (k, v) in &headers {
            b = b.header(k.as_str(), v.as_str());
        }
        let Ok(mut req) = b.body(Body::from(body)) else {
            return Ok(());
        };
        req.extensions_mut().insert(PeerAddr(SocketAddr::from(([198, 51, 100, last_octet], 1))));
        let res = rt.block_on(svc.oneshot(req)).unwrap();
        if calls.count() > 0 {
            prop_assert_eq!(res.status(), StatusCode::OK);
        } else {
            prop_assert_ne!(res.status(), StatusCode::OK);
        }
    }
}

/// TOML-shaped documents: known and unknown sections and keys with values of
/// every type.
fn policy_document() -> impl Strategy<Value = String> {
    let section = prop_oneof![
        Just(""),
        Just("[fail_mode]\n"),
        Just("[step_up]\n"),
        Just("[tokens]\n"),
        Just("[inspection]\n"),
        Just("[levels.high]\n"),
        Just("[[routes]]\n"),
        Just("[[exclusions]]\n"),
        Just("[nonsense]\n"),
    ];
    let known = prop::sample::select(vec![
        "mode",
        "default_sensitivity",
        "max_age",
        "acr_values",
        "challenge_ttl",
        "max_attempts",
        "level",
        "path",
        "method",
        "sensitivity",
        "high",
        "issuer",
        "units",
    ]);
    let key = prop_oneof![known.prop_map(str::to_owned), "[a-z_]{1,12}"];
    let value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        Just("\"enforce\"".to_owned()),
        Just("\"closed\"".to_owned()),
        Just("[\"mfa\"]".to_owned()),
        Just("true".to_owned()),
        Just("1e309".to_owned()),
        "\"[ -~]{0,12}\"".prop_map(|s| s.replace('\\', "")),
    ];
    prop::collection::vec((section, key, value), 0..8).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(s, k, v)| format!("{s}{k} = {v}\n"))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn policy_documents_are_refused_or_built_never_panicking(doc in policy_document()) {
        let clock = rasp_stepup::MockClock::new(rasp_stepup::Timestamp::from_secs(START));
        if let Ok(b) = builder(&clock).toml(&doc) {
            let _ = b.build();
        }
    }
}
