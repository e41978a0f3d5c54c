#include "switchyard/session/http_context.hpp"

#include <ctime>

namespace sy::session {

http_context::http_context(core::loop& l, const http_options& o, const http::router& r)
    : loop_(l), opts_(o), router_(r), date_(std::time(nullptr)) {
    date_timer_ = loop_.add_timer(millis(1000), [this] { tick(); });
}

http_context::~http_context() {
    loop_.cancel_timer(date_timer_);
}

void http_context::tick() {
    date_.update(std::time(nullptr));
    date_timer_ = loop_.add_timer(millis(1000), [this] { tick(); });
}

std::unique_ptr<http1_exchange> http_context::acquire_exchange() {
    if (pool_.empty()) return std::make_unique<http1_exchange>(opts_.limits);
    auto x = std::move(pool_.back());
    pool_.pop_back();
    return x;
}

void http_context::release_exchange(std::unique_ptr<http1_exchange> x) {
    // A parser is reused only from its initial state; one that ended in closed/failed/switched
    // is dropped. Keep a bounded pool so a burst does not pin memory forever.
    if (!x || pool_.size() >= 256) return;
    auto s = x->parser.state();
    if (s != http1::parser_state::head) return;
    x->request.reset();
    pool_.push_back(std::move(x));
}

}  // namespace sy::session
