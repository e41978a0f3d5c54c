"""limits.max_body over HTTP/2, as HTTP/1.1 has it: a request body above the limit gets a complete
413 response before the body is read (declared in content-length) or as soon as the DATA seen
passes it (no content-length), then RST_STREAM(NO_ERROR) (RFC 9113 8.1) so the client stops
sending; the connection keeps serving other streams. gRPC applies the same limit to each request
message: RESOURCE_EXHAUSTED with a grpc-message. Each case on h2c (prior knowledge) and h2 (TLS).

Clients: nghttp (nghttp2-client), raw frames (h2raw: hyperframe/hpack from python3-h2) where the
test needs to watch what is read when, Python grpcio. curl 7.88 is not used for the 413: it drops
any HTTP/2 response whose stream is reset while it still uploads (curl issue 986/15316; it fails
the same way against nghttpd --early-response)."""
import subprocess

import pytest
from hyperframe.frame import DataFrame, HeadersFrame, RstStreamFrame, WindowUpdateFrame

from conftest import server
from h2raw import describe, raw_h2

MAX_BODY = 64 * 1024
MODES = ["h2c", "h2"]
NO_ERROR = 0x0


@pytest.fixture(scope="module")
def srv(localhost_cert):
    cert, key = localhost_cert
    s = server(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--tls-cert", cert,
                "--tls-key", key, "--workers", "1", "--max-body", str(MAX_BODY)],
               need=("http", "https"))
    s.cert = cert
    yield s
    s.close()


def base_url(srv, mode):
    return f"http://127.0.0.1:{srv.port}" if mode == "h2c" else \
        f"https://127.0.0.1:{srv.ports['https']}"


def assert_413_then_reset(c, sid, seen=()):
    """A complete 413 (END_STREAM), then RST_STREAM(sid, NO_ERROR); `seen`: frames read before."""
    got = list(seen)
    if not any(isinstance(f, RstStreamFrame) and f.stream_id == sid for f in got):
        got += c.frames(5.0, until=lambda f: isinstance(f, RstStreamFrame) and f.stream_id == sid)
    mine = [f for f in got if f.stream_id == sid]
    heads = [f for f in mine if isinstance(f, HeadersFrame)]
    assert heads and heads[0].fields[":status"] == "413", describe(got)
    ends = [i for i, f in enumerate(mine) if "END_STREAM" in f.flags]
    rsts = [i for i, f in enumerate(mine) if isinstance(f, RstStreamFrame)]
    assert ends and rsts and ends[0] < rsts[0], describe(got)
    assert mine[rsts[0]].error_code == NO_ERROR, describe(got)
    body = b"".join(f.data for f in mine if isinstance(f, DataFrame))
    assert b"too large" in body


def assert_still_serving(c, sid):
    c.send(c.headers(sid, path="/metrics"))
    status, body = c.response(sid)
    assert status == 200 and b"sy_" in body


@pytest.mark.parametrize("mode", MODES)
def test_nghttp_declared_body_over_limit_gets_413(srv, mode, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (3 * MAX_BODY))
    p = subprocess.run(["nghttp", "-v", "-d", str(big), base_url(srv, mode) + "/echo"],
                       capture_output=True, timeout=20)
    out = p.stdout.decode(errors="replace")
    assert ":status: 413" in out, out
    assert "request body too large" in out, out
    assert "recv RST_STREAM" in out and "error_code=NO_ERROR" in out, out


@pytest.mark.parametrize("mode", MODES)
def test_nghttp_body_under_limit_is_echoed(srv, mode, tmp_path):
    body = tmp_path / "ok.bin"
    body.write_bytes(b"y" * (MAX_BODY - 1))
    p = subprocess.run(["nghttp", "-d", str(body), base_url(srv, mode) + "/echo"],
                       capture_output=True, timeout=20)
    assert p.returncode == 0 and p.stdout == b"y" * (MAX_BODY - 1), p.stderr


@pytest.mark.parametrize("mode", MODES)
def test_declared_length_over_limit_answered_before_any_data(srv, mode):
    c = raw_h2(srv, mode)
    c.handshake()
    # The head alone: the answer must not wait for a byte of the body.
    c.send(c.headers(1, "POST", "/echo", end_stream=False,
                     extra=[("content-length", str(10 * MAX_BODY))]))
    assert_413_then_reset(c, 1)
    c.send(DataFrame(1, b"z" * 1000))  # in flight before our RST arrived: ignored
    assert_still_serving(c, 3)
    c.close()


@pytest.mark.parametrize("mode", MODES)
def test_undeclared_length_over_limit_gets_413_while_reading(srv, mode):
    c = raw_h2(srv, mode)
    c.handshake()
    c.send(c.headers(1, "POST", "/echo", end_stream=False))
    window, sent, chunk, seen = 65535, 0, 16000, []
    while sent <= 2 * MAX_BODY and not any(isinstance(f, HeadersFrame) for f in seen):
        if window < chunk:  # wait for the server to give window back (it reads as it goes)
            new = c.frames(2.0, until=lambda f: f.stream_id == 1 and
                           isinstance(f, (WindowUpdateFrame, HeadersFrame)))
            assert new, f"stalled after {sent} bytes: {describe(seen)}"
            window += sum(f.window_increment for f in new
                          if isinstance(f, WindowUpdateFrame) and f.stream_id == 1)
            seen += new
            continue
        c.send(DataFrame(1, b"z" * chunk))
        window -= chunk
        sent += chunk
    assert MAX_BODY < sent <= 2 * MAX_BODY, describe(seen)
    assert_413_then_reset(c, 1, seen)
    assert_still_serving(c, 3)
    c.close()


# ---- gRPC: each request message ------------------------------------------------------------

grpc = pytest.importorskip("grpc")
pytest.importorskip("grpc_tools")


def grpc_channel(srv, mode):
    if mode == "h2c":
        return grpc.insecure_channel(f"127.0.0.1:{srv.port}")
    with open(srv.cert, "rb") as f:
        creds = grpc.ssl_channel_credentials(root_certificates=f.read())
    return grpc.secure_channel(f"127.0.0.1:{srv.ports['https']}", creds,
                               options=[("grpc.ssl_target_name_override", "localhost")])


@pytest.mark.parametrize("mode", MODES)
def test_grpc_message_over_limit_is_resource_exhausted(srv, mode, hub_pb):
    pb, pb_grpc = hub_pb
    with grpc_channel(srv, mode) as ch:
        hub = pb_grpc.HubStub(ch)
        with pytest.raises(grpc.RpcError) as e:
            hub.Publish(pb.PublishRequest(topic="h2-limits", payload=b"x" * (2 * MAX_BODY)),
                        timeout=10)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "larger than max" in e.value.details() and str(MAX_BODY) in e.value.details()
        # The same channel (connection) goes on serving.
        r = hub.Publish(pb.PublishRequest(topic="h2-limits", payload=b"x" * 100), timeout=10)
        assert r.id >= 1
