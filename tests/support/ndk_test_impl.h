// Template parts of ndk_test.h.
#pragma once

namespace ndktest {

template <class Obj>
NTSTATUS sync_create(const std::function<NTSTATUS(NDK_FN_CREATE_COMPLETION, void*, Obj**)>& start,
                     Obj** out) {
  auto done = std::make_shared<Completion>();
  auto* raw = new std::shared_ptr<Completion>(done);
  Obj* object = nullptr;
  NTSTATUS status = start(&Completion::create, raw, &object);
  if (status == STATUS_PENDING) {
    if (!done->wait()) return STATUS_IO_TIMEOUT;
    *out = reinterpret_cast<Obj*>(done->object);
    return done->status;
  }
  // Inline: no callback may follow (a late one would touch freed memory: ASan reports it).
  delete raw;
  *out = object;
  return status;
}

}  // namespace ndktest
