"""[auth] on every transport (docs/auth.md): {HTTP pub, long poll, short poll, SSE, WebSocket,
WebSocket over h2, gRPC Hub, AMQP (pika, the JWT as the PLAIN password)} x {no token, malformed, bad signature, expired, not yet valid, wrong
audience, alg none, algorithm confusion, other topic, exact topic, wildcard within the grant,
wildcard beyond it}, each asserting the exact answer. Tokens are minted by PyJWT (python3-jwt),
keys made by openssl at set-up. Deliveries are counted: 0 messages reach a subscriber who may not
read them, and 0 refused publishes are stored."""
import asyncio
import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import ROOT, server

pika = pytest.importorskip("pika")

jwt = pytest.importorskip("jwt")
websockets = pytest.importorskip("websockets")
grpc = pytest.importorskip("grpc")
pytest.importorskip("grpc_tools")

SECRET = "matrix-secret-" + os.urandom(8).hex()
AUD = "switchyard-test"
# alice's grants: exact topics, a * grant and a > grant.
GRANTS = {"publish": ["chat.{sub}", "news.*"], "subscribe": ["chat.{sub}", "news.>"]}


@pytest.fixture(scope="module")
def keys():
    d = tempfile.mkdtemp(prefix="sy-auth-")
    secret = os.path.join(d, "secret")
    with open(secret, "w") as f:
        f.write(SECRET + "\n")  # the trailing newline is not part of the secret
    rsa_key, rsa_pub = os.path.join(d, "rsa.pem"), os.path.join(d, "rsa.pub.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", rsa_key], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", rsa_key, "-pubout", "-out", rsa_pub], check=True,
                   capture_output=True)
    yield {"dir": d, "secret": secret, "rsa_key": open(rsa_key).read(),
           "rsa_pub_path": rsa_pub, "rsa_pub": open(rsa_pub).read()}
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def srv(keys):
    s = server(["--listen", "127.0.0.1:0", "--workers", "2",
                "--auth-jwt-hmac-secret-file", keys["secret"],
                "--auth-jwt-public-key-files", "rsa1=" + keys["rsa_pub_path"],
                "--auth-audience", AUD, "--auth-anonymous-subscribe", "public.>",
                "--amqp-listen", "127.0.0.1:0"], need=("http", "amqp"))
    yield s
    s.close()


@pytest.fixture(scope="module")
def pb():
    out = tempfile.mkdtemp(prefix="sy-auth-pb-")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", os.path.join(ROOT, "proto"),
                    "--python_out", out, "--grpc_python_out", out, "switchyard/v1/hub.proto"],
                   check=True)
    sys.path.insert(0, out)
    from switchyard.v1 import hub_pb2, hub_pb2_grpc
    yield hub_pb2, hub_pb2_grpc
    sys.path.remove(out)
    shutil.rmtree(out, ignore_errors=True)


def claims(sub="alice", exp_in=600, grants=GRANTS, **extra):
    now = int(time.time())
    c = {"sub": sub, "aud": AUD, "iat": now, "exp": now + exp_in, "switchyard": grants}
    c.update(extra)
    return c


def hs256(c):
    return jwt.encode(c, SECRET, algorithm="HS256")


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def confusion_token(keys, c):
    # HS256 keyed with the RS public key's PEM: PyJWT refuses to mint this (that is the attack),
    # so it is signed by hand.
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa1"}).encode())
    body = b64(json.dumps(c).encode())
    sig = hmac.new(keys["rsa_pub"].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def token_cases(keys):
    """(name, token or None, topic kind, expected class): 401 refused, 403 denied, ok."""
    good = hs256(claims())
    bad_sig = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    return [
        ("no_token", None, "exact", "401"),
        ("malformed", "not.a-token", "exact", "401"),
        ("bad_signature", bad_sig, "exact", "401"),
        ("expired", hs256(claims(exp_in=-3600)), "exact", "401"),
        ("not_yet_valid", hs256(claims(nbf=int(time.time()) + 3600)), "exact", "401"),
        ("wrong_audience", hs256(claims(aud="someone-else")), "exact", "401"),
        ("alg_none", jwt.encode(claims(), None, algorithm="none"), "exact", "401"),
        ("alg_confusion", confusion_token(keys, claims()), "exact", "401"),
        ("rs256_valid", jwt.encode(claims(), keys["rsa_key"], algorithm="RS256",
                                   headers={"kid": "rsa1"}), "exact", "ok"),
        ("other_topic", good, "other", "403"),
        ("exact_topic", good, "exact", "ok"),
        ("wildcard_within", good, "within", "ok"),
        ("wildcard_beyond", good, "beyond", "403"),
    ]


# Subscribe topics per kind; publish topics (a concrete topic under a wildcard grant for the
# wildcard cases, since one cannot publish to a pattern).
SUB_TOPIC = {"exact": "chat.alice", "other": "chat.bob", "within": "news.*", "beyond": "*.eu"}
PUB_TOPIC = {"exact": "chat.alice", "other": "chat.bob", "within": "news.eu",
             "beyond": "news.eu.sport"}
POLL_TOPIC = {"exact": "chat.alice", "other": "chat.bob", "within": "news.eu",
              "beyond": "other.eu"}


def request(s, method, path, token=None, body=None, headers=None, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=timeout)
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read() if method != "GET" or r.status != 200 or \
        r.getheader("Content-Type") != "text/event-stream" else b""
    out = (r.status, dict((k.lower(), v) for k, v in r.getheaders()), data)
    c.close()
    return out


def expect_status(expected, status, headers, what):
    if expected == "401":
        assert status == 401, what
        assert headers.get("www-authenticate", "").startswith('Bearer error="invalid_token"'), what
    elif expected == "403":
        assert status == 403, what
    else:
        assert status in (200, 201), what


def test_http_publish(srv, keys):
    for name, tok, kind, want in token_cases(keys):
        st, h, _ = request(srv, "POST", f"/pub/{PUB_TOPIC[kind]}", tok, body=b"x")
        expect_status(want, st, h, name)
        if want == "ok":
            assert st == 201, name


def test_short_poll_and_stats(srv, keys):
    alice = hs256(claims())
    assert request(srv, "POST", "/pub/news.eu", alice, body=b"n1")[0] == 201
    for name, tok, kind, want in token_cases(keys):
        st, h, body = request(srv, "GET", f"/topics/{POLL_TOPIC[kind]}/messages?since=0", tok)
        expect_status(want, st, h, "messages " + name)
        st, h, _ = request(srv, "GET", f"/topics/{POLL_TOPIC[kind]}", tok)
        expect_status(want, st, h, "stats " + name)


def test_long_poll(srv, keys):
    alice = hs256(claims())
    assert request(srv, "POST", "/pub/chat.alice", alice, body=b"hello")[0] == 201
    for name, tok, kind, want in token_cases(keys):
        # since=0 answers from history at once for a topic; a pattern waits (timeout=1 -> 304).
        st, h, body = request(srv, "GET", f"/sub/{SUB_TOPIC[kind]}?since=0&timeout=1", tok)
        if want == "ok":
            assert st in (200, 304), name
            if kind == "exact":
                assert st == 200 and body in (b"x", b"hello"), name
        else:
            expect_status(want, st, h, name)


def test_sse(srv, keys):
    for name, tok, kind, want in token_cases(keys):
        st, h, _ = request(srv, "GET", f"/sub/{SUB_TOPIC[kind]}", tok,
                           headers={"Accept": "text/event-stream"})
        expect_status(want, st, h, name)
        if want == "ok":
            assert h["content-type"] == "text/event-stream", name


def ws_status(s, path, tok):
    async def go():
        extra = {"Authorization": "Bearer " + tok} if tok else {}
        try:
            async with websockets.connect(f"ws://127.0.0.1:{s.port}{path}",
                                          extra_headers=extra, open_timeout=5):
                return 101
        except websockets.exceptions.InvalidStatusCode as e:
            return e.status_code
    return asyncio.run(go())


def test_websocket(srv, keys):
    for name, tok, kind, want in token_cases(keys):
        st = ws_status(srv, f"/sub/{SUB_TOPIC[kind]}", tok)
        assert st == {"401": 401, "403": 403, "ok": 101}[want], name


def test_websocket_over_h2(srv, keys):
    from test_websocket_h2 import h2ws
    c = h2ws(srv.port)
    try:
        for name, tok, kind, want in token_cases(keys):
            q = f"?token={tok}" if tok else ""
            ws = c.open(f"/sub/{SUB_TOPIC[kind]}{q}")
            assert ws.status == {"401": 401, "403": 403, "ok": 200}[want], name
            if want != "ok":
                www = c.streams[ws.sid]["headers"].get("www-authenticate", "")
                assert want == "403" or www.startswith('Bearer error="invalid_token"'), name
    finally:
        c.close()


def test_grpc_hub(srv, keys, pb):
    hub_pb2, hub_pb2_grpc = pb
    alice = hs256(claims())
    codes = {"401": grpc.StatusCode.UNAUTHENTICATED, "403": grpc.StatusCode.PERMISSION_DENIED}
    with grpc.insecure_channel(f"127.0.0.1:{srv.port}") as ch:
        stub = hub_pb2_grpc.HubStub(ch)
        stub.Publish(hub_pb2.PublishRequest(topic="chat.alice", payload=b"g"), timeout=5,
                     metadata=[("authorization", "Bearer " + alice)])
        for name, tok, kind, want in token_cases(keys):
            md = [("authorization", "Bearer " + tok)] if tok else []
            start = {"newest": True} if kind in ("exact", "other") else {}
            call = stub.Subscribe(hub_pb2.SubscribeRequest(pattern=SUB_TOPIC[kind], **start),
                                  timeout=2, metadata=md)
            if want == "ok":
                if kind == "exact":
                    assert next(call).message.payload == b"g", name
                call.cancel()
                continue
            with pytest.raises(grpc.RpcError) as e:
                next(call)
            assert e.value.code() == codes[want], name
            # Publish takes the same gate (call credentials style metadata).
            with pytest.raises(grpc.RpcError) as e:
                stub.Publish(hub_pb2.PublishRequest(topic=PUB_TOPIC[kind], payload=b"x"),
                             timeout=5, metadata=md)
            assert e.value.code() == codes[want], "publish " + name
        # grpcio call credentials carry the same token (over a channel that allows them on h2c).
        creds = grpc.composite_channel_credentials(
            grpc.local_channel_credentials(),
            grpc.access_token_call_credentials(alice))
        with grpc.secure_channel(f"localhost:{srv.port}", creds) as sch:
            r = hub_pb2_grpc.HubStub(sch).Publish(
                hub_pb2.PublishRequest(topic="chat.alice", payload=b"c"), timeout=5)
            assert r.id > 0


def amqp_key(topic):
    """A hub topic or pattern as an amq.topic routing or binding key ('>' is '#')."""
    return topic.replace(">", "#")


def amqp_connect(s, password, user="alice"):
    return pika.BlockingConnection(pika.ConnectionParameters(
        "127.0.0.1", s.ports["amqp"], "/", pika.PlainCredentials(user, password), heartbeat=0,
        connection_attempts=1))


def amqp_channel_answer(conn, fn):
    """None when fn(channel) went through, else the broker's (reply_code, reply_text)."""
    ch = conn.channel()
    try:
        fn(ch)
    except pika.exceptions.ChannelClosedByBroker as e:
        return (e.reply_code, e.reply_text)
    ch.close()
    return None


def amqp_topic_refused(key, user="alice"):
    return (403, f"ACCESS_REFUSED - access to topic '{key}' in exchange 'amq.topic' in vhost '/' "
                 f"refused for user '{user}'")


def amqp_bind(key):
    def run(ch):
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(q, "amq.topic", key)
    return run


def amqp_publish(key, body=b"x"):
    def run(ch):
        ch.confirm_delivery()
        ch.basic_publish("amq.topic", key, body, mandatory=False)
    return run


def test_amqp(srv, keys):
    """The AMQP column: the token is the PLAIN password (RabbitMQ's OAuth 2 convention). A token
    refused at login is 403 ACCESS_REFUSED on connection.start-ok (the connection closes); a valid
    one logs in, and a binding (subscribe) or publish outside the grant closes the channel with
    403 ACCESS_REFUSED and RabbitMQ's topic text."""
    login_refused = "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN"
    for name, tok, kind, want in token_cases(keys):
        if want == "401":
            with pytest.raises(pika.exceptions.ProbableAuthenticationError) as e:
                amqp_connect(srv, tok or "")
            assert login_refused in str(e.value), name
            continue
        c = amqp_connect(srv, tok)
        try:
            sub = amqp_key(SUB_TOPIC[kind])
            pub = amqp_key(PUB_TOPIC[kind])
            expect_sub = None if want == "ok" else amqp_topic_refused(sub)
            expect_pub = None if want == "ok" else amqp_topic_refused(pub)
            assert amqp_channel_answer(c, amqp_bind(sub)) == expect_sub, "bind " + name
            assert amqp_channel_answer(c, amqp_publish(pub)) == expect_pub, "publish " + name
        finally:
            c.close()


def amqp_drain(conn, queue):
    ch = conn.channel()
    got = []
    while True:
        m, _, _ = ch.basic_get(queue, auto_ack=True)
        if m is None:
            return got
        got.append(m.routing_key)


def test_deliveries_reach_only_permitted_subscribers(srv, keys):
    """Alice follows news.> (granted) and the anonymous client public.> (the anonymous rule);
    bob (publish everywhere) publishes to many topics: each subscriber counts only its own."""
    alice = hs256(claims())
    bob = hs256(claims(sub="bob", grants={"publish": [">"], "subscribe": ["chat.{sub}"]}))

    async def go():
        a = await websockets.connect(f"ws://127.0.0.1:{srv.port}/sub/news.>?envelope=1",
                                     extra_headers={"Authorization": "Bearer " + alice})
        anon = await websockets.connect(f"ws://127.0.0.1:{srv.port}/sub/public.>?envelope=1")
        await asyncio.sleep(0.2)
        topics = ["news.eu", "chat.bob", "public.x", "secret.y", "news.us.tech", "public.z.q"]
        loop = asyncio.get_running_loop()
        for i in range(30):
            t = topics[i % len(topics)]
            st = await loop.run_in_executor(
                None, lambda: request(srv, "POST", f"/pub/{t}", bob, body=str(i).encode())[0])
            assert st == 201
        got = {"a": [], "anon": []}
        for ws, k in ((a, "a"), (anon, "anon")):
            while True:
                try:
                    m = json.loads(await asyncio.wait_for(ws.recv(), 1.5))
                except asyncio.TimeoutError:
                    break
                got[k].append(m["topic"])
            await ws.close()
        return got
    # The AMQP column: alice's queue bound to news.# on amq.topic (her grant), and a refused
    # binding of the same queue to # (broader than the grant) that must not leave a route behind.
    aconn = amqp_connect(srv, alice)
    ach = aconn.channel()
    aq = ach.queue_declare("", exclusive=True).method.queue
    ach.queue_bind(aq, "amq.topic", "news.#")
    assert amqp_channel_answer(aconn, lambda ch: ch.queue_bind(aq, "amq.topic", "#")) == \
        amqp_topic_refused("#")
    got = asyncio.run(go())
    assert len(got["a"]) == 10 and all(t.startswith("news.") for t in got["a"]), got
    assert len(got["anon"]) == 10 and all(t.startswith("public.") for t in got["anon"]), got
    time.sleep(0.3)
    amqp_got = amqp_drain(aconn, aq)
    assert len(amqp_got) == 10 and all(t.startswith("news.") for t in amqp_got), amqp_got
    # 0 refused publishes stored: alice may not publish to secret.*, over HTTP or AMQP; bob
    # reads nothing there.
    for _ in range(5):
        assert request(srv, "POST", "/pub/secret.alice", alice, body=b"no")[0] == 403
        assert amqp_channel_answer(aconn, amqp_publish("secret.alice", b"no")) == \
            amqp_topic_refused("secret.alice")
    aconn.close()
    admin = hs256(claims(sub="ops", grants={"subscribe": [">"], "publish": []}))
    st, _, body = request(srv, "GET", "/topics/secret.alice", admin)
    assert st == 200 and json.loads(body)["last_id"] == 0


def test_reserved_topics_refused_with_and_without_auth(srv):
    root = hs256(claims(sub="root", grants={"publish": [">"], "subscribe": [">"]}))
    for t in ("jobs.7", "sys.stats"):
        assert request(srv, "POST", f"/pub/{t}", root, body=b"{}")[0] == 403
    plain = server(["--listen", "127.0.0.1:0", "--workers", "1"])
    try:
        for t in ("jobs.7", "sys.stats"):
            assert request(plain, "POST", f"/pub/{t}", body=b"{}")[0] == 403
        assert request(plain, "POST", "/pub/jobsx.7", body=b"{}")[0] == 201
    finally:
        plain.close()


def test_jobs_need_permissions(srv):
    worker = hs256(claims(sub="w", grants={"publish": ["jobs"], "subscribe": ["jobs", "jobs.>"]}))
    assert request(srv, "POST", "/jobs", body=b"{}")[0] == 401
    alice = hs256(claims())
    assert request(srv, "POST", "/jobs", alice, body=b"{}")[0] == 403
    st, _, body = request(srv, "POST", "/jobs", worker, body=b'{"n":1}',
                          headers={"Content-Type": "application/json"})
    assert st in (200, 201, 202), body
    job = json.loads(body)["id"]
    assert request(srv, "GET", f"/jobs/{job}", alice)[0] == 403
    assert request(srv, "GET", f"/jobs/{job}", worker)[0] == 200


# ---- expiry on long-lived streams ---------------------------------------------------------------

def test_websocket_closed_3000_at_exp(srv):
    tok = hs256(claims(exp_in=2))

    async def go():
        ws = await websockets.connect(f"ws://127.0.0.1:{srv.port}/sub/chat.alice",
                                      extra_headers={"Authorization": "Bearer " + tok})
        t0 = time.time()
        with pytest.raises(websockets.exceptions.ConnectionClosed) as e:
            while True:
                await asyncio.wait_for(ws.recv(), 6)
        return e.value, time.time() - t0
    closed, took = asyncio.run(go())
    assert closed.rcvd.code == 3000 and closed.rcvd.reason == "token expired"
    assert took < 5


def test_websocket_refresh_extends_the_stream(srv):
    short = hs256(claims(exp_in=2))
    fresh = hs256(claims(exp_in=600))

    async def go():
        ws = await websockets.connect(f"ws://127.0.0.1:{srv.port}/sub/chat.alice?envelope=1",
                                      extra_headers={"Authorization": "Bearer " + short})
        await ws.send(json.dumps({"type": "refresh", "token": fresh}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 3))
        await asyncio.sleep(3)  # past the first token's exp
        loop = asyncio.get_running_loop()
        st = await loop.run_in_executor(
            None, lambda: request(srv, "POST", "/pub/chat.alice", fresh, body=b"still")[0])
        assert st == 201
        m = json.loads(await asyncio.wait_for(ws.recv(), 3))
        # A refresh whose token does not allow the topic ends the socket (1008).
        other = hs256(claims(sub="carol"))
        await ws.send(json.dumps({"type": "refresh", "token": other}))
        with pytest.raises(websockets.exceptions.ConnectionClosed) as e:
            await asyncio.wait_for(ws.recv(), 3)
        return reply, m, e.value.rcvd.code
    reply, m, code = asyncio.run(go())
    assert reply["type"] == "refreshed" and reply["exp"] > time.time() + 500
    assert m["topic"] == "chat.alice"
    assert code == 1008


def test_sse_error_event_then_end_at_exp(srv):
    tok = hs256(claims(exp_in=2))
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=8)
    c.request("GET", f"/sub/chat.alice?token={tok}", headers={"Accept": "text/event-stream"})
    r = c.getresponse()
    assert r.status == 200
    body = r.read()  # until the end of the stream
    c.close()
    assert b"event: error\ndata: token expired\n\n" in body


def test_grpc_unauthenticated_at_exp(srv, pb):
    hub_pb2, hub_pb2_grpc = pb
    tok = hs256(claims(exp_in=2))
    with grpc.insecure_channel(f"127.0.0.1:{srv.port}") as ch:
        call = hub_pb2_grpc.HubStub(ch).Subscribe(
            hub_pb2.SubscribeRequest(pattern="chat.alice"), timeout=8,
            metadata=[("authorization", "Bearer " + tok)])
        with pytest.raises(grpc.RpcError) as e:
            for _ in call:
                pass
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "expired" in e.value.details()


# ---- management API, /metrics, rate limits --------------------------------------------------------

def test_management_bearer_admin_and_metrics_access(keys):
    s = server(["--listen", "127.0.0.1:0", "--workers", "1", "--management-listen",
                "127.0.0.1:0", "--auth-jwt-hmac-secret-file", keys["secret"],
                "--auth-audience", AUD, "--auth-metrics-access", "token"],
               need=("http",))
    try:
        with open(s.out.name) as f:
            ports = [int(line.rsplit(":", 1)[1]) for line in f if "listening on http" in line]
        mport = ports[1]

        def get(port, path, tok):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", path, headers={"Authorization": "Bearer " + tok} if tok else {})
            r = c.getresponse()
            r.read()
            c.close()
            return r.status, r.getheader("WWW-Authenticate", "")
        admin = hs256(claims(sub="ops", grants={"admin": True}))
        user = hs256(claims())
        assert get(mport, "/api/overview", admin)[0] == 200
        assert get(mport, "/api/overview", user)[0] == 403
        st, www = get(mport, "/api/overview", hs256(claims(exp_in=-100)))
        assert st == 401 and www.startswith('Bearer error="invalid_token"')
        assert get(mport, "/api/overview", None)[0] == 401
        # RabbitMQ's scope style gives the same role.
        rmq = hs256({"sub": "svc", "aud": AUD, "scope": "rabbitmq.tag:administrator"})
        assert get(mport, "/api/overview", rmq)[0] == 200
        # metrics_access = token: an admin token even on loopback.
        assert get(s.port, "/metrics", None)[0] == 401
        assert get(s.port, "/metrics", user)[0] == 403
        assert get(s.port, "/metrics", admin)[0] == 200
        assert get(s.port, "/debug/listeners", admin)[0] == 200
    finally:
        s.close()


def test_metrics_open_on_loopback_by_default(srv):
    assert request(srv, "GET", "/metrics")[0] == 200


def test_publish_rate_and_connection_rate(keys):
    s = server(["--listen", "127.0.0.1:0", "--workers", "1", "--publish-rate", "5",
                "--connection-rate-per-ip", "20"])
    try:
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
        codes, retry = [], None
        for i in range(8):
            c.request("POST", "/pub/rate.t", body=b"x")
            r = c.getresponse()
            r.read()
            codes.append(r.status)
            retry = retry or r.getheader("Retry-After")
        c.close()
        assert codes[:5] == [201] * 5 and 429 in codes[5:], codes
        assert int(retry) >= 1

        async def ws_flood():
            ws = await websockets.connect(f"ws://127.0.0.1:{s.port}/sub/rate.w")
            with pytest.raises(websockets.exceptions.ConnectionClosed) as e:
                for i in range(50):
                    await ws.send(str(i))
                    await asyncio.sleep(0.005)
                await asyncio.wait_for(ws.recv(), 3)
            return e.value.rcvd.code if e.value.rcvd else None
        assert asyncio.run(ws_flood()) == 1008

        time.sleep(1.1)  # a new window for this IP
        statuses = []
        for i in range(30):
            c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
            try:
                c.request("GET", "/topics/rate.t")
                r = c.getresponse()
                statuses.append((r.status, r.getheader("Retry-After")))
                r.read()
            except (ConnectionError, http.client.HTTPException):
                statuses.append((None, None))
            c.close()
        refused = [x for x in statuses if x[0] == 429]
        assert refused and all(int(x[1]) >= 1 for x in refused), statuses
        assert sum(1 for x in statuses if x[0] == 200) <= 20, statuses
    finally:
        s.close()
