#!/bin/sh
# Reproduces the figures in README.md: one loop (--model single), 8 connections hammering the
# slow route while 8 others ask for the cheap one; wrk reports both sides.
#   examples/blocking/measure.sh [build/bin] [ms] [secs]
set -eu
BIN=${1:-build/bin}; MS=${2:-20}; SECS=${3:-5}
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN/blocking" --listen 127.0.0.1:$PORT --model single --log-level warn >/dev/null &
SRV=$!
trap 'kill $SRV' EXIT
sleep 0.5
fast() { wrk -t1 -c8 -d${SECS}s --latency "http://127.0.0.1:$PORT/" | awk '/Requests\/sec/{r=$2} / 50%/{p50=$2} / 99%/{p99=$2} END{printf "GET /: %s req/s, p50 %s, p99 %s", r, p50, p99}'; }
slow() { wrk -t1 -c8 -d${SECS}s --latency "http://127.0.0.1:$PORT/$1?ms=$MS" | awk -v r="$1" '/Requests\/sec/{x=$2} / 99%/{p=$2} END{printf "GET /%s?ms='"$MS"': %s req/s, p99 %s", r, x, p}'; }
echo "alone:           $(fast)"
for route in sync pool; do
    slow $route > /tmp/blocking-slow.$$ &
    W=$!
    f=$(fast)
    wait $W
    echo "beside /$route: $f; $(cat /tmp/blocking-slow.$$)"
done
rm -f /tmp/blocking-slow.$$
