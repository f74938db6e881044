#!/usr/bin/env bash
# HTTP load benchmark (docs/performance.md): the bank with and without the
# layer, server pinned to core 0 and wrk to core 1, interleaved rounds.
#
#   bash benches/http_load.sh            # every case (about 4 minutes)
#   ROUNDS=5 DURATION=10s bash benches/http_load.sh
#
# Needs wrk (Debian package `wrk`, installed when missing and run as root),
# python3 (TOTP for the step-up, corpus extraction, 60 KB bodies) and
# ../shared/corpus for the memory case. Only 127.0.0.1 is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8s}
CORPUS=${CORPUS:-../shared/corpus}
BARE_PORT=3101
LAYERED_PORT=3102
TIGHT_PORT=3103
UA='Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0'

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
  else
    echo "wrk is needed (apt-get install wrk)" >&2; exit 1
  fi
fi
cargo build --release --locked -q -p rasp-bench --bin load_server
BIN=target/release/load_server
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

start() { # variant port [flags...]; sets STARTED (pid); token in $WORK/token.$port
  local variant=$1 port=$2; shift 2
  taskset -c 0 "$BIN" --variant "$variant" --port "$port" "$@" > "$WORK/server.$port" 2>&1 &
  STARTED=$!
  PIDS+=("$STARTED")
  for _ in $(seq 1 100); do grep -q listening "$WORK/server.$port" 2>/dev/null && break; sleep 0.1; done
  grep -q listening "$WORK/server.$port" || { cat "$WORK/server.$port" >&2; exit 1; }
  sed -n 's/^token: //p' "$WORK/server.$port" > "$WORK/token.$port"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

start bare $BARE_PORT; BARE=$STARTED
start layered $LAYERED_PORT; LAYERED=$STARTED
TOKEN=$(cat "$WORK/token.$LAYERED_PORT")

# The browser-like public GET of the issue, from 1,000 client addresses.
cat > "$WORK/search.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  local ip = string.format("198.51.%d.%d", math.floor(n / 250) % 4, n % 250 + 1)
  return wrk.format("GET", "/search?q=blue+shoes&page=2&sort=price&lang=en-GB&ref=home", {
    ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    ["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ["Accept-Language"] = "en-GB,en;q=0.9",
    ["Accept-Encoding"] = "gzip, deflate, br",
    ["Referer"] = "https://shop.example.com/category/shoes?page=1",
    ["Cookie"] = "session=8f2c1e0b9a7d4c3e2f1a0b9c8d7e6f5a; theme=dark",
    ["X-Forwarded-For"] = ip,
  })
end
LUA

# The authenticated GET and the high POST with a 1 KiB JSON body; the
# device cookie the layer issued is sent back, as a browser would.
NOTE=$(python3 -c 'print(("Rent for the flat at Storgatan 12, March and April; thanks again for waiting. " * 12)[:930])')
request_lua() { # file method path token cookie [json body]
  cat > "$1" <<LUA
wrk.method = "$2"
wrk.path = "$3"
wrk.headers["User-Agent"] = "$UA"
wrk.headers["Accept-Language"] = "en-GB,en;q=0.9"
wrk.headers["Authorization"] = "Bearer $4"
wrk.headers["Cookie"] = "$5"
LUA
  if [ -n "${6:-}" ]; then
    printf 'wrk.headers["Content-Type"] = "application/json"\nwrk.body = %s\n' "'$6'" >> "$1"
  fi
}

# Device cookie and elevated token from the layered bank (TOTP of the demo
# secret, computed here).
COOKIE=$(curl -s -o /dev/null -D - -H "User-Agent: $UA" -H "Authorization: Bearer $TOKEN" \
  "http://127.0.0.1:$LAYERED_PORT/account" | sed -n 's/^set-cookie: \([^;]*\).*/\1/Ip' | head -1)
CHALLENGE=$(curl -s -H "User-Agent: $UA" -H "Authorization: Bearer $TOKEN" -H "Cookie: $COOKIE" \
  -H 'Content-Type: application/json' -d '{"to":"x","amount":1}' \
  "http://127.0.0.1:$LAYERED_PORT/transfer" | python3 -c 'import json,sys; print(json.load(sys.stdin)["challenge_id"])')
CODE=$(python3 - <<'PY'
import base64, hashlib, hmac, struct, time
key = base64.b32decode("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
h = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
o = h[-1] & 15
print("%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7fffffff) % 1000000))
PY
)
ELEVATED=$(curl -s -H "User-Agent: $UA" -H "Authorization: Bearer $TOKEN" -H "Cookie: $COOKIE" \
  -H 'Content-Type: application/json' \
  -d "{\"challenge_id\":\"$CHALLENGE\",\"method\":\"totp\",\"code\":\"$CODE\"}" \
  "http://127.0.0.1:$LAYERED_PORT/step-up/verify" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

rps() { sed -n 's/^Requests\/sec: *//p'; }
pct() { awk -v p="$1" '$1 == p {v=$2; if (v ~ /us$/) {sub("us","",v); print v} else if (v ~ /ms$/) {sub("ms","",v); print v*1000} else {sub("s","",v); print v*1000000}}'; }
non2xx() { sed -n 's/^ *Non-2xx or 3xx responses: *//p'; }

run_case() { # name lua-file-or-empty layered-token
  local name=$1 lua=$2
  local sum_b=0 sum_l=0 r
  echo "== $name"
  for round in $(seq 1 "$ROUNDS"); do
    for v in bare layered; do
      local port=$BARE_PORT; [ $v = layered ] && port=$LAYERED_PORT
      out=$(taskset -c 1 wrk -t1 -c64 -d"$DURATION" -s "$lua" "http://127.0.0.1:$port" 2>&1)
      r=$(echo "$out" | rps); bad=$(echo "$out" | non2xx)
      echo "  round $round $v: $r req/s at 64 connections${bad:+ ($bad non-2xx)}"
      if [ $v = bare ]; then sum_b=$(python3 -c "print($sum_b + $r)"); else sum_l=$(python3 -c "print($sum_l + $r)"); fi
      out=$(taskset -c 1 wrk -t1 -c1 -d3s --latency -s "$lua" "http://127.0.0.1:$port" 2>&1)
      echo "  round $round $v: p50 $(echo "$out" | pct 50%) us, p99 $(echo "$out" | pct 99%) us at 1 connection"
    done
  done
  python3 -c "print('  ratio layered/bare: %.3f' % ($sum_l / $sum_b))"
}

run_case "public GET /search (browser headers, session cookie)" "$WORK/search.lua"
# the bare app needs no credentials; the same scripts carry them anyway
request_lua "$WORK/account.lua" GET /account "$TOKEN" "$COOKIE"
run_case "authenticated GET /account" "$WORK/account.lua"
request_lua "$WORK/transfer.lua" POST /transfer "$ELEVATED" "$COOKIE" \
  "{\"to\":\"SE35 5000 0000 0549 1000 0003\",\"amount\":125.5,\"note\":\"$NOTE\"}"
run_case "high POST /transfer, 1 KiB JSON body, elevated token" "$WORK/transfer.lua"

echo "== 60 KB JSON body of fresh random printable ASCII, POST /transfer, no token"
cat > "$WORK/random.lua" <<'LUA'
math.randomseed(os.time())
local chars = {}
for c = 32, 126 do
  local s = string.char(c)
  if s == '"' then s = '\\"' elseif s == '\\' then s = '\\\\' end
  chars[#chars + 1] = s
end
request = function()
  local t = {}
  for i = 1, 60000 do t[i] = chars[math.random(#chars)] end
  return wrk.format("POST", "/transfer", {["Content-Type"] = "application/json"},
    '{"to":"x","amount":1,"note":"' .. table.concat(t) .. '"}')
end
LUA
for v in bare layered; do
  port=$BARE_PORT; pid=$BARE; [ $v = layered ] && { port=$LAYERED_PORT; pid=$LAYERED; }
  before=$(cpu_ticks "$pid")
  out=$(taskset -c 1 wrk -t1 -c1 -d10s --latency -s "$WORK/random.lua" "http://127.0.0.1:$port" 2>&1)
  after=$(cpu_ticks "$pid")
  n=$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
  python3 -c "print('  $v: %d requests (%s not 2xx), server CPU %.2f ms per request, p50 %s us' % ($n, '$(echo "$out" | non2xx)' or '0', ($after - $before) * 1000.0 / $(getconf CLK_TCK) / max($n, 1), '$(echo "$out" | pct 50%)'))"
done

echo "== memory: the corpus's attack values as q, from 100,000 client addresses"
python3 - "$CORPUS/attacks.jsonl" > "$WORK/attacks.txt" <<'PY'
import json, sys, urllib.parse
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("location") != "raw" and len(r["payload"]) <= 4096:
        print(urllib.parse.quote(r["payload"], safe=""))
PY
cat > "$WORK/attacks.lua" <<LUA
local values = {}
for line in io.lines("$WORK/attacks.txt") do values[#values + 1] = line end
local n = 0
request = function()
  n = n + 1
  local ip = string.format("11.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  return wrk.format("GET", "/search?q=" .. values[(n % #values) + 1], {
    ["User-Agent"] = "$UA", ["X-Forwarded-For"] = ip })
end
LUA
rss0=$(rss_kb "$LAYERED")
total=0
while [ "$total" -lt 100000 ]; do
  out=$(taskset -c 1 wrk -t1 -c64 -d5s -s "$WORK/attacks.lua" "http://127.0.0.1:$LAYERED_PORT" 2>&1)
  total=$((total + $(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')))
done
echo "  layered: resident $((rss0 / 1024)) MB before, $(( $(rss_kb "$LAYERED") / 1024 )) MB after $total requests"

echo "== throttled path: bank quotas (600 a minute per address), one address"
start layered $TIGHT_PORT --tight-quota
cat > "$WORK/plain.lua" <<LUA
wrk.method = "GET"
wrk.path = "/search?q=blue+shoes&page=2&sort=price&lang=en-GB&ref=home"
wrk.headers["User-Agent"] = "$UA"
LUA
for round in $(seq 1 "$ROUNDS"); do
  p=$(taskset -c 1 wrk -t1 -c64 -d"$DURATION" -s "$WORK/search.lua" "http://127.0.0.1:$LAYERED_PORT" 2>&1 | rps)
  out=$(taskset -c 1 wrk -t1 -c64 -d"$DURATION" -s "$WORK/plain.lua" "http://127.0.0.1:$TIGHT_PORT" 2>&1)
  echo "  round $round: passing $p req/s; throttled $(echo "$out" | rps) req/s ($(echo "$out" | non2xx) answered 429)"
done
