//! The store conformance suite against Redis (`RASP_REDIS_URL`, default
//! `redis://127.0.0.1:6379/`). Each test uses a fresh key prefix. Without a
//! reachable Redis these tests fail; they never skip.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use rasp_stepup_redis::RedisStore;

static N: AtomicU32 = AtomicU32::new(0);

fn url() -> String {
    std::env::var("RASP_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

async fn fresh() -> Arc<RedisStore> {
    let prefix = format!(
        "rasp-test:{}:{}:",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let store = RedisStore::builder(url())
        .prefix(prefix)
        .timeout(std::time::Duration::from_secs(2))
        .connect()
        .expect("valid redis url");
    if let Err(e) = store.ping().await {
        panic!(
            "these tests need Redis at {} (set RASP_REDIS_URL, or start redis-server; .ci/run starts it): {e}",
            url()
        );
    }
    Arc::new(store)
}

rasp_stepup::store_conformance!(fresh());
