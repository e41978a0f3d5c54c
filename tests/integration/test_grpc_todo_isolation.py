"""One client's bad input never breaks another's (issue 9, item 5): examples/grpc-todo stores
what createTodo receives and serves it to everybody, so a request protobuf keeps unknown fields
of (or a declared field sent with another wire type, which protobuf keeps the same way) must not
reach the store. The bad requests go out through grpcio with a generic bytes method (no
serializer: the bytes are sent as they are); the readers are the stock @grpc/grpc-js client
(tests/integration/grpc_node/todo_client.mjs) and grpcio."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import ROOT, server

grpc = pytest.importorskip("grpc")

NODE_CLIENT = os.path.join(ROOT, "tests", "integration", "grpc_node", "todo_client.mjs")
TODO_PROTO = os.path.join(ROOT, "proto", "todo.proto")

# TodoItem is {int32 id = 1; string text = 2;}. Field 1 sent length-delimited ("abc"), then text:
# protobuf's parser keeps the odd field 1 as an unknown field, and a server that stored it would
# serve items grpc-js cannot read ("Response message parsing error").
ID_AS_BYTES = b"\x0a\x03abc" + b"\x12\x03bad"
# text "ok" plus fields TodoItem does not declare: 3 (varint), 4 (bytes), 5 (fixed32).
WITH_UNKNOWN = b"\x12\x02ok" + b"\x18\x05" + b"\x22\x01z" + b"\x2d\x01\x02\x03\x04"


def item(i, text):
    """TodoItem {id: i, text} as protobuf writes it (fields in number order)."""
    t = text.encode()
    return b"\x08" + bytes([i]) + b"\x12" + bytes([len(t)]) + t


@pytest.fixture
def todo_srv():
    s = server(["--listen", "127.0.0.1:0"], binary="grpc-todo")
    yield s
    s.close()


def raw_call(ch, method, payload):
    # No request_serializer / response_deserializer: bytes in, bytes out.
    return ch.unary_unary(f"/todoPackage.Todo/{method}")(payload, timeout=5)


def test_bad_create_todo_requests_do_not_reach_other_clients(todo_srv):
    with grpc.insecure_channel(f"127.0.0.1:{todo_srv.port}") as ch:
        # A request that does not parse as TodoItem: INTERNAL (what grpc++ and grpc-js answer
        # when a request does not deserialize), and nothing stored.
        with pytest.raises(grpc.RpcError) as e:
            raw_call(ch, "createTodo", ID_AS_BYTES)
        assert e.value.code() == grpc.StatusCode.INTERNAL
        # A proto3 string that is not UTF-8 (grpcio readers would fail on it): the same.
        with pytest.raises(grpc.RpcError) as e:
            raw_call(ch, "createTodo", b"\x12\x01\xff")
        assert e.value.code() == grpc.StatusCode.INTERNAL
        assert raw_call(ch, "readTodos", b"") == b""  # TodoItems {} : still empty
        # Unknown fields: the todo is created with what TodoItem declares, the rest dropped.
        assert raw_call(ch, "createTodo", WITH_UNKNOWN) == item(1, "ok")
        assert raw_call(ch, "readTodos", b"") == b"\x0a" + bytes([len(item(1, "ok"))]) + \
            item(1, "ok")

    if not shutil.which("node"):
        pytest.skip("node not installed")
    p = subprocess.run(["node", NODE_CLIENT, f"127.0.0.1:{todo_srv.port}", TODO_PROTO],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode()  # readTodos and readTodosStream both parse
    seen = json.loads(p.stdout)
    want = [{"id": 1, "text": "ok"}, {"id": 2, "text": "buy milk"},
            {"id": 3, "text": "walk the dog"}, {"id": 4, "text": "ship switchyard"}]
    assert seen["all"] == want
    assert seen["streamed"] == want
