//! Sink guards inside a handler: the request's inputs are current while it
//! runs, a hit answers 403 (enforce) or is attached as `Monitored`.

use super::*;
use rasp_stepup::sink::{self, Dialect};

/// An app that sorts by a query parameter pasted into SQL, guards the
/// statement, and counts the statements it would run.
fn sorting_app(policy: Policy) -> (Svc, Arc<AtomicUsize>) {
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let inner = service_fn(move |req: Request<Body>| {
        let r = r.clone();
        async move {
            let sort = req
                .uri()
                .query()
                .and_then(|q| q.strip_prefix("sort="))
                .map(percent_decode)
                .unwrap_or_default();
            let statement = format!("SELECT id, name FROM items ORDER BY {sort} LIMIT 20");
            let res = match sink::sql(&statement, Dialect::PostgreSql) {
                Ok(()) => {
                    r.fetch_add(1, Ordering::SeqCst);
                    Response::new(Body::from("ok"))
                }
                Err(e) => {
                    let mut res = Response::new(Body::from(e.to_string()));
                    *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                    res
                }
            };
            Ok::<_, Infallible>(res)
        }
    });
    (
        RaspStepUp::new(policy).layer(tower::util::BoxCloneService::new(inner)),
        ran,
    )
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

#[tokio::test]
async fn a_guarded_statement_refuses_what_inspection_let_through() {
    let (svc, ran) = sorting_app(builder().build().unwrap());
    let res = send(&svc, get("/items?sort=name")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    // a column list is no attack pattern, but it changes the statement
    let res = send(&svc, get("/items?sort=name%2C+id")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let r = res.extensions().get::<Rejection>().cloned().unwrap();
    assert_eq!(r.kind(), RejectionKind::Injection);
    assert_eq!(r.rule_ids(), ["sink-sql"]);
    assert_eq!(ran.load(Ordering::SeqCst), 1, "the statement did not run");
    let body = body_text(res).await;
    assert!(!body.contains("name, id"), "{body}");
    // outside a request the guard has no inputs
    assert_eq!(sink::sql("SELECT 1; SELECT 2", Dialect::Generic), Ok(()));
}

#[tokio::test]
async fn monitor_mode_runs_the_statement_and_attaches_the_hit() {
    let (svc, ran) = sorting_app(builder().mode(Mode::Monitor).build().unwrap());
    let res = send(&svc, get("/items?sort=name%2C+id")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    let m = res.extensions().get::<Monitored>().expect("monitored");
    match &m.0 {
        Decision::Reject(r) => assert_eq!(r.rule_ids(), ["sink-sql"]),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn inputs_can_be_left_out() {
    let rules = InspectionRules::default().sink_inputs(false);
    let (svc, ran) = sorting_app(builder().inspection(rules).build().unwrap());
    let res = send(&svc, get("/items?sort=name%2C+id")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    // the same in TOML
    let policy = builder()
        .toml("[inspection]\nsink_inputs = false\nsink_flag = 0\nsink_revokes_session = true")
        .unwrap()
        .build()
        .unwrap();
    let (svc, ran) = sorting_app(policy);
    let res = send(&svc, get("/items?sort=name%2C+id")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert!(builder().toml("[inspection]\nsink_flag = \"1h\"").is_err());
}

#[tokio::test]
async fn a_hit_can_revoke_the_session() {
    let clock = MockClock::new(Timestamp::from_secs(1_800_000_000));
    let policy = builder()
        .with_clock(clock.clone())
        .route("GET", "/items", Sensitivity::Authenticated)
        .inspection(InspectionRules::default().sink_revokes_session(true))
        .build()
        .unwrap();
    let token = policy
        .issue_access_token("alice", "s1", std::time::Duration::from_secs(3600))
        .unwrap();
    let (svc, ran) = sorting_app(policy);
    let with_token = |uri: &str| {
        Request::get(uri)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    clock.advance(std::time::Duration::from_secs(5));
    assert_eq!(
        send(&svc, with_token("/items?sort=name")).await.status(),
        StatusCode::OK
    );
    let res = send(&svc, with_token("/items?sort=name%2C+id")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // the token no longer opens anything
    let res = send(&svc, with_token("/items?sort=name")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}
