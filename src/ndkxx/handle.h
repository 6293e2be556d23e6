// Ownership of one NDK object (every type but the adapter, which adapter.h owns): the handle
// closes it through its dispatch table when it goes, waiting for a pending close (call.h). Not
// here: creating objects (call.h create(), and the helpers of cq.h, memory.h, connection.h).
#pragma once

#include <softndk/ndkpi.h>

#include <utility>

#include "ndkxx/call.h"

namespace softndk::ndkxx {

template <class T>
class Handle {
 public:
  Handle() = default;
  explicit Handle(T* object) : object_(object) {}
  Handle(Handle&& other) noexcept : object_(other.release()) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  // Closes the object held, if any, and holds `object` instead. A close that fails goes to
  // report_close_failure() (nobody else could be told).
  void reset(T* object = nullptr) {
    T* old = std::exchange(object_, object);
    if (old == nullptr) return;
    const int type = old->Header.ObjectType;  // read first: a finished close frees the object
    Outcome outcome = ndkxx::close(old);
    if (!outcome.ok()) report_close_failure(type, outcome);
  }
  // Closes the object now and tells how; the handle is empty afterwards.
  Outcome close(const Wait& wait = {}) { return ndkxx::close(release(), wait); }
  // Gives the object up without closing it.
  T* release() { return std::exchange(object_, nullptr); }

  T* get() const { return object_; }
  T* operator->() const { return object_; }
  operator T*() const { return object_; }  // NOLINT(google-explicit-constructor): an NDK handle

 private:
  T* object_ = nullptr;
};

using CqHandle = Handle<NDK_CQ>;
using PdHandle = Handle<NDK_PD>;
using MrHandle = Handle<NDK_MR>;
using MwHandle = Handle<NDK_MW>;
using SrqHandle = Handle<NDK_SRQ>;
using QpHandle = Handle<NDK_QP>;
using ConnectorHandle = Handle<NDK_CONNECTOR>;
using ListenerHandle = Handle<NDK_LISTENER>;
using SharedEndpointHandle = Handle<NDK_SHARED_ENDPOINT>;

}  // namespace softndk::ndkxx
