//! `bank`: the demo server. `cargo run -p rasp-examples --bin bank [-- --port N] [--monitor] [--policy FILE]`

use std::io::IsTerminal;
use std::net::SocketAddr;

use rasp_examples::bank::{self, BankOptions};
use rasp_examples::cli;
use rasp_examples::serve::{Swappable, serve_swappable};

/// Reloads the policy file on each `SIGHUP`: a file that reads and builds
/// replaces the running policy at once (its stores kept: nothing in flight
/// is lost); any other leaves the running policy and logs why.
async fn reload_on_hangup(
    path: String,
    opts: BankOptions,
    mut running: rasp_stepup::Policy,
    demo: rasp_examples::demo::Demo,
    current: Swappable,
) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::error!(target: "bank", "SIGHUP cannot be watched; the policy will not reload");
            return;
        };
        while hangups.recv().await.is_some() {
            let doc = match std::fs::read_to_string(&path) {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(target: "bank", %path, error = %e, "policy reload refused; the running policy stays");
                    continue;
                }
            };
            match bank::reload_policy(&opts, Some(doc), &running, rasp_stepup::SystemClock) {
                Ok(policy) => {
                    let app = bank::app_with(policy.clone(), Some(&demo));
                    if let Err(e) = rasp_stepup::check_routes(&app, &policy).await {
                        tracing::error!(target: "bank", %path, error = %e, "policy reload refused; the running policy stays");
                        continue;
                    }
                    current.swap(app);
                    running = policy;
                    tracing::info!(target: "bank", %path, "policy reloaded");
                }
                Err(e) => {
                    tracing::error!(target: "bank", %path, error = %e, "policy reload refused; the running policy stays");
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, opts, running, demo, current);
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = match cli::parse(BankOptions::random()?, std::env::args().skip(1), |name| {
        std::env::var(name).ok()
    }) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let cli::Args {
        port,
        opts,
        limits,
        json_logs,
        metrics_addr,
        policy_path,
    } = args;
    // colours only for a terminal: redirected logs stay plain text
    let logs = tracing_subscriber::fmt()
        .with_target(true)
        .with_ansi(std::io::stdout().is_terminal());
    if json_logs {
        logs.json().init();
    } else {
        logs.init();
    }
    let built = bank::policy(&opts, rasp_stepup::SystemClock)
        .and_then(|policy| Ok((policy, bank::demo(&opts)?)));
    let (policy, demo) = match built {
        Ok(x) => x,
        Err(e) => {
            eprintln!("bank: {e}");
            std::process::exit(2);
        }
    };
    let app = bank::app_with(policy.clone(), Some(&demo));
    rasp_stepup::check_routes(&app, &policy).await?;
    if let Some(addr) = metrics_addr {
        let handle = rasp_examples::metrics::recorder()?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("metrics on http://{}/metrics", listener.local_addr()?);
        tokio::spawn(rasp_examples::metrics::serve_metrics(listener, handle));
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("bank listening on http://{}", listener.local_addr()?);
    println!(
        "demo user: {} / {:?}; TOTP secret (base32, demo only): {}",
        bank::DEMO_USER,
        bank::DEMO_PASSWORD,
        bank::DEMO_TOTP_SECRET
    );
    println!("mode: {:?}", policy.mode());
    match (&opts.redis_url, opts.redis_cluster.as_slice()) {
        (Some(url), _) => println!("state: redis {url} (prefix {:?})", opts.redis_prefix),
        (None, []) => println!("state: in memory (one process)"),
        (None, nodes) => println!(
            "state: redis cluster {} (prefix {:?})",
            nodes.join(","),
            opts.redis_prefix
        ),
    }
    println!(
        "demo routes (deliberately vulnerable, guarded): database {}, exports from {}",
        opts.database_url.as_deref().unwrap_or("SQLite in memory"),
        opts.data_dir.as_ref().map_or_else(
            || "a temporary folder".to_owned(),
            |d| d.display().to_string()
        )
    );
    if !opts.trusted_proxies.is_empty() {
        println!(
            "trusted proxies: {:?}, client address from {:?}",
            opts.trusted_proxies, opts.client_address_header
        );
    }
    println!(
        "limits: request head within {:?}, idle keep-alive {:?}, body silence {:?}, {} connections",
        limits.header_read, limits.header_read, limits.body_idle, limits.max_connections
    );
    let current = Swappable::new(app);
    if let Some(path) = policy_path {
        println!("SIGHUP reloads {path}");
        tokio::spawn(reload_on_hangup(path, opts, policy, demo, current.clone()));
    }
    serve_swappable(listener, current, limits, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
