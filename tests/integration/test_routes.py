"""[[routes]] (docs/routes.md): TOML routes with path parameters, WebSocket/SSE/long poll on one
path, publishing through a WebSocket and by POST, per-route history/resume/framing/origins,
config errors with their line, a WebSocket upgrade where no route takes it, the precedence over
static files, and the SIGHUP reload (a removed route's subscribers are closed 1001 / end of
stream, the others keep running)."""
import asyncio
import http.client
import json
import os
import signal
import subprocess
import tempfile
import time

import websockets

from conftest import BIN_DIR, server
from pushlib import close_code, raw_ws, sse

ROOMS = """
[[routes]]
path = "/rooms/:id"
websocket = "room.:id"
sse = "room.:id"
long_poll = "room.:id"
publish = true
publish_post = true
"""


def write(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".toml", prefix="sy-routes-", delete=False)
    f.write(text)
    f.close()
    return f.name


def start(toml, *extra):
    path = write(toml)
    s = server(["--listen", "127.0.0.1:0", "--workers", "2", "--config", path, *extra])
    s.toml = path
    return s


def get(port, path, headers=None, method="GET", body=None, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data, dict(r.getheaders())


def post(port, path, body):
    status, data, _ = get(port, path, {"Content-Type": "text/plain"}, "POST", body)
    return status, json.loads(data) if status == 201 else data


def test_one_path_three_transports_and_two_ways_to_publish():
    s = start(ROOMS)
    try:
        async def run():
            url = f"ws://127.0.0.1:{s.port}/rooms/7"
            async with websockets.connect(url) as w:
                ev = sse(s.port, "/rooms/7")
                other = sse(s.port, "/rooms/8")
                status, ack = post(s.port, "/rooms/7", b"by post")
                assert status == 201 and ack["subscribers"] == 2, ack
                assert await asyncio.wait_for(w.recv(), 5) == "by post"
                await w.send("by websocket")
                assert await asyncio.wait_for(w.recv(), 5) == "by websocket"
                got = [e["data"] for e in ev.events(2)]
                assert got == ["by post", "by websocket"], got
                # The long poll (no Accept, no Upgrade) on the same path: history after since.
                st, body, h = get(s.port, "/rooms/7?since=1")
                assert st == 200 and body == b"by websocket" and h["X-Topic"] == "room.7", (st, h)
                assert other.events(1, timeout=0.5) == []  # room.8 is another topic
                ev.close()
                other.close()
        asyncio.run(run())
        # A parameter is one topic token: no wildcard injection through the path.
        assert get(s.port, "/rooms/%2A")[0] == 400
    finally:
        s.close()


def test_history_resume_framing_and_origins_per_route():
    s = start("""
[[routes]]
path = "/short/:id"
sse = "short.:id"
history = 2
[[routes]]
path = "/live"
sse = "live.x"
long_poll = "live.x"
resume = false
publish_post = true
[[routes]]
path = "/env"
websocket = "env.x"
publish_post = true
framing = "envelope"
origins = ["https://ok.example"]
""")
    try:
        for i in range(5):
            assert get(s.port, f"/pub/short.a", {}, "POST", f"m{i}".encode())[0] == 201
        ev = sse(s.port, "/short/a", {"Last-Event-ID": "0"})
        got = ev.events(3)
        ev.close()
        assert got[0].get("event") == "gap" and [e["data"] for e in got[1:]] == ["m3", "m4"], got
        # The default history (1000) elsewhere keeps all five.
        for i in range(5):
            get(s.port, "/pub/long.a", {}, "POST", f"m{i}".encode())
        st, body, _ = get(s.port, "/topics/long.a/messages?since=0")
        assert len(json.loads(body)["messages"]) == 5
        # resume = false: since= is not honoured; the poll waits for a new message.
        assert post(s.port, "/live", b"old")[0] == 201
        ev = sse(s.port, "/live", {"Last-Event-ID": "0"})
        assert ev.events(1, timeout=0.5) == []
        post(s.port, "/live", b"new")
        assert [e["data"] for e in ev.events(1)] == ["new"]
        ev.close()
        # Origins: the handshake refuses another origin (403), accepts the listed one; frames
        # are JSON envelopes.
        bad = raw_ws(s.port, "/env")  # no Origin at all: refused too (proto/ws handshake)
        assert bad.status == 403
        bad.close()

        async def run():
            try:
                await websockets.connect(f"ws://127.0.0.1:{s.port}/env",
                                         origin="https://evil.example")
                assert False, "the handshake should be refused"
            except websockets.exceptions.InvalidHandshake as e:
                assert "403" in str(e), e
            async with websockets.connect(f"ws://127.0.0.1:{s.port}/env",
                                          origin="https://ok.example") as w:
                post(s.port, "/env", b"hello")
                env = json.loads(await asyncio.wait_for(w.recv(), 5))
                assert env["type"] == "message" and env["data"] == "hello", env
                assert env["topic"] == "env.x"
        asyncio.run(run())
        st, _, _ = get(s.port, "/env", {"Origin": "https://evil.example"}, "POST", b"x")
        assert st == 403
    finally:
        s.close()


def refused(text):
    path = write(text)
    p = subprocess.run([os.path.join(BIN_DIR, "switchyard"), "--listen", "127.0.0.1:0",
                        "--config", path], capture_output=True, text=True, timeout=15)
    assert p.returncode == 2, p.stderr
    return path, p.stderr


def test_unknown_route_key_is_an_error_with_its_line():
    path, err = refused('workers = 1\n[[routes]]\npath = "/a"\nsse = "a"\nsocket = "a"\n'
                        '[[routes]]\nwebsocket = "b"\n')
    assert f"{path}:5: unknown key 'routes.socket'" in err, err
    assert f"{path}:6: routes: a route needs a path" in err, err
    # Checked once the file reads: a template's parameter must be the path's; paths are unique.
    path, err = refused('\n[[routes]]\npath = "/c/:id"\nsse = "c.:nope"\n')
    assert f"{path}:2: routes: topic 'c.:nope' uses :nope, which path /c/:id does not have" in err
    path, err = refused('[[routes]]\npath = "/sub/:t"\nsse = "x"\n')
    assert f"{path}:1: routes: duplicate route: /sub/:t" in err, err


def test_upgrade_without_a_websocket_route_never_gets_a_static_file():
    s = server(["--listen", "127.0.0.1:0", "--workers", "2"])
    try:
        # The course's `new WebSocket("ws://localhost:8080")` on the plain server: not index.html.
        w = raw_ws(s.port, "/")
        assert w.status == 404
        w.close()
        st, body, _ = get(s.port, "/index.html", {"Upgrade": "websocket", "Connection": "Upgrade"})
        assert st == 404 and body == b"no WebSocket route at /index.html\n", body
        assert get(s.port, "/")[0] == 200  # the page itself is still there
    finally:
        s.close()


def test_routes_take_precedence_over_static_files():
    s = start("""
[[routes]]
path = "/"
websocket = "chat.main"
publish = true
[[routes]]
path = "/index.html"
sse = "idx"
""")
    try:
        st, body, _ = get(s.port, "/")  # a WebSocket-only route: a plain GET is the page's
        assert st == 200 and b"<html" in body.lower()
        w = raw_ws(s.port, "/")
        assert w.status == 101
        w.close()
        ev = sse(s.port, "/index.html")  # an SSE route wins over the file of the same path
        assert "text/event-stream" in ev.head
        ev.close()
    finally:
        s.close()


def test_sighup_reloads_routes_and_closes_removed_subscribers():
    s = start(ROOMS + '[[routes]]\npath = "/old"\nsse = "old"\nwebsocket = "old"\n')
    try:
        gone_ws = raw_ws(s.port, "/old")
        assert gone_ws.status == 101
        gone_sse = sse(s.port, "/old")
        kept = raw_ws(s.port, "/rooms/1")
        assert kept.status == 101
        assert post(s.port, "/new", b"n")[0] in (404, 405)
        with open(s.toml, "w") as f:
            f.write(ROOMS + '[[routes]]\npath = "/new"\nlong_poll = "new"\npublish_post = true\n')
        os.kill(s.proc.pid, signal.SIGHUP)
        frames = gone_ws.read_frames(timeout=5)
        assert close_code(frames) == 1001, frames
        gone_sse.s.settimeout(5)
        tail = gone_sse.buf
        while True:
            chunk = gone_sse.s.recv(65536)
            if not chunk:
                break  # end of stream
            tail += chunk
        deadline = time.time() + 5
        while post(s.port, "/new", b"n")[0] != 201 and time.time() < deadline:
            time.sleep(0.05)
        assert post(s.port, "/new", b"n")[0] == 201
        assert get(s.port, "/old", {"Accept": "text/event-stream"})[0] == 404
        # The kept route's socket is still open and subscribed.
        assert post(s.port, "/rooms/1", b"still here")[1]["subscribers"] == 1
        f = kept.read_frames(timeout=5, until=lambda fr: fr[0] == 1)
        assert f and f[-1] == (1, b"still here"), f
        kept.close()
        # A broken file keeps the current table.
        with open(s.toml, "w") as f:
            f.write('[[routes]]\npath = "/x"\nbogus = 1\n')
        os.kill(s.proc.pid, signal.SIGHUP)
        time.sleep(0.3)
        assert post(s.port, "/new", b"n")[0] == 201
        assert "routes not reloaded" in s.stderr()
    finally:
        s.close()


def test_slow_policy_per_route():
    # The hub's default stays drop-oldest; this route's topics block the publisher instead.
    s = start('[hub]\nsubscriber_output_cap = 65536\n[[routes]]\npath = "/slow"\n'
              'websocket = "slow.x"\npublish_post = true\nslow_policy = "block-publisher"\n')
    try:
        slow = raw_ws(s.port, "/slow", rcvbuf=4096)  # never reads
        assert slow.status == 101
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        seen = None
        for _ in range(3000):
            c.request("POST", "/slow", body=b"y" * 4096)
            r = c.getresponse()
            r.read()
            if r.status == 503:
                seen = r.getheader("Retry-After")
                break
        c.close()
        slow.close()
        assert seen == "1"
    finally:
        s.close()


def test_a_route_over_http2():
    s = start(ROOMS)
    try:
        p = subprocess.Popen(["curl", "-sS", "--http2-prior-knowledge", "-N", "--max-time", "5",
                              "-H", "Accept: text/event-stream", f"{s.url}/rooms/9"],
                             stdout=subprocess.PIPE)
        deadline = time.time() + 5
        while post(s.port, "/rooms/9", b"via h2")[1]["subscribers"] == 0:
            assert time.time() < deadline, "the h2 subscriber never arrived"
            time.sleep(0.05)
        out = b""
        while b"data: via h2" not in out:
            chunk = p.stdout.read1(4096)
            if not chunk:
                break
            out += chunk
        p.kill()
        p.wait()
        assert b": ok" in out and b"data: via h2" in out, out
    finally:
        s.close()
