// Prints rows as an aligned text table.
#ifndef SLUICE_CLI_TABLE_PRINTER_H_
#define SLUICE_CLI_TABLE_PRINTER_H_

#include <ostream>
#include <string>
#include <vector>

namespace sluice::cli {

class TablePrinter {
 public:
  explicit TablePrinter(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Headers, then rows; columns padded to their widest cell, two spaces apart.
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace sluice::cli

#endif  // SLUICE_CLI_TABLE_PRINTER_H_
