// rabbitmq-c scenarios against an AMQP 0-9-1 broker: scenarios PORT
// Prints "ok NAME" per scenario and "all scenarios passed"; exits 1 at the first failure.
// The same program passes against RabbitMQ (that is how the expected replies were learnt).
#define _GNU_SOURCE
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int port;

static void fail(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL ", stdout);
    vprintf(fmt, ap);
    fputs("\n", stdout);
    va_end(ap);
    exit(1);
}

static void check_ok(amqp_rpc_reply_t r, const char* what) {
    if (r.reply_type != AMQP_RESPONSE_NORMAL) fail("%s: reply type %d", what, (int)r.reply_type);
}

static amqp_connection_state_t connect_broker(void) {
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t* s = amqp_tcp_socket_new(c);
    if (amqp_socket_open(s, "127.0.0.1", port) != AMQP_STATUS_OK) fail("connect");
    check_ok(amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"), "login");
    amqp_channel_open(c, 1);
    check_ok(amqp_get_rpc_reply(c), "channel.open");
    return c;
}

static void done(amqp_connection_state_t c) {
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
}

// The last RPC must have failed with channel.close CODE and a text starting with PREFIX.
static void expect_channel_close(amqp_connection_state_t c, int code, const char* prefix) {
    amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
    if (r.reply_type != AMQP_RESPONSE_SERVER_EXCEPTION || r.reply.id != AMQP_CHANNEL_CLOSE_METHOD)
        fail("expected channel.close %d, got reply type %d", code, (int)r.reply_type);
    amqp_channel_close_t* m = r.reply.decoded;
    if (m->reply_code != code) fail("expected code %d, got %d", code, m->reply_code);
    if (strncmp(m->reply_text.bytes, prefix, strlen(prefix)) != 0)
        fail("reply text '%.*s' does not start with '%s'", (int)m->reply_text.len,
             (char*)m->reply_text.bytes, prefix);
    amqp_channel_close_ok_t ok = {0};
    amqp_send_method(c, 1, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
}

static void declare(amqp_connection_state_t c, const char* q, int durable) {
    amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, durable, 0, 0, amqp_empty_table);
    check_ok(amqp_get_rpc_reply(c), "queue.declare");
}

static void publish(amqp_connection_state_t c, const char* ex, const char* key, const char* body,
                    int mandatory) {
    if (amqp_basic_publish(c, 1, amqp_cstring_bytes(ex), amqp_cstring_bytes(key), mandatory, 0,
                           NULL, amqp_cstring_bytes(body)) != AMQP_STATUS_OK)
        fail("publish");
}

// basic.get: the body into buf (empty string when the queue is empty); returns redelivered.
static int get(amqp_connection_state_t c, const char* q, char* buf, size_t n, int no_ack,
               uint64_t* tag) {
    amqp_rpc_reply_t r = amqp_basic_get(c, 1, amqp_cstring_bytes(q), no_ack);
    check_ok(r, "basic.get");
    buf[0] = 0;
    if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) return 0;
    amqp_basic_get_ok_t* ok = r.reply.decoded;
    int redelivered = ok->redelivered;
    if (tag) *tag = ok->delivery_tag;
    amqp_message_t m;
    check_ok(amqp_read_message(c, 1, &m, 0), "read_message");
    snprintf(buf, n, "%.*s", (int)m.body.len, (char*)m.body.bytes);
    amqp_destroy_message(&m);
    return redelivered;
}

static void expect_get(amqp_connection_state_t c, const char* q, const char* want) {
    char buf[256];
    get(c, q, buf, sizeof buf, 1, NULL);
    if (strcmp(buf, want) != 0) fail("get %s: want '%s' got '%s'", q, want, buf);
}

static void scenario_get_order(void) {
    amqp_connection_state_t c = connect_broker();
    declare(c, "c-order", 0);
    amqp_queue_purge(c, 1, amqp_cstring_bytes("c-order"));
    publish(c, "", "c-order", "one", 0);
    publish(c, "", "c-order", "two", 0);
    expect_get(c, "c-order", "one");
    expect_get(c, "c-order", "two");
    expect_get(c, "c-order", "");
    amqp_queue_delete(c, 1, amqp_cstring_bytes("c-order"), 0, 0);
    done(c);
    puts("ok get_order_and_empty");
}

static void scenario_errors(void) {
    amqp_connection_state_t c = connect_broker();
    amqp_queue_declare(c, 1, amqp_cstring_bytes("c-missing"), 1, 0, 0, 0, amqp_empty_table);
    expect_channel_close(c, 404, "NOT_FOUND - no queue 'c-missing' in vhost '/'");
    amqp_channel_open(c, 1);
    check_ok(amqp_get_rpc_reply(c), "reopen");
    declare(c, "c-durable", 1);
    amqp_queue_declare(c, 1, amqp_cstring_bytes("c-durable"), 0, 0, 0, 0, amqp_empty_table);
    expect_channel_close(c, 406, "PRECONDITION_FAILED - inequivalent arg 'durable'");
    amqp_channel_open(c, 1);
    check_ok(amqp_get_rpc_reply(c), "reopen");
    amqp_queue_declare(c, 1, amqp_cstring_bytes("c-excl"), 0, 0, 1, 0, amqp_empty_table);
    check_ok(amqp_get_rpc_reply(c), "exclusive declare");
    amqp_connection_state_t other = connect_broker();
    amqp_queue_declare(other, 1, amqp_cstring_bytes("c-excl"), 1, 0, 0, 0, amqp_empty_table);
    expect_channel_close(other, 405, "RESOURCE_LOCKED");
    done(other);
    amqp_queue_delete(c, 1, amqp_cstring_bytes("c-durable"), 0, 0);
    done(c);
    puts("ok errors_404_406_405");
}

static void scenario_mandatory_return(void) {
    amqp_connection_state_t c = connect_broker();
    publish(c, "amq.direct", "nobody-bound", "lost", 1);
    amqp_frame_t f;
    if (amqp_simple_wait_frame(c, &f) != AMQP_STATUS_OK) fail("wait basic.return");
    if (f.frame_type != AMQP_FRAME_METHOD || f.payload.method.id != AMQP_BASIC_RETURN_METHOD)
        fail("expected basic.return");
    amqp_basic_return_t* r = f.payload.method.decoded;
    if (r->reply_code != 312) fail("return code %d", r->reply_code);
    amqp_message_t m;
    check_ok(amqp_read_message(c, 1, &m, 0), "returned message");
    if (m.body.len != 4 || memcmp(m.body.bytes, "lost", 4) != 0) fail("returned body");
    amqp_destroy_message(&m);
    done(c);
    puts("ok mandatory_returns_312");
}

static void scenario_reject_requeue(void) {
    amqp_connection_state_t c = connect_broker();
    declare(c, "c-requeue", 0);
    publish(c, "", "c-requeue", "job", 0);
    char buf[64];
    uint64_t tag = 0;
    if (get(c, "c-requeue", buf, sizeof buf, 0, &tag) != 0) fail("first get redelivered");
    amqp_basic_reject(c, 1, tag, 1);
    if (get(c, "c-requeue", buf, sizeof buf, 0, &tag) != 1 || strcmp(buf, "job") != 0)
        fail("requeued message not redelivered: '%s'", buf);
    amqp_basic_ack(c, 1, tag, 0);
    expect_get(c, "c-requeue", "");
    amqp_queue_delete(c, 1, amqp_cstring_bytes("c-requeue"), 0, 0);
    done(c);
    puts("ok reject_requeue_redelivered");
}

static void scenario_topic(void) {
    amqp_connection_state_t c = connect_broker();
    declare(c, "c-star", 0);
    declare(c, "c-hash", 0);
    amqp_queue_bind(c, 1, amqp_cstring_bytes("c-star"), amqp_cstring_bytes("amq.topic"),
                    amqp_cstring_bytes("c.*.x"), amqp_empty_table);
    amqp_queue_bind(c, 1, amqp_cstring_bytes("c-hash"), amqp_cstring_bytes("amq.topic"),
                    amqp_cstring_bytes("c.#"), amqp_empty_table);
    check_ok(amqp_get_rpc_reply(c), "bind");
    publish(c, "amq.topic", "c.a.x", "1", 0);
    publish(c, "amq.topic", "c.a.b.x", "2", 0);
    expect_get(c, "c-star", "1");
    expect_get(c, "c-star", "");
    expect_get(c, "c-hash", "1");
    expect_get(c, "c-hash", "2");
    amqp_queue_delete(c, 1, amqp_cstring_bytes("c-star"), 0, 0);
    amqp_queue_delete(c, 1, amqp_cstring_bytes("c-hash"), 0, 0);
    done(c);
    puts("ok topic_star_hash");
}

static void scenario_confirms(void) {
    amqp_connection_state_t c = connect_broker();
    declare(c, "c-confirm", 0);
    amqp_confirm_select(c, 1);
    check_ok(amqp_get_rpc_reply(c), "confirm.select");
    for (int i = 0; i < 100; ++i) publish(c, "", "c-confirm", "m", 0);
    uint64_t acked = 0;
    while (acked < 100) {
        amqp_frame_t f;
        if (amqp_simple_wait_frame(c, &f) != AMQP_STATUS_OK) fail("wait confirm");
        if (f.frame_type != AMQP_FRAME_METHOD || f.payload.method.id != AMQP_BASIC_ACK_METHOD)
            fail("expected basic.ack, got method %x", f.payload.method.id);
        amqp_basic_ack_t* a = f.payload.method.decoded;
        if (a->delivery_tag <= acked || (!a->multiple && a->delivery_tag != acked + 1))
            fail("confirm tag %llu after %llu", (unsigned long long)a->delivery_tag,
                 (unsigned long long)acked);
        acked = a->delivery_tag;
    }
    amqp_queue_delete(c, 1, amqp_cstring_bytes("c-confirm"), 0, 0);
    check_ok(amqp_get_rpc_reply(c), "queue.delete");
    done(c);
    puts("ok confirms_100");
}

// tx.select / tx.commit / tx.rollback: publishes wait for the commit, rollback drops them, and a
// commit on a channel that never selected tx is 406.
static void scenario_tx(void) {
    amqp_connection_state_t c = connect_broker();
    declare(c, "c-tx", 0);
    amqp_queue_purge(c, 1, amqp_cstring_bytes("c-tx"));
    check_ok(amqp_get_rpc_reply(c), "queue.purge");
    amqp_tx_select(c, 1);
    check_ok(amqp_get_rpc_reply(c), "tx.select");
    publish(c, "", "c-tx", "dropped", 0);
    amqp_tx_rollback(c, 1);
    check_ok(amqp_get_rpc_reply(c), "tx.rollback");
    publish(c, "", "c-tx", "kept", 0);
    char buf[64];
    get(c, "c-tx", buf, sizeof buf, 1, NULL);
    if (buf[0]) fail("tx publish visible before commit: '%s'", buf);
    amqp_tx_commit(c, 1);
    check_ok(amqp_get_rpc_reply(c), "tx.commit");
    get(c, "c-tx", buf, sizeof buf, 1, NULL);
    if (strcmp(buf, "kept") != 0) fail("after commit got '%s'", buf);
    amqp_channel_open(c, 2);
    check_ok(amqp_get_rpc_reply(c), "channel.open 2");
    amqp_tx_commit(c, 2);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
    if (r.reply_type != AMQP_RESPONSE_SERVER_EXCEPTION || r.reply.id != AMQP_CHANNEL_CLOSE_METHOD)
        fail("tx.commit without tx.select: reply type %d", (int)r.reply_type);
    amqp_channel_close_t* m = r.reply.decoded;
    const char* want = "PRECONDITION_FAILED - channel is not transactional";
    if (m->reply_code != 406 || m->reply_text.len != strlen(want) ||
        memcmp(m->reply_text.bytes, want, strlen(want)) != 0)
        fail("tx.commit without tx.select: %d '%.*s'", m->reply_code, (int)m->reply_text.len,
             (char*)m->reply_text.bytes);
    amqp_channel_close_ok_t ok = {0};
    amqp_send_method(c, 2, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    done(c);
    puts("ok tx");
}

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    port = atoi(argv[1]);
    scenario_get_order();
    scenario_errors();
    scenario_mandatory_return();
    scenario_reject_requeue();
    scenario_topic();
    scenario_confirms();
    scenario_tx();
    puts("all scenarios passed");
    return 0;
}
