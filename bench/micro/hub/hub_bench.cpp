// Hub micro-benchmarks: local publish -> deliver fan-out, sublist matching, broker queue cycle.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "switchyard/hub/broker.hpp"
#include "switchyard/hub/hub.hpp"
#include "switchyard/hub/sublist.hpp"

namespace {

using namespace sy::hub;

// Frames once per delivery through the protocol cache, like a session would.
struct counting_subscriber : subscriber {
    void on_message(const delivery& d) override {
        const sy::shared_bytes& b = d.framed(0, [](const message& m) { return m.payload; });
        bytes += b.size();
        ++count;
    }
    std::uint64_t count = 0;
    std::uint64_t bytes = 0;
};

// One shard (direct calls), N subscribers on the same literal topic; history kept small.
void BM_PublishDeliver(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    hub_settings s;
    s.defaults.history_count = 16;
    s.defaults.history_age_ms = 0;
    hub h(s, 1, {});
    std::vector<counting_subscriber> subs(n);
    std::vector<subscription_handle> hs;
    for (auto& sub : subs) hs.push_back(h.shard(0).subscribe("bench.topic", &sub).value());
    const sy::shared_bytes payload = sy::shared_bytes::copy_of(std::string(64, 'x'));
    for (auto _ : state) h.shard(0).publish("bench.topic", "text/plain", payload);
    state.counters["deliveries/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(n),
                           benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PublishDeliver)->Arg(1)->Arg(100)->Arg(10000);

// Same with wildcard subscriptions (trie walk instead of the literal map).
void BM_PublishDeliverWildcard(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    hub_settings s;
    s.defaults.history_count = 16;
    hub h(s, 1, {});
    std::vector<counting_subscriber> subs(n);
    std::vector<subscription_handle> hs;
    for (auto& sub : subs) hs.push_back(h.shard(0).subscribe("bench.*", &sub).value());
    const sy::shared_bytes payload = sy::shared_bytes::copy_of(std::string(64, 'x'));
    for (auto _ : state) h.shard(0).publish("bench.topic", "text/plain", payload);
    state.counters["deliveries/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(n),
                           benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PublishDeliverWildcard)->Arg(100);

// 10,000 patterns over 3-4 token topics (literals, '*' and '>' mixed); match random topics.
void BM_SublistMatch(benchmark::State& state) {
    std::mt19937 rng(7);
    auto tok = [&] { return "t" + std::to_string(rng() % 20); };
    sublist<int> sl;
    for (int i = 0; i < 10000; ++i) {
        std::string p = tok() + "." + tok() + "." + tok();
        const unsigned r = rng() % 10;
        if (r == 0) p = tok() + ".*." + tok();
        if (r == 1) p = tok() + "." + tok() + ".>";
        sl.insert(p, i);
    }
    std::vector<std::string> topics;
    for (int i = 0; i < 1024; ++i) topics.push_back(tok() + "." + tok() + "." + tok());
    std::vector<int> out;
    std::size_t i = 0;
    std::uint64_t matched = 0;
    for (auto _ : state) {
        out.clear();
        sl.match(topics[i++ & 1023], out);
        matched += out.size();
    }
    benchmark::DoNotOptimize(matched);
    state.counters["matches/op"] =
        static_cast<double>(matched) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_SublistMatch);

// Broker queues (AMQP and the jobs API): a consumer that settles each delivery at once.
struct acking_consumer : broker_consumer {
    bool has_credit() const override { return true; }
    void deliver(const broker_queue_ptr& q, queue_entry&& e) override { q->ack(e); }
    void cancelled_by_server() override {}
    bool no_ack() const override { return false; }
};

broker_queue_ptr declare(broker& b, broker_vhost& vh) {
    queue_declare_request r;
    r.name = "jobs";
    queue_declare_result out;
    (void)b.queue_declare(vh, r, out);
    broker_queue_ptr q;
    (void)b.find_queue(vh, "jobs", 0, q);
    return q;
}

broker_message_ptr job_message() {
    auto m = std::make_shared<broker_message>();
    m->routing_key = "jobs";
    m->body = sy::shared_bytes::copy_of("job");
    return m;
}

// publish (default exchange) -> queue -> deliver to a consumer -> ack, all synchronous.
void BM_BrokerQueueCycle(benchmark::State& state) {
    broker b;
    broker_vhost& vh = *b.vhost("/");
    auto q = declare(b, vh);
    acking_consumer c;
    q->add_consumer("c", &c);
    const broker_message_ptr m = job_message();
    for (auto _ : state) {
        publish_result r;
        benchmark::DoNotOptimize(b.publish(vh, m, r, 0));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BrokerQueueCycle);

// Pull mode (basic.get): publish, get, ack.
void BM_BrokerQueuePull(benchmark::State& state) {
    broker b;
    broker_vhost& vh = *b.vhost("/");
    auto q = declare(b, vh);
    const broker_message_ptr m = job_message();
    for (auto _ : state) {
        publish_result r;
        (void)b.publish(vh, m, r, 0);
        auto e = q->get(false, 0);
        q->ack(*e);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BrokerQueuePull);

}  // namespace

BENCHMARK_MAIN();
