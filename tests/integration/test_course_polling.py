"""The course's short-polling and long-polling demos on switchyard (examples/course): the curl
steps the course implies, against http://localhost:8080 as the course's clients use it, in a
private network namespace (course_net.py). The job advances 10 % per step on the server's timer
(--step-ms, the course's 3 s / 10 s by default)."""
import re
import threading
import time

from conftest import server
from course_net import ns  # noqa: F401 (fixture)

SUBMIT = re.compile(r"\n\n(job:\d+)\n\n")
BASE = "http://localhost:8080"


def submit(ns):
    rc, out, err = ns.curl("-X", "POST", f"{BASE}/submit")
    assert rc == 0, err
    m = SUBMIT.fullmatch(out)
    assert m, repr(out)
    return m.group(1)


def status(ns, job):
    rc, out, err = ns.curl("-w", "\n%{http_code}", f"{BASE}/checkstatus?jobId={job}")
    assert rc == 0, err
    body, code = out.rsplit("\n", 1)
    return int(code), body


def test_short_polling_course_steps(ns):
    s = server(["--workers", "2", "--step-ms", "400"], binary="course-short-polling",
               wrap=ns.cmd())
    try:
        jobs = [submit(ns), submit(ns)]
        assert jobs[0] != jobs[1]  # unique even within one millisecond
        seen = {j: [] for j in jobs}
        t0 = time.time()
        while time.time() - t0 < 12 and not all(v and v[-1] == 100 for v in seen.values()):
            for j in jobs:
                code, body = status(ns, j)
                assert code == 200
                m = re.fullmatch(r"\n\nJobStatus: (\d+)%\n\n", body)
                assert m, repr(body)
                seen[j].append(int(m.group(1)))
            time.sleep(0.08)
        took = time.time() - t0
        for j, v in seen.items():
            # The first poll may come a step late under load (0 % itself: the next test).
            assert v[0] <= 20 and v[-1] == 100, (j, v)
            assert v == sorted(v) and all(p % 10 == 0 for p in v), v
            assert len(set(v)) >= 6, v  # polled faster than it moves: most steps seen
        assert 3.0 < took < 12, took  # 10 steps of 400 ms
        assert status(ns, jobs[0]) == (200, "\n\nJobStatus: 100%\n\n")  # stays done
        assert status(ns, "job:1")[0] == 404
        assert status(ns, "nonsense")[0] == 404
    finally:
        s.close()


def test_short_polling_keeps_the_course_pace_by_default(ns):
    s = server(["--workers", "1"], binary="course-short-polling", wrap=ns.cmd())
    try:
        job = submit(ns)
        assert status(ns, job) == (200, "\n\nJobStatus: 0%\n\n")
        time.sleep(1.5)
        assert status(ns, job) == (200, "\n\nJobStatus: 0%\n\n")  # 10 % every 3 s
        time.sleep(2.0)
        assert status(ns, job) == (200, "\n\nJobStatus: 10%\n\n")
    finally:
        s.close()


def test_long_polling_holds_until_complete(ns):
    s = server(["--workers", "2", "--step-ms", "200"], binary="course-long-polling",
               wrap=ns.cmd())
    try:
        jobs = [submit(ns) for _ in range(3)]
        out = {}

        def hold(j):
            t = time.time()
            out[j] = status(ns, j) + (time.time() - t,)

        ts = [threading.Thread(target=hold, args=(j,)) for j in jobs]
        for t in ts:
            t.start()
        for t in ts:
            t.join(20)
        for j in jobs:
            code, body, took = out[j]
            assert (code, body) == (200, "\n\nJobStatus: Complete 100%\n\n")
            assert 1.2 < took < 6, took  # held through the ten 200 ms steps
        t = time.time()
        assert status(ns, jobs[0]) == (200, "\n\nJobStatus: Complete 100%\n\n")
        assert time.time() - t < 1.0  # done: answered at once
        assert status(ns, "job:1")[0] == 404
        # A client that gives up leaves nothing behind that breaks the next ones.
        job = submit(ns)
        rc, _, _ = ns.curl("--max-time", "0.5", f"{BASE}/checkstatus?jobId={job}", timeout=10)
        assert rc == 28  # curl: timed out, the server still holding
        assert status(ns, job) == (200, "\n\nJobStatus: Complete 100%\n\n")
    finally:
        s.close()


def test_long_poll_is_answered_at_shutdown(ns):
    """SIGTERM: a held /checkstatus gets 503 + Retry-After at once (the project's answer for a
    waiting poll), and the server exits without waiting out its shutdown grace."""
    s = server(["--workers", "2"], binary="course-long-polling", wrap=ns.cmd())
    try:
        job = submit(ns)
        out = {}
        t = threading.Thread(target=lambda: out.update(r=ns.curl(
            "-i", f"{BASE}/checkstatus?jobId={job}")))
        t.start()
        time.sleep(1.0)
        assert "r" not in out  # held (the job takes 100 s at the course's pace)
        t0 = time.time()
        assert s.terminate(timeout=8) == 0
        t.join(10)
        rc, head, _ = out["r"]
        assert rc == 0 and head.startswith("HTTP/1.1 503"), head
        assert "Retry-After: 1" in head
        assert time.time() - t0 < 5  # the grace is 10 s
    finally:
        s.close()
