#include "switchyard/net/datagram.hpp"

namespace sy::net {

bool datagram_demux::set_fallback(handler h) {
    if (fallback_) return false;
    fallback_ = std::move(h);
    return true;
}

bool datagram_demux::claim(std::span<const first_byte_range> ranges, handler h, check c) {
    for (const auto& r : ranges) {
        if (r.lo > r.hi) return false;
        for (unsigned b = r.lo; b <= r.hi; ++b) {
            if (owner_[b] != 0) return false;
        }
    }
    if (handlers_.size() >= 255) return false;
    handlers_.push_back(std::move(h));
    checks_.push_back(c);
    const auto id = static_cast<std::uint8_t>(handlers_.size());
    for (const auto& r : ranges) {
        for (unsigned b = r.lo; b <= r.hi; ++b) owner_[b] = id;
    }
    return true;
}

const datagram_demux::handler* datagram_demux::find(std::uint8_t b) const {
    const std::uint8_t id = owner_[b];
    return id == 0 ? nullptr : &handlers_[id - 1u];
}

void datagram_demux::dispatch(udp_socket& s, std::span<const datagram> batch) {
    for (const auto& d : batch) {
        if (d.data.empty()) {
            s.counters().rx_empty.add();
            continue;
        }
        const std::uint8_t id = owner_[d.data[0]];
        if (id != 0 && (!checks_[id - 1u] || checks_[id - 1u](d))) {
            handlers_[id - 1u](s, d);
        } else if (fallback_) {
            fallback_(s, d);
        } else {
            s.counters().rx_unclaimed.add();
        }
    }
}

datagram_flow::~datagram_flow() {
    leave();
}

bool datagram_flow::join(datagram_flow_list& l, connection_limit* limit, io_counters* counters) {
    if (list_) return true;
    if (limit) {
        slot_ = limit->try_acquire();
        if (!slot_.held()) return false;
    }
    list_ = &l;
    counters_ = counters;
    next_ = l.head_;
    prev_ = nullptr;
    if (l.head_) l.head_->prev_ = this;
    l.head_ = this;
    ++l.size_;
    if (counters_) counters_->opened.add();
    return true;
}

void datagram_flow::leave() {
    if (!list_) return;
    if (prev_) {
        prev_->next_ = next_;
    } else {
        list_->head_ = next_;
    }
    if (next_) next_->prev_ = prev_;
    --list_->size_;
    list_ = nullptr;
    prev_ = next_ = nullptr;
    slot_.release();
    if (counters_) counters_->closed.add();
    counters_ = nullptr;
}

datagram_flow_list::~datagram_flow_list() {
    // Flows outliving the list (torn down without close_all) must not touch it again.
    for_each([](datagram_flow& f) { f.leave(); });
}

void datagram_flow_list::drain() {
    draining_ = true;
    for_each([](datagram_flow& f) { f.begin_shutdown(); });
}

void datagram_flow_list::close_all() {
    for_each([](datagram_flow& f) { f.close_now(); });
}

}  // namespace sy::net
