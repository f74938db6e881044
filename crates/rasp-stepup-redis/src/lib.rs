//! Redis (or Valkey) stores for `rasp-stepup`: every step-up and rate
//! guarantee holds across replicas.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use rasp_stepup::{Policy, Stores, TokenConfig};
//! use rasp_stepup_redis::RedisStore;
//!
//! let store = RedisStore::builder("redis://127.0.0.1:6379/").prefix("bank:").connect()?;
//! let policy = Policy::builder()
//!     .tokens(TokenConfig::ed25519_from_seed([7; 32]).issuer("bank").audience("bank-api"))
//!     .with_stores(Stores::from_backend(Arc::new(store)))
//!     .build()?;
//! # let _ = policy; Ok(()) }
//! ```
//!
//! Each operation that must be atomic is one Lua script (challenge attempts,
//! single use, TOTP step claims, attempt limits and back-off, revocation
//! epochs, GCRA rate limits, burst counters). Every key carries the
//! configured prefix and a TTL, so Redis memory stays bounded. Every call
//! has a timeout; a failure is a `StoreError::Unavailable`, which the policy
//! turns into its per-level fail mode (503 on high and critical routes by
//! default). The connection manager reconnects by itself when Redis returns.
//! See `docs/deployment.md` for the key layout.

mod scripts;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use rasp_stepup::risk::{Quota, RateVerdict, SubjectHistory, gcra, gcra_params};
use rasp_stepup::store::{
    AttemptStore, ChallengeAttempt, ChallengeRecord, ChallengeStore, CounterKey, CounterStore,
    HARD_LOCK_RETRY, HARD_LOCK_TTL, HistoryStore, RateKey, RateStore, ReplayStore, RevocationStore,
    StoreError, StoreFuture, SubjectGate, SubjectLimits,
};
use rasp_stepup::{Sensitivity, Timestamp};
use std::sync::Arc;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;

/// How long per-subject failure state is kept at least (as the memory store).
const ATTEMPT_TTL_FLOOR: Duration = Duration::from_secs(24 * 3600);

/// The store could not be set up.
#[derive(Debug)]
pub struct RedisStoreError(String);

impl fmt::Display for RedisStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "redis store: {}", self.0)
    }
}

impl std::error::Error for RedisStoreError {}

impl RedisStoreError {
    /// An error with this reason (for applications that check their own
    /// Redis settings before connecting).
    #[must_use]
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

/// Builds a [`RedisStore`].
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisStoreBuilder {
    target: Target,
    prefix: String,
    timeout: Duration,
}

#[derive(Debug, Clone)]
enum Target {
    Single(String),
    Cluster(Vec<String>),
}

impl RedisStoreBuilder {
    /// Key prefix (default `rasp:`); give each application its own.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Timeout of every call, connection included (default 250 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Creates the store. Connects lazily: the application starts even when
    /// Redis is down, and requests then follow the policy's fail mode.
    /// Call it inside a Tokio runtime (the connection lives on it).
    ///
    /// # Errors
    ///
    /// An invalid URL or timeout, or no Tokio runtime.
    pub fn connect(self) -> Result<RedisStore, RedisStoreError> {
        if self.timeout.is_zero() {
            return Err(RedisStoreError("timeout must be positive".into()));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(RedisStoreError(
                "connect must be called inside a Tokio runtime".into(),
            ));
        }
        let conn = match &self.target {
            Target::Single(url) => {
                let client = redis::Client::open(url.as_str())
                    .map_err(|e| RedisStoreError(e.to_string()))?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(500));
                Conn::Single(
                    client
                        .get_connection_manager_lazy(config)
                        .map_err(|e| RedisStoreError(e.to_string()))?,
                )
            }
            Target::Cluster(nodes) => {
                if nodes.is_empty() {
                    return Err(RedisStoreError(
                        "a cluster needs at least one node URL".into(),
                    ));
                }
                let client = ClusterClient::builder(nodes.iter().map(String::as_str))
                    .connection_timeout(self.timeout)
                    .response_timeout(self.timeout)
                    .retries(2)
                    .min_retry_wait(10)
                    .max_retry_wait(100)
                    .build()
                    .map_err(|e| RedisStoreError(e.to_string()))?;
                Conn::Cluster(Arc::new(LazyCluster {
                    client,
                    conn: tokio::sync::OnceCell::new(),
                }))
            }
        };
        Ok(RedisStore {
            conn,
            prefix: self.prefix,
            timeout: self.timeout,
        })
    }
}

/// A cluster connection made on first use (the application starts while
/// the cluster is down), then kept: it follows `MOVED` and `ASK`, refreshes
/// its slot map and reconnects to nodes by itself.
struct LazyCluster {
    client: ClusterClient,
    conn: tokio::sync::OnceCell<ClusterConnection>,
}

/// One Redis node through a connection manager, or a Redis Cluster.
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(Arc<LazyCluster>),
}

/// The connection a call uses (cheap clones of multiplexed handles).
enum Handle {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl redis::aio::ConnectionLike for Handle {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(cmd, offset, count),
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

impl Conn {
    async fn handle(&self) -> redis::RedisResult<Handle> {
        match self {
            Self::Single(c) => Ok(Handle::Single(c.clone())),
            Self::Cluster(lazy) => lazy
                .conn
                .get_or_try_init(|| lazy.client.get_async_connection())
                .await
                .map(|c| Handle::Cluster(c.clone())),
        }
    }
}

/// Every `rasp-stepup` store trait on Redis.
#[derive(Clone)]
pub struct RedisStore {
    conn: Conn,
    prefix: String,
    timeout: Duration,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn unavailable(e: impl fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl RedisStore {
    /// Starts a store for `url` (`redis://host:port/db`).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            target: Target::Single(url.into()),
            prefix: "rasp:".into(),
            timeout: Duration::from_millis(250),
        }
    }

    /// Starts a store on a Redis Cluster, given one or more of its nodes
    /// (`redis://host:port`; the rest are discovered). Every script's keys
    /// share one hash slot (see `docs/deployment.md`); `MOVED` and `ASK`
    /// are followed, and a node that fails over or comes back is found
    /// again without a restart.
    pub fn cluster<I, S>(nodes: I) -> RedisStoreBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RedisStoreBuilder {
            target: Target::Cluster(nodes.into_iter().map(Into::into).collect()),
            prefix: "rasp:".into(),
            timeout: Duration::from_millis(250),
        }
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    /// The two keys of a subject's attempt state (state hash, failure
    /// times), which one script updates together: one hash tag, never
    /// empty (`{}` would hash the whole key), so one slot of a cluster.
    /// Public for the test that asks a cluster for their slots.
    #[doc(hidden)]
    #[must_use]
    pub fn attempt_keys(&self, subject: &str) -> [String; 2] {
        [
            self.key("at", &format!("{{@{subject}}}:s")),
            self.key("at", &format!("{{@{subject}}}:f")),
        ]
    }

    /// Runs one call with the store's timeout; every error is `Unavailable`.
    async fn run<T, F>(&self, f: impl FnOnce(Handle) -> F) -> Result<T, StoreError>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        let call = async {
            let handle = self.conn.handle().await?;
            f(handle).await
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(unavailable(e)),
            Err(_) => Err(StoreError::Unavailable("redis call timed out".into())),
        }
    }

    /// Checks that Redis answers (for readiness probes).
    ///
    /// # Errors
    ///
    /// When it does not answer within the timeout.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(|_| ())
    }
}

fn record_from(id: &str, v: &[String]) -> Result<ChallengeRecord, StoreError> {
    // v = [tag, subject, session, device, level, acr, max_age, expires, attempts]
    let bad = || StoreError::Unavailable("malformed challenge record".into());
    if v.len() != 9 {
        return Err(bad());
    }
    let level = Sensitivity::from_name(&v[4]).ok_or_else(bad)?;
    let acr = v[5]
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let max_age = v[6].parse().map_err(|_| bad())?;
    let expires = Timestamp::from_millis(v[7].parse().map_err(|_| bad())?);
    let mut rec = ChallengeRecord::new(
        id.to_owned(),
        v[1].clone(),
        v[2].clone(),
        v[3].clone(),
        level,
        acr,
        max_age,
        expires,
    );
    rec.attempts = v[8].parse().map_err(|_| bad())?;
    Ok(rec)
}

impl ChallengeStore for RedisStore {
    fn create(&self, record: ChallengeRecord, now: Timestamp) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let key = self.key("ch", &record.id);
            let ttl = record
                .expires
                .as_millis()
                .saturating_sub(now.as_millis())
                .max(1);
            self.run(|mut c| async move {
                let mut inv = scripts::CH_CREATE.prepare_invoke();
                inv.key(&key)
                    .arg(&record.subject)
                    .arg(&record.session)
                    .arg(&record.device)
                    .arg(record.sensitivity.as_str())
                    .arg(record.acr_values.join(" "))
                    .arg(record.max_age)
                    .arg(record.expires.as_millis())
                    .arg(ttl);
                inv.invoke_async::<i64>(&mut c).await
            })
            .await
            .map(|_| ())
        })
    }

    fn attempt<'a>(
        &'a self,
        id: &'a str,
        subject: &'a str,
        session: &'a str,
        max_attempts: u32,
        now: Timestamp,
    ) -> StoreFuture<'a, ChallengeAttempt> {
        Box::pin(async move {
            let key = self.key("ch", id);
            let v: Vec<String> = self
                .run(|mut c| async move {
                    let mut inv = scripts::CH_ATTEMPT.prepare_invoke();
                    inv.key(&key)
                        .arg(subject)
                        .arg(session)
                        .arg(max_attempts)
                        .arg(now.as_millis());
                    inv.invoke_async(&mut c).await
                })
                .await?;
            match v.first().map(String::as_str) {
                Some("1") => Ok(ChallengeAttempt::Burned),
                Some("2") => Ok(ChallengeAttempt::Counted(record_from(id, &v)?)),
                _ => Ok(ChallengeAttempt::Missing),
            }
        })
    }

    fn consume<'a>(&'a self, id: &'a str, now: Timestamp) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let key = self.key("ch", id);
            let n: i64 = self
                .run(|mut c| async move {
                    let mut inv = scripts::CH_CONSUME.prepare_invoke();
                    inv.key(&key).arg(now.as_millis());
                    inv.invoke_async(&mut c).await
                })
                .await?;
            Ok(n == 1)
        })
    }
}

impl ReplayStore for RedisStore {
    fn claim_step<'a>(
        &'a self,
        subject: &'a str,
        step: u64,
        ttl: Duration,
        now: Timestamp,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let key = self.key("rp", subject);
            let n: i64 = self
                .run(|mut c| async move {
                    let mut inv = scripts::REPLAY.prepare_invoke();
                    inv.key(&key)
                        .arg(step)
                        .arg(now.as_millis())
                        .arg(now.plus(ttl).as_millis())
                        .arg(ms(ttl).max(1));
                    inv.invoke_async(&mut c).await
                })
                .await?;
            Ok(n == 1)
        })
    }
}

impl AttemptStore for RedisStore {
    fn begin<'a>(
        &'a self,
        subject: &'a str,
        limits: &'a SubjectLimits,
        now: Timestamp,
    ) -> StoreFuture<'a, SubjectGate> {
        Box::pin(async move {
            // One hash tag: both keys live in the same cluster slot.
            let [state, fails] = self.attempt_keys(subject);
            let ttl = ms(limits.window.max(ATTEMPT_TTL_FLOOR));
            let v: Vec<String> = self
                .run(|mut c| async move {
                    let mut inv = scripts::ATTEMPT_BEGIN.prepare_invoke();
                    inv.key(&state)
                        .key(&fails)
                        .arg(now.as_millis())
                        .arg(ms(limits.window))
                        .arg(limits.max_failures)
                        .arg(limits.hard_cap)
                        .arg(ms(HARD_LOCK_RETRY))
                        .arg(ttl)
                        .arg(ms(HARD_LOCK_TTL))
                        .arg(ms(limits.base_backoff))
                        .arg(ms(limits.max_backoff));
                    inv.invoke_async(&mut c).await
                })
                .await?;
            if v.first().map(String::as_str) != Some("1") {
                return Ok(SubjectGate::Open);
            }
            let wait: u64 = v.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
            let hard = v.get(2).map(String::as_str) == Some("1");
            let retry_after = if hard {
                HARD_LOCK_RETRY
            } else {
                Duration::from_secs(wait.div_ceil(1000).max(1))
            };
            Ok(SubjectGate::Locked { retry_after, hard })
        })
    }

    fn succeed<'a>(&'a self, subject: &'a str, _now: Timestamp) -> StoreFuture<'a, ()> {
        self.unlock_keys(subject)
    }

    fn unlock<'a>(&'a self, subject: &'a str, _now: Timestamp) -> StoreFuture<'a, ()> {
        self.unlock_keys(subject)
    }
}

impl RedisStore {
    fn unlock_keys<'a>(&'a self, subject: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let [state, fails] = self.attempt_keys(subject);
            self.run(|mut c| async move { c.del::<_, i64>(&[state, fails]).await })
                .await
                .map(|_| ())
        })
    }
}

impl RevocationStore for RedisStore {
    fn is_revoked<'a>(
        &'a self,
        subject: &'a str,
        jti: Option<&'a str>,
        issued_at: u64,
        now: Timestamp,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let epoch = self.key("ep", subject);
            // Both reads at once: one round trip on one connection (the
            // commands are pipelined), one per node on a cluster.
            let by_epoch = self.run(|mut c| async move {
                let mut inv = scripts::IS_REVOKED.prepare_invoke();
                inv.key(&epoch).arg(issued_at).arg(now.as_millis());
                inv.invoke_async::<i64>(&mut c).await
            });
            let by_jti = async {
                let Some(jti) = jti else {
                    return Ok(None);
                };
                let key = self.key("jti", jti);
                self.run(|mut c| async move { c.get::<_, Option<u64>>(&key).await })
                    .await
            };
            let (by_epoch, by_jti) = tokio::join!(by_epoch, by_jti);
            Ok(by_epoch? == 1 || by_jti?.is_some_and(|until| until > now.as_millis()))
        })
    }

    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        ttl: Duration,
        now: Timestamp,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let key = self.key("ep", subject);
            // As the memory store: tokens of the current second are revoked too.
            let epoch = now.as_secs() + 1;
            self.run(|mut c| async move {
                let mut inv = scripts::REVOKE_SUBJECT.prepare_invoke();
                inv.key(&key)
                    .arg(epoch)
                    .arg(now.plus(ttl).as_millis())
                    .arg(ms(ttl).max(1))
                    .arg(now.as_millis());
                inv.invoke_async::<i64>(&mut c).await
            })
            .await
            .map(|_| ())
        })
    }

    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        until: Timestamp,
        now: Timestamp,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let key = self.key("jti", jti);
            let ttl = until.as_millis().saturating_sub(now.as_millis()).max(1);
            self.run(
                |mut c| async move { c.pset_ex::<_, _, ()>(&key, until.as_millis(), ttl).await },
            )
            .await
        })
    }
}

impl RateStore for RedisStore {
    fn check<'a>(
        &'a self,
        key: &'a RateKey,
        quota: &'a Quota,
        now: Timestamp,
    ) -> StoreFuture<'a, RateVerdict> {
        Box::pin(async move {
            // `rlu`: arrival times in microseconds (`rl` held milliseconds;
            // a replica of the older kind keeps its own keys meanwhile)
            let k = self.key("rlu", &key.to_key_string());
            let (t, tau) = gcra_params(quota);
            let v: Vec<String> = self
                .run(|mut c| async move {
                    let mut inv = scripts::RATE.prepare_invoke();
                    inv.key(&k).arg(now.as_micros()).arg(t).arg(tau);
                    inv.invoke_async(&mut c).await
                })
                .await?;
            // The script applied the same step as `gcra`; derive the verdict
            // from the state it started from.
            let prev = v.get(1).and_then(|s| s.parse::<u64>().ok());
            Ok(gcra(prev, now.as_micros(), quota).0)
        })
    }
}

impl CounterStore for RedisStore {
    fn bump<'a>(
        &'a self,
        key: &'a CounterKey,
        window: Duration,
        now: Timestamp,
    ) -> StoreFuture<'a, u32> {
        Box::pin(async move {
            let k = self.key("ct", &key.to_key_string());
            let n: u32 = self
                .run(|mut c| async move {
                    let mut inv = scripts::COUNTER_BUMP.prepare_invoke();
                    inv.key(&k).arg(now.as_millis()).arg(ms(window).max(1));
                    inv.invoke_async(&mut c).await
                })
                .await?;
            Ok(n)
        })
    }

    fn count<'a>(&'a self, key: &'a CounterKey, now: Timestamp) -> StoreFuture<'a, u32> {
        Box::pin(async move {
            let k = self.key("ct", &key.to_key_string());
            let (n, exp): (Option<u32>, Option<u64>) = self
                .run(|mut c| async move {
                    redis::cmd("HMGET")
                        .arg(&k)
                        .arg("n")
                        .arg("exp")
                        .query_async(&mut c)
                        .await
                })
                .await?;
            Ok(match (n, exp) {
                (Some(n), Some(exp)) if exp > now.as_millis() => n,
                _ => 0,
            })
        })
    }

    fn reset<'a>(&'a self, key: &'a CounterKey, _now: Timestamp) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let k = self.key("ct", &key.to_key_string());
            self.run(|mut c| async move { c.del::<_, i64>(&k).await })
                .await
                .map(|_| ())
        })
    }
}

impl HistoryStore for RedisStore {
    fn load<'a>(
        &'a self,
        subject: &'a str,
        now: Timestamp,
    ) -> StoreFuture<'a, Option<SubjectHistory>> {
        Box::pin(async move {
            let k = self.key("hi", subject);
            let (json, exp): (Option<String>, Option<u64>) = self
                .run(|mut c| async move {
                    redis::cmd("HMGET")
                        .arg(&k)
                        .arg("h")
                        .arg("exp")
                        .query_async(&mut c)
                        .await
                })
                .await?;
            match (json, exp) {
                (Some(json), Some(exp)) if exp > now.as_millis() => serde_json::from_str(&json)
                    .map(Some)
                    .map_err(|e| StoreError::Unavailable(format!("malformed history: {e}"))),
                _ => Ok(None),
            }
        })
    }

    fn save<'a>(
        &'a self,
        subject: &'a str,
        history: SubjectHistory,
        ttl: Duration,
        now: Timestamp,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let k = self.key("hi", subject);
            let json = serde_json::to_string(&history).map_err(unavailable)?;
            let exp = now.plus(ttl).as_millis();
            self.run(|mut c| async move {
                redis::pipe()
                    .atomic()
                    .cmd("HSET")
                    .arg(&k)
                    .arg("h")
                    .arg(&json)
                    .arg("exp")
                    .arg(exp)
                    .ignore()
                    .cmd("PEXPIRE")
                    .arg(&k)
                    .arg(ms(ttl).max(1))
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_outside_a_runtime_is_an_error_not_a_panic() {
        let e = RedisStore::builder("redis://127.0.0.1:6379/")
            .connect()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "redis store: connect must be called inside a Tokio runtime"
        );
    }

    #[tokio::test]
    async fn bad_urls_and_timeouts_are_errors() {
        assert!(RedisStore::builder("not a url").connect().is_err());
        assert!(
            RedisStore::builder("redis://127.0.0.1/")
                .timeout(Duration::ZERO)
                .connect()
                .is_err()
        );
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_unavailable_within_the_timeout() {
        let s = RedisStore::builder("redis://127.0.0.1:1/")
            .timeout(Duration::from_millis(200))
            .connect()
            .expect("lazy connect");
        let e = s.ping().await.unwrap_err();
        assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
    }
}
