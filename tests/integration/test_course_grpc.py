"""The course's gRPC demo client (../shared/course/grpc-demo/client.js) run unchanged against
examples/grpc-todo on localhost:40000, the address the client names (private network namespace,
course_net.py). Its require("grpc") is @grpc/grpc-js under that name and @grpc/proto-loader is
the 0.5 its package.json pins (tests/course/package.json): the native grpc 1.x package does not
build on current Node. Two clients in turn: the second one's stream replays both todos."""
import os
import subprocess

import pytest

from conftest import server
from course_net import COURSE_NODE_MODULES, course_file, node_env, ns  # noqa: F401 (fixture)


def run_client(ns, text):
    demo = course_file("grpc-demo")
    if not os.path.isdir(os.path.join(COURSE_NODE_MODULES, "grpc")):
        pytest.skip("tests/course: npm ci first")
    try:
        p = subprocess.run(ns.cmd(["node", os.path.join(demo, "client.js"), text]), cwd=demo,
                           env=node_env(COURSE_NODE_MODULES), capture_output=True, text=True,
                           timeout=20)
        return p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:  # the client does not exit by itself on every version
        out = [o.decode() if isinstance(o, bytes) else (o or "") for o in (e.stdout, e.stderr)]
        return "".join(out)


def test_course_grpc_client_against_grpc_todo(ns):
    s = server(["--listen", "127.0.0.1:40000", "--workers", "2"], binary="grpc-todo",
               wrap=ns.cmd())
    try:
        out = run_client(ns, "buy milk")
        assert 'Recieved from server {"id":1,"text":"buy milk"}' in out, out
        assert 'received item from server {"id":1,"text":"buy milk"}' in out, out
        assert "server done!" in out, out
        out = run_client(ns, "walk the dog")
        assert 'Recieved from server {"id":2,"text":"walk the dog"}' in out, out
        items = [line for line in out.splitlines() if line.startswith("received item")]
        assert items == ['received item from server {"id":1,"text":"buy milk"}',
                         'received item from server {"id":2,"text":"walk the dog"}'], out
        assert "server done!" in out, out
    finally:
        s.close()
