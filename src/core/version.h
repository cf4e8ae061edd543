#pragma once

namespace harpe {
const char* version();
}  // namespace harpe
