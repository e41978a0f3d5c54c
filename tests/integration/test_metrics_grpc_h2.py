"""gRPC and HTTP/2 metrics (docs/metrics.md): grpcio calls are counted by service, method and
status code (an OK Publish, an INVALID_ARGUMENT Publish, a call to a method nobody installed as
unknown/UNIMPLEMENTED, a client cancel); h2 streams, RST_STREAM by direction and error code,
GOAWAY, through raw frames from python3-h2's hyperframe."""
import time

import grpc
import pytest
from hyperframe.frame import GoAwayFrame, RstStreamFrame

from conftest import hub_pb, server  # noqa: F401 (hub_pb is a fixture)
from h2raw import raw_h2
from promtext import scrape, value


@pytest.fixture(scope="module")
def srv():
    s = server(["--listen", "127.0.0.1:0", "--workers", "2"])
    yield s
    s.close()


def calls(s, method, code, service="switchyard.v1.Hub"):
    fams = scrape(s.url + "/metrics")
    try:
        return value(fams, "sy_grpc_calls_total", service=service, method=method, code=code)
    except KeyError:
        return 0


def test_grpc_calls_by_method_and_code(srv, hub_pb):
    pb, pb_grpc = hub_pb
    ok0 = calls(srv, "Publish", "OK")
    bad0 = calls(srv, "Publish", "INVALID_ARGUMENT")
    unk0 = calls(srv, "unknown", "UNIMPLEMENTED", service="unknown")
    with grpc.insecure_channel(f"127.0.0.1:{srv.port}") as ch:
        hub = pb_grpc.HubStub(ch)
        for _ in range(2):
            hub.Publish(pb.PublishRequest(topic="m.ok", payload=b"x"), timeout=5)
        with pytest.raises(grpc.RpcError) as e:
            hub.Publish(pb.PublishRequest(topic="a..b", payload=b"x"), timeout=5)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        nobody = ch.unary_unary("/no.Such/Method", request_serializer=lambda b: b,
                                response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as e:
            nobody(b"", timeout=5)
        assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
        sub = hub.Subscribe(pb.SubscribeRequest(pattern="m.cancel"), timeout=20)
        time.sleep(0.3)  # the call reached the server
        sub.cancel()
    assert calls(srv, "Publish", "OK") == ok0 + 2
    assert calls(srv, "Publish", "INVALID_ARGUMENT") == bad0 + 1
    assert calls(srv, "unknown", "UNIMPLEMENTED", service="unknown") == unk0 + 1
    deadline = time.time() + 5
    while calls(srv, "Subscribe", "CANCELLED") < 1:
        assert time.time() < deadline, "the cancelled Subscribe was not counted"
        time.sleep(0.05)
    # Only installed methods (and "unknown") appear as label values.
    fams = scrape(srv.url + "/metrics")
    services = {lab["service"] for lab, _ in fams["sy_grpc_calls_total"]["samples"]}
    assert services <= {"switchyard.v1.Hub", "grpc.health.v1.Health", "unknown"}


def h2_value(s, name, **labels):
    try:
        return value(scrape(s.url + "/metrics"), name, **labels)
    except KeyError:
        return 0


def test_h2_streams_resets_and_goaway_are_counted(srv):
    opened0 = h2_value(srv, "sy_h2_streams_opened_total")
    rx0 = h2_value(srv, "sy_h2_resets_total", direction="received", code="CANCEL")
    tx0 = h2_value(srv, "sy_h2_resets_total", direction="sent", code="PROTOCOL_ERROR")
    ga0 = h2_value(srv, "sy_h2_goaways_total", direction="received", code="NO_ERROR")
    c = raw_h2(srv, "h2c")
    c.handshake()
    # A stream the client resets with CANCEL while its request body is still open.
    c.send(c.headers(1, method="POST", path="/echo", end_stream=False))
    deadline = time.time() + 5
    while h2_value(srv, "sy_h2_streams_open") < 1:
        assert time.time() < deadline, "the open stream is not counted"
        time.sleep(0.05)
    c.send(RstStreamFrame(1, error_code=0x8))
    # A request with a connection-specific header field is malformed (RFC 9113 8.2.2): the
    # server resets the stream with PROTOCOL_ERROR.
    c.send(c.headers(3, extra=[("connection", "keep-alive")]))
    got = c.frames(until=lambda f: isinstance(f, RstStreamFrame) and f.stream_id == 3)
    assert any(isinstance(f, RstStreamFrame) and f.error_code == 0x1 for f in got), got
    c.send(GoAwayFrame(0, last_stream_id=0, error_code=0))
    c.close()
    deadline = time.time() + 5
    while h2_value(srv, "sy_h2_goaways_total", direction="received", code="NO_ERROR") < ga0 + 1:
        assert time.time() < deadline, "GOAWAY from the client not counted"
        time.sleep(0.05)
    assert h2_value(srv, "sy_h2_streams_opened_total") >= opened0 + 1
    assert h2_value(srv, "sy_h2_resets_total", direction="received", code="CANCEL") == rx0 + 1
    assert h2_value(srv, "sy_h2_resets_total", direction="sent", code="PROTOCOL_ERROR") == tx0 + 1
    deadline = time.time() + 5
    while h2_value(srv, "sy_h2_streams_open") != 0:
        assert time.time() < deadline, "streams still counted open after the connection went"
        time.sleep(0.05)
