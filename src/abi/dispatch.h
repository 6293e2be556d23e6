// The NDK dispatch tables softndk hands out (abi/dispatch.cpp).
#pragma once

#include "core/adapter.h"

namespace softndk::abi {
const core::DispatchTables& dispatch_tables();
}  // namespace softndk::abi
