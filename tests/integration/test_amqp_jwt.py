"""A JWT as the AMQP PLAIN password (RabbitMQ's OAuth 2 plugin convention; docs/auth.md, "AMQP"):
pika and amqplib with tokens minted by PyJWT (python3-jwt). The switchyard claim's hub patterns
decide amq.topic publishes and bindings through the hub's one check (a binding broader than the
grant is refused), RabbitMQ scopes decide resources, connection.update-secret replaces the token
and its permissions, and the connection is closed at exp."""
import os
import shutil
import subprocess
import tempfile
import time

import pika
import pika.exceptions as px
import pytest

from conftest import ROOT, server

jwt = pytest.importorskip("jwt")

SECRET = "amqp-jwt-" + os.urandom(8).hex()
AUD = "switchyard-amqp"


def token(sub="alice", exp_in=600, grants=None, **extra):
    now = int(time.time())
    c = {"sub": sub, "aud": AUD, "iat": now, "exp": now + exp_in}
    if grants is not None:
        c["switchyard"] = grants
    c.update(extra)
    return jwt.encode(c, SECRET, algorithm="HS256")


ALICE = {"publish": ["chat.{sub}"], "subscribe": ["news.>", "chat.{sub}"]}


@pytest.fixture(scope="module")
def broker():
    d = tempfile.mkdtemp(prefix="sy-amqp-jwt-")
    secret = os.path.join(d, "secret")
    with open(secret, "w") as f:
        f.write(SECRET)
    s = server(["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:0",
                "--auth-jwt-hmac-secret-file", secret, "--auth-audience", AUD],
               need=("http", "amqp"))
    yield s
    s.close()
    shutil.rmtree(d, ignore_errors=True)


def connect(broker, password, user="ignored"):
    return pika.BlockingConnection(pika.ConnectionParameters(
        "127.0.0.1", broker.ports["amqp"], "/", pika.PlainCredentials(user, password),
        heartbeat=0))


def topic_refused(key, user="alice"):
    return (403, f"ACCESS_REFUSED - access to topic '{key}' in exchange 'amq.topic' in vhost '/' "
                 f"refused for user '{user}'")


def channel_error(c, fn):
    ch = c.channel()
    try:
        fn(ch)
    except px.ChannelClosedByBroker as e:
        return (e.reply_code, e.reply_text)
    ch.close()
    return None


def test_token_password_and_hub_claims_on_amq_topic(broker):
    watch = connect(broker, "guest", "guest")  # the default user sees what crossed amq.topic
    wch = watch.channel()
    wq = wch.queue_declare("", exclusive=True).method.queue
    wch.queue_bind(wq, "amq.topic", "#")
    c = connect(broker, token(grants=ALICE))

    def publish_to(exchange, key):
        def run(ch):
            ch.confirm_delivery()
            ch.basic_publish(exchange, key, b"x")
        return run

    def publish(key):
        return publish_to("amq.topic", key)
    assert channel_error(c, publish("chat.alice")) is None
    assert channel_error(c, publish("chat.bob")) == topic_refused("chat.bob")
    # not the hub's, not granted: the default exchange and named queues
    assert channel_error(c, publish_to("", "q")) == (
        403, "ACCESS_REFUSED - access to exchange 'amq.default' in vhost '/' refused for user "
             "'alice'")
    assert channel_error(c, lambda ch: ch.queue_declare("named")) == (
        403, "ACCESS_REFUSED - access to queue 'named' in vhost '/' refused for user 'alice'")

    def bind(key):
        def run(ch):
            q = ch.queue_declare("", exclusive=True).method.queue
            ch.queue_bind(q, "amq.topic", key)
        return run
    assert channel_error(c, bind("news.*")) is None      # within news.>
    assert channel_error(c, bind("news.#")) is None      # news.> itself
    assert channel_error(c, bind("#")) == topic_refused("#")  # broader: refused, not narrowed
    assert channel_error(c, bind("chat.*")) == topic_refused("chat.*")
    c.close()
    got = []
    while True:
        m, _, _ = wch.basic_get(wq, auto_ack=True)
        if m is None:
            break
        got.append(m.routing_key)
    assert got == ["chat.alice"]  # the refused publish reached no one
    watch.close()


@pytest.mark.parametrize("bad", [
    lambda: token(grants=ALICE, exp_in=-60),                     # expired
    lambda: token(grants=ALICE)[:-2] + "xx",                     # bad signature
    lambda: jwt.encode({"sub": "a", "aud": "other", "exp": int(time.time()) + 60,
                        "switchyard": ALICE}, SECRET, algorithm="HS256"),  # wrong audience
    lambda: "not.a.token",
])
def test_bad_tokens_are_refused_at_login(broker, bad):
    with pytest.raises(px.ProbableAuthenticationError) as e:
        connect(broker, bad())
    assert "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN" in str(e.value)


def test_rabbitmq_scopes_decide_resources(broker):
    t = token(sub="svc", scope="rabbitmq.configure:*/svc.* rabbitmq.write:*/svc.* "
                              "rabbitmq.read:*/svc.*")
    c = connect(broker, t)
    assert channel_error(c, lambda ch: ch.queue_declare("svc.q")) is None
    assert channel_error(c, lambda ch: ch.queue_declare("other.q")) == (
        403, "ACCESS_REFUSED - access to queue 'other.q' in vhost '/' refused for user 'svc'")
    assert channel_error(c, lambda ch: ch.basic_get("svc.q")) is None
    c.close()


def test_connection_closed_at_exp(broker):
    c = connect(broker, token(grants=ALICE, exp_in=2))
    t0 = time.monotonic()
    with pytest.raises(px.ConnectionClosedByBroker) as e:
        while time.monotonic() - t0 < 10:
            c.process_data_events(time_limit=0.2)
    assert (e.value.reply_code, e.value.reply_text) == (320,
                                                        "CONNECTION_FORCED - credential expired")
    assert 1 <= time.monotonic() - t0 < 5


def test_amqplib_update_secret_replaces_token_and_permissions(broker):
    script = os.path.join(ROOT, "tests", "integration", "amqp_node", "jwt.mjs")
    first = token(grants=ALICE, exp_in=3)
    # the refresh: a later exp, and other grants (chat.alice no longer, news.* now)
    second = token(grants={"publish": ["news.*"], "subscribe": []}, exp_in=600)
    other = token(sub="mallory", grants=ALICE)
    url = f"amqp://ignored:{first}@127.0.0.1:{broker.ports['amqp']}"
    p = subprocess.run(["node", script, url, second, other], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "jwt passed" in p.stdout
