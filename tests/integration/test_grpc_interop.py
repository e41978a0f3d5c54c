"""gRPC interop (grpc/grpc doc/interop-test-descriptions.md) against build/bin/grpc-interop-server
(examples/grpc-interop): every case x client x transport.

Clients: grpcio (grpc_interop/interop_client.py, Debian's python3-grpcio), grpc-js
(grpc_node/interop_client.mjs, tests/browser's @grpc/grpc-js + @grpc/proto-loader), and grpc-node's
own test/interop/interop_client.js when SY_GRPC_NODE_INTEROP names it inside a prepared copy of
grpc-node's test/ tree (docs/grpc.md, "Interop"); skipped with the reason otherwise. Transports:
h2c (prior knowledge) and h2 over TLS (ALPN). The tests after the matrix check the server
behaviours no listed case can see from these clients: the compressed flag of responses
(raw HTTP/2), interval_us pacing, the client_compressed cases, HalfDuplexCall, the limits."""
import base64
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import ROOT, make_cert, server

grpc = pytest.importorskip("grpc")
pytest.importorskip("grpc_tools")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "grpc_interop"))
import interop_client  # noqa: E402

NODE_CLIENT = os.path.join(ROOT, "tests", "integration", "grpc_node", "interop_client.mjs")
NODE_MODULES = os.path.join(ROOT, "tests", "browser", "node_modules", "@grpc", "grpc-js")
UPSTREAM = os.environ.get("SY_GRPC_NODE_INTEROP")
CASES = interop_client.CASES
CLIENTS = ["grpcio", "grpc-js", "grpc-node-interop_client.js"]
TRANSPORTS = ["h2c", "tls"]
BINARY = "grpc-interop-server"


def start(args, tls=False):
    s = server(["--listen", "127.0.0.1:0", "--workers", "2", *args], binary=BINARY,
               need=("https",) if tls else ("http",))
    s.grpc_port = s.ports["https" if tls else "http"]
    return s


@pytest.fixture(scope="module")
def cert():
    d = tempfile.mkdtemp(prefix="sy-interop-cert-")
    yield make_cert(d, "localhost")
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def servers(cert):
    h2c = start([])
    tls = start(["--tls-cert", cert[0], "--tls-key", cert[1]], tls=True)
    yield {"h2c": h2c, "tls": tls}
    h2c.close()
    tls.close()


@pytest.fixture(scope="module")
def pb():
    out = tempfile.mkdtemp(prefix="sy-interop-py-")
    yield interop_client.compile_stubs(out)
    sys.path.remove(out)
    shutil.rmtree(out, ignore_errors=True)


def py_channel(servers, cert, transport):
    tls = transport == "tls"
    return interop_client.channel("127.0.0.1", servers[transport].grpc_port, tls,
                                  cert[0] if tls else None, "localhost" if tls else None)


@pytest.fixture(scope="module")
def node_results(servers, cert):
    """transport -> {case: (ok, error)}: one grpc-js client run per transport, all cases."""
    cache = {}

    def get(transport):
        if transport not in cache:
            args = ["node", NODE_CLIENT, "--server_host=127.0.0.1",
                    f"--server_port={servers[transport].grpc_port}", "--test_case=all"]
            if transport == "tls":
                args += ["--use_tls=true", f"--ca_file={cert[0]}", "--server_host_override=localhost"]
            p = subprocess.run(args, capture_output=True, text=True, timeout=300)
            res = {}
            for line in p.stdout.splitlines():
                r = json.loads(line)
                res[r["case"]] = (r["ok"], r.get("error", ""))
            cache[transport] = (res, p.stderr)
        return cache[transport]
    return get


@pytest.fixture(scope="module")
def upstream_servers():
    """Servers for grpc-node's client: h2c, and TLS with grpc's interop test certificate (its
    --use_test_ca reads test/data/ca.pem; the name is *.test.google.fr)."""
    started = {}

    def get(transport):
        if transport not in started:
            data = os.path.join(os.path.dirname(os.path.dirname(UPSTREAM)), "data")
            extra = []
            if transport == "tls":
                extra = ["--tls-cert", os.path.join(data, "server1.pem"),
                         "--tls-key", os.path.join(data, "server1.key")]
            started[transport] = start(extra, tls=transport == "tls")
        return started[transport]
    yield get
    for s in started.values():
        s.close()


def run_upstream(upstream_servers, case, transport):
    s = upstream_servers(transport)
    args = ["node", UPSTREAM, "--server_host=127.0.0.1", f"--server_port={s.grpc_port}",
            f"--test_case={case}"]
    if transport == "tls":
        args += ["--use_tls=true", "--use_test_ca=true",
                 "--server_host_override=foo.test.google.fr"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60,
                       cwd=os.path.dirname(UPSTREAM))
    assert p.returncode == 0 and f"OK: {case}" in p.stdout, p.stdout + p.stderr


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("case", CASES)
def test_interop(case, client, transport, servers, cert, pb, node_results, upstream_servers):
    if client == "grpcio":
        with py_channel(servers, cert, transport) as ch:
            interop_client.run_case(pb, ch, case)
    elif client == "grpc-js":
        if not shutil.which("node") or not os.path.isdir(NODE_MODULES):
            pytest.skip("node or tests/browser/node_modules (npm ci) missing")
        res, err = node_results(transport)
        assert case in res, f"grpc-js client did not run {case}: {err}"
        ok, why = res[case]
        assert ok, why
    else:
        if not UPSTREAM or not os.path.isfile(UPSTREAM):
            pytest.skip("SY_GRPC_NODE_INTEROP does not name grpc-node's "
                        "test/interop/interop_client.js (GitHub is not reachable from CI)")
        run_upstream(upstream_servers, case, transport)


# ---- What the clients above cannot observe ------------------------------------------------------

@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("case", ["client_compressed_unary", "client_compressed_streaming"])
def test_client_compressed(case, transport, servers, cert, pb):
    """expect_compressed: INVALID_ARGUMENT for an uncompressed probe, OK when it holds."""
    with py_channel(servers, cert, transport) as ch:
        getattr(interop_client, case)(pb, ch)


def grpc_frame(payload, compressed=False):
    return struct.pack(">BI", 1 if compressed else 0, len(payload)) + payload


def grpc_messages(body):
    """[(compressed flag, payload)] of a response body."""
    out = []
    while body:
        flag, n = struct.unpack(">BI", body[:5])
        out.append((flag, body[5:5 + n]))
        body = body[5 + n:]
    return out


def raw_call(srv, method, request, extra=()):
    """One call over raw h2c: (response header fields, [(flag, payload)], trailer fields)."""
    from hyperframe.frame import DataFrame, HeadersFrame
    from h2raw import raw_h2
    c = raw_h2(srv, "h2c")
    try:
        c.handshake()
        c.send(c.headers(1, "POST", "/grpc.testing.TestService/" + method, end_stream=False,
                         extra=[("content-type", "application/grpc"), ("te", "trailers"),
                                ("grpc-accept-encoding", "identity,gzip"), *extra]))
        data = DataFrame(1, grpc_frame(request.SerializeToString()))
        data.flags.add("END_STREAM")
        c.send(data)
        heads, body = [], b""
        for f in c.frames(5.0, until=lambda f: f.stream_id == 1 and "END_STREAM" in f.flags):
            if isinstance(f, HeadersFrame):
                heads.append(f.fields)
            elif isinstance(f, DataFrame) and f.stream_id == 1:
                body += f.data
        return heads[0], grpc_messages(body), heads[-1]
    finally:
        c.close()


def test_server_compressed_unary_sets_the_flag(servers, pb):
    m = pb.messages
    for want in (True, False):
        req = m.SimpleRequest(response_size=3000, response_compressed=m.BoolValue(value=want))
        head, msgs, trailers = raw_call(servers["h2c"], "UnaryCall", req)
        assert trailers.get("grpc-status") == "0", trailers
        assert head.get("grpc-encoding") == ("gzip" if want else None), head
        assert [flag for flag, _ in msgs] == [1 if want else 0]


def test_server_compressed_streaming_per_message(servers, pb):
    """server_compressed_streaming: gzip for the call, the second message sent uncompressed."""
    m = pb.messages
    req = m.StreamingOutputCallRequest(response_parameters=[
        m.ResponseParameters(size=3000, compressed=m.BoolValue(value=True)),
        m.ResponseParameters(size=2000, compressed=m.BoolValue(value=False))])
    head, msgs, trailers = raw_call(servers["h2c"], "StreamingOutputCall", req)
    assert trailers.get("grpc-status") == "0", trailers
    assert head.get("grpc-encoding") == "gzip"
    assert [flag for flag, _ in msgs] == [1, 0]


def test_echo_trailing_bin_is_echoed_verbatim(servers, pb):
    value = base64.b64encode(b"\x00\xff\xab").decode()
    head, _, trailers = raw_call(servers["h2c"], "EmptyCall", pb.empty.Empty(),
                                 extra=[("x-grpc-test-echo-trailing-bin", value),
                                        ("x-grpc-test-echo-initial", "v1")])
    assert head.get("x-grpc-test-echo-initial") == "v1"
    assert trailers.get("x-grpc-test-echo-trailing-bin") == value


def test_interval_us_paces_responses(servers, pb):
    """Observe ResponseParameters.interval_us: each response waits its interval after the last."""
    m = pb.messages
    req = m.StreamingOutputCallRequest(response_parameters=[
        m.ResponseParameters(size=10, interval_us=200_000) for _ in range(3)])
    with grpc.insecure_channel(f"127.0.0.1:{servers['h2c'].grpc_port}") as ch:
        t0 = time.monotonic()
        stamps = [time.monotonic() - t0 for _ in
                  pb.services.TestServiceStub(ch).StreamingOutputCall(req, timeout=10)]
    assert len(stamps) == 3
    gaps = [b - a for a, b in zip([0.0] + stamps, stamps)]
    assert all(g >= 0.18 for g in gaps), gaps


def test_half_duplex_holds_responses_until_half_close(servers, pb):
    """HalfDuplexCall: no response before the client half-closes, then all, in order."""
    from hyperframe.frame import DataFrame, HeadersFrame
    from h2raw import raw_h2
    m = pb.messages
    c = raw_h2(servers["h2c"], "h2c")
    try:
        c.handshake()
        c.send(c.headers(1, "POST", "/grpc.testing.TestService/HalfDuplexCall", end_stream=False,
                         extra=[("content-type", "application/grpc"), ("te", "trailers")]))
        for n in (5, 7):
            req = m.StreamingOutputCallRequest(response_parameters=[m.ResponseParameters(size=n)])
            c.send(DataFrame(1, grpc_frame(req.SerializeToString())))
        early = [f for f in c.frames(0.5) if f.stream_id == 1]
        assert early == [], early
        end = DataFrame(1, b"")
        end.flags.add("END_STREAM")
        c.send(end)
        body, last = b"", None
        for f in c.frames(5.0, until=lambda f: f.stream_id == 1 and "END_STREAM" in f.flags):
            if isinstance(f, DataFrame) and f.stream_id == 1:
                body += f.data
            elif isinstance(f, HeadersFrame):
                last = f.fields
    finally:
        c.close()
    sizes = [len(m.StreamingOutputCallResponse.FromString(p).payload.body)
             for _, p in grpc_messages(body)]
    assert sizes == [5, 7]
    assert last.get("grpc-status") == "0", last


def test_limits_answer_resource_exhausted(cert, pb):
    s = start(["--max-response-size", "1000", "--max-pending-responses", "2"])
    try:
        m = pb.messages
        with grpc.insecure_channel(f"127.0.0.1:{s.grpc_port}") as ch:
            stub = pb.services.TestServiceStub(ch)
            interop_client.expect_error(
                lambda: stub.UnaryCall(m.SimpleRequest(response_size=1001), timeout=5),
                grpc.StatusCode.RESOURCE_EXHAUSTED)
            assert len(stub.UnaryCall(m.SimpleRequest(response_size=1000),
                                      timeout=5).payload.body) == 1000
            req = m.StreamingOutputCallRequest(
                response_parameters=[m.ResponseParameters(size=1) for _ in range(3)])
            call = stub.StreamingOutputCall(req, timeout=5)
            interop_client.expect_error(lambda: list(call), grpc.StatusCode.RESOURCE_EXHAUSTED)
    finally:
        s.close()
