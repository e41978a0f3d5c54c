"""The backend course's clients (../shared/course, run unchanged) connect to fixed addresses:
localhost:8080, amqp://localhost:5672, localhost:40000. To run them unchanged without taking
those ports on the host (other tests, other servers), a test runs the server and the client in
a private network namespace (unshare -rn: its own loopback, where every port is free): `netns`
holds one (a sleeping process), and netns.cmd(argv) is argv run inside it (nsenter execs it, so
a server started that way is stopped by its own PID)."""
import ctypes
import os
import shutil
import signal
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COURSE = os.environ.get("SY_COURSE_DIR", os.path.join(os.path.dirname(ROOT), "shared", "course"))
if not os.path.isdir(COURSE):
    COURSE = "/work/shared/course"
# Node modules the course's clients require, at the versions they pin (tests/course/package.json)
# and the current amqplib (tests/browser/package.json).
COURSE_NODE_MODULES = os.path.join(ROOT, "tests", "course", "node_modules")
BROWSER_NODE_MODULES = os.path.join(ROOT, "tests", "browser", "node_modules")


def course_file(*parts):
    p = os.path.join(COURSE, *parts)
    if not os.path.exists(p):
        pytest.skip(f"the course's code is not beside the project ({p})")
    return p


def _die_with_parent():
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class netns:
    def __init__(self):
        if not (shutil.which("unshare") and shutil.which("nsenter") and shutil.which("ip")):
            pytest.skip("unshare/nsenter/ip missing: no private network namespace")
        # The holder dies with the test process even when that is killed (PR_SET_PDEATHSIG
        # survives the execs of unshare, sh and sleep).
        self.holder = subprocess.Popen(
            ["unshare", "-rn", "sh", "-c", "ip link set lo up && echo up && exec sleep 3600"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            preexec_fn=_die_with_parent)
        if self.holder.stdout.readline().strip() != b"up":
            err = self.holder.stderr.read().decode(errors="replace")
            self.close()
            pytest.skip(f"no private network namespace (unshare -rn): {err}")

    def cmd(self, argv=()):
        return ["nsenter", "-t", str(self.holder.pid), "-U", "-n", "--preserve-credentials",
                "--"] + list(argv)

    def run(self, argv, timeout=60, **kw):
        return subprocess.run(self.cmd(argv), capture_output=True, text=True, timeout=timeout,
                              **kw)

    def curl(self, *args, timeout=30):
        """curl inside the namespace: (returncode, stdout text, stderr text)."""
        p = self.run(["curl", "-sS", "--max-time", str(timeout - 5), *args], timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def close(self):
        if self.holder.poll() is None:
            os.kill(self.holder.pid, signal.SIGKILL)
        self.holder.wait()
        for f in (self.holder.stdout, self.holder.stderr):
            f.close()


@pytest.fixture
def ns():
    n = netns()
    yield n
    n.close()


def node_env(modules):
    """An environment whose NODE_PATH resolves the course's require() calls to `modules`."""
    env = dict(os.environ)
    env["NODE_PATH"] = modules
    return env
