//! Client addresses behind a proxy, over real HTTP: only the header the
//! operator names is read, and IPv6 clients are counted by their /64.

use hyper::StatusCode;
use rasp_e2e::{Bank, SEED, UA, start_with};
use rasp_examples::bank::BankOptions;
use rasp_stepup::risk::ClientAddressHeader;
use serde_json::json;

const LINKOPING: &str = "89.160.20.112";
const TOR_EXIT: &str = "1.124.213.1";

async fn bank_behind_local_proxy(header: ClientAddressHeader) -> Bank {
    let dir = format!("{}/../testdata/geoip", env!("CARGO_MANIFEST_DIR"));
    let mut opts = BankOptions::with_seed(SEED);
    opts.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    opts.client_address_header = header;
    opts.geoip_city = Some(format!("{dir}/GeoLite2-City-Test.mmdb").into());
    opts.geoip_asn = Some(format!("{dir}/GeoLite2-ASN-Test.mmdb").into());
    opts.geoip_anonymous = Some(format!("{dir}/GeoIP2-Anonymous-IP-Test.mmdb").into());
    start_with(opts).await
}

async fn transfer(bank: &Bank, token: &str, headers: &[(&str, &str)]) -> StatusCode {
    let body = json!({"to": "bob", "amount": 10});
    bank.call_with("POST", "/transfer", Some(token), Some(body), UA, headers)
        .await
        .status
}

#[tokio::test]
async fn a_forwarded_header_added_by_the_client_is_not_believed() {
    // The proxy appends X-Forwarded-For; the client adds `Forwarded` naming
    // Linköping while it connects from a Tor exit.
    let bank = bank_behind_local_proxy(ClientAddressHeader::XForwardedFor).await;
    let token = bank
        .step_up_with(&bank.login().await, &[("x-forwarded-for", LINKOPING)])
        .await;
    assert_eq!(
        transfer(&bank, &token, &[("x-forwarded-for", LINKOPING)]).await,
        StatusCode::OK
    );
    let spoofed = [
        ("forwarded", "for=89.160.20.112"),
        ("x-real-ip", LINKOPING),
        ("x-forwarded-for", TOR_EXIT),
    ];
    assert_eq!(
        transfer(&bank, &token, &spoofed).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_named_single_address_header_is_the_only_one_read() {
    let cf = ClientAddressHeader::from_name("cf-connecting-ip").unwrap();
    let bank = bank_behind_local_proxy(cf).await;
    let token = bank
        .step_up_with(&bank.login().await, &[("cf-connecting-ip", LINKOPING)])
        .await;
    assert_eq!(
        transfer(&bank, &token, &[("cf-connecting-ip", LINKOPING)]).await,
        StatusCode::OK
    );
    // X-Forwarded-For naming Linköping does not hide the Tor exit
    let spoofed = [
        ("x-forwarded-for", LINKOPING),
        ("cf-connecting-ip", TOR_EXIT),
    ];
    assert_eq!(
        transfer(&bank, &token, &spoofed).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn ipv6_clients_share_one_quota_per_64() {
    let mut opts = BankOptions::with_seed(SEED);
    opts.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let bank = start_with(opts).await;
    let search = |ip: String| {
        let bank = &bank;
        async move {
            bank.call_with(
                "GET",
                "/search?q=shoes",
                None,
                None,
                UA,
                &[("x-forwarded-for", &ip)],
            )
            .await
        }
    };
    // the public quota is 600 a minute per client: 600 addresses of one
    // /64 spend it together
    for n in 1..=600 {
        let a = search(format!("2001:db8:1:2::{n:x}")).await;
        assert_eq!(a.status, StatusCode::OK, "request {n}");
    }
    let a = search("2001:db8:1:2:ffff:ffff:ffff:ffff".into()).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.header("ratelimit-policy"), "\"client\";q=600;w=60");
    // another /64 has its own quota, and so has every IPv4 address
    assert_eq!(
        search("2001:db8:1:3::1".into()).await.status,
        StatusCode::OK
    );
    assert_eq!(search("198.51.100.7".into()).await.status, StatusCode::OK);
}
