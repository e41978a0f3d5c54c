// The metrics registry: families collected at scrape time, rendered twice from the same samples.
#include "switchyard/base/metrics.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "switchyard/base/json.hpp"

namespace sy::metrics {

std::string_view to_string(kind k) {
    switch (k) {
        case kind::counter:
            return "counter";
        case kind::gauge:
            return "gauge";
        case kind::untyped:
            return "untyped";
    }
    return "untyped";
}

void emitter::add(std::initializer_list<std::string_view> label_values, value v) {
    sample s;
    s.labels.reserve(label_values.size());
    for (auto l : label_values) s.labels.emplace_back(l);
    s.v = v;
    samples_.push_back(std::move(s));
}

void registry::add(family_spec spec, collect_fn collect) {
    std::lock_guard lk(mu_);
    for (const auto& f : families_) {
        if (f.spec.name == spec.name)
            throw std::invalid_argument("metric family registered twice: " + spec.name);
    }
    families_.push_back(family{std::move(spec), std::move(collect)});
}

void registry::add_value(family_spec spec, std::function<std::uint64_t()> get) {
    add(std::move(spec), [get = std::move(get)](emitter& e) { e.add(get()); });
}

void registry::add_per_loop(family_spec spec, std::function<std::size_t()> n,
                            std::function<std::uint64_t(std::size_t)> get, bool by_loop) {
    if (by_loop) spec.labels.insert(spec.labels.begin(), "loop");
    add(std::move(spec), [n = std::move(n), get = std::move(get), by_loop](emitter& e) {
        const std::size_t loops = n();
        if (!by_loop) {
            std::uint64_t sum = 0;
            for (std::size_t i = 0; i < loops; ++i) sum += get(i);
            e.add(sum);
            return;
        }
        for (std::size_t i = 0; i < loops; ++i) e.add({std::to_string(i)}, get(i));
    });
}

void registry::add_refresh(std::function<void(std::function<void()> done)> fn) {
    std::lock_guard lk(mu_);
    refresh_.push_back(std::move(fn));
}

void registry::refresh(std::function<void()> done) const {
    std::vector<std::function<void(std::function<void()>)>> steps;
    {
        std::lock_guard lk(mu_);
        steps = refresh_;
    }
    // Each step's done() starts the next one (on whichever loop it completes).
    auto chain = std::make_shared<std::function<void(std::size_t)>>();
    *chain = [steps = std::move(steps), done = std::move(done), chain](std::size_t i) mutable {
        if (i == steps.size()) {
            done();
            *chain = nullptr;  // breaks the self-reference
            return;
        }
        steps[i]([chain, i] {
            if (*chain) (*chain)(i + 1);
        });
    };
    (*chain)(0);
}

bool registry::contains(std::string_view name) const {
    std::lock_guard lk(mu_);
    for (const auto& f : families_) {
        if (f.spec.name == name) return true;
    }
    return false;
}

bool registry::collect(
    std::string_view name,
    const std::function<void(const std::vector<std::string>& labels, value v)>& fn) const {
    emitter e;
    {
        std::lock_guard lk(mu_);
        auto it = std::find_if(families_.begin(), families_.end(),
                               [name](const family& f) { return f.spec.name == name; });
        if (it == families_.end()) return false;
        it->collect(e);
    }
    for (const auto& s : e.samples_) fn(s.labels, s.v);
    return true;
}

template <typename Fn>
void registry::each(scope s, Fn&& fn) const {
    std::lock_guard lk(mu_);
    for (const auto& f : families_) {
        emitter e(s);
        f.collect(e);
        if (e.samples_.empty() && f.spec.omit_when_empty) continue;
        fn(f.spec, e.samples_);
    }
}

namespace {

// Prometheus label values escape '\\', '"' and newline (exposition format 0.0.4).
void append_label_value(std::string& out, std::string_view v) {
    for (char c : v) {
        if (c == '\\' || c == '"') {
            out.push_back('\\');
            out.push_back(c);
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out.push_back(c);
        }
    }
}

}  // namespace

std::string registry::prometheus(scope sc) const {
    std::string out;
    out.reserve(8192);
    auto o = std::back_inserter(out);
    each(sc, [&](const family_spec& f, const auto& samples) {
        fmt::format_to(o, "# HELP {} {}\n# TYPE {} {}\n", f.name, f.help, f.name,
                       to_string(f.type));
        for (const auto& s : samples) {
            out += f.name;
            if (!s.labels.empty()) {
                out.push_back('{');
                for (std::size_t i = 0; i < s.labels.size() && i < f.labels.size(); ++i) {
                    if (i) out.push_back(',');
                    out += f.labels[i];
                    out += "=\"";
                    append_label_value(out, s.labels[i]);
                    out.push_back('"');
                }
                out.push_back('}');
            }
            if (s.v.is_seconds) {
                fmt::format_to(o, " {:.6f}\n", s.v.seconds);
            } else {
                fmt::format_to(o, " {}\n", s.v.n);
            }
        }
    });
    return out;
}

std::string registry::json(scope sc) const {
    std::string out;
    out.reserve(8192);
    json::writer w(out);
    w.begin_object();
    each(sc, [&](const family_spec& f, const auto& samples) {
        w.key(f.name).begin_object();
        w.member("type", to_string(f.type)).member("help", f.help);
        w.key("samples").begin_array();
        for (const auto& s : samples) {
            w.begin_object().key("labels").begin_object();
            for (std::size_t i = 0; i < s.labels.size() && i < f.labels.size(); ++i) {
                w.member(f.labels[i], s.labels[i]);
            }
            w.end_object();
            if (s.v.is_seconds) {
                w.member("value", s.v.seconds);
            } else {
                w.member("value", s.v.n);
            }
            w.end_object();
        }
        w.end_array().end_object();
    });
    w.end_object();
    return out;
}

}  // namespace sy::metrics
