// metrics: one registry of metric families, rendered as Prometheus text (exposition format 0.0.4)
// and as JSON (docs/metrics.md). Each family is registered once with its name, type, help, label
// names and a collect function that reads the figures when scraped (per-loop counters, atomics)
// and emits one sample per label set.
//
// Threads: register before serving (start-up, or a loop's start hook under the registry's lock);
// render from any thread. collect functions must only read what is safe to read from the
// rendering thread (core::counter, relaxed atomics, snapshots written by their owner).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sy::metrics {

/// untyped: Prometheus' "untyped", for info series (value 1, the labels are the data) such as
/// rabbitmq_identity_info.
enum class kind : std::uint8_t { counter, gauge, untyped };
std::string_view to_string(kind k);

/// A sample's value: an integer, or seconds (rendered with 6 decimals in Prometheus text).
struct value {
    std::uint64_t n = 0;
    double seconds = 0;
    bool is_seconds = false;
    static value of_seconds(double s) { return {0, s, true}; }
};

struct family_spec {
    std::string name;
    kind type = kind::counter;
    std::string help;
    std::vector<std::string> labels;  ///< label names, in order
    /// No samples: leave the family out entirely (a feature that is off: TLS, host stats).
    bool omit_when_empty = false;
};

/// Which rendering is asked for. aggregated (/metrics): a family with per-object labels emits
/// one unlabelled sample summed over its objects; per_object (/metrics/per-object, as
/// rabbitmq_prometheus): one sample per object (a queue), bounded by the family's own cap.
enum class scope : std::uint8_t { aggregated, per_object };

/// What a collect function writes into; label values in the order of family_spec::labels. A
/// sample may carry fewer label values than the family names (none, for an aggregated sample of
/// a per-object family): only the first ones given are rendered.
class emitter {
  public:
    explicit emitter(scope s = scope::aggregated) : scope_(s) {}
    bool per_object() const { return scope_ == scope::per_object; }
    void add(std::uint64_t v) { add({}, value{v, 0, false}); }
    void add(std::initializer_list<std::string_view> label_values, std::uint64_t v) {
        add(label_values, value{v, 0, false});
    }
    void add(std::initializer_list<std::string_view> label_values, value v);
    void add_seconds(std::initializer_list<std::string_view> label_values, double s) {
        add(label_values, value::of_seconds(s));
    }

  private:
    friend class registry;
    struct sample {
        std::vector<std::string> labels;
        value v;
    };
    std::vector<sample> samples_;
    scope scope_;
};

using collect_fn = std::function<void(emitter&)>;

class registry {
  public:
    /// Registers a family; throws std::invalid_argument for a name registered twice.
    void add(family_spec spec, collect_fn collect);
    /// One unlabelled sample read by get().
    void add_value(family_spec spec, std::function<std::uint64_t()> get);
    /// A figure each of n() loops keeps: summed over the loops, or (by_loop) one sample per loop
    /// labelled loop="i". get(i) reads loop i's figure.
    void add_per_loop(family_spec spec, std::function<std::size_t()> n,
                      std::function<std::uint64_t(std::size_t)> get, bool by_loop);

    /// Work that must run before a render (a post to the loop that owns some figures, which
    /// writes a snapshot there); it calls done() when finished, on any loop. See refresh().
    void add_refresh(std::function<void(std::function<void()> done)> fn);
    /// Runs every refresh function one after the other, then done (at once when there is none).
    void refresh(std::function<void()> done) const;

    bool contains(std::string_view name) const;
    /// Collects one family now and hands each sample to fn (label values in the order of the
    /// family's labels). false: no family of that name. For readers that want a few figures
    /// (the sys.stats topic) rather than a whole rendering.
    bool collect(
        std::string_view name,
        const std::function<void(const std::vector<std::string>& labels, value v)>& fn) const;
    /// Prometheus text: "# HELP", "# TYPE", then one line per sample, families in registration
    /// order.
    std::string prometheus(scope s = scope::aggregated) const;
    /// {"name":{"type":"counter","help":"...","samples":[{"labels":{"loop":"0"},"value":3}]}}
    std::string json(scope s = scope::aggregated) const;

  private:
    struct family {
        family_spec spec;
        collect_fn collect;
    };
    template <typename Fn>
    void each(scope s, Fn&& fn) const;

    mutable std::mutex mu_;  // registration against rendering; never held on a hot path
    std::vector<family> families_;
    std::vector<std::function<void(std::function<void()>)>> refresh_;
};

}  // namespace sy::metrics
