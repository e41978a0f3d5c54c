// [[routes]] in the TOML file (config.cpp's walk hands the array here). Not public.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <utility>
#include <vector>

#include "switchyard/server/config.hpp"

namespace sy::server::detail {

/// (line, message) pairs, as config.cpp reports them (one line each, in line order).
using config_problems = std::vector<std::pair<std::size_t, std::string>>;

/// Reads `routes = [[...]]` (an array of tables) into out; every unknown key, wrong type or
/// inconsistent table is one problem naming its line.
void read_routes(const toml::node& n, const std::string& origin, std::vector<route_config>& out,
                 config_problems& problems);

}  // namespace sy::server::detail
