#include "rope/methods.h"

#include "core/error.h"

namespace harpe::rope {

const MethodInfo& method_info(Method m) {
  for (const MethodInfo& i : kMethods)
    if (i.method == m) return i;
  fail("unknown method id ", static_cast<int>(m));
}

std::string_view method_name(Method m) { return method_info(m).name; }

std::string method_list() {
  std::string out;
  for (const MethodInfo& i : kMethods) out += (out.empty() ? "" : ", ") + std::string(i.name);
  return out;
}

Method parse_method(std::string_view name, std::string_view flag) {
  for (const MethodInfo& i : kMethods)
    if (i.name == name) return i.method;
  fail(flag, ": unknown method '", name, "' (", method_list(), ")");
}

}  // namespace harpe::rope
