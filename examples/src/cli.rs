//! The bank's command line: flags and environment variables, parsed into
//! [`BankOptions`] and server settings (the binary and the tests share it).

use std::net::SocketAddr;
use std::time::Duration;

use rasp_stepup::Mode;
use rasp_stepup::risk::ClientAddressHeader;

use crate::bank::{AUDIENCE, BankOptions, ProviderKeys, ProviderOptions};
use crate::serve::ServeLimits;

/// The usage line.
pub const USAGE: &str = "usage: bank [--port N] [--monitor] [--policy FILE] [--trust-proxy CIDR]... \
[--client-ip-header NAME] [--ipv6-prefix BITS] \
[--header-timeout SECS] [--body-timeout SECS] [--max-connections N] [--log-format json|text] \
[--geoip-city PATH] [--geoip-asn PATH] [--geoip-anonymous PATH] [--redis URL | --redis-cluster URL,URL,…] [--redis-prefix P] \
[--token-seed HEX64] [--jwks-url URL --base-issuer ISS | --oidc-issuer URL] [--base-audience AUD] [--metrics-addr ADDR] [--database-url URL] [--data-dir DIR] [--webhook-allow HOST:PORT]...  \
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

/// The bank's command line, parsed.
#[derive(Debug)]
pub struct Args {
    /// `--port` (default 3000).
    pub port: u16,
    /// How to build the bank.
    pub opts: BankOptions,
    /// Connection limits.
    pub limits: ServeLimits,
    /// `--log-format json`.
    pub json_logs: bool,
    /// `--metrics-addr`.
    pub metrics_addr: Option<SocketAddr>,
    /// `--policy` (reloaded on `SIGHUP`).
    pub policy_path: Option<String>,
}

/// Parses the bank's flags (without the program name) over `opts`, with
/// `env` for the variables named in the usage.
///
/// Hand-parsed: a handful of flags do not justify an argument-parser
/// dependency.
///
/// # Errors
///
/// The message to print: an unknown flag, a missing or invalid value, or
/// the usage for `--help`.
pub fn parse(
    mut opts: BankOptions,
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Args, String> {
    let mut port = 3000u16;
    let mut limits = ServeLimits::default();
    let mut json_logs = false;
    let mut metrics_addr = None;
    let mut policy_path = None;
    if let Some(url) = env("RASP_REDIS_URL") {
        opts.redis_url = Some(url);
    }
    if let Some(url) = env("RASP_DATABASE_URL") {
        opts.database_url = Some(url);
    }
    if let Some(hex) = env("RASP_TOKEN_SEED") {
        opts.token_seed = parse_seed(hex.trim())?;
    }
    let (mut jwks_url, mut oidc_issuer, mut base_issuer, mut base_audience) =
        (None, None, None, None);
    let mut args = args.into_iter();
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
                policy_path = Some(path);
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
                json_logs = match args.next().as_deref() {
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
            "--redis-cluster" => {
                let v = args.next().ok_or("--redis-cluster needs URL,URL,…")?;
                opts.redis_cluster = v
                    .split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned)
                    .collect();
                if opts.redis_cluster.is_empty() {
                    return Err("--redis-cluster needs at least one node URL".into());
                }
            }
            "--redis-prefix" => {
                opts.redis_prefix = args.next().ok_or("--redis-prefix needs a value")?
            }
            "--token-seed" => {
                opts.token_seed = parse_seed(&args.next().ok_or("--token-seed needs a value")?)?
            }
            "--metrics-addr" => {
                let v = args.next().ok_or("--metrics-addr needs HOST:PORT")?;
                metrics_addr = Some(v.parse().map_err(|_| {
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
            "--jwks-url" => jwks_url = Some(args.next().ok_or("--jwks-url needs a URL")?),
            "--oidc-issuer" => {
                oidc_issuer = Some(args.next().ok_or("--oidc-issuer needs a URL")?);
            }
            "--base-issuer" => {
                base_issuer = Some(args.next().ok_or("--base-issuer needs a value")?);
            }
            "--base-audience" => {
                base_audience = Some(args.next().ok_or("--base-audience needs a value")?);
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if opts.redis_url.is_some() && !opts.redis_cluster.is_empty() {
        return Err("--redis and --redis-cluster exclude each other".into());
    }
    let keys = match (jwks_url, oidc_issuer, &base_issuer) {
        (Some(_), Some(_), _) => {
            return Err("--jwks-url and --oidc-issuer exclude each other".into());
        }
        (Some(_), None, None) => {
            return Err("--jwks-url needs --base-issuer (the tokens' iss)".into());
        }
        (None, Some(_), Some(_)) => {
            return Err("--oidc-issuer is the tokens' iss: drop --base-issuer".into());
        }
        (Some(url), None, Some(_)) => Some(ProviderKeys::Jwks(url)),
        (None, Some(issuer), None) => {
            base_issuer = Some(issuer);
            Some(ProviderKeys::Oidc)
        }
        (None, None, Some(_)) => return Err("--base-issuer needs --jwks-url".into()),
        (None, None, None) => None,
    };
    match (keys, base_issuer) {
        (Some(keys), Some(issuer)) => {
            opts.identity_provider = Some(ProviderOptions {
                keys,
                issuer,
                audience: base_audience.unwrap_or_else(|| AUDIENCE.to_owned()),
            });
        }
        _ if base_audience.is_some() => {
            return Err("--base-audience needs --jwks-url or --oidc-issuer".into());
        }
        _ => {}
    }
    Ok(Args {
        port,
        opts,
        limits,
        json_logs,
        metrics_addr,
        policy_path,
    })
}
