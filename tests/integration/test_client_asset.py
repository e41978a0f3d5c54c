"""@switchyard/client served to the pages (docs/client.md): GET /lib/switchyard-client/index.js
and index.d.ts are clients/js/src's files, byte for byte (the one copy), on the main port and on
the management listener (the dashboard loads it there too); the client_dir setting moves the
root, and a missing client_dir is a configuration error naming the setting."""
import os
import re
import subprocess
import tempfile
import time

from conftest import BIN_DIR, ROOT, curl, server

CLIENT = os.path.join(ROOT, "clients", "js", "src")
PREFIX = "/lib/switchyard-client/"


def _get(port, path, *extra):
    code, body, err = curl("-i", *extra, f"http://127.0.0.1:{port}{path}")
    assert code == 0, err
    head, _, payload = body.partition(b"\r\n\r\n")
    return head.decode("latin1"), payload


def test_bundled_client_is_served_from_clients_js(srv):
    for name in ("index.js", "index.d.ts"):
        head, body = _get(srv.port, PREFIX + name)
        assert head.startswith("HTTP/1.1 200"), head
        assert body == open(os.path.join(CLIENT, name), "rb").read(), name
    head, _ = _get(srv.port, PREFIX + "index.js")
    assert "content-type: text/javascript" in head.lower(), head
    # Only the client's own directory: no way out of it, and other names are 404.
    head, _ = _get(srv.port, PREFIX + "nope.js")
    assert head.startswith("HTTP/1.1 404"), head
    head, _ = _get(srv.port, PREFIX + "..%2f..%2fpackage.json", "--path-as-is")
    assert head.split()[1] in ("400", "403", "404"), head
    # The pages still come from static_dir.
    head, body = _get(srv.port, "/chat.html")
    assert head.startswith("HTTP/1.1 200") and b"/js/chat.js" in body


def _management_port(s):
    """The second http:// line (the first is the main listener)."""
    deadline = time.time() + 10
    while time.time() < deadline:
        with open(s.out.name) as f:
            ports = re.findall(r"listening on http://\S+:(\d+)", f.read())
        if len(ports) >= 2:
            return int(ports[1])
        time.sleep(0.05)
    raise AssertionError("no management listener line")


def test_management_listener_serves_the_client_too():
    s = server(["--listen", "127.0.0.1:0", "--management-listen", "127.0.0.1:0",
                "--workers", "1"])
    try:
        head, body = _get(_management_port(s), PREFIX + "index.js")
        assert head.startswith("HTTP/1.1 200"), head
        assert body == open(os.path.join(CLIENT, "index.js"), "rb").read()
    finally:
        s.close()


def test_client_dir_setting_moves_the_root():
    d = tempfile.mkdtemp(prefix="sy-client-")
    with open(os.path.join(d, "index.js"), "w") as f:
        f.write("export const mine = 1;\n")
    s = server(["--listen", "127.0.0.1:0", "--workers", "1", "--client-dir", d])
    try:
        head, body = _get(s.port, PREFIX + "index.js")
        assert head.startswith("HTTP/1.1 200") and body == b"export const mine = 1;\n", head
    finally:
        s.close()


def test_missing_client_dir_is_a_config_error():
    p = subprocess.run([os.path.join(BIN_DIR, "switchyard"), "--listen", "127.0.0.1:0",
                        "--client-dir", "/nonexistent/sy-client"],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode != 0
    assert "client_dir: /nonexistent/sy-client: no such directory" in p.stderr, p.stderr
