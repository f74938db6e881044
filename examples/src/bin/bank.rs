//! `bank`: the demo server. `cargo run -p rasp-examples --bin bank [-- --port N] [--monitor] [--policy FILE]`

use std::net::SocketAddr;

use rasp_examples::bank::{self, BankOptions};
use rasp_stepup::Mode;

const USAGE: &str = "usage: bank [--port N] [--monitor] [--policy FILE]";

// Hand-parsed: three flags do not justify an argument-parser dependency.
fn parse_args(opts: &mut BankOptions) -> Result<u16, String> {
    let mut port = 3000u16;
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
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(port)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_target(true).init();
    let mut opts = BankOptions::random()?;
    let port = match parse_args(&mut opts) {
        Ok(p) => p,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let (app, policy) = bank::system_app(&opts)?;
    rasp_stepup::check_routes(&app, &policy).await?;
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
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
