// The verifier's records (abi/verifier.h): lookups, the antecedent relations of NDKPI 1.3 as
// the consumer built them, CQ sizing, and the logical address mappings.
#include <algorithm>

#include "abi/verifier.h"

namespace softndk::abi {

namespace {
bool open(const Record* r) { return r->life != Record::Life::Retired; }

void count(std::vector<std::pair<const char*, int>>* counts, const char* what) {
  for (auto& [name, n] : *counts) {
    if (name == what) {
      ++n;
      return;
    }
  }
  counts->push_back({what, 1});
}

const char* plural_name(NDK_OBJECT_TYPE type) {
  switch (type) {
    case NdkObjectTypeQp: return "QP";
    case NdkObjectTypeMr: return "MR";
    case NdkObjectTypeMw: return "MW";
    case NdkObjectTypeSrq: return "SRQ";
    case NdkObjectTypeConnector: return "connector";
    default: return "object";
  }
}
}  // namespace

Record* Verifier::record_locked(const core::Object* object) {
  auto it = records_.find(object);
  return it != records_.end() ? it->second.get() : nullptr;
}

Record* Verifier::qp_record_from_context(void* context) {
  return qp_contexts_.count(context) != 0 ? static_cast<Record*>(context) : nullptr;
}

std::vector<Record*> Verifier::records_locked(NDK_OBJECT_TYPE type) {
  std::vector<Record*> out;
  for (auto& [object, r] : records_)
    if (r->type == type) out.push_back(r.get());
  return out;
}

std::string Verifier::open_successors_locked(const Record* x) {
  std::vector<std::pair<const char*, int>> counts;
  for (auto& [object, r] : records_) {
    if (!open(r.get()) || r.get() == x) continue;
    bool successor = r->parent == x || r->receive_cq == x || r->initiator_cq == x ||
                     r->srq == x || r->bound_mr == x || r->connector_qp == x ||
                     r->listener == x || r->shared == x;
    if (successor) count(&counts, plural_name(r->type));
  }
  std::string out;
  for (auto& [name, n] : counts) {
    if (!out.empty()) out += ", ";
    out += std::to_string(n) + " " + name + (n > 1 ? "s" : "");
  }
  return out;
}

uint64_t Verifier::cq_load_locked(const Record* cq) {
  uint64_t load = 0;
  std::vector<const Record*> srqs;
  for (auto& [object, r] : records_) {
    if (r->type != NdkObjectTypeQp || r->life != Record::Life::Live) continue;
    if (r->initiator_cq == cq) load += r->initiator_depth;
    if (r->receive_cq != cq) continue;
    if (r->srq == nullptr) {
      load += r->receive_depth;
    } else if (std::find(srqs.begin(), srqs.end(), r->srq) == srqs.end()) {
      srqs.push_back(r->srq);
      load += r->srq->depth;
    }
  }
  return load;
}

// ---------------------------------------------------------------------------------------------
// Logical address mappings

void Verifier::lam_built(const NDK_LOGICAL_ADDRESS_MAPPING* lam) {
  Lam entry;
  for (ULONG i = 0; i < lam->AdapterPageCount; ++i)
    entry.pages.push_back(lam->AdapterPageArray[i].QuadPart);
  entry.created_at = Backtrace::capture(2);
  std::lock_guard lock(mutex_);
  lams_[lam->AdapterContext] = std::move(entry);
}

bool Verifier::lam_in_use(const NDK_LOGICAL_ADDRESS_MAPPING* lam, std::string* user) {
  std::lock_guard lock(mutex_);
  auto it = lams_.find(lam->AdapterContext);
  if (it == lams_.end()) return false;
  const std::vector<int64_t>& pages = it->second.pages;
  auto mapped = [&](int64_t logical) {
    int64_t page = logical & ~int64_t{PAGE_SIZE - 1};
    return std::find(pages.begin(), pages.end(), page) != pages.end();
  };
  for (auto& [object, r] : records_) {
    for (const std::deque<Outstanding>* queue : {&r->sq, &r->rq}) {
      for (const Outstanding& o : *queue) {
        bool uses = std::any_of(o.pages.begin(), o.pages.end(), mapped);
        for (const NDK_SGE& sge : o.sges) uses = uses || mapped(sge.LogicalAddress.QuadPart);
        if (uses) {
          *user = std::string("an outstanding request of ") +
                  (r->type == NdkObjectTypeSrq ? "an SRQ" : "a QP");
          return true;
        }
      }
    }
  }
  return false;
}

void Verifier::lam_released(const NDK_LOGICAL_ADDRESS_MAPPING* lam) {
  std::lock_guard lock(mutex_);
  lams_.erase(lam->AdapterContext);
}

}  // namespace softndk::abi
