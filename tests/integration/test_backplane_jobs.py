"""The jobs API across nodes (docs/jobs.md, "Across nodes"): with backplane.url set, jobs live
on a Redis stream with a consumer group, so a job submitted on one node is taken, reported and
read on any node; a worker that goes silent loses its claim after the visibility timeout and
the job is taken again (attempt + 1), never handed out twice in the same attempt."""
import http.client
import json
import random
import threading
import time

import pytest

from conftest import http_json as call
from test_backplane import nodes_on_redis, wait_for


JOB_FLAGS = ("--hub-job-visibility-timeout-ms", "1000")


@pytest.fixture
def cluster():
    with nodes_on_redis(JOB_FLAGS, JOB_FLAGS, JOB_FLAGS) as c:
        yield c


def test_submit_on_a_take_and_complete_on_b_status_on_c(cluster):
    r, (a, b, c) = cluster
    st, sub = call(a.port, "POST", "/jobs", b'{"n": 7}')
    assert st == 201 and sub["version"] == 1
    jid = sub["id"]
    st, j = call(c.port, "GET", f"/jobs/{jid}")
    assert st == 200 and j["status"] == "queued" and j["attempts"] == 0
    st, offer = call(b.port, "GET", "/jobs/next?timeout=5")
    assert st == 200 and offer["id"] == jid and offer["payload"] == {"n": 7}
    assert offer["attempt"] == 1
    st, j = call(c.port, "GET", f"/jobs/{jid}")
    assert j["status"] == "running" and j["attempts"] == 1
    version = j["version"]
    # A long poll on C is answered by a report made on B.
    out = {}
    t = threading.Thread(target=lambda: out.update(
        r=call(c.port, "GET", f"/jobs/{jid}?wait=10&version={version}")))
    t.start()
    time.sleep(0.3)
    st, j = call(b.port, "PUT", f"/jobs/{jid}",
                 json.dumps({"lease": offer["lease"], "progress": 40}).encode())
    assert st == 200 and j["progress"] == 40 and j["status"] == "running"
    t.join(10)
    st, j = out["r"]
    assert st == 200 and j["progress"] == 40 and j["version"] > version
    # A wrong lease is refused on any node; the right one completes on B.
    st, _ = call(a.port, "PUT", f"/jobs/{jid}",
                 json.dumps({"lease": offer["lease"] + 1, "status": "done"}).encode())
    assert st == 409
    st, j = call(b.port, "PUT", f"/jobs/{jid}", json.dumps(
        {"lease": offer["lease"], "status": "done", "result": {"sum": 14}}).encode())
    assert st == 200 and j["status"] == "done"
    st, j = call(c.port, "GET", f"/jobs/{jid}")
    assert st == 200 and j["status"] == "done" and j["result"] == {"sum": 14}
    assert j["progress"] == 100
    st, j = call(a.port, "PUT", f"/jobs/{jid}", b'{"progress": 1}')
    assert st == 409 and j["job"]["status"] == "done"
    assert call(c.port, "GET", "/jobs/999999")[0] == 404
    assert call(a.port, "GET", "/jobs/next?timeout=1")[0] == 204
    assert r.cli("XLEN", "sy:j:jobs:s").strip() == "0"  # acked entries are deleted


def test_a_silent_worker_loses_its_claim_to_another_node(cluster):
    r, (a, b, c) = cluster
    jid = call(a.port, "POST", "/jobs", b'"x"')[1]["id"]
    st, first = call(b.port, "GET", "/jobs/next?timeout=5")
    assert st == 200 and first["attempt"] == 1
    # B's worker goes silent: after the visibility timeout (1 s) C takes it, attempt 2.
    t0 = time.time()
    st, second = call(c.port, "GET", "/jobs/next?timeout=10")
    assert st == 200 and second["id"] == jid and second["attempt"] == 2
    assert 0.8 < time.time() - t0 < 5
    st, _ = call(b.port, "PUT", f"/jobs/{jid}",
                 json.dumps({"lease": first["lease"], "status": "done"}).encode())
    assert st == 409  # the lost claim
    st, j = call(c.port, "PUT", f"/jobs/{jid}",
                 json.dumps({"lease": second["lease"], "status": "done"}).encode())
    assert st == 200 and j["status"] == "done" and j["attempts"] == 2


def test_dead_letter_after_the_maximum_attempts():
    flags = JOB_FLAGS + ("--hub-jobs-max-attempts", "2")
    with nodes_on_redis(flags, flags) as (r, nodes):
        a, b = nodes
        jid = call(a.port, "POST", "/jobs", b'"poison"')[1]["id"]
        assert call(a.port, "GET", "/jobs/next?timeout=5")[1]["attempt"] == 1
        assert call(b.port, "GET", "/jobs/next?timeout=5")[1]["attempt"] == 2
        # Nobody settles it: the third delivery is not made, the job fails.
        assert call(a.port, "GET", "/jobs/next?timeout=3")[0] == 204
        st, j = call(b.port, "GET", f"/jobs/{jid}")
        assert j["status"] == "failed" and "dead-lettered" in j["reason"]
        assert r.cli("XLEN", "sy:j:jobs:dead").strip() == "1"


class worker(threading.Thread):
    """An HTTP worker on one node. A crashing one takes a job and vanishes (its connection
    closed, never a report), like a killed process."""

    def __init__(self, port, log, stop, crash_after=None):
        super().__init__(daemon=True)
        self.port, self.log, self.stop, self.crash_after = port, log, stop, crash_after

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        done = 0
        while not self.stop.is_set():
            conn.request("GET", "/jobs/next?timeout=2")
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                continue
            offer = json.loads(body)
            with self.log["lock"]:
                self.log["offers"].append((offer["id"], offer["attempt"]))
            if self.crash_after is not None and done >= self.crash_after:
                conn.close()  # killed mid-job
                with self.log["lock"]:
                    self.log["crashed"].append((offer["id"], offer["attempt"]))
                return
            report = {"lease": offer["lease"], "status": "done",
                      "result": offer["payload"]["n"] * 2}
            conn.request("PUT", f"/jobs/{offer['id']}", json.dumps(report).encode())
            resp = conn.getresponse()
            resp.read()
            if resp.status == 200:
                done += 1
                with self.log["lock"]:
                    self.log["done"].append((offer["id"], offer["attempt"]))


def test_thousand_jobs_three_nodes_workers_killed_mid_job(cluster):
    r, nodes = cluster
    log = {"lock": threading.Lock(), "offers": [], "done": [], "crashed": []}
    stop = threading.Event()
    workers = [worker(n.port, log, stop) for n in nodes for _ in range(3)]
    # Two crashing workers per node: each finishes a few jobs, then dies holding one.
    workers += [worker(n.port, log, stop, crash_after=random.randint(0, 5))
                for n in nodes for _ in range(2)]
    t0 = time.time()
    for w in workers:
        w.start()
    ids = {}
    conns = [http.client.HTTPConnection("127.0.0.1", n.port, timeout=10) for n in nodes]
    for i in range(1000):
        c = conns[i % 3]
        c.request("POST", "/jobs", json.dumps({"n": i}).encode(),
                  {"Content-Type": "application/json"})
        resp = c.getresponse()
        assert resp.status == 201
        ids[json.loads(resp.read())["id"]] = i
    for c in conns:
        c.close()
    try:
        wait_for(lambda: len({d[0] for d in log["done"]}) == 1000, timeout=60,
                 what="every job done")
    finally:
        stop.set()
    elapsed = time.time() - t0
    for w in workers:  # each ends within its 2 s poll
        w.join(10)
    assert elapsed < 60
    done_ids = [d[0] for d in log["done"]]
    assert sorted(done_ids) == sorted(ids)  # every job done, each once
    assert len(set(log["offers"])) == len(log["offers"])  # no attempt handed out twice
    crashed = log["crashed"]
    assert len(crashed) == 6  # the killed workers' jobs
    redone = {d[0]: d[1] for d in log["done"]}
    assert all(redone[jid] >= 2 for jid, _ in crashed)  # taken again after the timeout
    for n in nodes:  # results in Redis, readable on every node
        jid = random.choice(list(ids))
        st, j = call(n.port, "GET", f"/jobs/{jid}")
        assert st == 200 and j["status"] == "done" and j["result"] == ids[jid] * 2
    print(f"1000 jobs, 3 nodes, 15 workers (6 killed): {elapsed:.1f} s")
