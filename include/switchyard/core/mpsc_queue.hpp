// task_mailbox: a multi-producer single-consumer queue of tasks (Vyukov's intrusive MPSC queue).
//
// push() is wait-free and callable from any thread; pop() is for the single consumer thread only.
// Order: tasks pushed by one producer are popped in the order pushed; across producers the order is
// the order their exchange on head_ happened.
// pop() can return false while a producer is between its two stores ("transiently empty"); the
// producer then finishes and the consumer sees the task on a later pop (the loop's wakeup protocol
// guarantees a later pop happens, see loop::post).
#pragma once

#include <atomic>

#include "switchyard/base/unique_function.hpp"

namespace sy::core {

class task_mailbox {
  public:
    task_mailbox() : head_(&stub_), tail_(&stub_) {}
    ~task_mailbox() {
        task t;
        while (pop(t)) t.reset();
    }
    task_mailbox(const task_mailbox&) = delete;
    task_mailbox& operator=(const task_mailbox&) = delete;

    /// Any thread.
    void push(task t) { push_node(new node(std::move(t))); }

    /// Consumer thread only.
    bool pop(task& out) {
        node* tail = tail_;
        node* next = tail->next.load(std::memory_order_acquire);
        if (tail == &stub_) {
            if (!next) return false;
            tail_ = next;
            tail = next;
            next = next->next.load(std::memory_order_acquire);
        }
        if (next) {
            tail_ = next;
            return take(tail, out);
        }
        if (tail != head_.load(std::memory_order_acquire)) return false;  // producer mid-push
        push_node(&stub_);
        next = tail->next.load(std::memory_order_acquire);
        if (next) {
            tail_ = next;
            return take(tail, out);
        }
        return false;
    }

    /// Consumer thread only: true if nothing is visible right now.
    bool empty() const {
        return tail_ == &stub_ && stub_.next.load(std::memory_order_acquire) == nullptr;
    }

  private:
    struct node {
        node() = default;
        explicit node(task t) : fn(std::move(t)) {}
        std::atomic<node*> next{nullptr};
        task fn;
    };

    void push_node(node* n) {
        n->next.store(nullptr, std::memory_order_relaxed);
        node* prev = head_.exchange(n, std::memory_order_acq_rel);
        prev->next.store(n, std::memory_order_release);
    }
    static bool take(node* n, task& out) {
        out = std::move(n->fn);
        delete n;
        return true;
    }

    alignas(64) std::atomic<node*> head_;
    alignas(64) node* tail_;
    node stub_;
};

}  // namespace sy::core
