"""docs/configuration.md's tables are the option table's (`switchyard --help-config=markdown`,
the same table the parser and --help-config use): this fails when a setting, its type, default
or help changes without `scripts/config-reference.py` being run, so the page cannot drift."""
import os
import subprocess
import sys

from conftest import BIN_DIR, ROOT


def test_configuration_page_matches_the_option_table():
    p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "config-reference.py"),
                        "--check"], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "SY_BIN_DIR": BIN_DIR})
    assert p.returncode == 0, p.stdout + p.stderr


def test_every_key_of_the_table_is_on_the_page():
    out = subprocess.run([os.path.join(BIN_DIR, "switchyard"), "--help-config"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    keys = [line.split()[0] for line in out.splitlines()[1:]]
    assert len([k for k in keys if k.startswith("amqp.")]) >= 11
    with open(os.path.join(ROOT, "docs", "configuration.md")) as f:
        page = f.read()
    for k in keys:
        assert f"| `{k}` |" in page, k
    assert "commented out" not in page  # AMQP is on in config/switchyard.toml
