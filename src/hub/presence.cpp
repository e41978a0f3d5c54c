// local_presence: this process's presence table (the contract is in the header).
#include "switchyard/hub/presence.hpp"

namespace sy::hub {

bool local_presence::add(const std::string& topic, const std::string& name) {
    return topics_[topic][name]++ == 0;
}

bool local_presence::remove(const std::string& topic, const std::string& name) {
    auto t = topics_.find(topic);
    if (t == topics_.end()) return false;
    auto n = t->second.find(name);
    if (n == t->second.end()) return false;
    if (--n->second > 0) return false;
    t->second.erase(n);
    if (t->second.empty()) topics_.erase(t);
    return true;
}

void local_presence::members(const std::string& topic, members_callback done) {
    std::vector<std::string> out;
    if (auto t = topics_.find(topic); t != topics_.end()) {
        out.reserve(t->second.size());
        for (const auto& [name, count] : t->second) out.push_back(name);
    }
    done(std::move(out));
}

}  // namespace sy::hub
