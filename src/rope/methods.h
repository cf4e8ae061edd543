// The context-extension methods `harpe extend` trains, and the one table that ties each method's
// name to its RoPE scheme (rope_table.h); the scheme's config.json rope_type is rope_type_name().
// ABF is plain RoPE with a larger rope_theta (no rope_scaling entry).
#pragma once

#include <string>
#include <string_view>

#include "rope/rope_table.h"

namespace harpe::rope {

enum class Method { pi, abf, ntk, yarn, harpe };

struct MethodInfo {
  Method method;
  std::string_view name;  // --method
  Scheme scheme;          // the table builder
};

inline constexpr MethodInfo kMethods[] = {
    {Method::pi, "pi", Scheme::pi},          {Method::abf, "abf", Scheme::rope},
    {Method::ntk, "ntk", Scheme::ntk},       {Method::yarn, "yarn", Scheme::yarn},
    {Method::harpe, "harpe", Scheme::harpe},
};

const MethodInfo& method_info(Method m);
std::string_view method_name(Method m);
// "pi" ... "harpe"; throws Error naming `flag` and the known names.
Method parse_method(std::string_view name, std::string_view flag = "--method");
std::string method_list();  // "pi, abf, ntk, yarn, harpe"

}  // namespace harpe::rope
