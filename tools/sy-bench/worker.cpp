#include "worker.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "clients.hpp"
#include "connector.hpp"
#include "payload.hpp"
#include "switchyard/base/clock.hpp"

namespace sy::bench {

// ---------------------------------------------------------------- run_shared

void run_shared::fail(std::string why) {
    std::lock_guard lk(m_);
    if (first_error_.empty()) first_error_ = std::move(why);
    fatal.store(true);
}

std::string run_shared::first_error() const {
    std::lock_guard lk(m_);
    return first_error_;
}

std::uint64_t run_shared::unique_total() const {
    std::uint64_t n = 0;
    for (const worker* w : workers) n += w->stats().unique.get();
    return n;
}

// ---------------------------------------------------------------- worker

worker::worker(std::size_t index, core::loop& l, run_shared& sh)
    : index_(index), loop_(l), sh_(sh), stats_(sh.opt.topics) {
    const options& o = sh.opt;
    copts_.max_input = 256 * 1024;
    copts_.high_watermark = 64 * 1024 * 1024;  // a client never wants to stop reading for this
    copts_.low_watermark = 16 * 1024 * 1024;
    for (std::size_t t = 0; t < o.topics; ++t) {
        std::string name = topic_name(o.topic_prefix, t);
        pub_targets_.push_back(expand_url(o.pub_url, name));
        sub_targets_.push_back(expand_url(o.sub_url, name));
    }
    if (o.cmd != mode::http)
        for (std::size_t i = index; i < o.subscribers; i += o.threads) my_subs_.push_back(i);
}

worker::~worker() = default;

void worker::start() {
    const options& o = opt();
    for (std::size_t j = index_; j < o.publishers; j += o.threads) connect_pub(j);
    connect_more();
}

void worker::connect_more() {
    while (!shutting_down_ && connecting_ < opt().connect_inflight && next_sub_ < my_subs_.size()) {
        ++connecting_;
        connect_sub(my_subs_[next_sub_++]);
    }
}

void worker::connect_sub(std::size_t i) {
    const options& o = opt();
    const auto topic = static_cast<std::uint32_t>(i % o.topics);
    const net::address* src = o.sources.empty() ? nullptr : &o.sources[i % o.sources.size()];
    auto timeout = millis(static_cast<std::int64_t>(o.connect_timeout_s * 1000));
    async_connect(loop_, o.server, src, timeout, [this, topic](int fd, int err) {
        if (shutting_down_) {
            if (fd >= 0) ::close(fd);
            return;
        }
        if (fd < 0) return sub_failed(std::string("subscriber connect: ") + std::strerror(err));
        std::unique_ptr<net::connection_handler> h;
        switch (opt().cmd) {
            case mode::ws:
                h = std::make_unique<ws_subscriber>(*this, topic);
                break;
            case mode::sse:
                h = std::make_unique<sse_subscriber>(*this, topic);
                break;
            default:
                h = std::make_unique<longpoll_subscriber>(*this, topic);
                break;
        }
        net::connection::create(loop_, net::tcp_stream(net::unique_fd(fd)), std::move(h), copts_,
                                {}, &conns_);
    });
}

void worker::connect_pub(std::size_t j) {
    const options& o = opt();
    auto timeout = millis(static_cast<std::int64_t>(o.connect_timeout_s * 1000));
    async_connect(loop_, o.pub_server, nullptr, timeout, [this, j](int fd, int err) {
        if (shutting_down_) {
            if (fd >= 0) ::close(fd);
            return;
        }
        if (fd < 0) return sh_.fail(std::string("publisher connect: ") + std::strerror(err));
        auto h = std::make_unique<requester>(*this, static_cast<std::uint32_t>(j),
                                             opt().cmd != mode::http);
        net::connection::create(loop_, net::tcp_stream(net::unique_fd(fd)), std::move(h), copts_,
                                {}, &conns_);
    });
}

void worker::sub_ready() {
    stats_.subs_ready.add();
    if (connecting_ > 0) --connecting_;
    // Refill from the loop, not from inside this handler's callback (keeps the stack flat).
    loop_.defer([this] { connect_more(); });
}

void worker::sub_failed(const std::string& why) {
    if (shutting_down_) return;
    if (connecting_ > 0) --connecting_;
    sh_.fail(why);
}

void worker::sub_closed() {
    if (!shutting_down_) stats_.subs_closed.add();
}

void worker::pub_ready(requester& r) {
    pubs_.push_back(&r);
    scheduled_.push_back(0);
    stats_.pubs_ready.add();
    if (publishing_) pub_progress(r);
}

void worker::pub_closed(requester& r, const std::string& why) {
    for (std::size_t i = 0; i < pubs_.size(); ++i) {
        if (pubs_[i] == &r) {
            pubs_.erase(pubs_.begin() + static_cast<std::ptrdiff_t>(i));
            scheduled_.erase(scheduled_.begin() + static_cast<std::ptrdiff_t>(i));
            break;
        }
    }
    if (!shutting_down_ && !sh_.stop_publishing.load()) sh_.fail(why);
}

bool worker::may_send() {
    const options& o = opt();
    if (sh_.stop_publishing.load(std::memory_order_relaxed)) return false;
    if (o.ahead > 0 && o.cmd != mode::http) {
        // Closed loop on deliveries: at most `ahead` messages published and not yet received by
        // every subscriber (summed over loops, so approximate per subscriber).
        const std::uint64_t s = sh_.sent.load(std::memory_order_relaxed);
        const std::uint64_t per_msg = std::max<std::uint64_t>(1, o.subscribers / o.topics);
        if (s > o.ahead && sh_.unique_total() < (s - o.ahead) * per_msg) return false;
    }
    const std::uint64_t n = sh_.sent.fetch_add(1, std::memory_order_relaxed);
    if (o.messages > 0 && n >= o.messages) {
        sh_.stop_publishing.store(true);
        return false;
    }
    return true;
}

void worker::begin_publishing() {
    if (shutting_down_) return;
    publishing_ = true;
    if (opt().rate <= 0)
        for (requester* r : pubs_) pub_progress(*r);
    tick();
}

void worker::pub_progress(requester& r) {
    if (!publishing_ || opt().rate > 0) return;
    const std::int64_t now = sy::now_ns();
    while (r.outstanding() < opt().window && may_send())
        if (!r.try_send(now)) break;
}

void worker::tick() {
    tick_armed_ = false;
    if (shutting_down_ || !publishing_) return;
    if (sh_.stop_publishing.load()) {
        publishing_ = false;
        return;
    }
    const options& o = opt();
    const std::int64_t now = sy::now_ns();
    if (o.rate > 0) {
        // Fixed rate: publisher j owes rate/P * elapsed messages (the first one at once); sends
        // that find the window full wait for the next tick (counted in window_full).
        const double per_pub = o.rate / static_cast<double>(o.publishers);
        const double elapsed = static_cast<double>(now - sh_.publish_start_ns) / 1e9;
        const auto due = static_cast<std::uint64_t>(per_pub * elapsed) + 1;
        for (std::size_t i = 0; i < pubs_.size(); ++i) {
            while (scheduled_[i] < due) {
                if (pubs_[i]->outstanding() >= o.window) {
                    stats_.window_full.add();
                    break;
                }
                if (!may_send() || !pubs_[i]->try_send(now)) break;
                ++scheduled_[i];
            }
        }
    } else {
        for (requester* r : pubs_) pub_progress(*r);  // --ahead may have held sends back
    }
    schedule_tick();
}

void worker::schedule_tick() {
    if (tick_armed_) return;
    tick_armed_ = true;
    tick_ = loop_.add_timer(millis(1), [this] { tick(); });
}

void worker::shutdown() {
    shutting_down_ = true;
    publishing_ = false;
    if (tick_armed_) loop_.cancel_timer(tick_);
    tick_armed_ = false;
    conns_.close_all(net::close_mode::immediate);
}

}  // namespace sy::bench
