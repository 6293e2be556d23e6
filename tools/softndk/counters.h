// The fields of SOFTNDK_ADAPTER_COUNTERS (softndk.h) in declaration order, with their names: one
// table for the control-message codec and every printer of counters.
#pragma once

#include <softndk/softndk.h>

#include <array>

namespace softndk::cli {

struct CounterField {
  const char* name;  // the struct member's name, also the JSON key
  UINT64 SOFTNDK_ADAPTER_COUNTERS::*member;
};

inline constexpr std::array<CounterField, 10> kCounterFields{{
    {"Connects", &SOFTNDK_ADAPTER_COUNTERS::Connects},
    {"Accepts", &SOFTNDK_ADAPTER_COUNTERS::Accepts},
    {"ConnectFailures", &SOFTNDK_ADAPTER_COUNTERS::ConnectFailures},
    {"ConnectionErrors", &SOFTNDK_ADAPTER_COUNTERS::ConnectionErrors},
    {"ActiveConnections", &SOFTNDK_ADAPTER_COUNTERS::ActiveConnections},
    {"CqErrors", &SOFTNDK_ADAPTER_COUNTERS::CqErrors},
    {"RdmaInOctets", &SOFTNDK_ADAPTER_COUNTERS::RdmaInOctets},
    {"RdmaOutOctets", &SOFTNDK_ADAPTER_COUNTERS::RdmaOutOctets},
    {"RdmaInFrames", &SOFTNDK_ADAPTER_COUNTERS::RdmaInFrames},
    {"RdmaOutFrames", &SOFTNDK_ADAPTER_COUNTERS::RdmaOutFrames},
}};
static_assert(sizeof(SOFTNDK_ADAPTER_COUNTERS) == kCounterFields.size() * sizeof(UINT64),
              "every counter has a row in kCounterFields");

}  // namespace softndk::cli
