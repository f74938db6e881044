//! The bank's deliberately vulnerable demonstration routes. Each builds
//! its sink's argument from request input the unsafe way (string
//! concatenation, a path joined to a parameter, a user-given URL, a
//! command line for `sh -c`) and is protected only by its sink guard, to
//! show what the guards stop and what they let through. Never copy them.
//!
//! | route | sink | guard |
//! |---|---|---|
//! | `GET /demo/statements?q=&sort=` | SQL (SQLite embedded, PostgreSQL with `--database-url`) | `sink::sql` |
//! | `GET /demo/export?file=` | a file of the data folder | `sink::read_to_string` |
//! | `POST /demo/webhook-test` `{"url"}` | an outbound GET | `sink::UrlGuard` (reqwest-middleware) |
//! | `GET /demo/diagnostics?host=` | `sh -c "echo checking <host>"` | `sink::command` |

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rasp_stepup::Identity;
use rasp_stepup::sink::{self, Dialect, SinkError};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::AnyPool;
use sqlx::Row as _;
use sqlx::any::AnyPoolOptions;
use tokio::sync::OnceCell;

use crate::bank::problem;

/// The embedded database: SQLite in memory, one connection kept open.
pub const EMBEDDED_DATABASE: &str = "sqlite::memory:";

/// The demo statements: `(id, owner, posted_on, description, amount in cents)`.
const ROWS: &[(i64, &str, &str, &str, i64)] = &[
    (1, "alice", "2026-11-02", "Coffee beans", -1_450),
    (2, "alice", "2026-11-05", "Salary November", 320_000),
    (3, "alice", "2026-11-09", "Rent", -95_000),
    (4, "alice", "2026-11-14", "Coffee with Bob", -780),
    (5, "bob", "2026-11-03", "Private clinic", -42_000),
    (6, "bob", "2026-11-12", "Salary November", 410_000),
];

/// Files of the default data folder.
const FILES: &[(&str, &str)] = &[
    (
        "statement-2026-11.csv",
        "date,description,amount\n2026-11-02,Coffee beans,-14.50\n2026-11-05,Salary November,3200.00\n",
    ),
    (
        "readme.txt",
        "Exports of the demo bank. GET /demo/export?file=<name>\n",
    ),
];

/// Where the demonstration routes keep their state.
#[derive(Clone, Debug)]
pub struct Demo {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: AnyPool,
    dialect: Dialect,
    ready: OnceCell<()>,
    /// Statements sent to the database by `/demo/statements`.
    sent: std::sync::atomic::AtomicU64,
    data_dir: PathBuf,
    http: reqwest_middleware::ClientWithMiddleware,
}

/// The demo could not be set up.
#[derive(Debug)]
pub enum DemoError {
    /// The database URL is not `sqlite:…`, `postgres://…` or
    /// `postgresql://…`, or the pool could not be built.
    Database(String),
    /// The data folder could not be prepared.
    DataDir(std::io::Error),
}

impl std::fmt::Display for DemoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Database(e) => write!(f, "demo database: {e}"),
            Self::DataDir(e) => write!(f, "demo data folder: {e}"),
        }
    }
}

impl std::error::Error for DemoError {}

impl Demo {
    /// The demo on `database_url` (`None`: SQLite in memory), reading
    /// exports from `data_dir` (`None`: a folder under the system's
    /// temporary directory, filled with two demo files), fetching webhooks
    /// with the URL guard and the `allow`ed `host:port` pairs exempt.
    /// Connections are opened on first use.
    ///
    /// # Errors
    ///
    /// An unsupported database URL, or a data folder that cannot be made.
    pub fn new(
        database_url: Option<&str>,
        data_dir: Option<&Path>,
        allow: &[String],
    ) -> Result<Self, DemoError> {
        sqlx::any::install_default_drivers();
        let url = database_url.unwrap_or(EMBEDDED_DATABASE);
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Dialect::PostgreSql
        } else {
            return Err(DemoError::Database(
                "expected sqlite:… or postgres://…".into(),
            ));
        };
        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(5));
        if dialect == Dialect::Sqlite {
            // one connection, never closed: an in-memory database lives
            // as long as its connection
            options = options
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        } else {
            options = options.max_connections(8);
        }
        let pool = options
            .connect_lazy(url)
            .map_err(|e| DemoError::Database(e.to_string()))?;
        let data_dir = match data_dir {
            Some(d) => d.to_owned(),
            None => default_data_dir().map_err(DemoError::DataDir)?,
        };
        let mut guard = sink::UrlGuard::new();
        for a in allow {
            guard = guard.allow(a.as_str());
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| DemoError::Database(e.to_string()))?;
        let http = reqwest_middleware::ClientBuilder::new(client)
            .with(guard)
            .build();
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                dialect,
                ready: OnceCell::new(),
                sent: std::sync::atomic::AtomicU64::new(0),
                data_dir,
                http,
            }),
        })
    }

    /// The embedded demo (SQLite in memory, the default data folder, no
    /// webhook exemption).
    ///
    /// # Errors
    ///
    /// A data folder that cannot be made.
    pub fn embedded() -> Result<Self, DemoError> {
        Self::new(None, None, &[])
    }

    /// The database's pool (tests count rows through it).
    #[must_use]
    pub fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// How many statements `/demo/statements` has sent to the database
    /// (its own log of statements: a refused one is never counted).
    #[must_use]
    pub fn statements_sent(&self) -> u64 {
        self.inner.sent.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The data folder exports are read from.
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// Creates the table and its rows once (idempotent across replicas).
    async fn ready(&self) -> Result<(), sqlx::Error> {
        self.inner
            .ready
            .get_or_try_init(|| async {
                let pool = &self.inner.pool;
                sqlx::query(
                    "CREATE TABLE IF NOT EXISTS demo_statements (id BIGINT PRIMARY KEY, \
                     owner TEXT NOT NULL, posted_on TEXT NOT NULL, description TEXT NOT NULL, \
                     amount_cents BIGINT NOT NULL)",
                )
                .execute(pool)
                .await?;
                for (id, owner, on, what, cents) in ROWS {
                    let insert = match self.inner.dialect {
                        Dialect::PostgreSql => {
                            "INSERT INTO demo_statements VALUES ($1, $2, $3, $4, $5) \
                             ON CONFLICT DO NOTHING"
                        }
                        _ => "INSERT OR IGNORE INTO demo_statements VALUES (?, ?, ?, ?, ?)",
                    };
                    sqlx::query(insert)
                        .bind(id)
                        .bind(*owner)
                        .bind(*on)
                        .bind(*what)
                        .bind(cents)
                        .execute(pool)
                        .await?;
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }

    /// The demonstration routes.
    pub fn routes(&self) -> Router {
        let (s, e, w, d) = (self.clone(), self.clone(), self.clone(), self.clone());
        Router::new()
            .route(
                "/demo/statements",
                get(move |id, q| {
                    let s = s.clone();
                    async move { s.statements(id, q).await }
                }),
            )
            .route(
                "/demo/export",
                get(move |q| {
                    let e = e.clone();
                    async move { e.export(q) }
                }),
            )
            .route(
                "/demo/webhook-test",
                post(move |body| {
                    let w = w.clone();
                    async move { w.webhook_test(body).await }
                }),
            )
            .route(
                "/demo/diagnostics",
                get(move |q| {
                    let d = d.clone();
                    async move { d.diagnostics(q).await }
                }),
            )
    }

    /// `GET /demo/statements?q=&sort=`: the caller's statements whose
    /// description contains `q`, ordered by the column `sort` (default
    /// `id`), in a statement built by concatenation.
    async fn statements(&self, identity: Identity, Query(p): Query<StatementsQuery>) -> Response {
        let sort = p.sort.as_deref().unwrap_or("id");
        // deliberately vulnerable: the guard is all that stands here
        let statement = format!(
            "SELECT id, posted_on, description, amount_cents FROM demo_statements \
             WHERE owner = '{}' AND description LIKE '%{}%' ORDER BY {sort}",
            identity.subject(),
            p.q
        );
        if let Err(e) = sink::sql(&statement, self.inner.dialect) {
            return refused(&e);
        }
        if self.ready().await.is_err() {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "the demo database cannot be reached",
            );
        }
        match sqlx::raw_sql(&statement).fetch_all(&self.inner.pool).await {
            Ok(rows) => {
                let rows: Vec<Value> = rows
                    .iter()
                    .map(|r| {
                        json!({
                            "id": r.try_get::<i64, _>(0).ok(),
                            "posted_on": r.try_get::<String, _>(1).ok(),
                            "description": r.try_get::<String, _>(2).ok(),
                            "amount_cents": r.try_get::<i64, _>(3).ok(),
                        })
                    })
                    .collect();
                Json(json!({"statements": rows})).into_response()
            }
            Err(_) => problem(
                StatusCode::BAD_REQUEST,
                "Statement failed",
                "the database refused the statement",
            ),
        }
    }

    /// `GET /demo/export?file=`: a file of the data folder, as text.
    fn export(&self, Query(p): Query<ExportQuery>) -> Response {
        // deliberately vulnerable: the name is joined as given
        let path = self.inner.data_dir.join(&p.file);
        match sink::read_to_string(&path) {
            Ok(content) => Json(json!({"file": p.file, "content": content})).into_response(),
            Err(e) => match e.get_ref().and_then(|i| i.downcast_ref::<SinkError>()) {
                Some(hit) => refused(hit),
                None if e.kind() == std::io::ErrorKind::NotFound => {
                    problem(StatusCode::NOT_FOUND, "Not found", "no such export")
                }
                None => problem(
                    StatusCode::BAD_REQUEST,
                    "Unreadable",
                    "the export cannot be read",
                ),
            },
        }
    }

    /// `POST /demo/webhook-test` `{"url"}`: fetches the URL once, without
    /// following redirects, and reports the status it answered.
    async fn webhook_test(&self, body: axum::body::Bytes) -> Response {
        let Ok(req) = serde_json::from_slice::<WebhookBody>(&body) else {
            return problem(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                "expected JSON {\"url\"}",
            );
        };
        match self.inner.http.get(&req.url).send().await {
            Ok(res) => {
                Json(json!({"url": req.url, "status": res.status().as_u16()})).into_response()
            }
            Err(reqwest_middleware::Error::Middleware(e)) => match e.downcast_ref::<SinkError>() {
                Some(hit) => refused(hit),
                None => problem(StatusCode::BAD_GATEWAY, "Unreachable", "the webhook failed"),
            },
            Err(_) => problem(
                StatusCode::BAD_GATEWAY,
                "Unreachable",
                "the webhook could not be reached",
            ),
        }
    }

    /// `GET /demo/diagnostics?host=`: `sh -c "echo checking <host>"`.
    async fn diagnostics(&self, Query(p): Query<DiagnosticsQuery>) -> Response {
        let mut cmd = std::process::Command::new("sh");
        // deliberately vulnerable: the host is pasted into a shell line
        cmd.arg("-c").arg(format!("echo checking {}", p.host));
        if let Err(e) = sink::command(&cmd) {
            return refused(&e);
        }
        match tokio::process::Command::from(cmd).output().await {
            Ok(out) => Json(json!({
                "host": p.host,
                "output": String::from_utf8_lossy(&out.stdout),
            }))
            .into_response(),
            Err(_) => problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "the diagnostics could not run",
            ),
        }
    }
}

/// What a handler answers on a guard's refusal (the layer answers its own
/// 403 in enforce mode whatever this is).
fn refused(e: &SinkError) -> Response {
    problem(
        StatusCode::FORBIDDEN,
        "Forbidden",
        &format!("{} injection refused", e.sink),
    )
}

/// The default data folder, filled with the demo files.
fn default_data_dir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir()
        .join(format!("rasp-bank-{}", std::process::id()))
        .join("exports");
    std::fs::create_dir_all(&dir)?;
    for (i, (name, content)) in FILES.iter().enumerate() {
        let path = dir.join(name);
        if std::fs::read(&path).is_ok_and(|have| have == content.as_bytes()) {
            continue;
        }
        // written aside and renamed: a reader (another bank of this
        // process) never sees a half-written file
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let aside = dir.join(format!(".{name}.{}.{i}.{n}", std::process::id()));
        std::fs::write(&aside, content)?;
        std::fs::rename(&aside, &path)?;
    }
    Ok(dir)
}

#[derive(Deserialize)]
struct StatementsQuery {
    #[serde(default)]
    q: String,
    sort: Option<String>,
}

#[derive(Deserialize)]
struct ExportQuery {
    file: String,
}

#[derive(Deserialize)]
struct WebhookBody {
    url: String,
}

#[derive(Deserialize)]
struct DiagnosticsQuery {
    host: String,
}
