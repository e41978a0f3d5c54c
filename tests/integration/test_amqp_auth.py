"""AMQP users and RabbitMQ's access control with python3-pika (docs/auth.md, "AMQP"): password
hashes made by RabbitMQ's own code, user tags on the management API, vhost and resource
permissions (configure/write/read), topic permissions, and the exact 403/530 replies. The codes
and texts asserted here are the ones RabbitMQ 3.10.8 sends for the same scenario
(SY_AMQP_AGAINST=rabbitmq is not used: users are created by the config here)."""
import base64
import glob
import http.client
import json
import os
import subprocess

import pika
import pika.exceptions as px
import pytest

from conftest import ROOT, server

RABBIT_EBIN = glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/plugins/rabbit-[0-9]*/ebin")
COMMON_EBIN = glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/plugins/rabbit_common-*/ebin")


def rabbit_hash(password, module="rabbit_password_hashing_sha256"):
    """password hashed by RabbitMQ's own rabbit_password:hash/2 (what add_user stores and
    export_definitions prints), run by erl without a node. rabbitmqctl 3.10 has no hash_password."""
    if not RABBIT_EBIN or not COMMON_EBIN:
        pytest.skip("rabbitmq-server is not installed")
    expr = ('io:format("~s", [base64:encode(rabbit_password:hash(%s, <<"%s">>))]), halt().'
            % (module, password))
    out = subprocess.run(["erl", "-noshell", "-pa", RABBIT_EBIN[0], "-pa", COMMON_EBIN[0],
                          "-eval", expr], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, HOME="/tmp"), check=True).stdout.strip()
    assert len(base64.b64decode(out)) == 4 + (32 if module.endswith("256") else 64)
    return out


@pytest.fixture(scope="module")
def hashes():
    return {"sha256": rabbit_hash("s3cret"),
            "sha512": rabbit_hash("other", "rabbit_password_hashing_sha512")}


@pytest.fixture(scope="module")
def broker(hashes):
    args = ["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:0",
            "--management-listen", "127.0.0.1:0",
            "--amqp-vhosts", "/", "--amqp-vhosts", "v2",
            "--amqp-users", "hashed:rabbit_password_hashing_sha256:" + hashes["sha256"],
            "--amqp-users", "h512:rabbit_password_hashing_sha512:" + hashes["sha512"],
            "--amqp-users", "u:pw", "--amqp-users", "nov:pw", "--amqp-users", "ops:pw",
            "--amqp-users", "guest:guest",
            "--amqp-user-tags", "ops:management", "--amqp-user-tags", "hashed:administrator",
            "--amqp-permissions", "hashed:/:.*:.*:.*",
            "--amqp-permissions", "h512:/:.*:.*:.*",
            "--amqp-permissions",
            r"u:/:^u\..*:^(u\..*|amq\.topic|amq\.default)$:^(u\..*|amq\.topic)$",
            "--amqp-topic-permissions", r"u:/:amq.topic:^w\.:^r\.",
            "--amqp-permissions", "ops:v2:.*:.*:.*"]
    s = server(args, need=("http", "amqp"))
    yield s
    s.close()


def connect(broker, user, password, vhost="/"):
    return pika.BlockingConnection(pika.ConnectionParameters(
        "127.0.0.1", broker.ports["amqp"], vhost, pika.PlainCredentials(user, password)))


def management_port(s):
    ports = []
    with open(s.out.name) as f:
        for line in f:
            if "listening on http://" in line:
                ports.append(int(line.rsplit(":", 1)[1]))
    return ports[1]


def whoami(s, user, password):
    c = http.client.HTTPConnection("127.0.0.1", management_port(s), timeout=5)
    auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    c.request("GET", "/api/whoami", headers={"Authorization": auth})
    r = c.getresponse()
    return r.status, json.loads(r.read() or b"null")


# ---- step 1: hashes and tags ---------------------------------------------------------------

def test_rabbitmq_hash_is_accepted_and_wrong_password_refused(broker):
    for user, pw in (("hashed", "s3cret"), ("h512", "other")):
        c = connect(broker, user, pw)
        ch = c.channel()
        ch.queue_declare("", exclusive=True)
        c.close()
    for user, pw in (("hashed", "wrong"), ("h512", "s3cret"), ("nobody", "x")):
        with pytest.raises(px.ProbableAuthenticationError) as e:
            connect(broker, user, pw)
        assert "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN" in str(
            e.value)


def test_management_needs_a_management_tag(broker):
    assert whoami(broker, "hashed", "s3cret") == (200, {"name": "hashed",
                                                        "tags": ["administrator"]})
    assert whoami(broker, "ops", "pw") == (200, {"name": "ops", "tags": ["management"]})
    assert whoami(broker, "guest", "guest") == (200, {"name": "guest",
                                                      "tags": ["administrator"]})
    assert whoami(broker, "u", "pw") == (401, {"error": "not_authorised",
                                               "reason": "Not management user"})
    assert whoami(broker, "u", "bad") == (401, {"error": "not_authorised",
                                                "reason": "Login failed"})


@pytest.mark.parametrize("args,msg", [
    (["--amqp-users", "x:rabbit_password_hashing_sha256:bm90IGEgaGFzaA=="],
     "amqp.users: user 'x': the hash is not base64 of a 4-byte salt and a 32-byte digest"),
    (["--amqp-users", "x:y", "--amqp-permissions", "x:/:.*:.*"],
     "amqp.permissions: 'x:/:.*:.*': expected user:vhost:configure:write:read"),
    (["--amqp-users", "x:y", "--amqp-permissions", "x:/:(:.*:.*"],
     "amqp.permissions: 'x:/:(:.*:.*': bad regex '('"),
    (["--amqp-users", "x:y", "--amqp-permissions", "z:/:.*:.*:.*"],
     "amqp.permissions: 'z:/:.*:.*:.*': no user 'z' in amqp.users"),
    (["--amqp-users", "x:y", "--amqp-permissions", "x:nope:.*:.*:.*"],
     "no vhost 'nope' in amqp.vhosts"),
])
def test_bad_entries_are_start_up_errors(args, msg):
    from conftest import BIN_DIR
    p = subprocess.run([os.path.join(BIN_DIR, "switchyard"), "--listen", "127.0.0.1:0",
                        "--amqp-listen", "127.0.0.1:0", *args],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and msg in p.stderr, p.stderr


# ---- step 2: vhost, resource and topic permissions -----------------------------------------

def test_vhost_without_permission_is_refused_at_open(broker):
    for user, vhost in (("nov", "/"), ("u", "v2")):
        # pika wraps the close of a connection.open in ProbableAccessDeniedError
        with pytest.raises(px.ProbableAccessDeniedError) as e:
            connect(broker, user, "pw", vhost)
        assert str(e.value) == ("ConnectionClosedByBroker: (530) \"NOT_ALLOWED - access to vhost "
                                f"'{vhost}' refused for user '{user}'\"")
    connect(broker, "ops", "pw", "v2").close()


def refused(kind, name):
    return (403, f"ACCESS_REFUSED - access to {kind} '{name}' in vhost '/' refused for user 'u'")


def topic_refused(key):
    return (403, f"ACCESS_REFUSED - access to topic '{key}' in exchange 'amq.topic' in vhost '/' "
                 "refused for user 'u'")


def publisher(exchange, key):
    def run(ch):
        ch.confirm_delivery()
        ch.basic_publish(exchange, key, b"x")
    return run


# (scenario, action on a fresh channel, expected: None = allowed, else (code, text))
CASES = [
    ("queue.declare other", lambda ch: ch.queue_declare("x.q"), refused("queue", "x.q")),
    ("queue.declare own", lambda ch: ch.queue_declare("u.q"), None),
    ("queue.declare passive", lambda ch: ch.queue_declare("u.q", passive=True), None),
    ("server-named queue", lambda ch: ch.queue_declare(""), "amq.gen"),
    ("exchange.declare other", lambda ch: ch.exchange_declare("x.ex", "direct"),
     refused("exchange", "x.ex")),
    ("exchange.declare own", lambda ch: ch.exchange_declare("u.ex", "topic"), None),
    ("exchange.delete other", lambda ch: ch.exchange_delete("x.ex"), refused("exchange", "x.ex")),
    ("queue.delete other", lambda ch: ch.queue_delete("x.q"), refused("queue", "x.q")),
    ("queue.bind read on exchange", lambda ch: ch.queue_bind("u.q", "amq.direct", "k"),
     refused("exchange", "amq.direct")),
    ("queue.bind topic refused", lambda ch: ch.queue_bind("u.q", "amq.topic", "x.y"),
     topic_refused("x.y")),
    ("queue.bind topic allowed", lambda ch: ch.queue_bind("u.q", "amq.topic", "r.y"), None),
    ("queue.unbind topic refused", lambda ch: ch.queue_unbind("u.q", "amq.topic", "x.y"),
     topic_refused("x.y")),
    ("publish default exchange", publisher("", "u.q"), None),
    ("publish refused", publisher("amq.direct", "k"), refused("exchange", "amq.direct")),
    ("publish topic refused", publisher("amq.topic", "x.y"), topic_refused("x.y")),
    ("publish topic allowed", publisher("amq.topic", "w.y"), None),
    ("publish own topic exchange", publisher("u.ex", "anything"), None),
    ("basic.get other", lambda ch: ch.basic_get("x.q"), refused("queue", "x.q")),
    ("basic.get own", lambda ch: ch.basic_get("u.q"), None),
    ("basic.consume before existence", lambda ch: ch.basic_consume("nosuch", lambda *a: None),
     refused("queue", "nosuch")),
    ("queue.purge other", lambda ch: ch.queue_purge("x.q"), refused("queue", "x.q")),
    ("exchange.bind read on source", lambda ch: ch.exchange_bind("u.ex", "amq.direct", "k"),
     refused("exchange", "amq.direct")),
    ("exchange.bind write on destination",
     lambda ch: ch.exchange_bind("amq.fanout", "u.ex", "k"), refused("exchange", "amq.fanout")),
    ("dead-letter exchange needs write",
     lambda ch: ch.queue_declare("u.dlq", arguments={"x-dead-letter-exchange": "amq.direct"}),
     refused("exchange", "amq.direct")),
]


def test_resource_permissions_follow_rabbitmqs_table(broker):
    c = connect(broker, "u", "pw")
    try:
        for name, action, want in CASES:
            if c.is_closed:
                c = connect(broker, "u", "pw")
            ch = c.channel()
            try:
                r = action(ch)
                got = None
            except px.ChannelClosedByBroker as e:
                got = (e.reply_code, e.reply_text)
            if want == "amq.gen":
                # configure is checked on the generated name: ^u\. refuses it, as RabbitMQ does
                assert got[0] == 403 and "access to queue 'amq.gen-" in got[1], (name, got)
                continue
            assert got == want, name
            if got is None and ch.is_open:
                ch.close()
        # the connection survived every refusal (channel errors only)
        assert c.is_open
    finally:
        if c.is_open:
            c.close()


def test_refused_publish_is_not_routed(broker):
    c = connect(broker, "hashed", "s3cret")
    ch = c.channel()
    ch.queue_declare("watch.topic")
    ch.queue_bind("watch.topic", "amq.topic", "#")
    u = connect(broker, "u", "pw")
    uch = u.channel()
    with pytest.raises(px.ChannelClosedByBroker):
        publisher("amq.topic", "secret.key")(uch)
    uch = u.channel()
    publisher("amq.topic", "w.ok")(uch)
    got = []
    for _ in range(2):
        m, _, body = ch.basic_get("watch.topic", auto_ack=True)
        if m:
            got.append(m.routing_key)
    assert got == ["w.ok"]
    u.close()
    ch.queue_delete("watch.topic")
    c.close()


# ---- amqplib: the same refusals, and connection.update-secret ------------------------------

def test_amqplib_refusals_and_update_secret(broker):
    script = os.path.join(ROOT, "tests", "integration", "amqp_node", "auth.mjs")
    p = subprocess.run(["node", script, f"amqp://u:pw@127.0.0.1:{broker.ports['amqp']}"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "auth passed" in p.stdout
