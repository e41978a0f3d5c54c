// io_uring implementation of sy::core::poller (level-triggered, like epoll's).
//
// Each registration is one ONE-SHOT IORING_OP_POLL_ADD. When it completes, its events go to the
// loop and the fd is queued for re-arming; the next wait() prepares the new POLL_ADD with the
// interest the handler left (modify() during dispatch only records it) and submits every
// pending SQE together with the wait, in one io_uring_enter. A one-shot poll checks readiness
// when it is armed, so an fd whose handler left data unread is reported again at once: the
// level-triggered contract of poller.hpp holds. (A multishot poll only fires on new wake-ups,
// i.e. it is edge-triggered, and would lose a partly drained socket.)
//
// Stale completions: user_data is (generation << 32 | fd). Every remove() and every modify() of
// an armed poll bumps the registration's generation and cancels the old poll (POLL_REMOVE), so
// a completion of the old one, or of a closed fd whose number was reused by accept(), is
// recognised and dropped. A poll holds a reference to the file: a removed fd that the caller
// closed is really closed when the POLL_REMOVE is submitted, in the same loop turn's wait().
#include <liburing.h>
#include <poll.h>
#include <sys/epoll.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <vector>

#include "poller_impl.hpp"

namespace sy::core {

namespace {

constexpr unsigned ring_entries = 1024;
constexpr std::uint64_t ignore_tag = ~std::uint64_t{0};  // POLL_REMOVE's own completion

unsigned to_poll(std::uint32_t interest) {
    unsigned e = 0;
    if (interest & ev::readable) e |= POLLIN;
    if (interest & ev::writable) e |= POLLOUT;
    if (interest & ev::peer_closed) e |= POLLRDHUP;
    if (interest & ev::exclusive) e |= EPOLLEXCLUSIVE;
    return e;
}

std::uint32_t from_poll(int res) {
    if (res < 0) return ev::error;
    const auto e = static_cast<unsigned>(res);
    std::uint32_t r = 0;
    if (e & (POLLIN | POLLPRI)) r |= ev::readable;
    if (e & POLLOUT) r |= ev::writable;
    if (e & POLLRDHUP) r |= ev::peer_closed;
    if (e & POLLHUP) r |= ev::hangup;
    if (e & POLLERR) r |= ev::error;
    return r;
}

/// Flags: no inter-processor interrupt to run completions, they run when the loop enters the
/// kernel anyway (COOP_TASKRUN, 5.19), and a failed SQE does not stop the batch behind it
/// (SUBMIT_ALL, 5.18). Not SINGLE_ISSUER/DEFER_TASKRUN: they bind the ring to the thread that
/// created it, and a loop is built on the main thread and runs on its own. An older kernel
/// rejects unknown flags with EINVAL; then the ring is made without them.
int init_ring(io_uring& ring, unsigned entries) {
    io_uring_params p{};
    p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
    int rc = io_uring_queue_init_params(entries, &ring, &p);
    if (rc == -EINVAL) {
        io_uring_params plain{};
        rc = io_uring_queue_init_params(entries, &ring, &plain);
    }
    return rc;
}

class uring_poller final : public poller {
  public:
    uring_poller() {
        const int rc = init_ring(ring_, ring_entries);
        if (rc < 0) throw std::system_error(-rc, std::generic_category(), "io_uring_queue_init");
    }
    ~uring_poller() override { io_uring_queue_exit(&ring_); }
    uring_poller(const uring_poller&) = delete;
    uring_poller& operator=(const uring_poller&) = delete;

    result<void, os_error> add(int fd, std::uint32_t interest, io_handler* h) override {
        if (fd < 0) return unexpected(os_error{EBADF, "io_uring poll add"});
        if (static_cast<std::size_t>(fd) >= regs_.size()) regs_.resize(fd + 64);
        registration& r = regs_[fd];
        if (r.live) return unexpected(os_error{EEXIST, "io_uring poll add"});
        r.live = true;
        r.handler = h;
        r.interest = interest;
        ++r.gen;
        arm(fd, r);
        return {};
    }

    result<void, os_error> modify(int fd, std::uint32_t interest, io_handler* h) override {
        registration* r = find(fd);
        if (!r) return unexpected(os_error{ENOENT, "io_uring poll modify"});
        r->handler = h;
        if (r->interest == interest) return {};
        r->interest = interest;
        // Not armed: its poll fired this turn and the next wait() re-arms it with this interest.
        if (r->armed) {
            cancel(fd, *r);
            arm(fd, *r);
        }
        return {};
    }

    result<void, os_error> remove(int fd) override {
        registration* r = find(fd);
        if (!r) return unexpected(os_error{ENOENT, "io_uring poll remove"});
        if (r->armed) cancel(fd, *r);
        ++r->gen;  // a completion already in the CQ for this fd is now stale
        r->live = false;
        r->handler = nullptr;
        return {};
    }

    void forget(int fd) override { (void)remove(fd); }

    int wait(std::span<poll_event> out, int timeout_ms) override {
        rearm_fired();
        if (io_uring_cq_ready(&ring_) > 0) timeout_ms = 0;
        submit_and_wait(timeout_ms);
        return reap(out);
    }

    const char* name() const override { return "io_uring"; }
    int native_handle() const override { return ring_.ring_fd; }

  private:
    struct registration {
        io_handler* handler = nullptr;
        std::uint32_t interest = 0;
        std::uint32_t gen = 0;
        bool live = false;
        bool armed = false;  ///< a POLL_ADD of this generation is in flight
    };

    static std::uint64_t tag(int fd, const registration& r) {
        return (std::uint64_t{r.gen} << 32) | static_cast<std::uint32_t>(fd);
    }

    registration* find(int fd) {
        if (fd < 0 || static_cast<std::size_t>(fd) >= regs_.size() || !regs_[fd].live)
            return nullptr;
        return &regs_[fd];
    }

    /// A free SQE; when the submission queue is full, what is queued is submitted first.
    io_uring_sqe* sqe() {
        io_uring_sqe* s = io_uring_get_sqe(&ring_);
        while (!s) {
            io_uring_submit(&ring_);
            s = io_uring_get_sqe(&ring_);
        }
        return s;
    }

    void arm(int fd, registration& r) {
        io_uring_sqe* s = sqe();
        io_uring_prep_poll_add(s, fd, to_poll(r.interest));
        io_uring_sqe_set_data64(s, tag(fd, r));
        r.armed = true;
    }

    /// Cancels the armed poll of r's current generation and moves r to the next one.
    void cancel(int fd, registration& r) {
        io_uring_sqe* s = sqe();
        io_uring_prep_poll_remove(s, tag(fd, r));
        io_uring_sqe_set_data64(s, ignore_tag);
        r.armed = false;
        ++r.gen;
    }

    void rearm_fired() {
        for (int fd : fired_) {
            registration* r = find(fd);
            if (r && !r->armed) arm(fd, *r);
        }
        fired_.clear();
    }

    void submit_and_wait(int timeout_ms) {
        if (timeout_ms == 0) {
            // Submits and runs deferred completions without sleeping (GETEVENTS, min 0).
            io_uring_submit_and_get_events(&ring_);
            return;
        }
        io_uring_cqe* cqe = nullptr;
        __kernel_timespec ts{};
        __kernel_timespec* tsp = nullptr;
        if (timeout_ms > 0) {
            ts.tv_sec = timeout_ms / 1000;
            ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1'000'000;
            tsp = &ts;
        }
        // -ETIME (timeout) and -EINTR are spurious wakeups for the loop: it reads the clock.
        (void)io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, tsp, nullptr);
    }

    /// Moves completions to out; those that do not fit stay in the CQ for the next wait().
    int reap(std::span<poll_event> out) {
        int n = 0;
        unsigned seen = 0;
        unsigned head = 0;
        io_uring_cqe* cqe = nullptr;
        io_uring_for_each_cqe(&ring_, head, cqe) {
            if (static_cast<std::size_t>(n) == out.size()) break;
            ++seen;
            const std::uint64_t t = io_uring_cqe_get_data64(cqe);
            if (t == ignore_tag) continue;
            const int fd = static_cast<int>(t & 0xffffffffu);
            registration* r = find(fd);
            if (!r || !r->armed || tag(fd, *r) != t) continue;  // stale: removed or modified
            r->armed = false;
            fired_.push_back(fd);
            out[n++] = poll_event{r->handler, from_poll(cqe->res)};
        }
        io_uring_cq_advance(&ring_, seen);
        return n;
    }

    io_uring ring_{};
    std::vector<registration> regs_;  ///< indexed by fd
    std::vector<int> fired_;          ///< fds whose one-shot poll completed, re-armed next wait
};

bool io_uring_sysctl_allows(std::string* why) {
    std::FILE* f = std::fopen("/proc/sys/kernel/io_uring_disabled", "r");
    if (!f) return true;  // before 6.6 there is no such switch
    int v = 0;
    const bool read = std::fscanf(f, "%d", &v) == 1;
    std::fclose(f);
    if (read && v == 2) {
        if (why) *why = "kernel.io_uring_disabled = 2";
        return false;
    }
    return true;  // 1 restricts it to a group: the ring set-up below tells
}

}  // namespace

std::unique_ptr<poller> make_uring_poller() {
    return std::make_unique<uring_poller>();
}

bool io_uring_usable(std::string* why) {
    if (!io_uring_sysctl_allows(why)) return false;
    io_uring ring{};
    const int rc = init_ring(ring, 4);
    if (rc < 0) {
        if (why) *why = std::string("io_uring_queue_init: ") + std::strerror(-rc);
        return false;
    }
    io_uring_queue_exit(&ring);
    return true;
}

}  // namespace sy::core
