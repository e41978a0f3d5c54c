"""A gRPC interop client on Debian's grpcio, written from grpc/grpc
doc/interop-test-descriptions.md ("Client"): each case does the procedure the description gives
and asserts what it asserts.

    python3 interop_client.py --server_host=127.0.0.1 --server_port=PORT --test_case=large_unary
        [--use_tls=true --ca_file=ca.pem --server_host_override=localhost]

--test_case takes a comma-separated list (or "all"); one line "OK: case" or "FAIL: case: why"
each, exit status 1 if any failed. tests/integration/test_grpc_interop.py imports this module
and calls run_case() with stubs it compiled once (compile_stubs)."""
import argparse
import os
import queue
import subprocess
import sys
import tempfile

import grpc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
PROTO_ROOT = os.path.join(ROOT, "examples", "grpc-interop", "proto")
PROTOS = ["src/proto/grpc/testing/empty.proto", "src/proto/grpc/testing/messages.proto",
          "src/proto/grpc/testing/test.proto"]

CASES = ["empty_unary", "large_unary", "client_streaming", "server_streaming", "ping_pong",
         "empty_stream", "timeout_on_sleeping_server", "cancel_after_begin",
         "cancel_after_first_response", "status_code_and_message", "special_status_message",
         "custom_metadata", "unimplemented_method", "unimplemented_service"]

EXTRA_CASES = ["client_compressed_unary", "client_compressed_streaming"]

ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_TRAILING = "x-grpc-test-echo-trailing-bin"
SPECIAL_MESSAGE = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"
TIMEOUT = 10  # seconds, every call but timeout_on_sleeping_server's


class stubs:
    """The generated modules: empty_pb2, messages_pb2, test_pb2_grpc."""

    def __init__(self, out):
        sys.path.insert(0, out)
        from src.proto.grpc.testing import empty_pb2, messages_pb2, test_pb2_grpc
        self.empty, self.messages, self.services = empty_pb2, messages_pb2, test_pb2_grpc


def compile_stubs(out):
    """grpc_tools.protoc for the example's three protos into directory out; returns stubs."""
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", PROTO_ROOT,
                    "--python_out", out, "--grpc_python_out", out, *PROTOS], check=True)
    return stubs(out)


class pipe:
    """A request iterator fed one message at a time (ping_pong and the cancel cases)."""
    _end = object()

    def __init__(self):
        self._q = queue.Queue()

    def add(self, m):
        self._q.put(m)

    def close(self):
        self._q.put(self._end)

    def __iter__(self):
        return self

    def __next__(self):
        m = self._q.get()
        if m is self._end:
            raise StopIteration
        return m


def zeros(pb, n):
    return pb.messages.Payload(body=b"\0" * n)


def check(cond, why):
    if not cond:
        raise AssertionError(why)


def expect_error(fn, code, details=None):
    """fn() must raise grpc.RpcError with code (and details if given)."""
    try:
        fn()
    except grpc.RpcError as e:
        check(e.code() == code, f"status {e.code()} ({e.details()!r}), expected {code}")
        if details is not None:
            check(e.details() == details, f"details {e.details()!r}, expected {details!r}")
        return e
    raise AssertionError(f"call succeeded, expected {code}")


def empty_unary(pb, ch):
    r = pb.services.TestServiceStub(ch).EmptyCall(pb.empty.Empty(), timeout=TIMEOUT)
    check(isinstance(r, pb.empty.Empty), "response is not an Empty")


def large_request(pb):
    m = pb.messages
    return m.SimpleRequest(response_type=m.COMPRESSABLE, response_size=314159,
                           payload=zeros(pb, 271828))


def large_unary(pb, ch):
    r = pb.services.TestServiceStub(ch).UnaryCall(large_request(pb), timeout=TIMEOUT)
    check(r.payload.type == pb.messages.COMPRESSABLE, "payload type")
    check(r.payload.body == b"\0" * 314159, f"payload of {len(r.payload.body)} bytes")


def client_streaming(pb, ch):
    reqs = [pb.messages.StreamingInputCallRequest(payload=zeros(pb, n))
            for n in (27182, 8, 1828, 45904)]
    r = pb.services.TestServiceStub(ch).StreamingInputCall(iter(reqs), timeout=TIMEOUT)
    check(r.aggregated_payload_size == 74922, f"aggregated {r.aggregated_payload_size}")


def server_streaming(pb, ch):
    m = pb.messages
    sizes = [31415, 9, 2653, 58979]
    req = m.StreamingOutputCallRequest(
        response_type=m.COMPRESSABLE,
        response_parameters=[m.ResponseParameters(size=n) for n in sizes])
    call = pb.services.TestServiceStub(ch).StreamingOutputCall(req, timeout=TIMEOUT)
    got = [len(r.payload.body) for r in call]
    check(got == sizes, f"response sizes {got}")
    check(call.code() == grpc.StatusCode.OK, f"status {call.code()}")


def ping_pong(pb, ch):
    m = pb.messages
    p = pipe()
    call = pb.services.TestServiceStub(ch).FullDuplexCall(p, timeout=TIMEOUT)
    for req_size, resp_size in zip((27182, 8, 1828, 45904), (31415, 9, 2653, 58979)):
        p.add(m.StreamingOutputCallRequest(
            response_type=m.COMPRESSABLE, response_parameters=[m.ResponseParameters(size=resp_size)],
            payload=zeros(pb, req_size)))
        r = next(call)
        check(len(r.payload.body) == resp_size, f"response of {len(r.payload.body)} bytes")
    p.close()
    rest = list(call)
    check(rest == [], f"{len(rest)} responses more than four")
    check(call.code() == grpc.StatusCode.OK, f"status {call.code()}")


def empty_stream(pb, ch):
    call = pb.services.TestServiceStub(ch).FullDuplexCall(iter([]), timeout=TIMEOUT)
    got = list(call)
    check(got == [], f"{len(got)} responses")
    check(call.code() == grpc.StatusCode.OK, f"status {call.code()}")


def timeout_on_sleeping_server(pb, ch):
    p = pipe()
    call = pb.services.TestServiceStub(ch).FullDuplexCall(p, timeout=0.001)
    p.add(pb.messages.StreamingOutputCallRequest(payload=zeros(pb, 27182)))
    try:
        expect_error(lambda: list(call), grpc.StatusCode.DEADLINE_EXCEEDED)
    finally:
        p.close()


def cancel_after_begin(pb, ch):
    p = pipe()
    fut = pb.services.TestServiceStub(ch).StreamingInputCall.future(p, timeout=TIMEOUT)
    fut.cancel()
    p.close()
    check(fut.cancelled(), "the call was not cancelled")
    check(fut.code() == grpc.StatusCode.CANCELLED, f"status {fut.code()}")


def cancel_after_first_response(pb, ch):
    m = pb.messages
    p = pipe()
    call = pb.services.TestServiceStub(ch).FullDuplexCall(p, timeout=TIMEOUT)
    p.add(m.StreamingOutputCallRequest(
        response_type=m.COMPRESSABLE, response_parameters=[m.ResponseParameters(size=31415)],
        payload=zeros(pb, 27182)))
    r = next(call)
    check(len(r.payload.body) == 31415, f"response of {len(r.payload.body)} bytes")
    call.cancel()
    p.close()
    expect_error(lambda: next(call), grpc.StatusCode.CANCELLED)


def echo_status_both(pb, ch, message, duplex=True):
    m = pb.messages
    stub = pb.services.TestServiceStub(ch)
    status = m.EchoStatus(code=2, message=message)
    expect_error(lambda: stub.UnaryCall(m.SimpleRequest(response_status=status), timeout=TIMEOUT),
                 grpc.StatusCode.UNKNOWN, message)
    if duplex:
        call = stub.FullDuplexCall(iter([m.StreamingOutputCallRequest(response_status=status)]),
                                   timeout=TIMEOUT)
        expect_error(lambda: list(call), grpc.StatusCode.UNKNOWN, message)


def status_code_and_message(pb, ch):
    echo_status_both(pb, ch, "test status message")


def special_status_message(pb, ch):
    echo_status_both(pb, ch, SPECIAL_MESSAGE, duplex=False)


def check_echo(call, what):
    initial = [v for k, v in call.initial_metadata() if k == ECHO_INITIAL]
    check(initial == ["test_initial_metadata_value"], f"{what}: initial metadata {initial}")
    trailing = [v for k, v in call.trailing_metadata() if k == ECHO_TRAILING]
    check(trailing == [b"\xab\xab\xab"], f"{what}: trailing metadata {trailing}")


def custom_metadata(pb, ch):
    m = pb.messages
    md = [(ECHO_INITIAL, "test_initial_metadata_value"), (ECHO_TRAILING, b"\xab\xab\xab")]
    stub = pb.services.TestServiceStub(ch)
    _, call = stub.UnaryCall.with_call(large_request(pb), metadata=md, timeout=TIMEOUT)
    check_echo(call, "UnaryCall")
    req = m.StreamingOutputCallRequest(response_parameters=[m.ResponseParameters(size=314159)],
                                       payload=zeros(pb, 271828))
    call = stub.FullDuplexCall(iter([req]), metadata=md, timeout=TIMEOUT)
    got = [len(r.payload.body) for r in call]
    check(got == [314159], f"FullDuplexCall responses {got}")
    check(call.code() == grpc.StatusCode.OK, f"status {call.code()}")
    check_echo(call, "FullDuplexCall")


def unimplemented_method(pb, ch):
    stub = pb.services.TestServiceStub(ch)
    expect_error(lambda: stub.UnimplementedCall(pb.empty.Empty(), timeout=TIMEOUT),
                 grpc.StatusCode.UNIMPLEMENTED)


def unimplemented_service(pb, ch):
    stub = pb.services.UnimplementedServiceStub(ch)
    expect_error(lambda: stub.UnimplementedCall(pb.empty.Empty(), timeout=TIMEOUT),
                 grpc.StatusCode.UNIMPLEMENTED)


# ---- Beyond the list the issue names (run by test_grpc_interop.py on their own) ----------------

def client_compressed_unary(pb, ch):
    """The feature probe (expect_compressed, sent uncompressed) fails with INVALID_ARGUMENT; the
    compressed call and an uncompressed one expecting no compression succeed."""
    m = pb.messages
    stub = pb.services.TestServiceStub(ch)

    def req(expect):
        r = large_request(pb)
        r.expect_compressed.value = expect
        return r
    expect_error(lambda: stub.UnaryCall(req(True), timeout=TIMEOUT), grpc.StatusCode.INVALID_ARGUMENT)
    for expect, comp in ((True, grpc.Compression.Gzip), (False, grpc.Compression.NoCompression)):
        r = stub.UnaryCall(req(expect), timeout=TIMEOUT, compression=comp)
        check(len(r.payload.body) == 314159, f"payload of {len(r.payload.body)} bytes")
    check(m.COMPRESSABLE == 0, "payload type")


def client_compressed_streaming(pb, ch):
    """As the description, except that grpcio compresses every message of a call or none: the
    compressed call sends both messages compressed (so both expect it)."""
    m = pb.messages
    stub = pb.services.TestServiceStub(ch)

    def req(n):
        return m.StreamingInputCallRequest(payload=zeros(pb, n),
                                           expect_compressed=m.BoolValue(value=True))
    expect_error(lambda: stub.StreamingInputCall(iter([req(27182)]), timeout=TIMEOUT),
                 grpc.StatusCode.INVALID_ARGUMENT)
    r = stub.StreamingInputCall(iter([req(27182), req(45904)]), timeout=TIMEOUT,
                                compression=grpc.Compression.Gzip)
    check(r.aggregated_payload_size == 73086, f"aggregated {r.aggregated_payload_size}")


def channel(host, port, use_tls=False, ca_file=None, host_override=None):
    target = f"{host}:{port}"
    if not use_tls:
        return grpc.insecure_channel(target)
    ca = open(ca_file, "rb").read() if ca_file else None
    opts = [("grpc.ssl_target_name_override", host_override)] if host_override else []
    return grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=ca), opts)


def run_case(pb, ch, name):
    """Runs one case on channel ch; raises AssertionError (or grpc.RpcError) on failure."""
    if name not in CASES + EXTRA_CASES:
        raise ValueError(f"unknown test case {name}")
    globals()[name](pb, ch)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server_host", default="127.0.0.1")
    ap.add_argument("--server_port", type=int, required=True)
    ap.add_argument("--server_host_override")
    ap.add_argument("--test_case", default="all")
    ap.add_argument("--use_tls", default="false")
    ap.add_argument("--ca_file", help="root certificate (PEM) instead of the system's")
    a = ap.parse_args()
    names = CASES if a.test_case == "all" else a.test_case.split(",")
    with tempfile.TemporaryDirectory(prefix="sy-interop-py-") as out:
        pb = compile_stubs(out)
        failed = 0
        for name in names:
            with channel(a.server_host, a.server_port, a.use_tls == "true", a.ca_file,
                         a.server_host_override) as ch:
                try:
                    run_case(pb, ch, name)
                    print("OK:", name, flush=True)
                except (AssertionError, grpc.RpcError) as e:
                    failed += 1
                    print(f"FAIL: {name}: {e}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
