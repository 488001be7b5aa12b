#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace eso::cmd {

/// A kubectl-style table: upper-case headers, columns padded to the widest cell, three spaces
/// between columns, no trailing spaces.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void add_row(std::vector<std::string> cells);
  void print(std::FILE* out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace eso::cmd
