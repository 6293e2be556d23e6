// The fields of SOFTNDK_ADAPTER_COUNTERS (softndk.h) in declaration order, with their names: one
// table for the control-message codec and every printer of counters.
#pragma once

#include <softndk/softndk.h>

#include <array>
#include <cstddef>

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
// FaultsInjected (appended later) is not in the table: the control message carries ten
// counters (protocol.cpp); a row for it changes that layout.
static_assert(offsetof(SOFTNDK_ADAPTER_COUNTERS, FaultsInjected) ==
                  kCounterFields.size() * sizeof(UINT64),
              "every counter before FaultsInjected has a row in kCounterFields");

}  // namespace softndk::cli
