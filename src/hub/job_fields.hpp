// A minimal reader for the top-level fields of a job report (an HTTP worker's report, an AMQP
// worker's reply): raw values by key, no parse tree. Values it returns are views into the input.
// Whether a value is well-formed JSON is jobs_json::is_value's business (the result is checked
// with it before it is stored).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sy::hub::job_fields {

/// The raw value of a top-level key of a JSON object; nullopt if absent or malformed.
std::optional<std::string_view> json_field(std::string_view obj, std::string_view key);
/// v without surrounding double quotes, if it has them.
std::string_view unquote(std::string_view v);
/// A non-negative number, quoted or not ("42", 42, 42.5 -> 42); nullopt otherwise.
std::optional<std::uint64_t> to_u64(std::string_view v);
/// A decimal id filling s exactly.
std::optional<std::uint64_t> id_of(std::string_view s);

}  // namespace sy::hub::job_fields
