#pragma once

#include <vector>

#include "core/external_secret.h"

namespace eso {

/// Receives the LIST+WATCH stream of one collection (ExternalSecrets or ClusterExternalSecrets):
/// kube/ delivers it, core/ keeps what matching needs (the serve index). Calls come from one
/// thread at a time.
class InventorySink {
 public:
  virtual ~InventorySink() = default;

  /// Everything of `kind` in `namespace_name` ("" = all namespaces, and cluster-scoped kinds)
  /// after a (re)list; replaces whatever was known there. Other namespaces are left alone, so
  /// one sink can take several per-namespace streams.
  virtual void replace(const std::string& kind, const std::string& namespace_name,
                       std::vector<ExternalSecret> objects) = 0;
  /// An object was added or changed.
  virtual void upsert(ExternalSecret object) = 0;
  /// An object was deleted.
  virtual void remove(const ObjectRef& ref) = 0;
};

}  // namespace eso
