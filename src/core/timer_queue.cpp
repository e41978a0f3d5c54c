#include "switchyard/core/timer_queue.hpp"

namespace sy::core {

namespace {
constexpr std::uint32_t arity = 4;
}

bool timer_queue::less(std::uint32_t a, std::uint32_t b) const {
    const slot& x = slots_[a];
    const slot& y = slots_[b];
    return x.deadline < y.deadline || (x.deadline == y.deadline && x.seq < y.seq);
}

void timer_queue::place(std::uint32_t pos, std::uint32_t s) {
    heap_[pos] = s;
    slots_[s].heap_pos = pos;
}

void timer_queue::sift_up(std::uint32_t pos) {
    std::uint32_t s = heap_[pos];
    while (pos > 0) {
        std::uint32_t parent = (pos - 1) / arity;
        if (!less(s, heap_[parent])) break;
        place(pos, heap_[parent]);
        pos = parent;
    }
    place(pos, s);
}

void timer_queue::sift_down(std::uint32_t pos) {
    const auto n = static_cast<std::uint32_t>(heap_.size());
    std::uint32_t s = heap_[pos];
    for (;;) {
        std::uint32_t first = pos * arity + 1;
        if (first >= n) break;
        std::uint32_t best = first;
        std::uint32_t last = first + arity < n ? first + arity : n;
        for (std::uint32_t c = first + 1; c < last; ++c)
            if (less(heap_[c], heap_[best])) best = c;
        if (!less(heap_[best], s)) break;
        place(pos, heap_[best]);
        pos = best;
    }
    place(pos, s);
}

timer_id timer_queue::add(std::int64_t deadline_ns, task cb) {
    std::uint32_t s;
    if (!free_.empty()) {
        s = free_.back();
        free_.pop_back();
    } else {
        s = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
    }
    slot& sl = slots_[s];
    sl.deadline = deadline_ns;
    sl.seq = seq_++;
    sl.cb = std::move(cb);
    sl.live = true;
    heap_.push_back(s);
    sift_up(static_cast<std::uint32_t>(heap_.size() - 1));
    return timer_id{s, sl.gen};
}

const timer_queue::slot* timer_queue::find(timer_id id) const {
    if (!id.valid() || id.slot >= slots_.size()) return nullptr;
    const slot& sl = slots_[id.slot];
    return (sl.live && sl.gen == id.gen) ? &sl : nullptr;
}

bool timer_queue::pending(timer_id id) const {
    return find(id) != nullptr;
}

std::int64_t timer_queue::deadline_of(timer_id id) const {
    const slot* sl = find(id);
    return sl ? sl->deadline : no_deadline;
}

void timer_queue::free_slot(std::uint32_t s) {
    slot& sl = slots_[s];
    sl.live = false;
    ++sl.gen;
    sl.cb.reset();
    free_.push_back(s);
}

void timer_queue::remove_at(std::uint32_t pos) {
    std::uint32_t last = heap_.back();
    heap_.pop_back();
    if (pos < heap_.size()) {
        place(pos, last);
        // The moved element may need to go either way.
        if (pos > 0 && less(last, heap_[(pos - 1) / arity]))
            sift_up(pos);
        else
            sift_down(pos);
    }
}

bool timer_queue::cancel(timer_id id) {
    if (!find(id)) return false;
    remove_at(slots_[id.slot].heap_pos);
    free_slot(id.slot);
    return true;
}

bool timer_queue::reschedule(timer_id id, std::int64_t deadline_ns) {
    if (!find(id)) return false;
    slot& sl = slots_[id.slot];
    bool earlier = deadline_ns < sl.deadline;
    sl.deadline = deadline_ns;
    sl.seq = seq_++;
    if (earlier)
        sift_up(sl.heap_pos);
    else
        sift_down(sl.heap_pos);
    return true;
}

std::int64_t timer_queue::next_deadline() const {
    return heap_.empty() ? no_deadline : slots_[heap_[0]].deadline;
}

bool timer_queue::pop_expired(std::int64_t now_ns, task& out, std::int64_t& deadline_out) {
    if (heap_.empty()) return false;
    std::uint32_t s = heap_[0];
    if (slots_[s].deadline > now_ns) return false;
    deadline_out = slots_[s].deadline;
    out = std::move(slots_[s].cb);
    remove_at(0);
    free_slot(s);
    return true;
}

}  // namespace sy::core
