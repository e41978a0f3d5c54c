// connection: one accepted (or connected) stream socket on one loop.
//
// OWNERSHIP AND THREADS
//   A connection owns its stream (fd), its input buffer, its output queue, its timer and its
//   handler (the protocol strategy). It owns itself: connection::create() returns a pointer that
//   stays valid until the handler's on_close() returns; the memory is freed at the end of that
//   loop turn (deferred close). Every member is loop-thread only. Other threads reach a
//   connection by posting to its loop and looking it up there (the session layer keeps ids).
//
// INPUT
//   Reads land in input() (a byte_buffer, at most options.max_input bytes). on_data() gets the
//   whole unconsumed buffer and consumes (in.consume(n)) what it parsed; the rest stays for the
//   next call. When the buffer is full reading pauses (TCP pushes back on the peer) until the
//   handler consumes; a handler that pause_reading()s for async work calls resume_reading(),
//   which also re-delivers input already buffered (pipelined requests).
//   Empty buffers free their storage, so an idle connection holds no buffer memory.
//
// OUTPUT
//   write() only queues (copied bytes, a whole byte_buffer, shared_bytes slices or file ranges);
//   the queue is flushed once per loop turn in the loop's before-sleep phase with one writev
//   (IOV_MAX iovecs per call) and sendfile for file ranges. EPOLLOUT is armed only after the
//   kernel returned EAGAIN and disarmed when drained. Above high_watermark queued bytes, reading
//   stops and on_backpressure() fires (inside the write() call that crossed it); at or below
//   low_watermark reading resumes and on_drain() fires.
//   set_write_coalescing(true) (push streams) lets a busy connection hold its queue for a bounded
//   delay so several turns' frames leave in one writev (net/write_coalescing.hpp: the policy,
//   options.coalesce: its limits); close, flush() and EPOLLOUT write what is held at once.
//
// CLOSING
//   close(graceful): no more reads or writes accepted; queued output is flushed, then FIN
//     (shutdown SHUT_WR), then remaining input is read and discarded until the peer's FIN
//     (lingering close, avoids an RST destroying the reply) or close_timeout.
//   close(immediate): drop queued output, close now.   close(abort): RST (SO_LINGER 0).
//   Peer FIN: on_peer_closed(); the connection may still write (half-close); the default
//   handler implementation closes gracefully.
//   on_close(reason) fires exactly once, for every connection that was opened.
//
// TIMEOUTS (one loop timer per connection, lazily re-armed: activity only stores a time)
//   idle: no bytes read or written for idle_timeout.  read: set_read_deadline(d) fires once d
//   passes unless clear_read_deadline() (slow headers).  write: output pending and no write
//   progress for write_timeout (peer not reading). on_timeout() decides: close (default) or keep.
//
// SIGPIPE: writes use MSG_NOSIGNAL, but sendfile cannot; servers ignore SIGPIPE at start-up.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/clock.hpp"
#include "switchyard/core/counter.hpp"
#include "switchyard/core/loop.hpp"
#include "switchyard/net/output_queue.hpp"
#include "switchyard/net/socket.hpp"
#include "switchyard/net/stream.hpp"
#include "switchyard/net/write_coalescing.hpp"

namespace sy::net {

class connection;
class connection_list;

enum class close_reason : std::uint8_t {
    local,          ///< close() by the handler or the server
    peer_closed,    ///< peer FIN then our close
    reset,          ///< ECONNRESET / EPIPE / socket error
    io_error,       ///< another read/write failure
    idle_timeout,   ///< idle for idle_timeout
    read_timeout,   ///< read deadline passed
    write_timeout,  ///< output pending without progress for write_timeout
    close_timeout,  ///< graceful close did not finish within close_timeout
    shutdown,       ///< server shutdown (connection_list::close_all)
};
const char* to_string(close_reason r);

enum class close_mode : std::uint8_t { graceful, immediate, abort };
enum class timeout_kind : std::uint8_t { idle, read, write };
enum class timeout_action : std::uint8_t { close, keep };

/// The protocol strategy a connection owns (HTTP/1 session, WebSocket session, ...). All calls on
/// the loop thread; the connection reference is valid for the call. A handler may call any
/// connection member from any callback, including set_handler() and close().
class connection_handler {
  public:
    virtual ~connection_handler() = default;
    /// The connection is registered and ready (also called on a handler installed by set_handler).
    virtual void on_open(connection&) {}
    /// New input: consume what was parsed from in; leave the rest.
    virtual void on_data(connection& c, byte_buffer& in) = 0;
    /// Queued output crossed high_watermark: reading is paused (slow consumer policy goes here).
    virtual void on_backpressure(connection&) {}
    /// Queued output fell to low_watermark after a backpressure: reading resumed.
    virtual void on_drain(connection&) {}
    /// The peer sent FIN. Writing is still possible. Default: close gracefully.
    virtual void on_peer_closed(connection& c);
    /// A timeout fired; return keep to leave the connection open (the timer is re-armed).
    virtual timeout_action on_timeout(connection&, timeout_kind) { return timeout_action::close; }
    /// Last call: the fd is closed. The handler is destroyed after this, at the end of the turn.
    virtual void on_close(connection&, close_reason) {}
    /// The protocol this handler speaks, as introspection shows it ("HTTP/1.1", "h2",
    /// "WebSocket", "SSE", "AMQP 0-9-1", "TLS" while a handshake runs). A label only.
    virtual std::string_view protocol() const { return "TCP"; }
};

/// Per-loop I/O counters (owner loop writes, anyone reads). Optional
/// (connection_options::counters).
struct io_counters {
    core::counter opened, closed;
    core::counter bytes_in, bytes_out;
    core::counter reads, writevs, sendfiles, eagain_writes;
    core::counter backpressure_events;
    core::counter timeouts;
    core::counter coalesced_writevs;  ///< writevs of connections with write coalescing on
};

struct connection_options {
    std::size_t max_input = 64 * 1024;   ///< input buffer cap; reading pauses at the cap
    std::size_t read_chunk = 16 * 1024;  ///< bytes asked per read(2)
    std::size_t high_watermark = 1024 * 1024;
    std::size_t low_watermark = 256 * 1024;
    millis idle_timeout{0};  ///< 0 = none (per-connection override: set_idle_timeout)
    millis write_timeout{0};
    millis close_timeout{5000};  ///< graceful close deadline (flush + linger)
    bool tcp_nodelay = true;
    io_counters* counters = nullptr;  ///< per loop; must outlive its connections
    coalesce_limits coalesce;         ///< for connections that set_write_coalescing(true)
};

/// Intrusive list of a loop's connections (for shutdown and metrics). Loop thread only.
class connection_list {
  public:
    connection_list() = default;
    connection_list(const connection_list&) = delete;
    connection_list& operator=(const connection_list&) = delete;
    ~connection_list();
    std::size_t size() const { return size_; }
    /// Closes every connection in the list (graceful by default: replies in flight finish).
    void close_all(close_mode mode = close_mode::graceful,
                   close_reason reason = close_reason::shutdown);
    template <typename Fn>
    void for_each(Fn&& fn);
    /// Server shutdown: calls fn on every connection in the list now, and on every connection
    /// added later, right after its handler's on_open. A socket accepted just before its
    /// listener closed reaches its loop (a posted hand-off: acceptor model, AMQP to loop 0)
    /// after the shutdown task ran there; it must hear the shutdown too, not wait for the end
    /// of the grace period. Loop thread only; fn lives as long as the list.
    void drain(std::function<void(connection&)> fn);
    bool draining() const { return static_cast<bool>(drain_); }

  private:
    friend class connection;
    connection* head_ = nullptr;
    std::size_t size_ = 0;
    std::function<void(connection&)> drain_;
};

class connection : private core::io_handler, private core::before_sleep_hook {
  public:
    /// Creates a connection on l (loop thread only) and calls handler->on_open. options must
    /// outlive the connection (server-lifetime config). slot is released when the connection
    /// closes. Returns nullptr (and closes the stream) if the poller refused the fd.
    template <byte_stream Stream>
    static connection* create(core::loop& l, Stream stream,
                              std::unique_ptr<connection_handler> handler,
                              const connection_options& options, connection_slot slot = {},
                              connection_list* list = nullptr);

    // ---- handler ----
    /// Swaps the protocol handler (HTTP -> WebSocket). The old handler is destroyed at the end of
    /// the turn (it may be the caller); the new one gets on_open, then any input left unconsumed.
    void set_handler(std::unique_ptr<connection_handler> h);
    connection_handler* handler() const { return handler_.get(); }
    core::loop& owner_loop() const { return *loop_; }
    int fd() const { return fd_; }
    const connection_options& options() const { return *opts_; }

    // ---- output (queued, flushed before the loop sleeps). false = not open, dropped. ----
    bool write(byte_view b);
    bool write(std::string_view s) { return write(as_bytes(s)); }
    bool write(byte_buffer&& b);
    bool write(shared_bytes b);
    bool write(shared_bytes b, std::size_t offset, std::size_t length);
    /// Sends length bytes of fd from offset with sendfile. own_fd: closed after sending/closing.
    bool write_file(int fd, off_t offset, std::size_t length, bool own_fd);
    /// Writes now instead of at the end of the turn (rarely needed); ends a coalescing hold.
    void flush();
    /// Output of this connection is a stream of small messages (push): while the loop is busy,
    /// shared bytes (fan-out frames) may be held up to options().coalesce.delay_ns to write
    /// several in one writev; any other write ends the hold (a reply is never held).
    void set_write_coalescing(bool on);
    bool write_coalescing() const { return coalescing_; }
    std::size_t queued_bytes() const { return out_.bytes(); }
    bool above_high_watermark() const { return over_high_; }
    /// Bytes read from / written to the stream since the connection opened (loop thread; one
    /// add per read or write call, for introspection: the management API's recv_oct/send_oct).
    std::uint64_t bytes_in() const { return bytes_in_; }
    std::uint64_t bytes_out() const { return bytes_out_; }
    /// When the connection was created (the loop's monotonic ms).
    std::int64_t opened_ms() const { return opened_ms_; }

    // ---- input ----
    byte_buffer& input() { return in_; }
    void pause_reading();
    /// Resumes and re-delivers buffered input (before the loop sleeps).
    void resume_reading();
    bool reading() const { return read_block_ == 0; }

    // ---- timeouts ----
    void set_idle_timeout(millis t);
    void set_write_timeout(millis t);
    void set_read_deadline(millis from_now);
    void clear_read_deadline() { read_deadline_ms_ = 0; }

    // ---- closing policy ----
    /// Graceful close normally lingers (reads and discards until the peer's FIN) so late input
    /// cannot turn the close into an RST. A protocol whose peer sends nothing after our final
    /// reply (HTTP/1.1 with Connection: close) may skip it when nothing is unread at close time,
    /// as nginx does: one poller change and one round trip fewer per connection. Protocols with
    /// a close handshake the peer may overlap with other frames (AMQP) keep the default.
    void set_linger_only_if_unread(bool on) { linger_only_if_unread_ = on; }

    // ---- closing ----
    void close(close_mode mode = close_mode::graceful, close_reason reason = close_reason::local);
    bool is_open() const { return state_ == state::open; }
    bool is_closed() const { return state_ == state::closed; }
    bool peer_closed() const { return peer_eof_; }

  protected:
    connection(core::loop& l, int fd, const connection_options& o, connection_slot slot);
    virtual ~connection();
    void start(std::unique_ptr<connection_handler> h, connection_list* list);

    // The stream, reached through the concrete basic_connection<Stream>.
    virtual result<std::size_t, io_error> stream_read(mutable_byte_view b) = 0;
    virtual result<std::size_t, io_error> stream_writev(const iovec* iov, int n) = 0;
    virtual result<std::size_t, io_error> stream_sendfile(int fd, off_t off, std::size_t len) = 0;
    virtual void stream_shutdown_write() = 0;
    virtual void stream_close(bool abort) = 0;
    /// True when closing the stream says all there is to say (plain TCP: close() sends the FIN);
    /// false when shutdown_write() has a message of its own to send first (TLS close_notify).
    virtual bool stream_close_sends_fin() const { return false; }
    // Optional stream members (TLS): bytes already decrypted inside the stream, which no poller
    // event will announce; and "the last read would_block waiting for writability" (a TLS read
    // that must send handshake or ticket bytes first).
    virtual std::size_t stream_buffered() const { return 0; }
    virtual bool stream_read_wants_write() const { return false; }
    /// "The last write would_block waiting for the peer's bytes" (a TLS client's handshake).
    virtual bool stream_write_wants_read() const { return false; }

  private:
    enum class state : std::uint8_t { open, closing, lingering, closed };
    enum block : std::uint8_t {
        block_user = 1,
        block_input_full = 2,
        block_output = 4,
        block_eof = 8,
        block_closing = 16,
    };
    friend class connection_list;
    friend struct connection_access;

    void on_io(std::uint32_t events) override;
    void before_sleep() override;
    void on_readable();
    void linger_read();
    void deliver_input();
    void on_peer_eof();
    void flush_output();
    void write_out();
    void hold_or_schedule();
    void end_hold();
    void wrote_coalesced();
    void after_progress();
    /// fanout: shared bytes (a push frame), the only output write coalescing may hold.
    void queued(std::size_t n, bool fanout = false);
    void set_block(std::uint8_t bit, bool on);
    /// Puts the wanted interest in the poller. Dropping only read interest is lazy: most pauses
    /// end (or the connection closes) before more input arrives; if input does arrive while
    /// paused, the readable event drops it then (level-triggered, see on_readable).
    void update_interest(bool lazy = true);
    std::uint32_t wanted_interest() const;
    void begin_linger();
    void finish(bool abort);
    std::int64_t next_deadline() const;
    void arm_timer();
    void on_timer();
    void fire_timeout(timeout_kind k);
    void unlink();
    io_counters* counters() const { return opts_->counters; }

    core::loop* loop_;
    const connection_options* opts_;
    std::unique_ptr<connection_handler> handler_;
    byte_buffer in_;
    output_queue out_;
    connection_slot slot_;
    connection_list* list_ = nullptr;
    connection* list_prev_ = nullptr;
    connection* list_next_ = nullptr;
    core::timer_id timer_;
    core::timer_id hold_timer_;  // write coalescing: the held queue's due time
    write_coalescer coalescer_;
    std::int64_t timer_at_ms_ = 0;
    std::int64_t last_activity_ms_ = 0;
    std::int64_t write_progress_ms_ = 0;
    std::int64_t read_deadline_ms_ = 0;  // 0 = none; also the close deadline while closing
    std::uint32_t idle_ms_ = 0;
    std::uint32_t write_ms_ = 0;
    int fd_;
    std::uint32_t registered_ = 0;  // interest currently in the poller
    std::uint8_t read_block_ = 0;
    state state_ = state::open;
    close_reason reason_ = close_reason::local;
    bool want_write_ = false;  // kernel said EAGAIN: waiting for writable
    bool over_high_ = false;
    std::uint64_t bytes_in_ = 0;
    std::uint64_t bytes_out_ = 0;
    std::int64_t opened_ms_ = 0;
    bool peer_eof_ = false;
    bool redeliver_ = false;
    bool linger_only_if_unread_ = false;
    bool coalescing_ = false;
    bool reread_ = false;            // the stream holds buffered input: read before sleeping
    bool read_wants_write_ = false;  // a read waits for EPOLLOUT (TLS)
    bool write_wants_read_ = false;  // a write waits for EPOLLIN (a TLS client's handshake)
};

/// The connection for one stream type. Only create() constructs it.
template <byte_stream Stream>
class basic_connection final : public connection {
  public:
    Stream& stream() { return stream_; }

  private:
    friend class connection;
    basic_connection(core::loop& l, Stream s, const connection_options& o, connection_slot slot)
        : connection(l, s.fd(), o, std::move(slot)), stream_(std::move(s)) {}

    result<std::size_t, io_error> stream_read(mutable_byte_view b) override {
        return stream_.read(b);
    }
    result<std::size_t, io_error> stream_writev(const iovec* iov, int n) override {
        return stream_.writev(iov, n);
    }
    result<std::size_t, io_error> stream_sendfile(int fd, off_t off, std::size_t len) override {
        return stream_.sendfile(fd, off, len);
    }
    void stream_shutdown_write() override { stream_.shutdown_write(); }
    void stream_close(bool abort) override { stream_.close(abort); }
    bool stream_close_sends_fin() const override {
        if constexpr (requires { Stream::close_sends_fin; }) {
            return Stream::close_sends_fin;
        } else {
            return false;
        }
    }
    std::size_t stream_buffered() const override {
        if constexpr (requires(const Stream& s) { s.buffered(); }) {
            return stream_.buffered();
        } else {
            return 0;
        }
    }
    bool stream_read_wants_write() const override {
        if constexpr (requires(const Stream& s) { s.read_wants_write(); }) {
            return stream_.read_wants_write();
        } else {
            return false;
        }
    }
    bool stream_write_wants_read() const override {
        if constexpr (requires(const Stream& s) { s.write_wants_read(); }) {
            return stream_.write_wants_read();
        } else {
            return false;
        }
    }

    Stream stream_;
};

using tcp_connection = basic_connection<tcp_stream>;

template <byte_stream Stream>
connection* connection::create(core::loop& l, Stream stream,
                               std::unique_ptr<connection_handler> handler,
                               const connection_options& options, connection_slot slot,
                               connection_list* list) {
    auto* c = new basic_connection<Stream>(l, std::move(stream), options, std::move(slot));
    c->start(std::move(handler), list);
    return c->is_closed() && !c->handler_ ? nullptr : c;
}

template <typename Fn>
void connection_list::for_each(Fn&& fn) {
    for (connection* c = head_; c;) {
        connection* next = c->list_next_;
        fn(*c);
        c = next;
    }
}

}  // namespace sy::net
