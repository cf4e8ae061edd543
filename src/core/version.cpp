#include "core/version.h"

namespace harpe {
const char* version() { return "0.1.0"; }
}  // namespace harpe
