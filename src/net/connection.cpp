#include "switchyard/net/connection.hpp"

#include <sys/ioctl.h>

#include <climits>
#include <limits>

namespace sy::net {

namespace {
constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();
constexpr int max_iov = IOV_MAX < 1024 ? IOV_MAX : 1024;
}  // namespace

const char* to_string(close_reason r) {
    switch (r) {
        case close_reason::local:
            return "local";
        case close_reason::peer_closed:
            return "peer_closed";
        case close_reason::reset:
            return "reset";
        case close_reason::io_error:
            return "io_error";
        case close_reason::idle_timeout:
            return "idle_timeout";
        case close_reason::read_timeout:
            return "read_timeout";
        case close_reason::write_timeout:
            return "write_timeout";
        case close_reason::close_timeout:
            return "close_timeout";
        case close_reason::shutdown:
            return "shutdown";
    }
    return "?";
}

void connection_handler::on_peer_closed(connection& c) {
    c.close(close_mode::graceful, close_reason::peer_closed);
}

// ---------------------------------------------------------------- connection_list

connection_list::~connection_list() {
    for (connection* c = head_; c; c = c->list_next_) c->list_ = nullptr;
}

void connection_list::close_all(close_mode mode, close_reason reason) {
    for_each([&](connection& c) { c.close(mode, reason); });
}

void connection_list::drain(std::function<void(connection&)> fn) {
    drain_ = std::move(fn);
    for_each(drain_);
}

void connection::unlink() {
    if (!list_) return;
    if (list_prev_)
        list_prev_->list_next_ = list_next_;
    else
        list_->head_ = list_next_;
    if (list_next_) list_next_->list_prev_ = list_prev_;
    --list_->size_;
    list_ = nullptr;
    list_prev_ = list_next_ = nullptr;
}

// ---------------------------------------------------------------- lifecycle

connection::connection(core::loop& l, int fd, const connection_options& o, connection_slot slot)
    : loop_(&l), opts_(&o), slot_(std::move(slot)), fd_(fd) {
    opened_ms_ = l.now_ms();
    idle_ms_ = static_cast<std::uint32_t>(o.idle_timeout.count());
    write_ms_ = static_cast<std::uint32_t>(o.write_timeout.count());
}

connection::~connection() {
    unlink();
}

void connection::start(std::unique_ptr<connection_handler> h, connection_list* list) {
    if (opts_->tcp_nodelay) (void)set_nodelay(fd_);  // fails harmlessly on non-TCP streams
    registered_ = core::ev::readable;
    if (!loop_->io().add(fd_, registered_, this)) {
        state_ = state::closed;
        stream_close(false);
        loop_->defer([this] { delete this; });
        return;
    }
    if (list) {
        list_ = list;
        list_next_ = list->head_;
        if (list_next_) list_next_->list_prev_ = this;
        list->head_ = this;
        ++list->size_;
    }
    if (counters()) counters()->opened.add();
    last_activity_ms_ = write_progress_ms_ = loop_->now_ms();
    handler_ = std::move(h);
    arm_timer();
    handler_->on_open(*this);
    if (list && list->draining() && state_ != state::closed) list->drain_(*this);
}

void connection::set_handler(std::unique_ptr<connection_handler> h) {
    if (handler_) loop_->destroy_later(std::move(handler_));
    handler_ = std::move(h);
    if (state_ != state::closed) handler_->on_open(*this);
}

void connection::finish(bool abort) {
    if (state_ == state::closed) return;
    state_ = state::closed;
    loop_->cancel_timer(timer_);
    if (hold_timer_.valid()) loop_->cancel_timer(hold_timer_);
    // forget, not remove: the stream owns the fd's only reference, so epoll drops it when it
    // closes (no EPOLL_CTL_DEL); io_uring cancels its poll. Events of this turn's batch are
    // skipped by state_.
    loop_->io().forget(fd_);
    stream_close(abort);
    out_.clear();
    in_.clear();
    in_.shrink_if_empty();
    slot_.release();
    unlink();
    if (counters()) counters()->closed.add();
    if (handler_) handler_->on_close(*this, reason_);
    loop_->defer([this] { delete this; });
}

void connection::close(close_mode mode, close_reason reason) {
    if (state_ == state::closed) return;
    if (mode != close_mode::graceful) {
        reason_ = reason;
        finish(mode == close_mode::abort);
        return;
    }
    if (state_ != state::open) return;  // already closing
    reason_ = reason;
    state_ = state::closing;
    set_block(block_closing, true);
    read_deadline_ms_ = loop_->now_ms() + opts_->close_timeout.count();
    arm_timer();
    if (out_.empty())
        begin_linger();
    else
        loop_->schedule_before_sleep(*this);
}

void connection::begin_linger() {
    // An RST (which would destroy the reply in flight) only happens when we close with unread
    // input in the kernel's receive queue. With linger_only_if_unread_ and nothing unread:
    // close now (nginx's heuristic; see set_linger_only_if_unread).
    int unread = 0;
    if (peer_eof_ || (linger_only_if_unread_ && in_.empty() &&
                      ::ioctl(fd_, FIONREAD, &unread) == 0 && unread == 0)) {
        if (!stream_close_sends_fin()) stream_shutdown_write();  // TLS: close_notify first
        finish(false);
        return;
    }
    stream_shutdown_write();
    // Keep reading (and discarding) until the peer's FIN so unread input cannot turn our close
    // into an RST that destroys the reply in flight.
    state_ = state::lingering;
    update_interest();
}

// ---------------------------------------------------------------- events

void connection::on_io(std::uint32_t events) {
    if (state_ == state::closed) return;  // stale event in the batch that closed us
    if (events & core::ev::error) {
        // Bytes that arrived before a reset are still in the receive queue (a TLS alert sent
        // just before the peer's close, a last request): read them first, so they are handled
        // and counted, then close.
        if ((events & core::ev::readable) && state_ == state::open) {
            on_readable();
            if (state_ == state::closed) return;
        }
        reason_ = close_reason::reset;
        finish(false);
        return;
    }
    // A read that waited for writability (TLS handshake flight) runs again on EPOLLOUT; a
    // write that waited for the peer's bytes (a TLS client's handshake) runs again on EPOLLIN.
    const bool retry_read = read_wants_write_ && (events & core::ev::writable);
    const bool retry_write = write_wants_read_ && (events & core::ev::readable);
    if ((events & core::ev::writable) || retry_write) {
        want_write_ = false;
        read_wants_write_ = false;
        write_wants_read_ = false;
        write_out();
        if (state_ == state::closed) return;
    }
    if ((events & core::ev::readable) || retry_read) {
        on_readable();
    } else if ((events & core::ev::hangup) && !(events & core::ev::writable)) {
        // Both directions are down and nothing to read: nothing more can happen.
        if (reason_ == close_reason::local && state_ == state::open)
            reason_ = close_reason::peer_closed;
        finish(false);
    }
}

void connection::before_sleep() {
    if (state_ == state::closed) return;
    if (redeliver_) {
        redeliver_ = false;
        if (state_ == state::open && !(read_block_ & block_user)) deliver_input();
        if (state_ == state::closed) return;
    }
    if (reread_) {
        reread_ = false;
        if (state_ == state::open) on_readable();
        if (state_ == state::closed) return;
    }
    flush_output();
}

void connection::on_readable() {
    if (state_ == state::lingering) {
        linger_read();
        return;
    }
    if (state_ != state::open || read_block_ != 0) {
        update_interest(false);  // input arrived while paused: now stop asking (lazy drop)
        return;
    }
    if (in_.size() >= opts_->max_input) {
        set_block(block_input_full, true);
        return;
    }
    std::size_t room = opts_->max_input - in_.size();
    std::size_t want = room < opts_->read_chunk ? room : opts_->read_chunk;
    auto span = in_.prepare(want);
    auto r = stream_read(span.first(want < span.size() ? want : span.size()));
    if (r) {
        in_.commit(*r);
        bytes_in_ += *r;
        last_activity_ms_ = loop_->now_ms();
        if (auto* k = counters()) {
            k->reads.add();
            k->bytes_in.add(*r);
        }
        deliver_input();
        if (state_ == state::open && read_block_ == 0 && stream_buffered() > 0) {
            reread_ = true;
            loop_->schedule_before_sleep(*this);
        }
        return;
    }
    in_.shrink_if_empty();
    switch (r.error()) {
        case io_error::would_block:
            if (stream_read_wants_write()) {
                read_wants_write_ = true;
                want_write_ = true;
                update_interest();
            }
            return;
        case io_error::eof:
            on_peer_eof();
            return;
        case io_error::reset:
            close(close_mode::immediate, close_reason::reset);
            return;
        case io_error::other:
            close(close_mode::immediate, close_reason::io_error);
            return;
    }
}

void connection::linger_read() {
    std::uint8_t sink[4096];
    for (int i = 0; i < 4; ++i) {
        auto r = stream_read(mutable_byte_view(sink, sizeof sink));
        if (r) continue;
        if (r.error() != io_error::would_block) finish(false);
        return;
    }
}

void connection::deliver_input() {
    // A handler swap inside on_data hands the rest of the input to the new handler; the bound
    // stops a pair of handlers that keep swapping without consuming.
    for (int swaps = 0; swaps < 8 && !in_.empty(); ++swaps) {
        connection_handler* h = handler_.get();
        h->on_data(*this, in_);
        if (state_ != state::open) break;
        if (handler_.get() == h) break;
    }
    if (state_ == state::closed) return;
    set_block(block_input_full, in_.size() >= opts_->max_input);
    in_.shrink_if_empty();
}

void connection::on_peer_eof() {
    peer_eof_ = true;
    set_block(block_eof, true);
    if (state_ == state::open) {
        handler_->on_peer_closed(*this);
    } else if (state_ == state::lingering) {
        finish(false);
    }
    // closing: begin_linger() finishes once the output is flushed.
}

// ---------------------------------------------------------------- input control

void connection::pause_reading() {
    set_block(block_user, true);
}

void connection::resume_reading() {
    set_block(block_user, false);
    if (state_ == state::open && !in_.empty()) {
        redeliver_ = true;
        loop_->schedule_before_sleep(*this);
    }
}

void connection::set_block(std::uint8_t bit, bool on) {
    std::uint8_t before = read_block_;
    read_block_ = on ? (read_block_ | bit) : (read_block_ & ~bit);
    if ((before == 0) != (read_block_ == 0)) update_interest();
    if (before != 0 && read_block_ == 0 && state_ == state::open && stream_buffered() > 0) {
        reread_ = true;  // no poller event will announce what the stream already holds
        loop_->schedule_before_sleep(*this);
    }
}

std::uint32_t connection::wanted_interest() const {
    std::uint32_t want = 0;
    if (read_block_ == 0 || (state_ == state::lingering && !peer_eof_) || write_wants_read_)
        want |= core::ev::readable;
    if (want_write_) want |= core::ev::writable;
    return want;
}

void connection::update_interest(bool lazy) {
    if (state_ == state::closed) return;
    const std::uint32_t want = wanted_interest();
    if (want == registered_) return;
    if (lazy && (registered_ & ~want) == core::ev::readable && (want & ~registered_) == 0) return;
    registered_ = want;
    (void)loop_->io().modify(fd_, want, this);
}

// ---------------------------------------------------------------- output

void connection::queued(std::size_t n, bool fanout) {
    if (n == 0) return;
    if (write_ms_ && out_.bytes() == n) {
        write_progress_ms_ = loop_->now_ms();
        arm_timer();
    }
    if (coalescing_ && fanout) {
        hold_or_schedule();
    } else {
        // A reply or control frame goes out this turn, with whatever fan-out is held before it.
        if (coalescing_) end_hold();
        loop_->schedule_before_sleep(*this);
    }
    if (!over_high_ && out_.bytes() > opts_->high_watermark) {
        over_high_ = true;
        set_block(block_output, true);
        if (counters()) counters()->backpressure_events.add();
        handler_->on_backpressure(*this);
    }
}

bool connection::write(byte_view b) {
    if (state_ != state::open) return false;
    out_.append_copy(b);
    queued(b.size());
    return true;
}

bool connection::write(byte_buffer&& b) {
    if (state_ != state::open) return false;
    std::size_t n = b.size();
    out_.append_buffer(std::move(b));
    queued(n);
    return true;
}

bool connection::write(shared_bytes b) {
    std::size_t n = b.size();
    return write(std::move(b), 0, n);
}

bool connection::write(shared_bytes b, std::size_t offset, std::size_t length) {
    if (state_ != state::open) return false;
    out_.append_shared(std::move(b), offset, length);
    queued(length, true);
    return true;
}

bool connection::write_file(int fd, off_t offset, std::size_t length, bool own_fd) {
    if (state_ != state::open) {
        unique_fd closer(own_fd ? fd : -1);
        return false;
    }
    out_.append_file(fd, offset, length, own_fd);
    queued(length);
    return true;
}

void connection::hold_or_schedule() {
    const std::int64_t now = loop_->now_ns();
    const std::int64_t due = coalescer_.on_queued(opts_->coalesce, now, loop_->idle_at_ns(),
                                                  out_.segments(), out_.bytes());
    if (due > now) {
        if (!hold_timer_.valid()) {
            hold_timer_ = loop_->add_timer_at(due, [this] {
                hold_timer_ = {};
                end_hold();
            });
        }
        return;
    }
    end_hold();  // due now (quiet, or a cap reached)
}

void connection::end_hold() {
    if (hold_timer_.valid()) {
        loop_->cancel_timer(hold_timer_);
        hold_timer_ = {};
    }
    coalescer_.release(loop_->now_ns());
    if (!out_.empty()) loop_->schedule_before_sleep(*this);
}

void connection::set_write_coalescing(bool on) {
    coalescing_ = on;  // delay 0: never held, but its writes are still counted
    if (!coalescing_) end_hold();
}

void connection::flush() {
    coalescer_.release(loop_->now_ns());
    flush_output();
}

void connection::flush_output() {
    // EPOLLOUT (or, for a write waiting on the peer, EPOLLIN) will call write_out.
    if (state_ == state::closed || want_write_ || write_wants_read_) return;
    if (out_.empty()) {
        if (state_ == state::closing) begin_linger();
        return;
    }
    // Held by write coalescing: the hold timer (or a cap) schedules the flush. Closing writes.
    if (coalescing_ && state_ == state::open && coalescer_.holding(loop_->now_ns())) return;
    write_out();
}

void connection::write_out() {
    iovec iov[max_iov];
    while (!out_.empty()) {
        result<std::size_t, io_error> r = std::size_t{0};
        std::size_t attempted;
        if (const auto* f = out_.front_file()) {
            attempted = f->length;
            r = stream_sendfile(f->fd, f->offset, f->length);
            if (counters()) counters()->sendfiles.add();
        } else {
            int n = out_.gather(iov, max_iov);
            attempted = 0;
            for (int i = 0; i < n; ++i) attempted += iov[i].iov_len;
            r = stream_writev(iov, n);
            if (auto* k = counters()) {
                k->writevs.add();
                if (coalescing_) k->coalesced_writevs.add();
            }
        }
        if (!r) {
            if (r.error() == io_error::would_block) {
                if (stream_write_wants_read()) {
                    write_wants_read_ = true;  // EPOLLOUT would spin: the socket has room
                    update_interest();
                    return;
                }
                if (counters()) counters()->eagain_writes.add();
                want_write_ = true;
                update_interest();
                return;
            }
            close(close_mode::immediate,
                  r.error() == io_error::reset ? close_reason::reset : close_reason::io_error);
            return;
        }
        out_.consume(*r);
        bytes_out_ += *r;
        if (coalescing_) wrote_coalesced();
        if (counters()) counters()->bytes_out.add(*r);
        after_progress();
        if (state_ == state::closed) return;
        if (*r < attempted) {
            // A short write almost always means the send buffer is full: wait for EPOLLOUT
            // instead of paying for a writev that returns EAGAIN.
            want_write_ = true;
            update_interest();
            return;
        }
    }
    // Drained.
    out_.clear();
    if (want_write_) want_write_ = false;
    update_interest();
    if (state_ == state::closing) begin_linger();
}

void connection::wrote_coalesced() {
    coalescer_.on_written(loop_->now_ns());
    if (hold_timer_.valid()) {
        loop_->cancel_timer(hold_timer_);
        hold_timer_ = {};
    }
}

void connection::after_progress() {
    last_activity_ms_ = write_progress_ms_ = loop_->now_ms();
    if (over_high_ && out_.bytes() <= opts_->low_watermark) {
        over_high_ = false;
        set_block(block_output, false);
        if (state_ == state::open) handler_->on_drain(*this);
    }
}

// ---------------------------------------------------------------- timeouts

void connection::set_idle_timeout(millis t) {
    idle_ms_ = static_cast<std::uint32_t>(t.count());
    last_activity_ms_ = loop_->now_ms();
    arm_timer();
}

void connection::set_write_timeout(millis t) {
    write_ms_ = static_cast<std::uint32_t>(t.count());
    write_progress_ms_ = loop_->now_ms();
    arm_timer();
}

void connection::set_read_deadline(millis from_now) {
    if (state_ != state::open) return;
    read_deadline_ms_ = loop_->now_ms() + from_now.count();
    arm_timer();
}

std::int64_t connection::next_deadline() const {
    if (state_ == state::closed) return never;
    std::int64_t d = never;
    if (read_deadline_ms_) d = read_deadline_ms_;  // the close deadline while closing
    if (state_ != state::open) return d;
    if (idle_ms_) d = std::min(d, last_activity_ms_ + idle_ms_);
    if (write_ms_ && !out_.empty()) d = std::min(d, write_progress_ms_ + write_ms_);
    return d;
}

void connection::arm_timer() {
    std::int64_t d = next_deadline();
    if (d == never) return;  // a pending timer finds nothing to do and is not re-armed
    if (loop_->timer_pending(timer_)) {
        if (timer_at_ms_ <= d) return;  // fires earlier; it re-arms for the rest then
        loop_->reschedule_timer_at(timer_, d * 1'000'000);
    } else {
        timer_ = loop_->add_timer_at(d * 1'000'000, [this] { on_timer(); });
    }
    timer_at_ms_ = d;
}

void connection::on_timer() {
    timer_ = {};
    const std::int64_t now = loop_->now_ms();
    if (state_ == state::closing || state_ == state::lingering) {
        if (now >= read_deadline_ms_) {
            if (!out_.empty()) reason_ = close_reason::close_timeout;
            finish(false);
            return;
        }
    } else if (state_ == state::open) {
        if (read_deadline_ms_ && now >= read_deadline_ms_) {
            read_deadline_ms_ = 0;
            fire_timeout(timeout_kind::read);
        } else if (write_ms_ && !out_.empty() && now >= write_progress_ms_ + write_ms_) {
            fire_timeout(timeout_kind::write);
        } else if (idle_ms_ && now >= last_activity_ms_ + idle_ms_) {
            fire_timeout(timeout_kind::idle);
        }
    }
    if (state_ != state::closed) arm_timer();
}

void connection::fire_timeout(timeout_kind k) {
    if (counters()) counters()->timeouts.add();
    if (handler_->on_timeout(*this, k) == timeout_action::keep) {
        if (k == timeout_kind::idle) last_activity_ms_ = loop_->now_ms();
        if (k == timeout_kind::write) write_progress_ms_ = loop_->now_ms();
        return;
    }
    switch (k) {
        case timeout_kind::idle:
            close(close_mode::graceful, close_reason::idle_timeout);
            break;
        case timeout_kind::read:
            close(close_mode::graceful, close_reason::read_timeout);
            break;
        case timeout_kind::write:
            // The peer is not reading: a graceful close would only wait for close_timeout.
            close(close_mode::abort, close_reason::write_timeout);
            break;
    }
}

}  // namespace sy::net
