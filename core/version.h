#pragma once

namespace eso {

/// The release version, set by CMake from project(VERSION).
inline constexpr const char* kVersion = ESO_UPDATER_VERSION;

}  // namespace eso
