//! The bank's deliberately vulnerable demonstration routes: each refuses
//! its injection, passes benign input, and an injected statement never
//! reaches the database (the rows are counted; monitor mode, which lets
//! the same request run, shows the attack is real).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rasp_e2e::{Bank, START, start_with};
use rasp_examples::bank::BankOptions;
use rasp_stepup::Mode;
use serde_json::json;

/// Every demo input excluded from inspection: only the sink guards stand.
const GUARDS_ONLY: &str = r#"
[[exclusions]]
route = "/demo/statements"
key = "query.q"
[[exclusions]]
route = "/demo/statements"
key = "query.sort"
[[exclusions]]
route = "/demo/export"
key = "query.file"
[[exclusions]]
route = "/demo/diagnostics"
key = "query.host"
[[exclusions]]
route = "/demo/webhook-test"
key = "body.url"
"#;

/// `x'; DELETE FROM demo_statements; --` as a search word.
const STACKED_DELETE: &str = "/demo/statements?q=x%27%3B%20DELETE%20FROM%20demo_statements%3B%20--";

fn options(mode: Mode, toml: Option<&str>, database_url: Option<&str>) -> BankOptions {
    let mut opts = BankOptions::with_seed(rasp_e2e::SEED);
    opts.mode = mode;
    opts.policy_toml = toml.map(str::to_owned);
    opts.database_url = database_url.map(str::to_owned);
    opts
}

async fn rows(bank: &Bank) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM demo_statements")
        .fetch_one(bank.demo.pool())
        .await
        .expect("count")
}

/// A search for `benign` answers its one row; then each of `attacks` is
/// refused, and no statement reaches the database.
async fn search_then_refused(bank: &Bank, t: Option<&str>, benign: &str, attacks: &[&str]) {
    let a = bank
        .call("GET", &format!("/demo/statements?q={benign}"), t, None)
        .await;
    assert_eq!(a.status, 200, "{:?}", a.json);
    assert_eq!(a.json["statements"].as_array().map(Vec::len), Some(1));
    let sent = bank.demo.statements_sent();
    for path in attacks {
        forbidden(&bank.call("GET", path, t, None).await);
    }
    assert_eq!(rows(bank).await, 6, "no statement ran");
    assert_eq!(bank.demo.statements_sent(), sent, "none was sent");
}

fn forbidden(a: &rasp_e2e::Answer) {
    assert_eq!(a.status, 403, "{:?}", a.json);
    assert_eq!(a.json["type"], "urn:rasp-stepup:problem:request-rejected");
    assert!(a.json["incident_id"].is_string());
}

#[tokio::test]
async fn each_demo_route_refuses_its_injection_and_passes_benign_input() {
    let bank = start_with(options(Mode::Enforce, None, None)).await;
    let token = bank.login().await;
    let t = Some(token.as_str());
    let a = bank.call("GET", "/demo/statements?q=Coffee", t, None).await;
    assert_eq!(a.status, 200, "{:?}", a.json);
    assert_eq!(a.json["statements"].as_array().map(Vec::len), Some(2));
    assert_eq!(a.json["statements"][0]["description"], "Coffee beans");
    let a = bank
        .call("GET", "/demo/statements?sort=amount_cents", t, None)
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["statements"][0]["amount_cents"], -95_000);
    assert_eq!(
        a.json["statements"].as_array().map(Vec::len),
        Some(4),
        "alice's rows only"
    );
    // a column list no input rule flags: the SQL guard refuses it
    forbidden(
        &bank
            .call("GET", "/demo/statements?sort=amount_cents%2C%20id", t, None)
            .await,
    );
    // a tautology: the input rules refuse it first
    forbidden(
        &bank
            .call(
                "GET",
                "/demo/statements?q=x%25%27%20OR%20%271%27%3D%271",
                t,
                None,
            )
            .await,
    );
    assert_eq!(rows(&bank).await, 6);

    let a = bank
        .call("GET", "/demo/export?file=readme.txt", t, None)
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["file"], "readme.txt");
    assert!(a.json["content"].as_str().unwrap().starts_with("Exports"));
    let a = bank
        .call("GET", "/demo/export?file=nope.csv", t, None)
        .await;
    assert_eq!(a.status, 404);

    let a = bank
        .call("GET", "/demo/diagnostics?host=example.com", t, None)
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["output"], "checking example.com\n");
    // a parameter expansion reads the environment: the shell guard
    forbidden(
        &bank
            .call("GET", "/demo/diagnostics?host=%24HOME", t, None)
            .await,
    );
    // the routes need a token like the rest of the bank
    assert_eq!(
        bank.call("GET", "/demo/statements?q=x", None, None)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn with_inspection_excluded_the_guards_alone_refuse_every_demo_injection() {
    let bank = start_with(options(Mode::Enforce, Some(GUARDS_ONLY), None)).await;
    let token = bank.login().await;
    let t = Some(token.as_str());
    search_then_refused(
        &bank,
        t,
        "Rent",
        &[
            STACKED_DELETE,
            "/demo/statements?q=x%25%27%20OR%20%271%27%3D%271",
        ],
    )
    .await;
    for file in ["..%2F..%2F..%2Fetc%2Fhostname", "%2Fetc%2Fhostname"] {
        forbidden(
            &bank
                .call("GET", &format!("/demo/export?file={file}"), t, None)
                .await,
        );
    }
    for host in ["x%3B%20id", "x%20%3E%20%2Ftmp%2Frasp-demo", "%24(id)"] {
        forbidden(
            &bank
                .call("GET", &format!("/demo/diagnostics?host={host}"), t, None)
                .await,
        );
    }
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:1/",
        "http://2130706433/",
        "file:///etc/passwd",
    ] {
        let a = bank
            .call("POST", "/demo/webhook-test", t, Some(json!({ "url": url })))
            .await;
        assert_eq!(a.status, 403, "{url}: {:?}", a.json);
        forbidden(&a);
    }
}

#[tokio::test]
async fn monitor_mode_lets_the_stacked_statement_run() {
    let bank = start_with(options(Mode::Monitor, Some(GUARDS_ONLY), None)).await;
    let token = bank.login().await;
    let a = bank
        .call("GET", STACKED_DELETE, Some(token.as_str()), None)
        .await;
    assert_eq!(a.status, 200, "{:?}", a.json);
    assert_eq!(
        rows(&bank).await,
        0,
        "the attack is real: it deleted every row"
    );
}

/// A receiver on loopback that answers 204 and counts its requests.
async fn receiver() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                .await;
        }
    });
    (port, hits)
}

#[tokio::test]
async fn the_webhook_test_fetches_allowed_hosts_and_refuses_internal_ones() {
    let (port, hits) = receiver().await;
    let mut opts = options(Mode::Enforce, Some(GUARDS_ONLY), None);
    opts.webhook_allow = vec![format!("127.0.0.1:{port}")];
    let bank = start_with(opts).await;
    let token = bank.login().await;
    let t = Some(token.as_str());
    let url = format!("http://127.0.0.1:{port}/hook");
    let a = bank
        .call("POST", "/demo/webhook-test", t, Some(json!({ "url": url })))
        .await;
    assert_eq!(a.status, 200, "{:?}", a.json);
    assert_eq!(a.json["status"], 204);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // another loopback port is not on the list
    let a = bank
        .call(
            "POST",
            "/demo/webhook-test",
            t,
            Some(json!({ "url": format!("http://127.0.0.1:{}/hook", port.wrapping_add(1)) })),
        )
        .await;
    forbidden(&a);
    // without the flag the receiver is refused too
    let plain = start_with(options(Mode::Enforce, Some(GUARDS_ONLY), None)).await;
    let token = plain.login().await;
    let a = plain
        .call(
            "POST",
            "/demo/webhook-test",
            Some(token.as_str()),
            Some(json!({ "url": url })),
        )
        .await;
    forbidden(&a);
    assert_eq!(hits.load(Ordering::SeqCst), 1, "nothing else was sent");
}

/// The PostgreSQL server the tests use (`RASP_TEST_POSTGRES`, default the
/// local server as `postgres`).
fn postgres_admin_url() -> String {
    std::env::var("RASP_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

#[tokio::test]
async fn on_postgresql_the_injected_statement_never_runs() {
    sqlx::any::install_default_drivers();
    let admin_url = postgres_admin_url();
    let admin = sqlx::AnyPool::connect(&admin_url)
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL at {admin_url} (set RASP_TEST_POSTGRES; .ci/run starts it): {e}")
        });
    let name = format!("rasp_e2e_{}_{}", std::process::id(), START);
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&admin)
        .await
        .expect("drop");
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create database");
    let (base, _) = admin_url.rsplit_once('/').expect("a database in the URL");
    let url = format!("{base}/{name}");

    let bank = start_with(options(Mode::Enforce, Some(GUARDS_ONLY), Some(&url))).await;
    let token = bank.login().await;
    let t = Some(token.as_str());
    search_then_refused(
        &bank,
        t,
        "Salary",
        &[
            STACKED_DELETE,
            "/demo/statements?sort=id%3B%20DROP%20TABLE%20demo_statements",
        ],
    )
    .await;

    // the same request in monitor mode runs: the rows are gone
    let monitor = start_with(options(Mode::Monitor, Some(GUARDS_ONLY), Some(&url))).await;
    let token = monitor.login().await;
    let a = monitor
        .call("GET", STACKED_DELETE, Some(token.as_str()), None)
        .await;
    assert_eq!(a.status, 200, "{:?}", a.json);
    assert_eq!(rows(&monitor).await, 0);

    bank.demo.pool().close().await;
    monitor.demo.pool().close().await;
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .expect("drop");
}
