"""Start-up and command-line behaviour of the real binaries: every error is one clear line on
stderr and exit status 2 (never an uncaught exception), --help shows types and defaults, a
config file's problems are all reported, in line order; echo-tcp and echo-udp have their own
help, and echo-udp takes datagrams up to 65,507 bytes."""
import os
import socket
import subprocess
import tempfile

import pytest

from conftest import BIN_DIR, server

SY = os.path.join(BIN_DIR, "switchyard")


def run(*args, binary=SY, timeout=10):
    p = subprocess.run([binary, "--listen", "127.0.0.1:0", *args], capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def tmp():
    with tempfile.TemporaryDirectory(prefix="sy-cli-") as d:
        yield d


def test_static_missing_directory(tmp):
    code, _, err = run("--static", os.path.join(tmp, "nope"))
    assert code == 2, err
    assert err == f"switchyard: static_dir: {tmp}/nope: no such directory\n"


def test_static_names_a_file(tmp):
    f = os.path.join(tmp, "file")
    open(f, "w").close()
    code, _, err = run("--static", f)
    assert code == 2, err
    assert err == f"switchyard: static_dir: {f}: not a directory\n"


def test_amqp_store_dir_is_a_file(tmp):
    # The store opens on the broker loop's thread: it used to throw there and abort (134)
    # after the listeners were announced.
    f = os.path.join(tmp, "file")
    open(f, "w").close()
    code, out, err = run("--amqp-listen", "127.0.0.1:0", "--amqp-store-dir", f)
    assert code == 2, err
    assert err == f"switchyard: amqp.store_dir: {f}: not a directory\n"
    assert "listening" not in out


@pytest.mark.parametrize("args,message", [
    (["--listen", "nope"], "switchyard: listen: cannot parse address 'nope'\n"),
    (["--log-level", "loud"],
     "switchyard: --log-level: unknown value 'loud' (debug,info,warn,error,off)\n"),
    (["--amqp-fsync", "sometimes"],
     "switchyard: --amqp-fsync: unknown value 'sometimes' (always,batch,never)\n"),
    (["--workers", "many"],
     "switchyard: --workers: expected a non-negative integer, got 'many'\n"),
    (["--tls-listen", "127.0.0.1:0"], "switchyard: tls: a certificate and a key are required\n"),
    (["--tls-listen", "127.0.0.1:0", "--tls-cert", "/nonexistent.crt", "--tls-key", "/x.key"],
     "switchyard: tls: certificate /nonexistent.crt: No such file or directory\n"),
    (["--hub-jobs-queue", "amq.jobs"],
     "switchyard: hub.jobs_queue: 'amq.jobs' is not a usable queue name (non-empty, not amq.*, "
     "at most 247 bytes)\n"),
    (["--config", "/nonexistent/sy.toml"],
     "switchyard: /nonexistent/sy.toml: cannot open config file\n"),
])
def test_start_up_errors_are_one_line_and_exit_2(args, message):
    code, _, err = run(*args)
    assert code == 2, err
    assert err == message


def test_unknown_flag_exits_2_with_a_suggestion():
    code, _, err = run("--listn", "127.0.0.1:0")
    assert code == 2, err
    assert err == "switchyard: unknown flag '--listn' (did you mean --listen?)\n"
    code, _, err = run("--max-header-byte", "10")
    assert code == 2
    assert err == ("switchyard: unknown flag '--max-header-byte' "
                   "(did you mean --max-header-bytes?)\n")
    code, _, err = run("--frobnicate")
    assert code == 2
    assert err == "switchyard: unknown flag '--frobnicate'\n"  # nothing close: no guess


def test_help_shows_types_and_defaults():
    p = subprocess.run([SY, "--help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0
    lines = {l.split()[0]: l for l in p.stdout.splitlines() if l.strip().startswith("--")}
    assert "TEXT" not in p.stdout
    assert " integer " in lines["--workers"] and "(default: 0)" in lines["--workers"]
    assert " bool " in lines["--pin"] and "(default: false)" in lines["--pin"]
    assert " string " in lines["--log-level"] and '(default: "info")' in lines["--log-level"]
    assert " list " in lines["--listen"] and '(default: ["127.0.0.1:8080"])' in lines["--listen"]
    assert " model " in lines["--model"] and '(default: "reuseport")' in lines["--model"]
    assert "(default: 32768)" in lines["--max-header-bytes"]


def test_help_config_shows_types_and_defaults():
    p = subprocess.run([SY, "--help-config"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0
    rows = {l.split()[0]: l.split() for l in p.stdout.splitlines()[1:]}
    assert rows["workers"][1:4] == ["--workers", "integer", "0"]
    assert rows["ws.deflate"][1:4] == ["--ws-deflate", "bool", "true"]
    assert rows["hub.slow_policy"][1:4] == ["--hub-slow-policy", "string", '"drop-oldest"']
    assert rows["amqp.vhosts"][1:4] == ["--amqp-vhosts", "list", '["/"]']
    assert rows["model"][1:4] == ["--model", "model", '"reuseport"']


def test_config_file_reports_every_error_in_line_order(tmp):
    path = os.path.join(tmp, "bad.toml")
    with open(path, "w") as f:
        f.write('workers = "two"\n'          # 1: wrong type
                'log_level = "info"\n'        # 2: fine
                '[limits]\n'                  # 3
                'max_bdy = 10\n'              # 4: unknown key, close to max_body
                'idle_timeout_ms = -1\n'      # 5: negative
                '[nope]\n'                    # 6: unknown section
                'x = 1\n'
                '[hub]\n'
                'slow_policy = "wait"\n')     # 9: not a choice
    code, _, err = run("--config", path)
    assert code == 2, err
    assert err.splitlines() == [
        f"switchyard: {path}:1: workers: expected a non-negative integer, got 'two'",
        f"switchyard: {path}:4: unknown key 'limits.max_bdy' (did you mean limits.max_body?)",
        f"switchyard: {path}:5: limits.idle_timeout_ms: must not be negative",
        f"switchyard: {path}:6: unknown section [nope]",
        f"switchyard: {path}:9: hub.slow_policy: unknown value 'wait' "
        "(drop-oldest,disconnect,block-publisher)",
    ]


def test_tls_certificate_without_tls_listen_warns():
    s = server(["--listen", "127.0.0.1:0", "--workers", "1", "--tls-cert", "/x.crt",
                "--tls-key", "/x.key"])
    try:
        assert "tls.cert/tls.key/tls.sni are set but tls.listen is empty" in s.stderr()
    finally:
        s.close()
    s = server(["--listen", "127.0.0.1:0", "--workers", "1"])
    try:
        assert "tls.listen" not in s.stderr()
    finally:
        s.close()


@pytest.mark.parametrize("binary,intro,offered,absent", [
    ("echo-tcp", "echo-tcp: a TCP echo server", ["--listen", "--model", "--output-high-water"],
     ["--static", "--tls-listen", "--amqp-listen", "--hub-history-count", "--max-body"]),
    # echo-udp runs on the runtime's datagram endpoints, so it has every execution model.
    ("echo-udp", "echo-udp: a UDP echo server",
     ["--listen", "--workers", "--model", "--max-datagram"],
     ["--static", "--tls-listen", "--amqp-listen", "--max-body"]),
])
def test_examples_describe_themselves(binary, intro, offered, absent):
    p = subprocess.run([os.path.join(BIN_DIR, binary), "--help"], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 0
    assert p.stdout.startswith(intro), p.stdout
    assert "Usage: " + binary in p.stdout
    flags = {l.split()[0] for l in p.stdout.splitlines() if l.strip().startswith("--")}
    for f in offered:
        assert f in flags, (f, p.stdout)
    for f in absent:
        assert f not in flags, (f, p.stdout)
    assert "HTTP" not in p.stdout  # the server's help, not the example's
    code, _, err = run("--static", "x", binary=os.path.join(BIN_DIR, binary))
    assert code == 2 and err == f"{binary}: unknown flag '--static'\n"


def udp_echo(args, payload):
    """Starts echo-udp, sends one datagram, returns (reply length, exit summary line)."""
    s = server(["--listen", "127.0.0.1:0", "--workers", "1", *args], binary="echo-udp",
               need=("udp",))
    try:
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.settimeout(5)
        c.sendto(payload, ("127.0.0.1", s.ports["udp"]))
        reply, _ = c.recvfrom(70000)
        c.close()
        assert s.terminate() == 0
        return reply, s.stderr().strip().splitlines()[-1]
    finally:
        s.close()


def test_echo_udp_takes_a_60000_byte_datagram_whole():
    payload = bytes(range(256)) * 234 + b"x" * 96  # 60000 bytes
    reply, summary = udp_echo([], payload)
    assert reply == payload
    assert "1 datagrams in" in summary and "0 truncated to 65507 bytes" in summary, summary


def test_echo_udp_counts_truncated_datagrams():
    reply, summary = udp_echo(["--max-datagram", "1000"], b"y" * 5000)
    assert reply == b"y" * 1000
    assert "1 truncated to 1000 bytes" in summary, summary
    code, _, err = run("--max-datagram", "0", binary=os.path.join(BIN_DIR, "echo-udp"))
    assert code == 2 and err == "echo-udp: --max-datagram: must be between 1 and 65535, got 0\n"
