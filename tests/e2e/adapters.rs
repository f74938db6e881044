//! The sink guard adapters inside a request served by the layer: `sqlx`
//! query builders, the `reqwest-middleware` URL guard, `Command` and file
//! paths. Each handler answers 200 with what its adapter said, so the test
//! reads the adapter's verdict (the layer's own 403 comes on top of it).

use std::convert::Infallible;

use axum::body::Body;
use http::{Request, Response, StatusCode};
use rasp_stepup::sink::{self, SinkError};
use rasp_stepup::{Policy, RaspStepUp, Sensitivity, TokenConfig};
use tower::{Layer, ServiceExt, service_fn};

/// Runs `handler(q)` inside the layer for `GET /x?q=<q>`; returns the
/// layer's status and the handler's answer.
async fn within<F, Fut>(q: &str, handler: F) -> (StatusCode, String)
where
    F: Fn(String) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = String> + Send + 'static,
{
    let policy = Policy::builder()
        .default_sensitivity(Sensitivity::Public)
        .tokens(
            TokenConfig::ed25519_from_seed([3; 32])
                .issuer("i")
                .audience("a"),
        )
        // the adapters are under test, not the input rules
        .inspection(
            rasp_stepup::InspectionRules::default().exclude(rasp_stepup::Exclusion {
                route: None,
                key: Some("query.q".into()),
                rule: None,
                class: None,
            }),
        )
        .build()
        .expect("policy");
    let answer = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let a = answer.clone();
    let inner = service_fn(move |req: Request<Body>| {
        let handler = handler.clone();
        let a = a.clone();
        async move {
            let q = req
                .uri()
                .query()
                .and_then(|q| q.strip_prefix("q="))
                .unwrap_or_default();
            let q = percent_encoding::percent_decode_str(q)
                .decode_utf8_lossy()
                .into_owned();
            let said = handler(q).await;
            *a.lock().expect("lock") = said;
            Ok::<_, Infallible>(Response::new(Body::empty()))
        }
    });
    let svc = RaspStepUp::new(policy).layer(inner);
    let uri = format!(
        "/x?q={}",
        percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC)
    );
    let res = svc
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let said = answer.lock().expect("lock").clone();
    (res.status(), said)
}

fn verdict<T>(r: Result<T, SinkError>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => format!("refused {} {}", e.sink, e.key),
    }
}

#[tokio::test]
async fn sqlx_builders_judge_the_statement_in_the_database_dialect() {
    let pool = sqlx::SqlitePool::connect("sqlite::memory:")
        .await
        .expect("sqlite");
    sqlx::raw_sql(
        "CREATE TABLE t (id INTEGER, name TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b')",
    )
    .execute(&pool)
    .await
    .expect("schema");
    let run = |pool: sqlx::SqlitePool| {
        move |sort: String| {
            let pool = pool.clone();
            async move {
                let statement = format!("SELECT id FROM t ORDER BY {sort}");
                match sink::sqlx::query_scalar::<sqlx::Sqlite, i64>(&statement) {
                    Ok(q) => format!("{:?}", q.fetch_all(&pool).await.expect("runs")),
                    Err(e) => verdict::<()>(Err(e)),
                }
            }
        }
    };
    assert_eq!(
        within("name DESC", run(pool.clone())).await,
        (StatusCode::FORBIDDEN, "refused sql query.q".into())
    );
    assert_eq!(
        within("id", run(pool.clone())).await,
        (StatusCode::OK, "[1, 2]".into())
    );
    // the other builders and the dialects
    let (status, said) = within("1 OR 1=1", |v| async move {
        let s = format!("SELECT id FROM t WHERE id = {v}");
        [
            verdict(sink::sqlx::query::<sqlx::Sqlite>(&s)),
            verdict(sink::sqlx::query_as::<sqlx::Postgres, (i64,)>(&s)),
            verdict(sink::sqlx::check::<sqlx::Sqlite>("SELECT 1")),
        ]
        .join(", ")
    })
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(said, "refused sql query.q, refused sql query.q, ok");
}

#[tokio::test]
async fn the_url_guard_refuses_internal_hosts_in_any_spelling_before_sending() {
    for (input, template) in [
        ("2130706433", "http://{}/hook"),
        ("0x7f.1", "http://{}/hook"),
        ("[::ffff:127.0.0.1]", "http://{}:9/hook"),
        ("http://169.254.169.254/latest", "{}"),
        ("http://LOCALHOST:9/", "{}"),
        ("127.1", "http://{}:9/"),
    ] {
        let (status, said) = within(input, move |v| async move {
            let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .with(sink::UrlGuard::new())
                .build();
            match client.get(template.replace("{}", &v)).send().await {
                Ok(res) => format!("sent {}", res.status()),
                Err(reqwest_middleware::Error::Middleware(e)) => {
                    e.downcast_ref::<SinkError>().map_or_else(
                        || "other".into(),
                        |e| format!("refused {} {}", e.sink, e.key),
                    )
                }
                Err(e) => format!("failed {e}"),
            }
        })
        .await;
        assert_eq!(
            (status, said.as_str()),
            (StatusCode::FORBIDDEN, "refused url query.q"),
            "{input}"
        );
    }
}

#[tokio::test]
async fn commands_and_paths_are_judged_before_they_run() {
    let cmd = |v: String| async move {
        let mut c = std::process::Command::new("sh");
        c.arg("-c").arg(format!("echo {v}"));
        let mut program = tokio::process::Command::new(&v);
        program.arg("-v");
        format!(
            "{} / {}",
            verdict(sink::command(&c)),
            verdict(sink::command(program.as_std()))
        )
    };
    assert_eq!(
        within("$HOME", cmd).await,
        (
            StatusCode::FORBIDDEN,
            "refused exec query.q / refused exec query.q".into()
        )
    );
    let (status, said) = within("report", cmd).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the program is the input");
    assert_eq!(said, "ok / refused exec query.q");

    let path = |v: String| async move {
        let dir = std::env::temp_dir().join("rasp-e2e-adapters");
        let p = dir.join(&v);
        match sink::checked_path(&p) {
            Ok(_) => "ok".to_owned(),
            Err(e) => {
                let inner = e.get_ref().and_then(|i| i.downcast_ref::<SinkError>());
                format!("{:?} {}", e.kind(), inner.map_or("", |i| i.key.as_str()))
            }
        }
    };
    assert_eq!(
        within("../../etc/passwd", path).await,
        (StatusCode::FORBIDDEN, "PermissionDenied query.q".into())
    );
    assert_eq!(
        within("/etc/passwd", path).await,
        (StatusCode::FORBIDDEN, "PermissionDenied query.q".into())
    );
    assert_eq!(
        within("2024/report.csv", path).await,
        (StatusCode::OK, "ok".into())
    );
    // the std wrappers read through the guard
    let (status, said) = within("../../../../../../etc/hostname", |v| async move {
        match sink::read_to_string(std::env::temp_dir().join(v)) {
            Ok(_) => "read".to_owned(),
            Err(e) => format!("{:?}", e.kind()),
        }
    })
    .await;
    assert_eq!(
        (status, said.as_str()),
        (StatusCode::FORBIDDEN, "PermissionDenied")
    );
}
