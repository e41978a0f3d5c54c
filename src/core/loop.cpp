#include "switchyard/core/loop.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <system_error>

namespace sy::core {

namespace {
thread_local loop* tls_current = nullptr;
std::atomic<unsigned> g_next_slot{0};
}  // namespace

unsigned detail::next_slot_id() {
    return g_next_slot.fetch_add(1, std::memory_order_relaxed);
}

void loop::put_slot(unsigned id, void* p, void (*destroy)(void*)) {
    if (id >= max_slots) {
        std::fprintf(stderr, "core::loop: more than %u slot types\n", max_slots);
        std::abort();
    }
    slot_entry& e = slots_[id];
    void* old = e.ptr.exchange(p, std::memory_order_acq_rel);
    if (old && e.destroy) e.destroy(old);
    e.destroy = destroy;
}

/// The eventfd that post() writes to wake a sleeping loop.
class loop::wakeup final : public io_handler {
  public:
    explicit wakeup(loop& l) : loop_(l), fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
        if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
        auto r = loop_.poller_->add(fd_, ev::readable, this);
        if (!r) throw std::system_error(r.error().code, std::generic_category(), "poller add");
    }
    ~wakeup() {
        (void)loop_.poller_->remove(fd_);
        ::close(fd_);
    }
    void signal() {
        std::uint64_t one = 1;
        // EAGAIN means the counter is saturated: the loop is woken anyway.
        [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
    }
    void on_io(std::uint32_t) override {
        std::uint64_t v;
        [[maybe_unused]] auto n = ::read(fd_, &v, sizeof v);
        loop_.stats_.posts_woken.add();
    }

  private:
    loop& loop_;
    int fd_;
};

loop::loop() : loop(options{}) {}

loop::loop(options o)
    : opts_(o),
      poller_(create_poller(o.poller)),
      events_(o.max_events ? o.max_events : 1),
      now_ns_(sy::now_ns()),
      owner_(std::this_thread::get_id()) {
    wakeup_ = std::make_unique<wakeup>(*this);
}

loop::~loop() {
    // Free what was closed during the last turn; posted tasks and timers are destroyed unrun.
    for (int i = 0; i < 16 && !deferred_.empty(); ++i) {
        auto batch = std::move(deferred_);
        deferred_.clear();
        for (auto& t : batch) t();
    }
    if (tls_current == this) tls_current = nullptr;
    wakeup_.reset();
}

loop* loop::current() {
    return tls_current;
}

void loop::bind_thread() {
    owner_ = std::this_thread::get_id();
    tls_current = this;
}

void loop::run() {
    stopping_ = false;
    bind_thread();
    while (run_once(-1)) {
    }
}

void loop::post(task t) {
    mailbox_.push(std::move(t));
    // Only the first post after the loop cleared the flag pays for a write(2).
    if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) wakeup_->signal();
}

timer_id loop::add_timer(millis delay, task cb) {
    return timers_.add(now_ns_ + std::chrono::nanoseconds(delay).count(), std::move(cb));
}

timer_id loop::add_timer_at(std::int64_t deadline_ns, task cb) {
    return timers_.add(deadline_ns, std::move(cb));
}

bool loop::reschedule_timer(timer_id id, millis delay) {
    return timers_.reschedule(id, now_ns_ + std::chrono::nanoseconds(delay).count());
}

void loop::schedule_before_sleep(before_sleep_hook& h) {
    if (h.hook_scheduled_) return;
    h.hook_scheduled_ = true;
    h.hook_next_ = nullptr;
    if (hooks_tail_)
        hooks_tail_->hook_next_ = &h;
    else
        hooks_head_ = &h;
    hooks_tail_ = &h;
}

std::uint64_t loop::add_before_sleep(std::function<void()> fn) {
    persistent_hooks_.emplace_back(next_hook_id_, std::move(fn));
    return next_hook_id_++;
}

void loop::remove_before_sleep(std::uint64_t id) {
    std::erase_if(persistent_hooks_, [id](auto& p) { return p.first == id; });
}

int loop::compute_timeout(int max_wait_ms) const {
    if (hooks_head_ || !deferred_.empty() || posted_backlog_ || stopping_) return 0;
    std::int64_t next = timers_.next_deadline();
    if (next == timer_queue::no_deadline) return max_wait_ms;
    std::int64_t now = sy::now_ns();
    if (next <= now) return 0;
    // Round up so a timer is never woken for early and then waits another turn.
    std::int64_t ms = (next - now + 999'999) / 1'000'000;
    if (max_wait_ms >= 0 && ms > max_wait_ms) return max_wait_ms;
    return ms > 1'000'000 ? 1'000'000 : static_cast<int>(ms);
}

bool loop::run_once(int max_wait_ms) {
    tls_current = this;
    int timeout = compute_timeout(max_wait_ms);
    int n = poller_->wait(events_, timeout);
    now_ns_ = sy::now_ns();
    const std::int64_t start = now_ns_;
    // The previous turn's end clock read doubles as this wait's start (no extra read).
    if (timeout != 0 && start - turn_end_ns_ >= idle_mark_ns_) idle_at_ns_ = start;
    dispatch_io(n);
    run_timers();
    run_posted();
    run_pre_sleep();
    turn_end_ns_ = sy::now_ns();
    const std::int64_t busy = turn_end_ns_ - start;
    stats_.busy_ns.add(static_cast<std::uint64_t>(busy));
    stats_.turn_busy_max_ns.set_max(static_cast<std::uint64_t>(busy));
    stats_.turns.add();
    return !stopping_;
}

void loop::dispatch_io(int n) {
    stats_.io_events.add(static_cast<std::uint64_t>(n));
    for (int i = 0; i < n; ++i) events_[i].handler->on_io(events_[i].events);
}

void loop::run_timers() {
    // Bound the pass so a timer that re-adds itself with zero delay cannot spin the turn.
    std::size_t budget = timers_.size();
    task cb;
    std::int64_t deadline;
    while (budget-- > 0 && timers_.pop_expired(now_ns_, cb, deadline)) {
        auto lag = static_cast<std::uint64_t>(now_ns_ - deadline);
        stats_.timers_fired.add();
        stats_.timer_lag_sum_ns.add(lag);
        stats_.timer_lag_last_ns.set(lag);
        stats_.timer_lag_max_ns.set_max(lag);
        cb();
        cb.reset();
        // The next timer's lag is measured from when it really runs: a slow callback delays
        // the ones behind it in this pass (one vDSO clock read per timer fired, not per event).
        now_ns_ = sy::now_ns();
    }
}

void loop::run_posted() {
    // Clear the flag before draining: a post that lands after this exchange writes the eventfd
    // again, so a task seen as "transiently empty" below is picked up on the next wakeup.
    wake_pending_.exchange(false, std::memory_order_acq_rel);
    posted_backlog_ = false;
    task t;
    unsigned ran = 0;
    while (mailbox_.pop(t)) {
        t();
        t.reset();
        if (++ran >= opts_.max_tasks_per_turn) {
            posted_backlog_ = !mailbox_.empty();
            break;
        }
    }
    stats_.tasks_run.add(ran);
}

void loop::run_pre_sleep() {
    for (auto& [id, fn] : persistent_hooks_) fn();
    // Hooks before deferred frees: a connection queued for flushing is still alive when flushed.
    for (int round = 0; round < 64; ++round) {
        before_sleep_hook* h = hooks_head_;
        hooks_head_ = hooks_tail_ = nullptr;
        while (h) {
            before_sleep_hook* next = h->hook_next_;
            h->hook_scheduled_ = false;
            h->hook_next_ = nullptr;
            h->before_sleep();
            h = next;
        }
        if (!deferred_.empty()) {
            auto batch = std::move(deferred_);
            deferred_.clear();
            for (auto& t : batch) t();
        }
        if (!hooks_head_ && deferred_.empty()) break;
    }
}

}  // namespace sy::core
