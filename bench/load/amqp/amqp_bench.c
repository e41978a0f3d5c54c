// amqp-bench: one AMQP 0-9-1 load client (rabbitmq-c) for switchyard and RabbitMQ alike.
//
// Scenarios (issue 5, item 7):
//   --mode a   no confirms, auto-ack consumer, transient queue
//   --mode b   publisher confirms (window --window), manual ack per message, prefetch --prefetch
//   --mode c   as b on a durable queue with persistent (delivery-mode 2) messages
//   --consumers K (K > 1): fan-out: a fanout exchange, K server-named queues, one auto-ack
//              consumer each, spread over --conns connections (one thread per connection).
// The publisher runs for --seconds (or --count messages), never more than --inflight messages
// ahead of the slowest consumer (so queues stay short on both brokers); then the consumers
// drain what is left. Prints one JSON line; recv_rate, the figure to compare, is every delivery
// received divided by the time from the first publish to the last delivery (so a broker that
// lets a backlog build up is not flattered by a short window).
//
// Threads: one per connection; a rabbitmq-c connection is used by its own thread only. The
// counters shared between threads are C11 atomics.
#define _GNU_SOURCE
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONSUMERS 1024

struct options {
    const char* host;
    int port;
    char mode;  // 'a', 'b', 'c'
    int size;
    double seconds;
    long count;
    int consumers;
    int conns;
    int prefetch;
    int window;
    long inflight;
    int batch;
};

static struct options opt = {"127.0.0.1", 5672, 'a', 64, 5.0, 0, 1, 0, 100, 1000, 20000, 64};
// SASL PLAIN credentials (--user/--password): guest, or e.g. a JWT as the password ([auth]).
static const char* login_user = "guest";
static const char* login_password = "guest";
static char queue_name[128], exchange_name[128];
static atomic_long received[MAX_CONSUMERS];
static atomic_long published, confirmed;
static atomic_int ready_consumers, publishing_done, failed;
static double t_start, t_window_end;
static long received_in_window;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die_reply(amqp_rpc_reply_t r, const char* what) {
    if (r.reply_type == AMQP_RESPONSE_NORMAL) return;
    fprintf(stderr, "amqp-bench: %s failed (reply type %d, library error %s)\n", what,
            (int)r.reply_type, amqp_error_string2(r.library_error));
    exit(2);
}

static amqp_connection_state_t open_conn(int channels) {
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t* s = amqp_tcp_socket_new(c);
    if (!s || amqp_socket_open(s, opt.host, opt.port) != AMQP_STATUS_OK) {
        fprintf(stderr, "amqp-bench: cannot connect to %s:%d\n", opt.host, opt.port);
        exit(2);
    }
    die_reply(amqp_login(c, "/", channels + 1, 131072, 0, AMQP_SASL_METHOD_PLAIN, login_user,
                         login_password),
              "login");
    for (int ch = 1; ch <= channels; ++ch) {
        amqp_channel_open(c, (amqp_channel_t)ch);
        die_reply(amqp_get_rpc_reply(c), "channel.open");
    }
    return c;
}

static void close_conn(amqp_connection_state_t c, int channels) {
    for (int ch = 1; ch <= channels; ++ch)
        amqp_channel_close(c, (amqp_channel_t)ch, AMQP_REPLY_SUCCESS);
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
}

static long slowest_received(void) {
    int n = opt.consumers;
    long m = atomic_load(&received[0]);
    for (int i = 1; i < n; ++i) {
        long v = atomic_load(&received[i]);
        if (v < m) m = v;
    }
    return m;
}

static long total_received(void) {
    long t = 0;
    for (int i = 0; i < opt.consumers; ++i) t += atomic_load(&received[i]);
    return t;
}

// ---- batched writes --------------------------------------------------------------------------
// rabbitmq-c sends every frame with its own send(): at 100k+ msgs/s the client, not the broker,
// is what gets measured. With --batch N (default 64) publishes and acks are encoded here into one
// buffer and written with one send() per batch on the library's socket; everything else
// (handshake, confirms, deliveries) stays with rabbitmq-c. --batch 1 uses the library calls.
struct wbuf {
    unsigned char* p;
    size_t len, cap;
};

static void put(struct wbuf* b, const void* d, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}
static void put8(struct wbuf* b, uint8_t v) {
    put(b, &v, 1);
}
static void put16(struct wbuf* b, uint16_t v) {
    unsigned char x[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    put(b, x, 2);
}
static void put32(struct wbuf* b, uint32_t v) {
    put16(b, (uint16_t)(v >> 16));
    put16(b, (uint16_t)v);
}
static void put64(struct wbuf* b, uint64_t v) {
    put32(b, (uint32_t)(v >> 32));
    put32(b, (uint32_t)v);
}
static void put_short_str(struct wbuf* b, amqp_bytes_t s) {
    put8(b, (uint8_t)s.len);
    put(b, s.bytes, s.len);
}
// Frame: type, channel 1, size (patched), payload, 0xCE (AMQP 0-9-1 section 4.2.3).
static size_t frame_begin(struct wbuf* b, uint8_t type) {
    put8(b, type);
    put16(b, 1);
    put32(b, 0);
    return b->len;
}
static void frame_end(struct wbuf* b, size_t start) {
    uint32_t n = (uint32_t)(b->len - start);
    unsigned char* at = b->p + start - 4;
    at[0] = (unsigned char)(n >> 24), at[1] = (unsigned char)(n >> 16);
    at[2] = (unsigned char)(n >> 8), at[3] = (unsigned char)n;
    put8(b, 0xCE);
}
static void encode_publish(struct wbuf* b, amqp_bytes_t ex, amqp_bytes_t key, amqp_bytes_t body,
                           uint8_t delivery_mode) {
    size_t m = frame_begin(b, AMQP_FRAME_METHOD);
    put32(b, AMQP_BASIC_PUBLISH_METHOD);
    put16(b, 0);  // ticket
    put_short_str(b, ex);
    put_short_str(b, key);
    put8(b, 0);  // mandatory, immediate
    frame_end(b, m);
    size_t h = frame_begin(b, AMQP_FRAME_HEADER);
    put16(b, AMQP_BASIC_CLASS);
    put16(b, 0);  // weight
    put64(b, body.len);
    put16(b, AMQP_BASIC_DELIVERY_MODE_FLAG);
    put8(b, delivery_mode);
    frame_end(b, h);
    if (body.len) {
        size_t d = frame_begin(b, AMQP_FRAME_BODY);
        put(b, body.bytes, body.len);
        frame_end(b, d);
    }
}
static void encode_ack(struct wbuf* b, amqp_channel_t ch, uint64_t tag) {
    put8(b, AMQP_FRAME_METHOD);
    put16(b, ch);
    put32(b, 13);
    put32(b, AMQP_BASIC_ACK_METHOD);
    put64(b, tag);
    put8(b, 0);
    put8(b, 0xCE);
}
static int flush(amqp_connection_state_t c, struct wbuf* b) {
    int fd = amqp_get_sockfd(c);
    size_t off = 0;
    while (off < b->len) {
        ssize_t n = send(fd, b->p + off, b->len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            poll(&pfd, 1, 100);
        } else {
            return -1;
        }
    }
    b->len = 0;
    return 0;
}

// ---- consumers -------------------------------------------------------------------------------

struct consumer_arg {
    int first, n;  // consumer indexes [first, first + n) on this connection's channels 1..n
};

static void* consumer_main(void* p) {
    struct consumer_arg* a = p;
    amqp_connection_state_t c = open_conn(a->n);
    int manual = opt.mode != 'a' && opt.consumers == 1;
    for (int i = 0; i < a->n; ++i) {
        amqp_channel_t ch = (amqp_channel_t)(i + 1);
        amqp_bytes_t q = amqp_cstring_bytes(queue_name);
        if (opt.consumers > 1) {  // fan-out: own server-named queue bound to the exchange
            amqp_queue_declare_ok_t* ok =
                amqp_queue_declare(c, ch, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
            die_reply(amqp_get_rpc_reply(c), "queue.declare");
            q = amqp_bytes_malloc_dup(ok->queue);
            amqp_queue_bind(c, ch, q, amqp_cstring_bytes(exchange_name), amqp_empty_bytes,
                            amqp_empty_table);
            die_reply(amqp_get_rpc_reply(c), "queue.bind");
        }
        if (manual) {
            amqp_basic_qos(c, ch, 0, (uint16_t)opt.prefetch, 0);
            die_reply(amqp_get_rpc_reply(c), "basic.qos");
        }
        amqp_basic_consume(c, ch, q, amqp_empty_bytes, 0, manual ? 0 : 1, 0, amqp_empty_table);
        die_reply(amqp_get_rpc_reply(c), "basic.consume");
        if (opt.consumers > 1) amqp_bytes_free(q);
    }
    atomic_fetch_add(&ready_consumers, a->n);
    double idle_since = 0;
    struct wbuf acks = {0};
    for (;;) {
        // Written before the library could block in a read: the broker waits for them (prefetch).
        if (acks.len && !amqp_data_in_buffer(c) && flush(c, &acks) < 0) {
            atomic_store(&failed, 1);
            break;
        }
        if (atomic_load(&publishing_done)) {
            long want = atomic_load(&published);
            int all = 1;
            for (int i = 0; i < a->n; ++i) all &= atomic_load(&received[a->first + i]) >= want;
            if (all) break;
            if (idle_since == 0) idle_since = now_s();
            if (now_s() - idle_since > 5.0) break;  // lost messages: reported as received < sent
        }
        amqp_envelope_t env;
        struct timeval tv = {0, 100000};
        amqp_maybe_release_buffers(c);
        amqp_rpc_reply_t r = amqp_consume_message(c, &env, &tv, 0);
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            r.library_error == AMQP_STATUS_TIMEOUT) {
            continue;
        }
        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
            fprintf(stderr, "amqp-bench: consume failed: %s\n",
                    amqp_error_string2(r.library_error));
            atomic_store(&failed, 1);
            break;
        }
        idle_since = 0;
        if (manual && opt.batch > 1) {
            encode_ack(&acks, env.channel, env.delivery_tag);
        } else if (manual) {
            amqp_basic_ack(c, env.channel, env.delivery_tag, 0);
        }
        atomic_fetch_add_explicit(&received[a->first + env.channel - 1], 1, memory_order_relaxed);
        amqp_destroy_envelope(&env);
    }
    if (acks.len) flush(c, &acks);
    free(acks.p);
    close_conn(c, a->n);
    return NULL;
}

// ---- publisher -------------------------------------------------------------------------------

// Reads confirms (basic.ack / basic.nack, possibly multiple) without blocking, or blocking up to
// 100 ms when block is set. Returns -1 on a broken connection.
static int read_confirms(amqp_connection_state_t c, int block) {
    for (;;) {
        amqp_frame_t f;
        struct timeval tv = {0, block ? 100000 : 0};
        int rc = amqp_simple_wait_frame_noblock(c, &f, &tv);
        if (rc == AMQP_STATUS_TIMEOUT) return 0;
        if (rc != AMQP_STATUS_OK) return -1;
        block = 0;
        if (f.frame_type != AMQP_FRAME_METHOD) continue;
        uint64_t tag = 0;
        int multiple = 0;
        if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            amqp_basic_ack_t* m = f.payload.method.decoded;
            tag = m->delivery_tag;
            multiple = m->multiple;
        } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            amqp_basic_nack_t* m = f.payload.method.decoded;
            tag = m->delivery_tag;
            multiple = m->multiple;
        } else {
            continue;
        }
        if (multiple) {
            atomic_store(&confirmed, (long)tag);
        } else {
            atomic_fetch_add(&confirmed, 1);
        }
        if (!amqp_frames_enqueued(c) && !amqp_data_in_buffer(c)) return 0;
    }
}

static void publish_loop(amqp_connection_state_t c) {
    char* body = malloc((size_t)opt.size);
    memset(body, 'x', (size_t)opt.size);
    amqp_bytes_t payload = {(size_t)opt.size, body};
    amqp_basic_properties_t props;
    memset(&props, 0, sizeof props);
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.delivery_mode = opt.mode == 'c' ? 2 : 1;
    int confirms = opt.mode != 'a';
    amqp_bytes_t ex = amqp_cstring_bytes(opt.consumers > 1 ? exchange_name : "");
    amqp_bytes_t key = amqp_cstring_bytes(opt.consumers > 1 ? "" : queue_name);
    long n = 0;
    double end = t_start + opt.seconds;
    struct wbuf out = {0};
    for (;;) {
        if ((n & 63) == 0 || opt.batch > 1) {
            if (opt.count ? n >= opt.count : now_s() >= end) break;
            while (n - slowest_received() > opt.inflight) usleep(50);
        }
        if (confirms) {
            while (n - atomic_load(&confirmed) >= opt.window) {
                if (read_confirms(c, 1) < 0) goto broken;
            }
        }
        if (opt.batch > 1) {
            long k = 0;
            for (; k < opt.batch && (!confirms || n + k - atomic_load(&confirmed) < opt.window) &&
                   (!opt.count || n + k < opt.count);
                 ++k) {
                encode_publish(&out, ex, key, payload, props.delivery_mode);
            }
            if (flush(c, &out) < 0) goto broken;
            n += k;
            atomic_store(&published, n);
            if (confirms && read_confirms(c, 0) < 0) goto broken;
            continue;
        }
        if (amqp_basic_publish(c, 1, ex, key, 0, 0, &props, payload) != AMQP_STATUS_OK) goto broken;
        atomic_store(&published, ++n);
        if (confirms && (n & 63) == 0 && read_confirms(c, 0) < 0) goto broken;
    }
    t_window_end = now_s();
    received_in_window = total_received();
    while (confirms && atomic_load(&confirmed) < n && now_s() - t_window_end < 10) {
        if (read_confirms(c, 1) < 0) goto broken;
    }
    free(body);
    free(out.p);
    return;
broken:
    fprintf(stderr, "amqp-bench: publish failed after %ld messages\n", n);
    atomic_store(&failed, 1);
    t_window_end = now_s();
    received_in_window = total_received();
    free(body);
}

static void usage(void) {
    fprintf(stderr,
            "usage: amqp-bench [--host H] [--port P] [--mode a|b|c] [--size BYTES]\n"
            "                  [--seconds S | --count N] [--consumers K] [--conns C]\n"
            "                  [--prefetch N] [--window N] [--inflight N] [--batch N]\n"
            "                  [--user U] [--password P]\n");
    exit(1);
}

static void parse(int argc, char** argv) {
    int inflight_set = 0;
    for (int i = 1; i < argc; ++i) {
        const char* k = argv[i];
        if (i + 1 >= argc) usage();
        const char* v = argv[++i];
        if (!strcmp(k, "--host"))
            opt.host = v;
        else if (!strcmp(k, "--user"))
            login_user = v;
        else if (!strcmp(k, "--password"))
            login_password = v;
        else if (!strcmp(k, "--port"))
            opt.port = atoi(v);
        else if (!strcmp(k, "--mode"))
            opt.mode = v[0];
        else if (!strcmp(k, "--size"))
            opt.size = atoi(v);
        else if (!strcmp(k, "--seconds"))
            opt.seconds = atof(v);
        else if (!strcmp(k, "--count"))
            opt.count = atol(v);
        else if (!strcmp(k, "--consumers"))
            opt.consumers = atoi(v);
        else if (!strcmp(k, "--conns"))
            opt.conns = atoi(v);
        else if (!strcmp(k, "--prefetch"))
            opt.prefetch = atoi(v);
        else if (!strcmp(k, "--batch"))
            opt.batch = atoi(v);
        else if (!strcmp(k, "--window"))
            opt.window = atoi(v);
        else if (!strcmp(k, "--inflight"))
            opt.inflight = atol(v);
        else
            usage();
    }
    if (opt.mode < 'a' || opt.mode > 'c' || opt.size < 0 || opt.consumers < 1 ||
        opt.consumers > MAX_CONSUMERS) {
        usage();
    }
    if (opt.batch < 1) opt.batch = 1;
    if (opt.consumers > 1) opt.mode = 'a';  // fan-out: auto-ack, no confirms
    if (opt.consumers > 1 && !inflight_set) opt.inflight = 2000;
    if (opt.conns <= 0) opt.conns = opt.consumers < 4 ? opt.consumers : 4;
    if (opt.conns > opt.consumers) opt.conns = opt.consumers;
}

int main(int argc, char** argv) {
    parse(argc, argv);
    snprintf(queue_name, sizeof queue_name, "amqp-bench-%c-%d", opt.mode, (int)getpid());
    snprintf(exchange_name, sizeof exchange_name, "amqp-bench-fanout-%d", (int)getpid());
    amqp_connection_state_t pub = open_conn(1);
    if (opt.consumers > 1) {
        amqp_exchange_declare(pub, 1, amqp_cstring_bytes(exchange_name),
                              amqp_cstring_bytes("fanout"), 0, 0, 0, 0, amqp_empty_table);
        die_reply(amqp_get_rpc_reply(pub), "exchange.declare");
    } else {
        int durable = opt.mode == 'c';
        amqp_queue_declare(pub, 1, amqp_cstring_bytes(queue_name), 0, durable, 0, 0,
                           amqp_empty_table);
        die_reply(amqp_get_rpc_reply(pub), "queue.declare");
    }
    if (opt.mode != 'a') {
        amqp_confirm_select(pub, 1);
        die_reply(amqp_get_rpc_reply(pub), "confirm.select");
    }
    pthread_t th[MAX_CONSUMERS];
    struct consumer_arg args[MAX_CONSUMERS];
    int per = opt.consumers / opt.conns, extra = opt.consumers % opt.conns, first = 0;
    for (int i = 0; i < opt.conns; ++i) {
        args[i].first = first;
        args[i].n = per + (i < extra ? 1 : 0);
        first += args[i].n;
        pthread_create(&th[i], NULL, consumer_main, &args[i]);
    }
    while (atomic_load(&ready_consumers) < opt.consumers) usleep(1000);
    t_start = now_s();
    publish_loop(pub);
    atomic_store(&publishing_done, 1);
    for (int i = 0; i < opt.conns; ++i) pthread_join(th[i], NULL);
    double drained = now_s();
    if (opt.consumers > 1) {
        amqp_exchange_delete(pub, 1, amqp_cstring_bytes(exchange_name), 0);
    } else {
        amqp_queue_delete(pub, 1, amqp_cstring_bytes(queue_name), 0, 0);
    }
    amqp_get_rpc_reply(pub);
    close_conn(pub, 1);
    double window = t_window_end - t_start;
    long sent = atomic_load(&published), got = total_received();
    printf(
        "{\"mode\":\"%c\",\"size\":%d,\"consumers\":%d,\"seconds\":%.3f,\"sent\":%ld,"
        "\"confirmed\":%ld,\"received\":%ld,\"expected\":%ld,\"send_rate\":%.0f,"
        "\"recv_rate\":%.0f,\"window_recv_rate\":%.0f,\"drain_seconds\":%.3f,\"ok\":%s}\n",
        opt.mode, opt.size, opt.consumers, window, sent, atomic_load(&confirmed), got,
        sent * opt.consumers, sent / window, got / (drained - t_start), received_in_window / window,
        drained - t_window_end,
        (!atomic_load(&failed) && got == sent * opt.consumers) ? "true" : "false");
    return atomic_load(&failed) ? 3 : 0;
}
