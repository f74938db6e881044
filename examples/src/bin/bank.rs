//! `bank`: the demo server. `cargo run -p rasp-examples --bin bank [-- --port N] [--monitor] [--policy FILE]`

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::time::Duration;

use rasp_examples::bank::{self, BankOptions};
use rasp_examples::serve::{ServeLimits, Swappable, serve_swappable};
use rasp_stepup::Mode;
use rasp_stepup::risk::ClientAddressHeader;

const USAGE: &str = "usage: bank [--port N] [--monitor] [--policy FILE] [--trust-proxy CIDR]... \
[--client-ip-header NAME] [--ipv6-prefix BITS] \
[--header-timeout SECS] [--body-timeout SECS] [--max-connections N] [--log-format json|text] \
[--geoip-city PATH] [--geoip-asn PATH] [--geoip-anonymous PATH] [--redis URL] [--redis-prefix P] \
[--token-seed HEX64] [--metrics-addr ADDR] [--database-url URL] [--data-dir DIR] [--webhook-allow HOST:PORT]...  \
(env: RASP_REDIS_URL, RASP_TOKEN_SEED, RASP_DATABASE_URL)";

fn parse_seed(hex: &str) -> Result<[u8; 32], String> {
    let bytes: Result<Vec<u8>, _> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .map_or(Err(()), |h| u8::from_str_radix(h, 16).map_err(|_| ()))
        })
        .collect();
    match bytes {
        Ok(b) if b.len() == 32 && hex.len() == 64 => {
            let mut seed = [0u8; 32];
            seed.copy_from_slice(&b);
            Ok(seed)
        }
        _ => Err("the token seed is 64 hex digits (32 bytes)".to_owned()),
    }
}

fn parse_secs(flag: &str, v: Option<String>) -> Result<Duration, String> {
    let v = v.ok_or_else(|| format!("{flag} needs a number of seconds"))?;
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("invalid {flag} {v:?} (seconds, more than 0)"))
}

// Hand-parsed: a handful of flags do not justify an argument-parser dependency.
fn parse_args(
    policy_path: &mut Option<String>,
    opts: &mut BankOptions,
    limits: &mut ServeLimits,
    json_logs: &mut bool,
    metrics_addr: &mut Option<SocketAddr>,
) -> Result<u16, String> {
    let mut port = 3000u16;
    if let Ok(url) = std::env::var("RASP_REDIS_URL") {
        opts.redis_url = Some(url);
    }
    if let Ok(url) = std::env::var("RASP_DATABASE_URL") {
        opts.database_url = Some(url);
    }
    if let Ok(hex) = std::env::var("RASP_TOKEN_SEED") {
        opts.token_seed = parse_seed(hex.trim())?;
    }
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let v = args.next().ok_or("--port needs a value")?;
                port = v.parse().map_err(|_| format!("invalid port {v:?}"))?;
            }
            "--monitor" => opts.mode = Mode::Monitor,
            "--policy" => {
                let path = args.next().ok_or("--policy needs a file")?;
                let doc = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
                opts.policy_toml = Some(doc);
                *policy_path = Some(path);
            }
            "--trust-proxy" => {
                let v = args.next().ok_or("--trust-proxy needs a CIDR")?;
                let net = v
                    .parse()
                    .or_else(|_| v.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("invalid CIDR {v:?}"))?;
                opts.trusted_proxies.push(net);
            }
            "--client-ip-header" => {
                let v = args
                    .next()
                    .ok_or("--client-ip-header needs a header name")?;
                opts.client_address_header =
                    ClientAddressHeader::from_name(&v).map_err(|e| e.to_string())?;
            }
            "--ipv6-prefix" => {
                let v = args.next().ok_or("--ipv6-prefix needs a value")?;
                opts.ipv6_prefix = v
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= 128)
                    .ok_or_else(|| format!("invalid IPv6 prefix length {v:?} (0–128)"))?;
            }
            "--log-format" => {
                *json_logs = match args.next().as_deref() {
                    Some("json") => true,
                    Some("text") => false,
                    other => return Err(format!("--log-format is json or text, not {other:?}")),
                }
            }
            "--header-timeout" => limits.header_read = parse_secs(&arg, args.next())?,
            "--body-timeout" => limits.body_idle = parse_secs(&arg, args.next())?,
            "--max-connections" => {
                let v = args.next().ok_or("--max-connections needs a number")?;
                limits.max_connections = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("invalid --max-connections {v:?}"))?;
            }
            "--geoip-city" => {
                opts.geoip_city = Some(args.next().ok_or("--geoip-city needs a path")?.into())
            }
            "--geoip-asn" => {
                opts.geoip_asn = Some(args.next().ok_or("--geoip-asn needs a path")?.into())
            }
            "--geoip-anonymous" => {
                opts.geoip_anonymous =
                    Some(args.next().ok_or("--geoip-anonymous needs a path")?.into());
            }
            "--redis" => opts.redis_url = Some(args.next().ok_or("--redis needs a URL")?),
            "--redis-prefix" => {
                opts.redis_prefix = args.next().ok_or("--redis-prefix needs a value")?
            }
            "--token-seed" => {
                opts.token_seed = parse_seed(&args.next().ok_or("--token-seed needs a value")?)?
            }
            "--metrics-addr" => {
                let v = args.next().ok_or("--metrics-addr needs HOST:PORT")?;
                *metrics_addr = Some(v.parse().map_err(|_| {
                    format!("invalid --metrics-addr {v:?} (an address and port, 127.0.0.1:9100)")
                })?);
            }
            "--database-url" => {
                opts.database_url = Some(args.next().ok_or("--database-url needs a URL")?);
            }
            "--data-dir" => {
                opts.data_dir = Some(args.next().ok_or("--data-dir needs a folder")?.into());
            }
            "--webhook-allow" => {
                let v = args.next().ok_or("--webhook-allow needs HOST:PORT")?;
                if !v
                    .rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
                {
                    return Err(format!("invalid --webhook-allow {v:?} (HOST:PORT)"));
                }
                opts.webhook_allow.push(v);
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(port)
}

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
    let mut opts = BankOptions::random()?;
    let mut limits = ServeLimits::default();
    let mut json_logs = false;
    let mut metrics_addr = None;
    let mut policy_path = None;
    let port = match parse_args(
        &mut policy_path,
        &mut opts,
        &mut limits,
        &mut json_logs,
        &mut metrics_addr,
    ) {
        Ok(p) => p,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
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
    match &opts.redis_url {
        Some(url) => println!("state: redis {url} (prefix {:?})", opts.redis_prefix),
        None => println!("state: in memory (one process)"),
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
