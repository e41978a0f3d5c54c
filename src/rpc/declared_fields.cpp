#include "switchyard/rpc/declared_fields.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/unknown_field_set.h>

namespace sy::rpc {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Reflection;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

/// Whether the wire may carry field f with this wire type (protobuf encoding guide, "Message
/// Structure"). Repeated scalar numbers come packed (length-delimited) or one by one.
bool wire_type_fits(const FieldDescriptor& f, UnknownField::Type t) {
    if (f.is_packable() && t == UnknownField::TYPE_LENGTH_DELIMITED) return true;
    switch (f.type()) {
        case FieldDescriptor::TYPE_INT32:
        case FieldDescriptor::TYPE_INT64:
        case FieldDescriptor::TYPE_UINT32:
        case FieldDescriptor::TYPE_UINT64:
        case FieldDescriptor::TYPE_SINT32:
        case FieldDescriptor::TYPE_SINT64:
        case FieldDescriptor::TYPE_BOOL:
        case FieldDescriptor::TYPE_ENUM:
            return t == UnknownField::TYPE_VARINT;
        case FieldDescriptor::TYPE_FIXED64:
        case FieldDescriptor::TYPE_SFIXED64:
        case FieldDescriptor::TYPE_DOUBLE:
            return t == UnknownField::TYPE_FIXED64;
        case FieldDescriptor::TYPE_FIXED32:
        case FieldDescriptor::TYPE_SFIXED32:
        case FieldDescriptor::TYPE_FLOAT:
            return t == UnknownField::TYPE_FIXED32;
        case FieldDescriptor::TYPE_STRING:
        case FieldDescriptor::TYPE_BYTES:
        case FieldDescriptor::TYPE_MESSAGE:
            return t == UnknownField::TYPE_LENGTH_DELIMITED;
        case FieldDescriptor::TYPE_GROUP:
            return t == UnknownField::TYPE_GROUP;
    }
    return false;
}

/// Drops m's own unknown fields; false when one of them is a declared field with a wire type it
/// cannot have. (A declared field with a fitting wire type lands there only as a proto2 enum
/// value the enum does not name: undeclared too, dropped.)
bool drop_unknown(google::protobuf::Message& m, const Descriptor& d, const Reflection& r) {
    const UnknownFieldSet& unknown = r.GetUnknownFields(m);
    if (unknown.empty()) return true;
    for (int i = 0; i < unknown.field_count(); ++i) {
        const UnknownField& u = unknown.field(i);
        const FieldDescriptor* f = d.FindFieldByNumber(u.number());
        if (f && !wire_type_fits(*f, u.type())) return false;
    }
    r.MutableUnknownFields(&m)->Clear();
    return true;
}

}  // namespace

bool has_message_fields(const Descriptor& d) {
    for (int i = 0; i < d.field_count(); ++i) {
        if (d.field(i)->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) return true;
    }
    return false;
}

// Recursion depth is bounded by protobuf's own parse limit (100 nested messages by default).
bool only_declared_fields(google::protobuf::Message& m) {  // NOLINT(misc-no-recursion)
    const Descriptor& d = *m.GetDescriptor();
    const Reflection& r = *m.GetReflection();
    if (!drop_unknown(m, d, r)) return false;
    for (int i = 0; i < d.field_count(); ++i) {
        const FieldDescriptor* f = d.field(i);
        if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
        if (f->is_repeated()) {
            for (int j = 0, n = r.FieldSize(m, f); j < n; ++j) {
                if (!only_declared_fields(*r.MutableRepeatedMessage(&m, f, j))) return false;
            }
        } else if (r.HasField(m, f) && !only_declared_fields(*r.MutableMessage(&m, f))) {
            return false;
        }
    }
    return true;
}

}  // namespace sy::rpc
