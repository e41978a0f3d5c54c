"""The kernel's side made visible: with accepting stalled, connections pile up in the accept
queue and /metrics shows it; past the backlog the kernel drops handshakes (ListenOverflows)."""
import re
import socket
import time

import pytest

from conftest import MODELS, recv_until, server


def metric(text, name, labels=""):
    m = re.search(re.escape(name) + (re.escape(labels) if labels else r"(\{[^}]*\})?") + r" (\d+)", text)
    return int(m.group(m.lastindex)) if m else None


def scrape(sock):
    sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    data = recv_until(sock, b"sy_pool_rejected_total")
    data += recv_until(sock, b"\n", timeout=2) if not data.endswith(b"\n") else b""
    return data.decode()


@pytest.mark.parametrize("model", MODELS)
def test_accept_queue_fills_while_stalled(model):
    backlog = 16
    srv = server(["--listen", "127.0.0.1:0", "--model", model, "--workers", "1", "--backlog",
                  str(backlog), "--debug-stall"])
    try:
        keep = srv.connect()  # accepted before the stall: used to scrape during it
        keep.sendall(b"POST /debug/stall?ms=3000 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        assert b"accepting paused" in recv_until(keep, b"ms\n")
        before = scrape(keep)
        overflows_before = metric(before, "sy_host_listen_overflows_total")
        waiting = []
        for _ in range(backlog + 20):  # more than the queue holds
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", srv.port))
            waiting.append(s)
        time.sleep(0.5)
        during = scrape(keep)
        depth = metric(during, "sy_listener_accept_queue_depth")
        limit = metric(during, "sy_listener_accept_queue_limit")
        assert limit == backlog, during
        assert depth is not None and depth >= backlog - 1, during
        overflows = metric(during, "sy_host_listen_overflows_total")
        assert overflows > overflows_before, (overflows_before, overflows)
        time.sleep(3.0)  # the stall ends; the loop drains the queue
        after = scrape(keep)
        assert metric(after, "sy_listener_accept_queue_depth") < depth
        for s in waiting:
            s.close()
    finally:
        srv.close()
