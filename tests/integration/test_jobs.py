"""Jobs end to end: submit, a worker takes it by long poll and vanishes, the job goes back to
the queue after the visibility timeout and another worker finishes it; clients watch by short
poll, long poll (version), SSE and WebSocket (topic jobs.{id})."""
import asyncio
import json
import threading
import time

import websockets

from conftest import curl, http_json as call, server
from pushlib import sse


def test_job_lifecycle_with_a_vanishing_worker():
    s = server(["--listen", "127.0.0.1:0", "--model", "reuseport", "--workers", "2",
                "--hub-job-visibility-timeout-ms", "800"])
    try:
        st, body = call(s.port, "POST", "/jobs", b'{"n": 42}')
        assert st == 201
        jid = body["id"]
        stream = sse(s.port, f"/jobs/{jid}/events")
        assert json.loads(stream.events(1)[0]["data"])["status"] == "queued"

        async def ws_watch(out):
            async with websockets.connect(f"ws://127.0.0.1:{s.port}/sub/jobs.{jid}") as w:
                out["ready"] = True
                while True:
                    j = json.loads(await asyncio.wait_for(w.recv(), 10))
                    out.setdefault("seen", []).append(j["status"])
                    if j["status"] == "done":
                        return

        ws_out = {}
        wt = threading.Thread(target=lambda: asyncio.run(ws_watch(ws_out)))
        wt.start()
        while "ready" not in ws_out:
            time.sleep(0.01)

        # Worker A takes it and vanishes (never PUTs).
        st, a = call(s.port, "GET", "/jobs/next?timeout=5")
        assert st == 200 and a["id"] == jid and a["payload"] == {"n": 42} and a["attempt"] == 1
        st, j = call(s.port, "GET", f"/jobs/{jid}")
        assert j["status"] == "running"
        version = j["version"]
        # Long poll on the version: answered when the job changes (requeued after 800 ms).
        t0 = time.time()
        st, j = call(s.port, "GET", f"/jobs/{jid}?wait=10&version={version}")
        assert st == 200 and j["status"] == "queued" and j["version"] > version
        assert 0.5 < time.time() - t0 < 5
        # Worker B gets the same job again, reports progress, then the result.
        st, b = call(s.port, "GET", "/jobs/next?timeout=5")
        assert st == 200 and b["id"] == jid and b["attempt"] == 2
        st, j = call(s.port, "PUT", f"/jobs/{jid}", json.dumps({"progress": 50}).encode())
        assert st == 200 and j["progress"] == 50 and j["status"] == "running"
        # Worker A's stale lease is refused.
        st, _ = call(s.port, "PUT", f"/jobs/{jid}",
                     json.dumps({"lease": a["lease"], "progress": 1}).encode())
        assert st == 409
        st, j = call(s.port, "PUT", f"/jobs/{jid}",
                     json.dumps({"status": "done", "result": {"answer": 84}}).encode())
        assert st == 200 and j["status"] == "done" and j["result"] == {"answer": 84}
        # Short poll sees the final state; the SSE stream and the WebSocket saw every step.
        st, j = call(s.port, "GET", f"/jobs/{jid}")
        assert j["status"] == "done" and j["progress"] == 100 and j["attempts"] == 2
        statuses = [json.loads(e["data"])["status"] for e in stream.events(6)]
        assert statuses[-1] == "done" and "running" in statuses and "queued" in statuses
        wt.join(10)
        assert ws_out["seen"][-1] == "done" and "queued" in ws_out["seen"]
        stream.close()
        # No job waiting: 204 after the timeout; unknown job: 404; long poll timeout: 304.
        st, _ = call(s.port, "GET", "/jobs/next?timeout=1")
        assert st == 204
        assert call(s.port, "GET", "/jobs/999999")[0] == 404
        st, _ = call(s.port, "GET", f"/jobs/{jid}?wait=1&version={j['version']}")
        assert st == 304
    finally:
        s.close()


def test_waiting_worker_gets_the_next_job():
    s = server(["--listen", "127.0.0.1:0", "--model", "single"])
    try:
        out = {}
        t = threading.Thread(target=lambda: out.update(r=call(s.port, "GET", "/jobs/next?timeout=10")))
        t.start()
        time.sleep(0.3)
        st, body = call(s.port, "POST", "/jobs", b"plain text", ctype="text/plain")
        t.join(10)
        assert out["r"][0] == 200 and out["r"][1]["id"] == body["id"]
        assert out["r"][1]["payload"] == "plain text"
    finally:
        s.close()


def test_job_events_over_http2_cleartext_and_tls(tmp_path):
    """GET /jobs/{id}/events is the same event stream on every HTTP version (it answered 505
    over HTTP/2): curl with prior-knowledge h2c and with h2 over TLS (ALPN) sees the job's
    current state as the first event."""
    import subprocess
    from conftest import make_cert
    cert, key = make_cert(str(tmp_path), "localhost")
    s = server(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--tls-cert", cert,
                "--tls-key", key], need=("http", "https"))
    try:
        st, body = call(s.port, "POST", "/jobs", b'{"n": 7}')
        assert st == 201
        jid = body["id"]
        for url, extra in ((f"http://127.0.0.1:{s.port}", ["--http2-prior-knowledge"]),
                           (f"https://localhost:{s.ports['https']}",
                            ["--http2", "--cacert", cert, "--resolve",
                             f"localhost:{s.ports['https']}:127.0.0.1"])):
            # The stream does not end by itself: curl stops at --max-time; what it printed
            # (with -i: the head) is what the test reads.
            p = subprocess.run(["curl", "-sS", "-i", "-N", "--max-time", "2", *extra,
                                "-H", "Accept: text/event-stream", f"{url}/jobs/{jid}/events"],
                               capture_output=True, timeout=10)
            out = p.stdout.decode(errors="replace")
            assert out.startswith("HTTP/2 200"), (url, out[:300], p.stderr)
            assert "content-type: text/event-stream" in out.lower(), out[:300]
            data = [ln[len("data: "):] for ln in out.splitlines() if ln.startswith("data: ")]
            assert data and json.loads(data[0])["status"] == "queued", out[:500]
    finally:
        s.close()


def test_jobs_families_in_the_metrics_registry():
    """sy_jobs_* come from the runtime's metrics registry: the same figures in Prometheus text
    and in /metrics?format=json, counted once per event (a redelivery counts as taken and
    reassigned), whatever loop the handlers ran on."""
    s = server(["--listen", "127.0.0.1:0", "--model", "reuseport", "--workers", "2",
                "--hub-job-visibility-timeout-ms", "300"])
    try:
        ids = [call(s.port, "POST", "/jobs", b'{"n": %d}' % i)[1]["id"] for i in range(3)]
        st, a = call(s.port, "GET", "/jobs/next?timeout=5")  # taken, then silent: reassigned
        assert st == 200
        st, j = call(s.port, "GET", f"/jobs/{a['id']}?wait=5&version={j_version(s, a['id'])}")
        assert j["status"] == "queued"
        outcomes = {}
        for status in ("done", "failed", "done"):
            st, w = call(s.port, "GET", "/jobs/next?timeout=5")
            assert st == 200
            st, _ = call(s.port, "PUT", f"/jobs/{w['id']}",
                         json.dumps({"status": status, "lease": w["lease"]}).encode())
            assert st == 200
            outcomes[w["id"]] = status
        assert sorted(outcomes) == sorted(ids)
        want = {"sy_jobs_submitted_total": 3, "sy_jobs_taken_total": 4,
                "sy_jobs_completed_total": 2, "sy_jobs_failed_total": 1,
                "sy_jobs_reassigned_total": 1}
        rc, text, err = curl(f"{s.url}/metrics")
        assert rc == 0, err
        lines = text.decode().splitlines()
        for name, v in want.items():
            assert f"# TYPE {name} counter" in lines
            assert f"{name} {v}" in lines, (name, [x for x in lines if "sy_jobs" in x])
        st, doc = call(s.port, "GET", "/metrics?format=json")
        assert st == 200
        for name, v in want.items():
            fam = doc[name]
            assert fam["type"] == "counter" and fam["help"]
            assert [x["value"] for x in fam["samples"]] == [v], (name, fam)
    finally:
        s.close()


def j_version(s, jid):
    return call(s.port, "GET", f"/jobs/{jid}")[1]["version"]
