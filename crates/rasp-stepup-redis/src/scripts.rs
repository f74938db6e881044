//! The Lua scripts: each guarantee that must hold under concurrency is one
//! script, so Redis runs it atomically. Times are the caller's injected
//! clock (ms since the epoch, `ARGV`; µs for the rate limit), checked against logical expiries
//! stored with each value; Redis TTLs (`PEXPIRE`) only reclaim memory.
//! Numbers are written back with `%.0f` so large integers never turn into
//! exponent notation.

use std::sync::LazyLock;

use redis::Script;

const PRELUDE: &str = "local function s(x) return string.format('%.0f', x) end\n";

fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}

/// KEYS: challenge. ARGV: subject, session, device, level, acr, max_age, expires_ms, ttl_ms.
pub(crate) static CH_CREATE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'subject', ARGV[1], 'session', ARGV[2], 'device', ARGV[3],
  'level', ARGV[4], 'acr', ARGV[5], 'max_age', ARGV[6], 'expires', ARGV[7], 'attempts', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[8])
return 1",
    )
});

/// KEYS: challenge. ARGV: subject, session, max_attempts, now.
/// Returns {'0'} missing, {'1'} burned, {'2', subject, session, device, level, acr, max_age, expires, attempts}.
pub(crate) static CH_ATTEMPT: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local v = redis.call('HMGET', KEYS[1], 'subject', 'session', 'attempts', 'expires')
if not v[1] or tonumber(v[4]) <= tonumber(ARGV[4]) then return {'0'} end
if v[1] ~= ARGV[1] or v[2] ~= ARGV[2] then return {'0'} end
if tonumber(v[3]) >= tonumber(ARGV[3]) then return {'1'} end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local r = redis.call('HMGET', KEYS[1], 'subject', 'session', 'device', 'level', 'acr', 'max_age', 'expires', 'attempts')
return {'2', r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8]}",
    )
});

/// KEYS: challenge. ARGV: now. Returns 1 when this call removed a live challenge.
pub(crate) static CH_CONSUME: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local e = redis.call('HGET', KEYS[1], 'expires')
if not e then return 0 end
redis.call('DEL', KEYS[1])
if tonumber(e) <= tonumber(ARGV[1]) then return 0 end
return 1",
    )
});

/// KEYS: replay. ARGV: step, now, expires_ms, ttl_ms. Returns 1 when claimed.
pub(crate) static REPLAY: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local v = redis.call('HMGET', KEYS[1], 'step', 'exp')
if v[1] and tonumber(v[2]) > tonumber(ARGV[2]) and tonumber(v[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'step', ARGV[1], 'exp', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1",
    )
});

/// KEYS: state hash, failures zset. ARGV: now, window_ms, max_failures,
/// hard_cap, hard_retry_ms, ttl_ms, hard_ttl_ms, base_backoff_ms, max_backoff_ms.
/// Returns {'0'} open, {'1', retry_ms, hard}.
pub(crate) static ATTEMPT_BEGIN: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local now = tonumber(ARGV[1])
local st = redis.call('HMGET', KEYS[1], 'hard', 'locked_until', 'consecutive', 'exp')
if st[4] and tonumber(st[4]) <= now then
  redis.call('DEL', KEYS[1], KEYS[2])
  st = {false, false, false, false}
end
if st[1] == '1' then return {'1', ARGV[5], '1'} end
local lu = tonumber(st[2] or '0')
if lu > now then return {'1', s(lu - now), '0'} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', s(now - tonumber(ARGV[2])))
local c = tonumber(st[3] or '0') + 1
local maxf = tonumber(ARGV[3])
redis.call('ZADD', KEYS[2], s(now), s(c))
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(maxf + 1))
local n = redis.call('ZCARD', KEYS[2])
local ttl = tonumber(ARGV[6])
redis.call('HSET', KEYS[1], 'consecutive', s(c))
if c >= tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'hard', '1')
  ttl = tonumber(ARGV[7])
elseif n >= maxf then
  local e = math.min(c - maxf, 20)
  local wait = math.min(tonumber(ARGV[8]) * (2 ^ e), tonumber(ARGV[9]))
  redis.call('HSET', KEYS[1], 'locked_until', s(now + wait))
  if wait > ttl then ttl = wait end
end
redis.call('HSET', KEYS[1], 'exp', s(now + ttl))
redis.call('PEXPIRE', KEYS[1], s(ttl))
redis.call('PEXPIRE', KEYS[2], s(ttl))
return {'0'}",
    )
});

/// KEYS: epoch hash. ARGV: epoch_secs, expires_ms, ttl_ms, now. Keeps the later epoch.
pub(crate) static REVOKE_SUBJECT: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local v = redis.call('HMGET', KEYS[1], 'epoch', 'exp')
local e = tonumber(ARGV[1])
if v[1] and tonumber(v[2]) > tonumber(ARGV[4]) and tonumber(v[1]) > e then e = tonumber(v[1]) end
redis.call('HSET', KEYS[1], 'epoch', s(e), 'exp', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1",
    )
});

/// KEYS: epoch hash. ARGV: issued_at_secs, now. Returns 1 when tokens
/// issued at that time are revoked. (A token's `jti` key is read apart:
/// it lives in another slot of a Redis Cluster.)
pub(crate) static IS_REVOKED: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local now = tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'epoch', 'exp')
if v[1] and tonumber(v[2]) > now and tonumber(ARGV[1]) < tonumber(v[1]) then return 1 end
return 0",
    )
});

/// KEYS: tat. ARGV: now, emission, tau (all µs; Lua's doubles hold them
/// exactly until the year 2255). Returns {allowed, previous tat or ''}.
pub(crate) static RATE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local now = tonumber(ARGV[1])
local prev = redis.call('GET', KEYS[1])
local tat = now
if prev and tonumber(prev) > now then tat = tonumber(prev) end
if tat - now > tonumber(ARGV[3]) then return {'0', prev or ''} end
local new = tat + tonumber(ARGV[2])
-- the TTL only reclaims memory: it outlives the logical recovery by 5 s,
-- so that clocks a little apart (or a test's clock) never lose state early
redis.call('SET', KEYS[1], s(new), 'PX', s(math.ceil((new - now) / 1000) + 5000))
return {'1', prev or ''}",
    )
});

/// KEYS: counter. ARGV: now, window_ms. Returns the count in the window.
pub(crate) static COUNTER_BUMP: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local now = tonumber(ARGV[1])
local v = redis.call('HMGET', KEYS[1], 'n', 'exp')
if not v[1] or tonumber(v[2]) <= now then
  redis.call('HSET', KEYS[1], 'n', '1', 'exp', s(now + tonumber(ARGV[2])))
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return redis.call('HINCRBY', KEYS[1], 'n', 1)",
    )
});
