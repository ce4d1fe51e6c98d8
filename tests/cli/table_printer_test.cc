#include "cli/table_printer.h"

#include <sstream>

#include "gtest/gtest.h"

namespace sluice::cli {
namespace {

TEST(TablePrinterTest, AlignsColumns) {
  TablePrinter t({"NAME", "VERSION", "STATE"});
  t.AddRow({"items", "12", "running"});
  t.AddRow({"a", "1", ""});
  std::ostringstream out;
  t.Print(out);
  EXPECT_EQ(out.str(),
            "NAME   VERSION  STATE\n"
            "items  12       running\n"
            "a      1\n");
}

}  // namespace
}  // namespace sluice::cli
