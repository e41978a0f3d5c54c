"""HTTP/2 stream states (RFC 9113 5.1) and the connection preface (RFC 9113 3.4), driven with raw
frames (hyperframe + hpack, from python3-h2) so that illegal sequences can be sent. Every case
runs on h2c (prior knowledge) and on h2 (TLS, ALPN) and must give the same result there. The
expectations are nghttpd 1.52's (same nghttp2 library), plus the two it does not do: a GOAWAY for
a bad preface magic and PROTOCOL_ERROR for a lower stream id never used."""
import shutil
import tempfile

import pytest
from hyperframe.frame import (DataFrame, GoAwayFrame, PingFrame, RstStreamFrame, SettingsFrame,
                              WindowUpdateFrame)

from conftest import make_cert, server
from h2raw import PREFACE, describe, raw_h2

PROTOCOL_ERROR, STREAM_CLOSED, CANCEL = 0x1, 0x5, 0x8
MODES = ["h2c", "h2"]


@pytest.fixture(scope="module")
def srv():
    d = tempfile.mkdtemp(prefix="sy-h2s-")
    cert, key = make_cert(d, "localhost")
    s = server(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--tls-cert", cert,
                "--tls-key", key, "--workers", "1"],
               need=("http", "https"))
    yield s
    s.close()
    shutil.rmtree(d, ignore_errors=True)


def goaway(frames):
    g = [f for f in frames if isinstance(f, GoAwayFrame)]
    assert g, f"no GOAWAY in {describe(frames)}"
    return g[0]


def assert_connection_error(c, code, last_stream_id=None):
    """RFC 9113 5.4.1: GOAWAY with `code`, then the connection closes."""
    got = c.until_closed()
    g = goaway(got)
    assert g.error_code == code, describe(got)
    if last_stream_id is not None:
        assert g.last_stream_id == last_stream_id, describe(got)


def assert_stream_closed(c, sid):
    """A stream error STREAM_CLOSED (RFC 9113 5.1): RST_STREAM(sid, STREAM_CLOSED), or the same
    treated as a connection error (GOAWAY STREAM_CLOSED and close; RFC 9113 5.4.1 allows it and
    nghttpd does it), and nothing else for the offending frame (no WINDOW_UPDATE, no answer)."""
    got = c.frames(3.0, until=lambda f: isinstance(f, (RstStreamFrame, GoAwayFrame)))
    errs = [f for f in got if isinstance(f, (RstStreamFrame, GoAwayFrame))]
    assert errs, f"no STREAM_CLOSED, got {describe(got)}"
    e = errs[0]
    assert e.error_code == STREAM_CLOSED, describe(got)
    if isinstance(e, RstStreamFrame):
        assert e.stream_id == sid, describe(got)
    else:
        c.until_closed()
    assert not any(isinstance(f, WindowUpdateFrame) and f.stream_id == sid for f in got), \
        describe(got)


# ---- the connection preface (RFC 9113 3.4) -------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_bad_preface_magic_gets_goaway_protocol_error(srv, mode):
    c = raw_h2(srv, mode)
    c.send(b"PRI * HTTP/2.0\r\n\r\nXM\r\n\r\n", SettingsFrame(0))
    assert_connection_error(c, PROTOCOL_ERROR, last_stream_id=0)
    c.close()


@pytest.mark.parametrize("mode", MODES)
def test_preface_not_followed_by_settings_gets_goaway_protocol_error(srv, mode):
    c = raw_h2(srv, mode)
    c.send(PREFACE, PingFrame(0, b"12345678"))
    assert_connection_error(c, PROTOCOL_ERROR, last_stream_id=0)
    c.close()


# ---- stream states (RFC 9113 5.1) ------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("late", ["data", "headers"])
def test_frames_on_half_closed_remote_stream_are_stream_closed(srv, mode, late):
    c = raw_h2(srv, mode)
    c.handshake()
    # A long poll: the stream stays half-closed (remote) until something is published.
    c.send(c.headers(1, path=f"/sub/h2-states-{mode}-{late}"))
    c.frames(0.3)  # let the handler start waiting
    c.send(DataFrame(1, b"x", flags=["END_STREAM"]) if late == "data" else c.trailers(1))
    assert_stream_closed(c, 1)
    c.close()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("late", ["data", "headers"])
def test_frames_after_client_rst_stream_are_stream_closed(srv, mode, late):
    c = raw_h2(srv, mode)
    c.handshake()
    c.send(c.headers(1, "POST", "/echo", end_stream=False), RstStreamFrame(1, CANCEL))
    c.frames(0.3)
    c.send(DataFrame(1, b"x") if late == "data" else c.trailers(1))
    assert_stream_closed(c, 1)
    c.close()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("late", ["data", "headers"])
def test_frames_on_closed_stream_are_connection_error_stream_closed(srv, mode, late):
    c = raw_h2(srv, mode)
    c.handshake()
    c.send(c.headers(1, path="/metrics"))
    status, _ = c.response(1)
    assert status == 200
    c.send(DataFrame(1, b"x") if late == "data" else c.headers(1, path="/metrics"))
    assert_connection_error(c, STREAM_CLOSED, last_stream_id=1)
    c.close()


@pytest.mark.parametrize("mode", MODES)
def test_new_stream_id_lower_than_used_is_protocol_error(srv, mode):
    c = raw_h2(srv, mode)
    c.handshake()
    c.send(c.headers(5, path="/metrics"))
    status, _ = c.response(5)
    assert status == 200
    c.send(c.headers(3, path="/metrics"))  # 3 was skipped when 5 opened: never used
    assert_connection_error(c, PROTOCOL_ERROR, last_stream_id=5)
    c.close()


@pytest.mark.parametrize("mode", MODES)
def test_legal_sequence_still_served(srv, mode):
    # Control for the cases above: the same client, legal frames, gets answers.
    c = raw_h2(srv, mode)
    c.handshake()
    for sid in (1, 3, 7):
        c.send(c.headers(sid, path="/metrics"))
        status, body = c.response(sid)
        assert status == 200 and body, sid
    c.close()
