// The base of every NDK object: the public struct handed to the consumer, reference counting,
// and the close contract of "NDKPI Object Lifetime Requirements" (a close stays pending while successors,
// pending requests, running callbacks or internal users hold references; the close
// completion is the last callback; antecedents are released only after it returned).
#pragma once

#include <atomic>
#include <cstdint>

#include <softndk/ndkpi.h>

namespace softndk::core {

class Adapter;
class Object;

// Verifier mode (abi/verifier.h) watches object lifetimes through this hook; the adapter's
// observer is null when the verifier is off (one predictable branch per create and destroy).
class ObjectObserver {
 public:
  // In the Object constructor (type and adapter known, the derived part not yet built).
  virtual void on_created(Object* object) = 0;
  // The object's close completed. The observer owns the object from now on and deletes it at
  // adapter close (a quarantine: a stale consumer pointer meets a dead marker, not freed memory).
  virtual void on_retired(Object* object) = 0;
  // Adapter close: every child is gone; runs before the event thread stops.
  virtual void on_children_closed() = 0;

 protected:
  ~ObjectObserver() = default;
};

class Object {
 public:
  Object(Adapter* adapter, NDK_OBJECT_TYPE type, const void* dispatch);
  virtual ~Object() = default;
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;

  NDK_OBJECT_HEADER* header() { return &public_.header; }
  template <class Pub>
  Pub* as_public() {
    return reinterpret_cast<Pub*>(&public_);
  }
  NDK_OBJECT_TYPE type() const { return public_.header.ObjectType; }
  Adapter* adapter() const { return adapter_; }

  // Maps a consumer pointer back to its object; nullptr for anything that is not one of ours
  // or not of the expected type (kind 0 = any type).
  static Object* from_header(const NDK_OBJECT_HEADER* header, NDK_OBJECT_TYPE kind);
  // A retired object kept by the observer's quarantine (verifier mode), or nullptr.
  static Object* retired_from_header(const NDK_OBJECT_HEADER* header);
  template <class T, class Pub>
  static T* from(Pub* pub, NDK_OBJECT_TYPE kind) {
    return static_cast<T*>(from_header(reinterpret_cast<const NDK_OBJECT_HEADER*>(pub), kind));
  }

  void add_ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release();
  bool closing() const { return closing_.load(std::memory_order_acquire); }

  // NDK_FN_CLOSE_OBJECT: STATUS_SUCCESS (gone now) or STATUS_PENDING (callback follows).
  NTSTATUS close(NDK_FN_CLOSE_COMPLETION completion, void* context);

 protected:
  // Type-specific side effects at the start of a close (flush, stop listening, cancel...).
  // Runs once, before the creation reference is dropped, with no lock held.
  virtual void on_close() {}
  // Releases what the object holds outside the object tree (e.g. a transport endpoint, so its
  // address is free again) once nothing references the object. Runs before the close completion.
  virtual void release_resources() {}
  // Drops references on antecedents. Runs after the close completion callback returned.
  virtual void on_destroy() {}

 private:
  // Standard layout: the consumer's NDK_<OBJ> view (header + dispatch) followed by our tag.
  struct Public {
    NDK_OBJECT_HEADER header;
    const void* dispatch;
    uint64_t magic;
    Object* owner;
  };
  static constexpr uint64_t kMagic = 0x736f66746e646b31ull;  // "softndk1"
  static constexpr uint64_t kRetiredMagic = 0x736f66746e646b30ull;  // "softndk0"
  void finish();
  void retire();  // deletes the object, or hands it to the observer's quarantine

  Public public_;
  Adapter* adapter_;
  std::atomic<int64_t> refs_{1};  // the creation reference
  std::atomic<bool> closing_{false};
  NDK_FN_CLOSE_COMPLETION close_completion_ = nullptr;
  void* close_context_ = nullptr;
  bool close_returned_inline_ = false;
};

// RAII reference for internal users.
template <class T>
class Ref {
 public:
  Ref() = default;
  explicit Ref(T* object) : object_(object) {
    if (object_ != nullptr) object_->add_ref();
  }
  Ref(const Ref& other) : Ref(other.object_) {}
  Ref(Ref&& other) noexcept : object_(other.object_) { other.object_ = nullptr; }
  Ref& operator=(Ref other) {
    std::swap(object_, other.object_);
    return *this;
  }
  ~Ref() {
    if (object_ != nullptr) object_->release();
  }
  T* get() const { return object_; }
  T* operator->() const { return object_; }
  explicit operator bool() const { return object_ != nullptr; }
  void reset() { Ref().swap_with(*this); }

 private:
  void swap_with(Ref& other) { std::swap(object_, other.object_); }
  T* object_ = nullptr;
};

}  // namespace softndk::core
