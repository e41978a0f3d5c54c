"""Hub gateway: POST /pub reaches SSE, WebSocket and long-poll subscribers of the topic and of
wildcard patterns on every loop, in every shared-memory model; resume, gaps, polls; prefork."""
import asyncio
import http.client
import json
import threading
import time

import pytest
import websockets

from conftest import SHARED_MEMORY_MODELS, server
from pushlib import publish, sse


def start(*extra, model="reuseport"):
    return server(["--listen", "127.0.0.1:0", "--model", model, "--workers", "2", *extra])


def longpoll(port, path, out, key):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    c.request("GET", path)
    r = c.getresponse()
    out[key] = (r.status, r.read(), dict(r.getheaders()))
    c.close()


@pytest.mark.parametrize("model", SHARED_MEMORY_MODELS)
def test_one_publish_reaches_every_transport_and_pattern(model):
    s = start(model=model)
    try:
        patterns = ["news.a", "news.*", "%3E"]  # '>' percent-encoded in the URL
        # Several connections per kind so that (reuseport/acceptor) they land on both loops.
        sses = [sse(s.port, f"/sub/{p}") for p in patterns for _ in range(2)]
        polls, threads = {}, []
        for i, p in enumerate(patterns):
            path = f"/sub/{p}?timeout=10" + ("&since=0" if p == "news.a" else "")
            t = threading.Thread(target=longpoll, args=(s.port, path, polls, i))
            t.start()
            threads.append(t)

        async def ws_side():
            conns = [await websockets.connect(f"ws://127.0.0.1:{s.port}/sub/{p}")
                     for p in patterns for _ in range(2)]
            await asyncio.sleep(0.3)  # long polls on patterns subscribe live
            st, body, _ = publish(s.port, "news.a", b"hello")
            assert st == 201 and body["id"] == 1
            assert body["subscribers"] >= 12  # 6 SSE + 6 WS (+ long polls)
            got = [await asyncio.wait_for(w.recv(), 5) for w in conns]
            for w in conns:
                await w.close()
            return got

        got = asyncio.run(ws_side())
        assert got == ["hello"] * 6
        for sub in sses:
            ev = sub.events(1)
            assert ev and ev[0]["data"] == "hello" and ev[0]["id"] == "1"
            sub.close()
        for t in threads:
            t.join(15)
        for i in range(3):
            status, body, headers = polls[i]
            assert status == 200 and body == b"hello"
            assert headers["ETag"] == '"1"' and headers["X-Topic"] == "news.a"
            assert headers["Content-Type"] == "text/plain"
    finally:
        s.close()


def test_sse_resume_with_last_event_id_loses_nothing():
    s = start()
    try:
        for i in range(1, 11):
            publish(s.port, "feed", f"m{i}".encode())
        sub = sse(s.port, "/sub/feed", {"Last-Event-ID": "4"})
        evs = sub.events(6)
        assert [e["id"] for e in evs] == [str(i) for i in range(5, 11)]
        assert [e["data"] for e in evs] == [f"m{i}" for i in range(5, 11)]
        publish(s.port, "feed", b"m11")
        assert sub.events(1)[0]["data"] == "m11"
        sub.close()
        # The query form resumes the same way.
        sub = sse(s.port, "/sub/feed?last_event_id=9")
        assert [e["id"] for e in sub.events(2)] == ["10", "11"]
        sub.close()
    finally:
        s.close()


def test_gap_event_when_history_is_exceeded():
    s = start("--hub-history-count", "5")
    try:
        for i in range(1, 21):
            publish(s.port, "g", f"m{i}".encode())
        sub = sse(s.port, "/sub/g", {"Last-Event-ID": "2"})
        evs = sub.events(6)
        assert evs[0]["event"] == "gap"
        gap = json.loads(evs[0]["data"])
        assert (gap["from"], gap["to"], gap["lost"]) == (3, 15, 13)
        assert [e["data"] for e in evs[1:]] == [f"m{i}" for i in range(16, 21)]
        sub.close()

        async def ws_side():
            async with websockets.connect(f"ws://127.0.0.1:{s.port}/sub/g?since=2") as w:
                first = json.loads(await asyncio.wait_for(w.recv(), 5))
                rest = [await asyncio.wait_for(w.recv(), 5) for _ in range(5)]
                return first, rest

        first, rest = asyncio.run(ws_side())
        assert first["type"] == "gap" and first["lost"] == 13
        assert rest == [f"m{i}" for i in range(16, 21)]
        # Short poll reports the loss too.
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
        c.request("GET", "/topics/g/messages?since=2")
        body = json.loads(c.getresponse().read())
        assert body["lost"] == 13 and [m["id"] for m in body["messages"]] == list(range(16, 21))
    finally:
        s.close()


def test_long_poll_since_and_timeout():
    s = start()
    try:
        for i in range(1, 4):
            publish(s.port, "lp", f"m{i}".encode(), "application/json")
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        c.request("GET", "/sub/lp?since=1")
        r = c.getresponse()
        assert r.status == 200 and r.read() == b"m2" and r.getheader("ETag") == '"2"'
        assert r.getheader("Content-Type") == "application/json"
        # If-None-Match carries the last ETag (nchan style).
        c.request("GET", "/sub/lp", headers={"If-None-Match": '"2"'})
        r = c.getresponse()
        assert r.read() == b"m3" and r.getheader("ETag") == '"3"'
        # Nothing after 3: 304 after the timeout.
        t0 = time.time()
        c.request("GET", "/sub/lp?since=3&timeout=1")
        r = c.getresponse()
        r.read()
        assert r.status == 304 and 0.9 <= time.time() - t0 < 3
        # A waiting poll is answered by the next publish.
        out = {}
        t = threading.Thread(target=longpoll, args=(s.port, "/sub/lp?since=3&timeout=10", out, 0))
        t.start()
        time.sleep(0.3)
        publish(s.port, "lp", b"m4")
        t.join(10)
        assert out[0][0] == 200 and out[0][1] == b"m4"
    finally:
        s.close()


def test_short_poll_and_stats():
    s = start()
    try:
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
        c.request("GET", "/topics/sp/messages?since=0")
        assert json.loads(c.getresponse().read()) == {"messages": [], "last_id": 0, "more": False}
        publish(s.port, "sp", b"a")
        publish(s.port, "sp", b"\xff\x00", "application/octet-stream")
        c.request("GET", "/topics/sp/messages?since=0&limit=10")
        body = json.loads(c.getresponse().read())
        assert body["last_id"] == 2
        assert body["messages"][0]["data"] == "a"
        assert body["messages"][1]["encoding"] == "base64" and body["messages"][1]["data"] == "/wA="
        c.request("GET", "/topics/sp")
        st = json.loads(c.getresponse().read())
        assert st["last_id"] == 2 and st["publishes"] == 2
        st, _, r = publish(s.port, "bad..topic", b"x")
        assert st == 400
    finally:
        s.close()


def test_prefork_pub_and_sub_on_one_connections_process():
    # Under prefork each process has its own hub (until the Redis backplane): a WebSocket that
    # publishes through its own connection reaches the subscribers of that process.
    s = server(["--listen", "127.0.0.1:0", "--model", "prefork", "--workers", "2"])
    try:
        async def ws_side():
            async with websockets.connect(f"ws://127.0.0.1:{s.port}/sub/pf?envelope=1") as w:
                await w.send("mine")
                return json.loads(await asyncio.wait_for(w.recv(), 5))

        msg = asyncio.run(ws_side())
        assert msg["type"] == "message" and msg["data"] == "mine" and msg["topic"] == "pf"
    finally:
        s.close()
