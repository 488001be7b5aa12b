#include "cmd/trigger_wait.h"

#include <algorithm>

#include <fmt/format.h>

#include "cmd/inventory.h"
#include "cmd/table.h"
#include "core/trigger_report.h"

namespace eso::cmd {

bool print_wait_table(const std::vector<WaitResult>& waits) {
  Table table({"NAMESPACE", "NAME", "SYNC", "ELAPSED", "DETAIL"});
  bool all_synced = true;
  for (const auto& w : waits) {
    all_synced &= wait_succeeded(w);
    std::string detail = w.outcome == SyncOutcome::kSynced ? std::string() : w.detail;
    if (w.target.via != w.target.ref && w.target.via.kind == "ClusterExternalSecret") {
      detail =
          "via ClusterExternalSecret/" + w.target.via.name + (detail.empty() ? "" : "; ") + detail;
    }
    table.add_row(
        {w.target.ref.namespace_name,
         w.target.ref.namespace_name.empty() ? display_name(w.target.ref) : w.target.ref.name,
         wait_result_text(w.outcome),
         fmt::format("{:.1f}s", static_cast<double>(w.elapsed.count()) / 1000.0), detail});
  }
  table.print(stdout);
  return all_synced;
}

}  // namespace eso::cmd
