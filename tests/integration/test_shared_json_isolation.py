"""One client's bad input never breaks another's (issue 9, item 5), for the JSON the server builds
from what one client sent and serves to others: a hub envelope (WebSocket and SSE subscribers with
?envelope=1) embeds a JSON-typed payload as it is, and a job's result is embedded in the job every
watcher reads. Malformed JSON from a publisher or a worker must not make those unparsable: an
envelope carries it as a string, a PUT with a malformed result gets 400, an AMQP worker's
malformed JSON report is kept as a string. The same for a message's content type, which every
transport serves (an HTTP header, a JSON and a protobuf string): one that is not visible ASCII is
refused (HTTP 400, gRPC INVALID_ARGUMENT), and crosses the AMQP bridge as no content type."""
import asyncio
import http.client
import json
import threading
import time

import grpc
import pika
import websockets

from conftest import http_json as call, server
from pushlib import publish, sse

BAD_JSON = b'{"total": 12, "items": [1, 2'  # cut short, as a crashed worker might send


def test_a_malformed_json_payload_reaches_envelope_subscribers_as_a_string():
    s = server(["--listen", "127.0.0.1:0", "--model", "single"])
    try:
        ev = sse(s.port, "/sub/isol?envelope=1")

        async def ws_side():
            async with websockets.connect(f"ws://127.0.0.1:{s.port}/sub/isol?envelope=1") as w:
                await asyncio.sleep(0.2)
                assert publish(s.port, "isol", BAD_JSON, ctype="application/json")[0] == 201
                assert publish(s.port, "isol", b'{"ok": [1]}', ctype="application/json")[0] == 201
                return [json.loads(await asyncio.wait_for(w.recv(), 5)) for _ in range(2)]

        got = asyncio.run(ws_side())
        assert [m["data"] for m in got] == [BAD_JSON.decode(), {"ok": [1]}]
        streamed = [json.loads(e["data"]) for e in ev.events(2)]
        assert [m["data"] for m in streamed] == [BAD_JSON.decode(), {"ok": [1]}]
        ev.close()
    finally:
        s.close()


def wait_running(port, jid, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if call(port, "GET", f"/jobs/{jid}")[1]["status"] == "running":
            return
        time.sleep(0.02)
    raise AssertionError(f"job {jid} not running")


def test_a_malformed_job_result_is_refused_and_watchers_keep_parsing():
    s = server(["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:0", "--model", "single"],
               need=("http", "amqp"))
    try:
        _, body = call(s.port, "POST", "/jobs", b'{"n": 1}')
        jid = body["id"]
        st, w = call(s.port, "GET", "/jobs/next?timeout=5")
        assert st == 200
        for bad in (b'{"result": nope}', b'{"result": {"a": }}', b'{"result": "\xff"}'):
            st, err = call(s.port, "PUT", f"/jobs/{jid}", bad)
            assert st == 400 and "JSON" in err["error"], bad
        st, j = call(s.port, "GET", f"/jobs/{jid}")  # json.loads in call(): it parses
        assert st == 200 and j["result"] is None
        assert call(s.port, "PUT", f"/jobs/{jid}", b'{"status": "done", "result": [1]}')[0] == 200
        # A job posted as JSON that is not JSON reaches the HTTP worker as a string.
        assert call(s.port, "POST", "/jobs", BAD_JSON)[0] == 201
        st, w = call(s.port, "GET", "/jobs/next?timeout=5")
        assert st == 200 and w["payload"] == BAD_JSON.decode()
        assert call(s.port, "PUT", f"/jobs/{w['id']}", b'{"status": "done"}')[0] == 200

        # An AMQP worker reports to reply-to with a JSON content type and a malformed body.
        _, body = call(s.port, "POST", "/jobs", b'{"n": 2}')
        c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", s.ports["amqp"]))
        ch = c.channel()
        m, props, _ = ch.basic_get("jobs")
        assert m and int(props.message_id) == body["id"]
        wait_running(s.port, body["id"])
        ch.basic_publish("", props.reply_to, BAD_JSON, pika.BasicProperties(
            correlation_id=props.correlation_id, content_type="application/json"))
        deadline = time.time() + 5
        while time.time() < deadline:
            st, j = call(s.port, "GET", f"/jobs/{body['id']}")
            if j["result"] is not None:
                break
            time.sleep(0.02)
        assert j["result"] == BAD_JSON.decode()
        ch.basic_ack(m.delivery_tag)
        c.close()
    finally:
        s.close()


def test_a_content_type_other_transports_cannot_carry_is_refused_or_dropped():
    s = server(["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:0", "--model", "single"],
               need=("http", "amqp"))
    try:
        # HTTP: a header value with obs-text (latin-1 0xff: not UTF-8 to a WebSocket client).
        st, err, _ = publish(s.port, "ct", b"x", ctype="text/plain; x=\xff")
        assert st == 400 and err["error"] == "invalid content type"
        # The same for a job (its type goes to AMQP workers and into the HTTP workers' JSON).
        st, err = call(s.port, "POST", "/jobs", b"x", ctype="text/plain; x=\xff")
        assert st == 400 and err["error"] == "invalid content type"
        st, err = call(s.port, "POST", "/jobs", b"x", ctype="text/" + "x" * 300)
        assert st == 400
        # gRPC: PublishRequest {topic: "ct", payload: "x", content_type: "text/plain\r\nX-A: 1"}
        ct = b"text/plain\r\nX-A: 1"
        req = b"\x0a\x02ct" + b"\x12\x01x" + b"\x1a" + bytes([len(ct)]) + ct
        with grpc.insecure_channel(f"127.0.0.1:{s.port}") as ch:
            try:
                ch.unary_unary("/switchyard.v1.Hub/Publish")(req, timeout=5)
                raise AssertionError("published")
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
        # AMQP to amq.topic (the hub bridge): delivered to a long poll, without the content type.
        out = {}

        def poll():
            c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
            c.request("GET", "/sub/ct?timeout=8")
            r = c.getresponse()
            out.update(status=r.status, type=r.getheader("Content-Type"), body=r.read())
            c.close()

        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.3)
        c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", s.ports["amqp"]))
        c.channel().basic_publish("amq.topic", "ct", b"from amqp", pika.BasicProperties(
            content_type="text/plain\r\nX-A: 1"))
        t.join(10)
        c.close()
        assert out == {"status": 200, "type": "application/octet-stream", "body": b"from amqp"}
    finally:
        s.close()
