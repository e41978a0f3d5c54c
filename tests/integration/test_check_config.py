"""`switchyard --check-config FILE` (as `nginx -t`): everything start-up checks is checked (keys,
values, routes, TLS files, static_dir, amqp.store_dir) without binding a socket; the verdict is
printed on stderr and the exit status is 0 (valid) or 1 (not)."""
import os
import socket
import subprocess
import tempfile

import pytest

from conftest import BIN_DIR, ROOT, make_cert

SY = os.path.join(BIN_DIR, "switchyard")


@pytest.fixture
def tmp():
    with tempfile.TemporaryDirectory(prefix="sy-check-") as d:
        yield d


def check(path, *extra):
    p = subprocess.run([SY, "--check-config", path, *extra], capture_output=True, text=True,
                       timeout=20)
    return p.returncode, p.stdout, p.stderr


def write(d, text, name="switchyard.toml"):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_the_shipped_config_is_valid():
    path = os.path.join(ROOT, "config", "switchyard.toml")
    code, out, err = check(path)
    assert code == 0, err
    assert err.endswith(f"switchyard: configuration file {path} test is successful\n"), err
    assert "listening" not in out


def test_a_good_file_binds_nothing(tmp):
    # A port held by someone else: check-config must not try to bind it (nginx -t does not).
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    port = held.getsockname()[1]
    try:
        path = write(tmp, f'listen = ["127.0.0.1:{port}"]\nmodel = "single"\n'
                          '[[routes]]\npath = "/rooms/:id"\nsse = "room.:id"\n')
        code, out, err = check(path)
        assert code == 0, err
        assert "test is successful" in err and out == ""
    finally:
        held.close()


def test_the_equals_form(tmp):
    path = write(tmp, 'model = "single"\n')
    p = subprocess.run([SY, f"--check-config={path}"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    assert f"configuration file {path} test is successful" in p.stderr


@pytest.mark.parametrize("text,message", [
    ('workers = "many"\n', ":1: workers: expected a non-negative integer, got 'many'"),
    ('listen = ["127.0.0.1:0"]\nlisten_typo = 1\n', ":2: unknown key 'listen_typo'"),
    ('[hub]\nslow_policy = "nap"\n', "hub.slow_policy"),
    ('[[routes]]\npath = "/sub/:t"\nsse = "x"\n', "duplicate route: /sub/:t"),
    ('model = \n', ":1:"),
])
def test_a_bad_file_fails_with_its_problem(tmp, text, message):
    path = write(tmp, text)
    code, out, err = check(path)
    assert code == 1, err
    assert message in err, err
    assert err.endswith(f"switchyard: configuration file {path} test failed\n"), err
    assert "listening" not in out


def test_missing_file_and_missing_certificate(tmp):
    code, _, err = check(os.path.join(tmp, "nope.toml"))
    assert code == 1 and "test failed" in err, err
    cert, key = make_cert(tmp, "localhost")
    good = write(tmp, f'[tls]\nlisten = ["127.0.0.1:0"]\ncert = "{cert}"\nkey = "{key}"\n')
    code, _, err = check(good)
    assert code == 0, err
    bad = write(tmp, f'[tls]\nlisten = ["127.0.0.1:0"]\ncert = "{tmp}/gone.crt"\nkey = "{key}"\n',
                name="bad.toml")
    code, _, err = check(bad)
    assert code == 1 and "gone.crt" in err, err


def test_static_dir_and_store_dir_are_checked(tmp):
    path = write(tmp, f'static_dir = "{tmp}/no-www"\n')
    code, _, err = check(path)
    assert code == 1 and f"static_dir: {tmp}/no-www: no such directory" in err, err
    f = os.path.join(tmp, "file")
    open(f, "w").close()
    path = write(tmp, f'[amqp]\nlisten = ["127.0.0.1:0"]\nstore_dir = "{f}"\n', name="s.toml")
    code, _, err = check(path)
    assert code == 1 and f"amqp.store_dir: {f}: not a directory" in err, err


def test_flags_apply_over_the_file(tmp):
    path = write(tmp, 'model = "single"\n')
    code, _, err = check(path, "--workers", "many")
    assert code == 1 and "--workers" in err, err


def test_help_lists_check_config():
    p = subprocess.run([SY, "--help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0
    assert "--check-config" in p.stdout
