"""The course's raw socket and sync/async demos next to switchyard's examples. The course has no
clients for its TCP/UDP servers, so the test takes the steps a student would (connect, send) with
Python sockets, against the course's own C servers (compiled from ../shared/course unchanged,
run on their fixed ports in a private network namespace) and against echo-tcp / echo-udp on the
same ports: the course's servers serve one client once and exit, switchyard's serve many at once
(figures printed: examples/course/README.md quotes them). node-sync-async runs unchanged; its
server-side lesson is examples/blocking (test_examples.py::test_blocking_stalls_only_on_the_loop).
"""
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import server
from course_net import COURSE, course_file, netns, ns  # noqa: F401 (fixture)

CLIENTS = 100
ROUNDS = 50


def compile_course(tmp_path, demo):
    if not shutil.which("cc"):
        pytest.skip("no C compiler")
    exe = tmp_path / demo
    subprocess.run(["cc", "-w", "-o", str(exe), course_file(demo, "main.c")], check=True)
    return str(exe)


def ns_python(ns, code, timeout=60):
    """Runs a Python client inside the namespace; returns its stdout (asserts it succeeded)."""
    p = ns.run(["/usr/bin/python3", "-c", code], timeout=timeout)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


TCP_CLIENTS = r'''
import socket, sys, threading, time
port, n, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ok, refused, lock = [], [], threading.Lock()
def one(i):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        with lock: refused.append(i)
        return
    s.settimeout(5)
    good = 0
    try:
        for r in range(rounds):
            msg = f"client {i} round {r}\n".encode()
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                c = s.recv(4096)
                if not c: break
                got += c
            good += got == msg
    except OSError:
        pass
    s.close()
    with lock: ok.append(good)
t0 = time.time()
ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
[t.start() for t in ts]; [t.join(30) for t in ts]
print(len(refused), sum(ok), f"{time.time() - t0:.3f}")
'''


def tcp_clients(ns, port, n, rounds):
    out = ns_python(ns, TCP_CLIENTS.replace("sys.argv[1]", str(port))
                    .replace("sys.argv[2]", str(n)).replace("sys.argv[3]", str(rounds)))
    refused, echoed, secs = out.split()
    return int(refused), int(echoed), float(secs)


def test_tcp_course_server_serves_one_client_echo_tcp_many(ns, tmp_path):
    exe = compile_course(tmp_path, "tcpserver-c")
    # stdbuf: its printf lines reach the pipe as they are written, not at exit.
    course = subprocess.Popen(ns.cmd(["stdbuf", "-oL", exe]), stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        assert "Listening" in "".join(course.stdout.readline() for _ in range(3))
        got = ns_python(ns, "import socket; s = socket.create_connection(('127.0.0.1', 8801));"
                            "print(s.recv(100).decode())")
        assert got.strip() == "Hello"
        course.wait(5)  # one client, then the process is gone
        refused, _, _ = tcp_clients(ns, 8801, 5, 1)
        assert refused == 5
    finally:
        if course.poll() is None:
            os.kill(course.pid, signal.SIGKILL)
        course.wait()
        course.stdout.close()
    # A fresh namespace: the course server's side of its one connection sits in TIME_WAIT on
    # port 8801 in the first one.
    ns2 = netns()
    s = server(["--listen", "127.0.0.1:8801", "--workers", "2"], binary="echo-tcp",
               need=("tcp",), wrap=ns2.cmd())
    try:
        refused, echoed, secs = tcp_clients(ns2, 8801, CLIENTS, ROUNDS)
        assert refused == 0 and echoed == CLIENTS * ROUNDS, (refused, echoed)
        print(f"\necho-tcp: {CLIENTS} clients at once x {ROUNDS} round trips: {secs:.2f} s")
    finally:
        s.close()
        ns2.close()


UDP_SENDERS = r'''
import socket, time
n, each, port = 10, 100, 5501
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(n)]
for s in socks: s.bind(("127.0.0.1", 0)); s.settimeout(3)
for i in range(each):
    for k, s in enumerate(socks): s.sendto(f"{k}:{i}".encode(), ("127.0.0.1", port))
back = 0
for s in socks:  # each socket's replies, until all came or 3 s passed without one
    try:
        for _ in range(each): s.recvfrom(2048); back += 1
    except OSError:
        pass
print(n * each, back)
'''


def test_udp_course_server_takes_one_datagram_echo_udp_all(ns, tmp_path):
    exe = compile_course(tmp_path, "udpserver-c")
    course = subprocess.Popen(ns.cmd([exe]), stdout=subprocess.PIPE, start_new_session=True)
    try:
        time.sleep(0.3)  # it prints nothing before its one recvfrom
        ns_python(ns, "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                      "for i in range(10): s.sendto(b'datagram %d' % i, ('127.0.0.1', 5501))")
        course.wait(5)
        # One datagram, the nine others lost (the course's buffer is not NUL-terminated: the
        # bytes after the text are whatever the stack held).
        assert course.stdout.read().startswith(b"got data from datagram 0")
    finally:
        if course.poll() is None:
            os.kill(course.pid, signal.SIGKILL)
        course.wait()
        course.stdout.close()
    s = server(["--listen", "127.0.0.1:5501", "--workers", "2"], binary="echo-udp",
               need=("udp",), wrap=ns.cmd())
    try:
        sent, back = map(int, ns_python(ns, UDP_SENDERS).split())
        assert back == sent, (sent, back)
        assert s.terminate() == 0
        summary = s.stderr().split("echo-udp: ")[-1].split()
        rx, batches = int(summary[0]), int(summary[3].lstrip("("))
        assert rx == sent
        print(f"\necho-udp: {sent} datagrams from 10 senders, all echoed, in {batches} recvmmsg "
              f"calls ({rx / batches:.1f} per call)")
    finally:
        s.close()


def test_node_sync_async_unchanged():
    demo = course_file("node-sync-async")
    sync = subprocess.run(["node", "sync.js"], cwd=demo, capture_output=True, text=True,
                          timeout=20)
    asyn = subprocess.run(["node", "async.js"], cwd=demo, capture_output=True, text=True,
                          timeout=20)
    with open(os.path.join(COURSE, "node-sync-async", "test.txt")) as f:
        text = f.read()
    # sync: the read blocks the only thread, "2" waits for it; async: "2" first, then the file.
    assert sync.stdout.splitlines() == ["1", "file:" + text, "2"], sync.stdout
    assert asyn.stdout.splitlines() == ["1", "2", text], asyn.stdout
