// Implementation of core/object.h.
#include "core/object.h"

#include <cstring>

#include "core/adapter.h"

namespace softndk::core {

Object::Object(Adapter* adapter, NDK_OBJECT_TYPE type, const void* dispatch) : adapter_(adapter) {
  std::memset(&public_, 0, sizeof public_);
  public_.header.Version = adapter != nullptr ? adapter->version() : NDK_VERSION{2, 1};
  public_.header.ObjectType = type;
  public_.dispatch = dispatch;
  public_.magic = kMagic;
  public_.owner = this;
  if (adapter_ != nullptr && type != NdkObjectTypeAdapter) {
    adapter_->child_created();
    if (ObjectObserver* observer = adapter_->observer(); observer != nullptr)
      observer->on_created(this);
  }
}

Object* Object::retired_from_header(const NDK_OBJECT_HEADER* header) {
  if (header == nullptr) return nullptr;
  auto* pub = reinterpret_cast<const Public*>(header);
  return pub->magic == kRetiredMagic ? pub->owner : nullptr;
}

void Object::retire() {
  ObjectObserver* observer = adapter_ != nullptr ? adapter_->observer() : nullptr;
  if (observer != nullptr) {
    public_.magic = kRetiredMagic;
    observer->on_retired(this);
    return;
  }
  public_.magic = 0;
  delete this;
}

Object* Object::from_header(const NDK_OBJECT_HEADER* header, NDK_OBJECT_TYPE kind) {
  if (header == nullptr) return nullptr;
  auto* pub = reinterpret_cast<const Public*>(header);
  if (pub->magic != kMagic || pub->owner == nullptr) return nullptr;
  if (kind != NdkObjectTypeUndefined && pub->header.ObjectType != kind) return nullptr;
  return pub->owner;
}

NTSTATUS Object::close(NDK_FN_CLOSE_COMPLETION completion, void* context) {
  if (closing_.exchange(true, std::memory_order_acq_rel)) {
    // A second close of an object whose first close is still pending: consumer misuse.
    return STATUS_INVALID_DEVICE_STATE;
  }
  close_completion_ = completion;
  close_context_ = context;
  on_close();
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    close_returned_inline_ = true;
    Adapter* adapter = adapter_;
    release_resources();
    on_destroy();
    retire();
    if (adapter != nullptr) adapter->child_destroyed();
    return STATUS_SUCCESS;
  }
  return STATUS_PENDING;
}

void Object::release() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) finish();
}

void Object::finish() {
  // The last reference went after close() returned STATUS_PENDING: the close completion is
  // due. It runs on the event thread, never inside whatever released the reference.
  Adapter* adapter = adapter_;
  adapter->dispatcher().post([this, adapter] {
    release_resources();
    if (close_completion_ != nullptr) close_completion_(close_context_);
    on_destroy();
    retire();
    adapter->child_destroyed();
  });
}

}  // namespace softndk::core
