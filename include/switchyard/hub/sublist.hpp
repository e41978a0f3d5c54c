// sublist<V>: maps topics to the values (subscriptions) whose pattern matches them, like the
// NATS server's sublist. Literal patterns ("a.b.c") sit in one hash map, looked up first with the
// whole topic (the common case costs one hash); wildcard patterns sit in a token trie walked
// only when it is non-empty.
//
// Contract: patterns are valid (validate_pattern) and topics valid (validate_topic). V is a
// small copyable, equality-comparable value (a pointer or an id). The same (pattern, value) pair
// is inserted once; a value inserted under one pattern is reported once per matching topic.
// Thread: not thread-safe; one sublist belongs to one shard.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "switchyard/hub/topic.hpp"

namespace sy::hub {

/// Transparent hash so maps keyed by std::string can be searched with a string_view.
struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

template <typename V>
class sublist {
  public:
    void insert(std::string_view pattern, V value) {
        ++size_;
        if (is_literal(pattern)) {
            find_or_add(literal_, pattern).push_back(value);
            return;
        }
        std::array<std::string_view, max_topic_tokens> toks;
        const std::size_t n = std::min(split_tokens(pattern, toks), max_topic_tokens);
        node* cur = &root_;
        for (std::size_t i = 0; i < n; ++i) {
            if (toks[i] == ">") {
                cur->tail.push_back(value);
                return;
            }
            cur = cur->child(toks[i], true);
        }
        cur->values.push_back(value);
    }

    /// Removes one (pattern, value) pair; false when it was not there. Prunes empty trie nodes.
    bool remove(std::string_view pattern, V value) {
        bool found = false;
        if (is_literal(pattern)) {
            auto it = literal_.find(pattern);
            if (it != literal_.end()) {
                found = erase_value(it->second, value);
                if (it->second.empty()) literal_.erase(it);
            }
        } else {
            std::array<std::string_view, max_topic_tokens> toks;
            const std::size_t n = std::min(split_tokens(pattern, toks), max_topic_tokens);
            found = remove_at(root_, toks.data(), n, value);
        }
        if (found) --size_;
        return found;
    }

    /// Appends every value whose pattern matches topic to out (out is not cleared).
    void match(std::string_view topic, std::vector<V>& out) const {
        if (!literal_.empty()) {
            auto it = literal_.find(topic);
            if (it != literal_.end()) out.insert(out.end(), it->second.begin(), it->second.end());
        }
        if (root_.empty()) return;
        std::array<std::string_view, max_topic_tokens> toks;
        const std::size_t n = split_tokens(topic, toks);
        if (n > max_topic_tokens) return;  // longer than any valid topic: matches nothing
        match_at(root_, toks.data(), n, out);
    }

    /// Whether any pattern matches topic: match() without collecting (no allocation), for
    /// permission lists (auth::principal) checked per message.
    bool matches_any(std::string_view topic) const {
        if (!literal_.empty() && literal_.find(topic) != literal_.end()) return true;
        if (root_.empty()) return false;
        std::array<std::string_view, max_topic_tokens> toks;
        const std::size_t n = split_tokens(topic, toks);
        if (n > max_topic_tokens) return false;
        return any_at(root_, toks.data(), n);
    }

    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

  private:
    struct node {
        std::unordered_map<std::string, std::unique_ptr<node>, string_hash, std::equal_to<>>
            children;
        std::unique_ptr<node> star;  // the "*" child
        std::vector<V> values;       // patterns ending at this node
        std::vector<V> tail;         // patterns ending with ">" after this node

        bool empty() const { return children.empty() && !star && values.empty() && tail.empty(); }
        node* child(std::string_view tok, bool create) {
            if (tok == "*") {
                if (!star && create) star = std::make_unique<node>();
                return star.get();
            }
            auto it = children.find(tok);
            if (it != children.end()) return it->second.get();
            if (!create) return nullptr;
            return children.emplace(std::string(tok), std::make_unique<node>()).first->second.get();
        }
    };

    using literal_map =
        std::unordered_map<std::string, std::vector<V>, string_hash, std::equal_to<>>;

    static std::vector<V>& find_or_add(literal_map& m, std::string_view key) {
        auto it = m.find(key);
        if (it == m.end()) it = m.emplace(std::string(key), std::vector<V>{}).first;
        return it->second;
    }

    static bool erase_value(std::vector<V>& vs, const V& v) {
        auto it = std::find(vs.begin(), vs.end(), v);
        if (it == vs.end()) return false;
        *it = vs.back();  // order inside one node is not part of the contract
        vs.pop_back();
        return true;
    }

    static void match_at(const node& n, const std::string_view* toks, std::size_t count,
                         std::vector<V>& out) {
        if (count == 0) {
            out.insert(out.end(), n.values.begin(), n.values.end());
            return;
        }
        // ">" needs at least one more token, which count > 0 guarantees.
        out.insert(out.end(), n.tail.begin(), n.tail.end());
        if (!n.children.empty()) {
            auto it = n.children.find(toks[0]);
            if (it != n.children.end()) match_at(*it->second, toks + 1, count - 1, out);
        }
        if (n.star) match_at(*n.star, toks + 1, count - 1, out);
    }

    static bool any_at(const node& n, const std::string_view* toks, std::size_t count) {
        if (count == 0) return !n.values.empty();
        if (!n.tail.empty()) return true;
        if (!n.children.empty()) {
            auto it = n.children.find(toks[0]);
            if (it != n.children.end() && any_at(*it->second, toks + 1, count - 1)) return true;
        }
        return n.star && any_at(*n.star, toks + 1, count - 1);
    }

    // Recursive so each level can drop its child once the child became empty.
    static bool remove_at(node& n, const std::string_view* toks, std::size_t count, const V& v) {
        if (count == 0) return erase_value(n.values, v);
        if (toks[0] == ">") return erase_value(n.tail, v);
        if (toks[0] == "*") {
            if (!n.star) return false;
            const bool found = remove_at(*n.star, toks + 1, count - 1, v);
            if (n.star->empty()) n.star.reset();
            return found;
        }
        auto it = n.children.find(toks[0]);
        if (it == n.children.end()) return false;
        const bool found = remove_at(*it->second, toks + 1, count - 1, v);
        if (it->second->empty()) n.children.erase(it);
        return found;
    }

    literal_map literal_;
    node root_;
    std::size_t size_ = 0;
};

}  // namespace sy::hub
