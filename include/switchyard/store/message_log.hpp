// message_log: durability for the broker (durable queues, persistent messages).
//
// Format: segment files seg-<n>.log in one directory, each a sequence of records
//   u32 length | u32 fnv1a(payload) | payload (u8 type, fields)
// types: queue declared, queue deleted, message (id, queue, exchange, key, header, body), ack.
// A torn or corrupt record ends its segment on recovery (a crash mid-write loses only records
// never confirmed).
//
// Threads: the broker thread appends (broker_observer calls) into a pending buffer under a
// mutex; ONE writer thread takes the whole buffer, write()s it, fdatasync()s it (group commit:
// every record appended while the previous sync ran goes out in the next one), then calls
// synced(token) with the last durable record's token. synced runs on the writer thread: post it
// to the broker loop. fsync "never" skips the sync (tokens still report after write()).
//
// Compaction: a new segment starts with a snapshot of the durable queues; when every message
// stored in an older segment has been settled, that segment file is deleted. Recovery rewrites
// the live state into a fresh segment and deletes the old ones after it is on disk.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "switchyard/hub/broker.hpp"

namespace sy::store {

struct log_options {
    std::string dir;
    std::string fsync = "batch";  // always | batch (both group commit) | never
    std::uint64_t fsync_interval_ms = 2;
    std::uint64_t segment_bytes = 64u << 20;
    /// Required: the encoding message properties are stored in (the AMQP content header
    /// payload, the format of every log written so far) and read back with.
    const hub::property_codec* codec = nullptr;
};

struct recovered_message {
    std::uint64_t id = 0;
    hub::broker_message_ptr msg;
};
struct recovered_queue {
    std::string vhost, name;
    bool auto_delete = false;
    hub::queue_args args;
    std::vector<recovered_message> messages;  // in publish order
};

class message_log : public hub::broker_observer {
  public:
    using synced_fn = std::function<void(std::uint64_t token)>;
    message_log(log_options o, synced_fn synced);
    ~message_log() override;

    /// Broker thread, before any append: replays the directory and calls fn per durable queue;
    /// then compacts into a fresh segment. Throws std::runtime_error if dir is unusable.
    void recover(const std::function<void(const recovered_queue&)>& fn);
    /// Token of the last appended record (a confirm waits for synced(token >= this)).
    std::uint64_t last_token() const { return token_; }
    /// Flushes what is pending and stops the writer.
    void close();

    // broker_observer (broker thread)
    void on_queue_declared(const hub::broker_vhost&, const hub::broker_queue&) override;
    void on_queue_deleted(const hub::broker_vhost&, const hub::broker_queue&) override;
    std::uint64_t on_persist(const hub::broker_vhost&, const hub::broker_queue&,
                             const hub::broker_message&) override;
    void on_settled(std::uint64_t store_id) override;

  private:
    struct chunk {
        std::uint32_t segment;
        std::string bytes;
        std::uint64_t token;
        std::vector<std::uint32_t> remove;  // segment files to delete once this is written
    };
    void append(std::string rec);
    void rotate();
    void writer();
    std::string path_of(std::uint32_t seg) const;
    std::string queue_record(const std::string& vh, const std::string& name, bool auto_delete,
                             const hub::queue_args& a) const;

    log_options opts_;
    synced_fn synced_;
    // broker thread state
    std::uint64_t token_ = 0;
    std::uint64_t next_id_ = 1;
    std::uint32_t segment_ = 1;
    std::uint64_t segment_size_ = 0;
    std::unordered_map<std::uint64_t, std::uint32_t> seg_of_;  // live message -> segment
    std::map<std::uint32_t, std::uint64_t> live_;              // segment -> live messages
    std::map<std::string, std::string> queues_;                // "vh\0name" -> declare record
    std::vector<std::uint32_t> to_remove_;
    // shared with the writer
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<chunk> pending_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace sy::store
