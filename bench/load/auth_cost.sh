#!/bin/bash
# The [auth] cost figures of docs/auth.md ("Cost"): one server loop, an ES256 token minted by
# PyJWT, sy-bench against it. usage: bench/load/auth_cost.sh off|on|nocache http|ws
# off: no [auth]; on: the ES256 key, auth.token_cache_size default; nocache: cache size 0.
# http: GET /topics/bench.0?token=T on 4 keep-alive connections; ws: fan-out to 200 WebSocket
# subscribers, each with the token; amqp: amqp-bench (rabbitmq-c) mode a (plain) and b
# (confirms + acks), the token as the PLAIN password (guest when off). Prints the clients' last
# lines. Stops its server by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
d=$(mktemp -d /tmp/sy-auth-cost-XXXXXX)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$d"' EXIT
/usr/bin/python3 - "$d" <<'PY'
import sys, time, jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization
d = sys.argv[1]
k = ec.generate_private_key(ec.SECP256R1())
open(f"{d}/es.pub", "wb").write(k.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
now = int(time.time())
open(f"{d}/token", "w").write(jwt.encode(
    {"sub": "b", "iat": now, "exp": now + 3600,
     "switchyard": {"publish": ["bench.>"], "subscribe": ["bench.>"]},
     "scope": "rabbitmq.configure:*/* rabbitmq.write:*/* rabbitmq.read:*/*"},
    k, algorithm="ES256", headers={"kid": "es"}))
PY
T=$(cat "$d/token")
args=(--listen 127.0.0.1:0 --workers 1)
[[ $2 == amqp ]] && args+=(--amqp-listen 127.0.0.1:0)
case $1 in
  on) args+=(--auth-jwt-public-key-files "es=$d/es.pub") ;;
  nocache) args+=(--auth-jwt-public-key-files "es=$d/es.pub" --auth-token-cache-size 0) ;;
esac
build/bin/switchyard "${args[@]}" >"$d/out" 2>"$d/err" &
pid=$!
for _ in $(seq 100); do grep -q "listening on http" "$d/out" && break; sleep 0.1; done
port=$(grep -o "http://127.0.0.1:[0-9]*" "$d/out" | head -1 | sed 's/.*://')
q=""; [[ $1 != off ]] && q="?token=$T"
if [[ $2 == amqp ]]; then
  for _ in $(seq 100); do grep -q "amqp://" "$d/out" && break; sleep 0.1; done
  aport=$(grep -o "amqp://127.0.0.1:[0-9]*" "$d/out" | head -1 | sed 's/.*://')
  user=guest pw=guest; [[ $1 != off ]] && user=bench pw=$T
  for mode in a b; do
    build/bin/amqp-bench --port "$aport" --mode "$mode" --seconds 3 --user "$user" \
      --password "$pw" | tail -1
  done
elif [[ $2 == http ]]; then
  build/bin/sy-bench http --server "127.0.0.1:$port" --url "/topics/bench.0$q" -p 4 --window 8 \
    -d 3 -t 1 -q --json | tail -1
else
  build/bin/sy-bench ws --server "127.0.0.1:$port" -n 200 -p 1 -t 1 -d 3 --ahead 32 \
    --sub-url "/sub/{topic}$q" --pub-url "/pub/{topic}$q" -q --json | tail -1
fi
