"""examples/jobs-amqp (amqplib publisher + consumer) against the switchyard binary: every job is
done exactly once and acknowledged, with one worker and with two workers sharing the queue.
The scripts run unchanged from a temp dir whose node_modules is tests/browser/node_modules
(ESM resolves bare imports from the script's directory, not from NODE_PATH)."""
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile

import pika
import pytest

from conftest import ROOT, server

EXAMPLE = os.path.join(ROOT, "examples", "jobs-amqp")
NODE_MODULES = os.path.join(ROOT, "tests", "browser", "node_modules")
JOB = re.compile(r"worker (\S+): job (\d+) -> (\d+)")


def divisor_sum(n):
    return sum(d for d in range(1, n + 1) if n % d == 0)


@pytest.fixture(scope="module")
def workdir():
    if shutil.which("node") is None or not os.path.isdir(os.path.join(NODE_MODULES, "amqplib")):
        pytest.skip("node or amqplib (tests/browser: npm ci) missing")
    d = tempfile.mkdtemp(prefix="sy-jobs-amqp-")
    for f in ("publisher.mjs", "consumer.mjs", "package.json"):
        shutil.copy(os.path.join(EXAMPLE, f), d)
    os.symlink(NODE_MODULES, os.path.join(d, "node_modules"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def broker():
    s = server(["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:0"], need=("http", "amqp"))
    yield s
    s.close()


def run_jobs(workdir, port, workers, jobs):
    env = dict(os.environ, AMQP_URL=f"amqp://guest:guest@127.0.0.1:{port}")
    share = jobs // workers
    consumers = []
    for i in range(workers):
        consumers.append(subprocess.Popen(
            ["node", "consumer.mjs", "--max", str(share)], cwd=workdir, text=True,
            env=dict(env, WORKER=f"w{i}"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    try:
        for c in consumers:  # each declares the queue and prints once it consumes
            assert "waiting for jobs" in c.stdout.readline()
        pub = subprocess.run(["node", "publisher.mjs", str(jobs)], cwd=workdir, env=env,
                             capture_output=True, text=True, timeout=30)
        assert pub.returncode == 0, pub.stdout + pub.stderr
        assert f"published {jobs} jobs" in pub.stdout
        outs = [c.communicate(timeout=30)[0] for c in consumers]
        assert all(c.returncode == 0 for c in consumers), outs
    finally:
        for c in consumers:
            if c.poll() is None:
                c.kill()
                c.wait()
    done = [m for out in outs for m in JOB.findall(out)]
    return done


def queue_depth(port):
    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
    try:
        ok = conn.channel().queue_declare("jobs", durable=True, passive=True)
        return ok.method.message_count
    finally:
        conn.close()


def test_one_worker_does_every_job_once(workdir, broker):
    done = run_jobs(workdir, broker.ports["amqp"], workers=1, jobs=20)
    assert sorted(int(n) for _, n, _ in done) == list(range(1, 21))
    assert all(int(r) == divisor_sum(int(n)) for _, n, r in done)
    assert queue_depth(broker.ports["amqp"]) == 0


def test_two_workers_share_the_queue(workdir, broker):
    done = run_jobs(workdir, broker.ports["amqp"], workers=2, jobs=40)
    assert sorted(int(n) for _, n, _ in done) == list(range(1, 41))
    per_worker = {w: sum(1 for x, _, _ in done if x == w) for w in ("w0", "w1")}
    assert per_worker == {"w0": 20, "w1": 20}
    assert queue_depth(broker.ports["amqp"]) == 0


def test_the_course_worker_does_http_jobs(workdir, broker):
    """The same consumer.mjs works jobs submitted with POST /jobs (the jobs API is backed by the
    queue "jobs") and returns results through reply-to; the HTTP side sees them done."""
    ids = []
    for n in (6, 28):
        c = http.client.HTTPConnection("127.0.0.1", broker.port, timeout=10)
        c.request("POST", "/jobs", body=json.dumps({"number": n}),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        assert r.status == 201
        ids.append((n, json.loads(r.read())["id"]))
        c.close()
    env = dict(os.environ, AMQP_URL=f"amqp://guest:guest@127.0.0.1:{broker.ports['amqp']}",
               WORKER="w")
    out = subprocess.run(["node", "consumer.mjs", "--max", "2"], cwd=workdir, env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    for n, jid in ids:
        c = http.client.HTTPConnection("127.0.0.1", broker.port, timeout=10)
        c.request("GET", f"/jobs/{jid}")
        j = json.loads(c.getresponse().read())
        c.close()
        assert j["status"] == "done" and j["result"] == divisor_sum(n)
