#include "worker/json_reader.h"

#include "common/json_pointer.h"
#include "gtest/gtest.h"

namespace sluice::worker {
namespace {

// The text each pointer names in `json` ("<none>" when it names nothing), or the
// read's error.
std::vector<std::string> Read(const std::string& json, const std::vector<std::string>& pointers) {
  std::vector<std::vector<std::string>> parsed;
  for (const std::string& p : pointers) parsed.push_back(*ParseJsonPointer(p));
  const JsonPointerSet set(parsed);
  std::vector<JsonSpan> spans;
  absl::Status s = ReadJson(json, set, &spans);
  if (!s.ok()) return {std::string(s.message())};
  std::vector<std::string> out;
  for (const JsonSpan& span : spans) {
    out.push_back(span.found ? json.substr(span.begin, span.end - span.begin) : "<none>");
  }
  return out;
}

using V = std::vector<std::string>;

TEST(JsonReaderTest, FindsEveryPointerInOnePass) {
  const std::string doc =
      R"( {"body": {"project_id": 42, "tags": ["a", {"b": [1, 2 ]}], "e": {}, "f": []},)"
      R"( "title": "caf\u00e9", "n": -1.5e3, "t": true, "z": null, "a/b": 1, "m~n": 2, "": 3} )";
  EXPECT_EQ(Read(doc, {"/body/project_id", "/body/tags/1/b/1", "/body/tags/0", "/title", "/n", "/t",
                       "/z", "/a~1b", "/m~0n", "/", "/body/e", "/body/f", "/body/tags/1",
                       "/missing", "/body/tags/2", "/title/0", "/body/tags/01", ""}),
            (V{"42", "2", "\"a\"", "\"caf\\u00e9\"", "-1.5e3", "true", "null", "1", "2", "3", "{}",
               "[]", R"({"b": [1, 2 ]})", "<none>", "<none>", "<none>", "<none>",
               doc.substr(1, doc.size() - 2)}));
}

TEST(JsonReaderTest, TheLastOfSeveralMembersWithOneNameCounts) {
  EXPECT_EQ(Read(R"({"a": 1, "a": 2})", {"/a"}), (V{"2"}));
  // An earlier "a" found /a/b; the last "a" has none, as jsonb keeps only it.
  EXPECT_EQ(Read(R"({"a": {"b": 1}, "a": 5})", {"/a/b", "/a"}), (V{"<none>", "5"}));
  EXPECT_EQ(Read(R"({"a": 5, "a": {"b": 1}})", {"/a/b"}), (V{"1"}));
}

TEST(JsonReaderTest, EscapedMemberNamesAreComparedDecoded) {
  EXPECT_EQ(Read(R"({"caf\u00e9": 1, "q\"": 2})", {"/café", "/q\""}), (V{"1", "2"}));
}

TEST(JsonReaderTest, TheSamePointerTwiceFillsBothSlots) {
  EXPECT_EQ(Read(R"({"a": [7]})", {"/a/0", "/a/0"}), (V{"7", "7"}));
}

TEST(JsonReaderTest, InvalidJsonIsAnErrorWithItsByte) {
  EXPECT_EQ(Read(R"({"a": 1,})", {"/a"}), (V{"expected a string key at byte 8"}));
  EXPECT_EQ(Read(R"({"a": "\ud800"})", {"/a"}),
            (V{"Unicode low surrogate must follow a high surrogate at byte 13"}));
  EXPECT_EQ(CheckJsonSyntax(R"([1, 2])"), absl::OkStatus());
}

TEST(JsonReaderTest, StringValuesDecode) {
  std::string out;
  AppendJsonStringValue(R"("a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00")", &out);
  EXPECT_EQ(out, "a\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80");
}

}  // namespace
}  // namespace sluice::worker
