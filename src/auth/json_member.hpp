// Private to src/auth: member lookup on RapidJSON's DOM.
#pragma once

#include <rapidjson/document.h>

namespace sy::auth {

/// The member `name` of object o, or null (also when o is not an object). HasMember and
/// operator[] rather than FindMember() == MemberEnd(): comparing RapidJSON's member iterators is
/// ambiguous under C++20's reversed operators (clang rejects it), inside its header it is not.
inline const rapidjson::Value* member(const rapidjson::Value& o, const char* name) {
    return o.IsObject() && o.HasMember(name) ? &o[name] : nullptr;
}

}  // namespace sy::auth
