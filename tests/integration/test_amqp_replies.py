"""Replies (codes and texts) to 41 probes, as RabbitMQ 3.10.8 gives them: EXPECTED was recorded
against rabbitmq-server (SY_AMQP_AGAINST=rabbitmq runs this file against it again). Each probe
runs on a fresh connection; the result is ("ok", value) or (reply code, reply text)."""
import json
import time

import pika
import pika.exceptions as px
import pytest

from amqp_target import amqp_server

EXPECTED = {
    'bad_expiration': (406, "PRECONDITION_FAILED - invalid expiration 'abc': no_integer"),
    'bad_overflow': (406, "PRECONDITION_FAILED - invalid arg 'x-overflow' for queue 'p.l' in vhost '/': invalid_overflow"),
    'bind_missing_ex': (404, "NOT_FOUND - no exchange 'p.nox' in vhost '/'"),
    'bind_missing_q': (404, "NOT_FOUND - no queue 'p.missing' in vhost '/'"),
    'consume_missing': (404, "NOT_FOUND - no queue 'p.nothing' in vhost '/'"),
    'consumer_tag_reuse': ('exc', 'DuplicateConsumerTag: The consumer tag specified already exists for this channel: t1'),
    'declare_counts': ('ok', [0, 1]),
    'default_ex_bind': (403, 'ACCESS_REFUSED - operation not permitted on the default exchange'),
    'delete_count_unacked': ('ok', 2),
    'delete_default_ex': (403, "ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '/' not allowed"),
    'delete_if_empty': (406, "PRECONDITION_FAILED - queue 'p.f' in vhost '/' not empty"),
    'delete_if_unused': (406, "PRECONDITION_FAILED - queue 'p.e' in vhost '/' in use"),
    'delete_missing_ex': ('ok', '<Exchange.DeleteOk>'),
    'delete_missing_q': ('ok', 0),
    'ex_bad_type': (503, "COMMAND_INVALID - unknown exchange type 'nonsense'"),
    'ex_passive_missing': (404, "NOT_FOUND - no exchange 'p.none' in vhost '/'"),
    'ex_redeclare_type': (406, "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'p.x' in vhost '/': received 'fanout' but current is 'direct'"),
    'ex_reserved': (403, "ACCESS_REFUSED - exchange name 'amq.mine' contains reserved prefix 'amq.*'"),
    'exclusive_consume': (403, "ACCESS_REFUSED - queue 'p.h' in vhost '/' in exclusive use"),
    'exclusive_other_conn_declare': (405, "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'p.r' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration."),
    'exclusive_other_conn_delete': (405, "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'p.t' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration."),
    'exclusive_other_conn_passive': (405, "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'p.s' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration."),
    'get_counts': ('ok', 2),
    'get_missing': (404, "NOT_FOUND - no queue 'p.nothing' in vhost '/'"),
    'internal_publish': (403, "ACCESS_REFUSED - cannot publish to internal exchange 'p.int' in vhost '/'"),
    'maxlen_rejectpublish_dlx': ('exc', 'NackError: 0 unroutable messages returned by broker'),
    'nack_multiple_zero': ('ok', 'fine'),
    'neg_ttl_arg': (406, "PRECONDITION_FAILED - invalid arg 'x-message-ttl' for queue 'p.j' in vhost '/': {value_negative,-1}"),
    'publish_missing_ex': (404, "NOT_FOUND - no exchange 'p.none' in vhost '/'"),
    'purge_count': ('ok', 2),
    'purge_missing': (404, "NOT_FOUND - no queue 'p.nothing' in vhost '/'"),
    'q_reserved': (403, "ACCESS_REFUSED - queue name 'amq.mine' contains reserved prefix 'amq.*'"),
    'qos_size': (540, 'NOT_IMPLEMENTED - prefetch_size!=0 (10)'),
    'recover_redelivered': ('ok', True),
    'redeclare_durable': (406, "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'p.c' in vhost '/': received 'true' but current is 'false'"),
    'redeclare_noargs': (406, "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'p.b' in vhost '/': received none but current is the value '1000' of type 'signedint'"),
    'redeclare_ttl': (406, "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'p.a' in vhost '/': received '2000' but current is '1000'"),
    'reject_unknown': (406, 'PRECONDITION_FAILED - unknown delivery tag 99'),
    'server_named_prefix': ('ok', 'amq.gen-'),
    'str_ttl_arg': (406, 'PRECONDITION_FAILED - invalid arg \'x-message-ttl\' for queue \'p.k\' in vhost \'/\': "expected integer, got longstr"'),
    'unbind_missing': ('ok', ['<METHOD([\'channel_number=1\', \'frame_type=1\', "method=<Queue.DeclareOk([\'consumer_count=0\', \'message_count=0\', \'queue=p.d\'])>"])>', "<METHOD(['channel_number=1', 'frame_type=1', 'method=<Queue.UnbindOk>'])>"]),
}


@pytest.fixture(scope="module")
def results():
    s = amqp_server()
    port = s.ports["amqp"]
    out = {}

    def conn():
        return pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))

    def probe(name, fn):
        c = conn()
        ch = c.channel()
        try:
            r = fn(c, ch)
            out[name] = ("ok", json.loads(json.dumps(r, default=str)))  # tuples as lists
        except (px.ChannelClosedByBroker, px.ConnectionClosedByBroker) as e:
            out[name] = (e.reply_code, e.reply_text)
        except Exception as e:  # a client-side refusal
            out[name] = ("exc", repr(e))
        try:
            c.close()
        except Exception:
            pass

    def sync(ch):
        ch.queue_declare("p.sync")

    probe("redeclare_ttl", lambda c, ch: (ch.queue_declare("p.a", arguments={"x-message-ttl": 1000}), ch.queue_declare("p.a", arguments={"x-message-ttl": 2000})))
    probe("redeclare_noargs", lambda c, ch: (ch.queue_declare("p.b", arguments={"x-message-ttl": 1000}), ch.queue_declare("p.b")))
    probe("redeclare_durable", lambda c, ch: (ch.queue_declare("p.c"), ch.queue_declare("p.c", durable=True)))
    probe("ex_redeclare_type", lambda c, ch: (ch.exchange_declare("p.x", "direct"), ch.exchange_declare("p.x", "fanout")))
    probe("ex_bad_type", lambda c, ch: ch.exchange_declare("p.y", "nonsense"))
    probe("ex_passive_missing", lambda c, ch: ch.exchange_declare("p.none", passive=True))
    probe("ex_reserved", lambda c, ch: ch.exchange_declare("amq.mine", "direct"))
    probe("q_reserved", lambda c, ch: ch.queue_declare("amq.mine"))
    probe("publish_missing_ex", lambda c, ch: (ch.basic_publish("p.none", "k", b"x"), sync(ch)))
    probe("bind_missing_q", lambda c, ch: ch.queue_bind("p.missing", "amq.direct", "k"))
    probe("bind_missing_ex", lambda c, ch: (ch.queue_declare("p.d"), ch.queue_bind("p.d", "p.nox", "k")))
    probe("unbind_missing", lambda c, ch: (ch.queue_declare("p.d"), ch.queue_unbind("p.d", "amq.direct", "nokey")))
    probe("delete_if_unused", lambda c, ch: (ch.queue_declare("p.e"), ch.basic_consume("p.e", lambda *a: None), ch.queue_delete("p.e", if_unused=True)))
    probe("delete_if_empty", lambda c, ch: (ch.queue_declare("p.f"), ch.basic_publish("", "p.f", b"x"), time.sleep(0.1), ch.queue_delete("p.f", if_empty=True)))
    probe("delete_missing_q", lambda c, ch: ch.queue_delete("p.nothing").method.message_count)
    probe("delete_missing_ex", lambda c, ch: str(ch.exchange_delete("p.nothing").method))
    probe("purge_missing", lambda c, ch: ch.queue_purge("p.nothing"))
    probe("consume_missing", lambda c, ch: ch.basic_consume("p.nothing", lambda *a: None))
    probe("get_missing", lambda c, ch: ch.basic_get("p.nothing"))
    probe("consumer_tag_reuse", lambda c, ch: (ch.queue_declare("p.g"), ch.basic_consume("p.g", lambda *a: None, consumer_tag="t1"), ch.basic_consume("p.g", lambda *a: None, consumer_tag="t1")))
    probe("exclusive_consume", lambda c, ch: (ch.queue_declare("p.h"), ch.basic_consume("p.h", lambda *a: None, exclusive=True), c.channel().basic_consume("p.h", lambda *a: None)))
    probe("bad_expiration", lambda c, ch: (ch.queue_declare("p.i"), ch.basic_publish("", "p.i", b"x", pika.BasicProperties(expiration="abc")), sync(ch)))
    probe("neg_ttl_arg", lambda c, ch: ch.queue_declare("p.j", arguments={"x-message-ttl": -1}))
    probe("str_ttl_arg", lambda c, ch: ch.queue_declare("p.k", arguments={"x-message-ttl": "x"}))
    probe("bad_overflow", lambda c, ch: ch.queue_declare("p.l", arguments={"x-overflow": "nope"}))
    probe("qos_size", lambda c, ch: ch.basic_qos(prefetch_size=10))
    probe("declare_counts", lambda c, ch: (ch.queue_declare("p.m"), [ch.basic_publish("", "p.m", b"x") for _ in range(3)], ch.basic_consume("p.m", lambda *a: None), time.sleep(0.1), (lambda m: (m.message_count, m.consumer_count))(ch.queue_declare("p.m").method))[-1])
    probe("get_counts", lambda c, ch: (ch.queue_declare("p.n"), [ch.basic_publish("", "p.n", b"x") for _ in range(3)], time.sleep(0.1), ch.basic_get("p.n")[0].message_count)[-1])
    probe("purge_count", lambda c, ch: (ch.queue_declare("p.o"), [ch.basic_publish("", "p.o", b"x") for _ in range(3)], time.sleep(0.1), ch.basic_get("p.o"), ch.queue_purge("p.o").method.message_count)[-1])
    probe("delete_count_unacked", lambda c, ch: (ch.queue_declare("p.p"), [ch.basic_publish("", "p.p", b"x") for _ in range(3)], time.sleep(0.1), ch.basic_get("p.p"), ch.queue_delete("p.p").method.message_count)[-1])
    probe("nack_multiple_zero", lambda c, ch: (ch.queue_declare("p.q"), ch.basic_nack(0, multiple=True), sync(ch), "fine")[-1])
    probe("reject_unknown", lambda c, ch: (ch.basic_reject(99), sync(ch)))
    probe("flow_false", lambda c, ch: ch.flow(False))
    probe("server_named_prefix", lambda c, ch: ch.queue_declare("", exclusive=True).method.queue[:8])
    probe("exclusive_other_conn_declare", lambda c, ch: (ch.queue_declare("p.r", exclusive=True), conn().channel().queue_declare("p.r")))
    probe("exclusive_other_conn_passive", lambda c, ch: (ch.queue_declare("p.s", exclusive=True), conn().channel().queue_declare("p.s", passive=True)))
    probe("exclusive_other_conn_delete", lambda c, ch: (ch.queue_declare("p.t", exclusive=True), conn().channel().queue_delete("p.t")))
    probe("recover_redelivered", lambda c, ch: (ch.queue_declare("p.u"), ch.queue_purge("p.u"), ch.basic_publish("", "p.u", b"x"), time.sleep(0.1), ch.basic_get("p.u"), ch.basic_recover(requeue=True), ch.basic_get("p.u")[0].redelivered)[-1])
    probe("internal_publish", lambda c, ch: (ch.exchange_declare("p.int", "direct", internal=True), ch.basic_publish("p.int", "k", b"x"), sync(ch)))
    probe("default_ex_bind", lambda c, ch: (ch.queue_declare("p.v"), ch.queue_bind("p.v", "", "k")))
    probe("delete_default_ex", lambda c, ch: ch.exchange_delete("amq.direct"))
    probe("maxlen_rejectpublish_dlx", lambda c, ch: (ch.queue_declare("p.w", arguments={"x-max-length": 0, "x-overflow": "reject-publish"}), ch.confirm_delivery(), ch.basic_publish("", "p.w", b"x")))
    yield out
    s.close()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reply_as_rabbitmq(results, name):
    assert results[name] == EXPECTED[name]
