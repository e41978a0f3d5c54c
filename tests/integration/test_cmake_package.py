"""The library as a package: `cmake --install` into a scratch prefix, then examples/hello and
examples/grpc-todo configure and build out of tree with find_package(switchyard CONFIG) against
that prefix alone (so the installed headers and targets stand on their own), and hello once more
with `pkg-config --cflags --libs switchyard`. The binaries run and answer real clients."""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import BIN_DIR, ROOT, curl, server

BUILD = os.path.dirname(BIN_DIR)
ARCH = "x86_64-linux-gnu"


@pytest.fixture(scope="module")
def prefix():
    d = tempfile.mkdtemp(prefix="sy-prefix-")
    p = subprocess.run(["cmake", "--install", BUILD, "--prefix", d], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    yield d
    shutil.rmtree(d, ignore_errors=True)


def build_example(prefix, name):
    """Configures and builds examples/<name> alone; returns the binary's path."""
    out = tempfile.mkdtemp(prefix=f"sy-example-{name}-")
    cfg = subprocess.run(["cmake", "-S", os.path.join(ROOT, "examples", name), "-B", out, "-G",
                          "Ninja", f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_BUILD_TYPE=Release",
                          "-DCMAKE_CXX_FLAGS=-O1"],
                         capture_output=True, text=True, timeout=300)
    assert cfg.returncode == 0, cfg.stdout + cfg.stderr
    # The package was found in the scratch prefix, not in the build or source tree.
    cache = open(os.path.join(out, "CMakeCache.txt")).read()
    assert f"switchyard_DIR:PATH={prefix}/lib/{ARCH}/cmake/switchyard" in cache, cache
    b = subprocess.run(["cmake", "--build", out, "-j2"], capture_output=True, text=True,
                       timeout=900)
    assert b.returncode == 0, b.stdout + b.stderr
    assert ROOT + "/include" not in b.stdout  # no include path into the checkout
    return out


def test_install_layout(prefix):
    for rel in ("bin/switchyard", "bin/sy-bench", "etc/switchyard/switchyard.toml",
                "lib/systemd/system/switchyard.service", f"lib/{ARCH}/pkgconfig/switchyard.pc",
                "share/switchyard/www/index.html", "include/switchyard/server/app.hpp",
                "share/doc/switchyard/library.md"):
        assert os.path.isfile(os.path.join(prefix, rel)), rel
    assert os.path.isdir(os.path.join(prefix, "var/lib/switchyard"))
    cfg = open(os.path.join(prefix, "etc/switchyard/switchyard.toml")).read()
    assert f'static_dir = "{prefix}/share/switchyard/www"' in cfg
    assert f'store_dir = "{prefix}/var/lib/switchyard"' in cfg
    unit = open(os.path.join(prefix, "lib/systemd/system/switchyard.service")).read()
    assert f"ExecStart={prefix}/bin/switchyard --config {prefix}/etc/switchyard/" in unit


def test_hello_out_of_tree(prefix):
    out = build_example(prefix, "hello")
    s = server(["--listen", "127.0.0.1:0"], binary=os.path.join(out, "hello"))
    try:
        code, body, err = curl(s.url + "/")
        assert code == 0 and body == b"Hello, World!", err
    finally:
        s.close()
        shutil.rmtree(out, ignore_errors=True)


def test_grpc_todo_out_of_tree(prefix):
    grpc = pytest.importorskip("grpc")
    pytest.importorskip("grpc_tools")
    out = build_example(prefix, "grpc-todo")
    stubs = tempfile.mkdtemp(prefix="sy-todo-py-")
    proto = os.path.join(prefix, "share/switchyard/proto")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", proto, "--python_out", stubs,
                    "--grpc_python_out", stubs, "todo.proto"], check=True)
    sys.path.insert(0, stubs)
    s = server(["--listen", "127.0.0.1:0"], binary=os.path.join(out, "grpc-todo"))
    try:
        import todo_pb2
        import todo_pb2_grpc
        with grpc.insecure_channel(f"127.0.0.1:{s.port}") as ch:
            t = todo_pb2_grpc.TodoStub(ch)
            a = t.createTodo(todo_pb2.TodoItem(text="out of tree"), timeout=5)
            assert a.text == "out of tree" and a.id >= 1
            items = t.readTodos(todo_pb2.voidNoParam(), timeout=5).items
            assert [i.text for i in items] == ["out of tree"]
    finally:
        s.close()
        sys.path.remove(stubs)
        shutil.rmtree(stubs, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)


def test_hello_with_pkg_config(prefix):
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, f"lib/{ARCH}/pkgconfig"))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "switchyard"], env=env,
                           capture_output=True, text=True, check=True).stdout.split()
    assert f"-I{prefix}/include" in flags and "-lsy_server" in flags
    out = tempfile.mkdtemp(prefix="sy-pc-")
    exe = os.path.join(out, "hello")
    b = subprocess.run(["c++", "-O1", os.path.join(ROOT, "examples/hello/main.cpp"), "-o", exe,
                        *flags], capture_output=True, text=True, timeout=600)
    assert b.returncode == 0, b.stderr
    s = server(["--listen", "127.0.0.1:0"], binary=exe)
    try:
        code, body, err = curl(s.url + "/")
        assert code == 0 and body == b"Hello, World!", err
    finally:
        s.close()
        shutil.rmtree(out, ignore_errors=True)


def test_the_program_of_docs_library_md(prefix):
    """docs/library.md's CMakeLists.txt and main.cpp, as written there, build against the
    installed package and do what the page says."""
    text = open(os.path.join(ROOT, "docs", "library.md")).read()
    blocks = text.split("```")
    cmake = next(b[len("cmake\n"):] for b in blocks if b.startswith("cmake\n"))
    cpp = next(b[len("cpp\n"):] for b in blocks if b.startswith("cpp\n") and "int main" in b)
    src = tempfile.mkdtemp(prefix="sy-doc-src-")
    out = tempfile.mkdtemp(prefix="sy-doc-build-")
    try:
        open(os.path.join(src, "CMakeLists.txt"), "w").write(cmake)
        open(os.path.join(src, "main.cpp"), "w").write(cpp)
        cfg = subprocess.run(["cmake", "-S", src, "-B", out, "-G", "Ninja",
                              f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_CXX_FLAGS=-O1 -Wall "
                              "-Wextra -Werror"], capture_output=True, text=True, timeout=300)
        assert cfg.returncode == 0, cfg.stdout + cfg.stderr
        b = subprocess.run(["cmake", "--build", out, "-j2"], capture_output=True, text=True,
                           timeout=900)
        assert b.returncode == 0, b.stdout + b.stderr
        s = server(["--listen", "127.0.0.1:0", "--model", "single"],
                   binary=os.path.join(out, "news"))
        try:
            code, body, err = curl(s.url + "/hello/ada")
            assert code == 0 and body == b"hello ada\n", err
            code, body, err = curl("-X", "POST", "--data-binary", "extra!", s.url + "/news/a")
            assert code == 0 and body == b"id 1\n", (body, err)
            code, body, err = curl(s.url + "/news/count")
            assert code == 0 and body == b"1\n", (body, err)
        finally:
            s.close()
    finally:
        shutil.rmtree(src, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
