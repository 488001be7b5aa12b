#pragma once

namespace eso::cmd {

/// Process exit codes, documented in man/eso-updater.1.scd (DESIGN.md §5).
enum ExitCode : int {
  kExitOk = 0,
  kExitNoMatch = 1,     ///< match found nothing; trigger --require-match found nothing
  kExitUsage = 2,       ///< usage, configuration or connection error: nothing was done
  kExitPartial = 3,     ///< some objects could not be patched
  kExitWaitFailed = 4,  ///< --wait timed out or ESO reported a sync error
  kExitInternal = 70,   ///< an internal error (EX_SOFTWARE): an exception nothing else caught
};

}  // namespace eso::cmd
