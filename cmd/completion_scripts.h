#pragma once

#include <array>
#include <string_view>
#include <utility>

namespace eso::cmd {

/// The completion scripts of completions/ by shell (bash, zsh, fish), built into the binary.
extern const std::array<std::pair<std::string_view, std::string_view>, 3> kCompletionScripts;

}  // namespace eso::cmd
