// Sluice's bucketing against vectors made by an independent MurmurHash3
// (flags/testdata/generate_vectors.pl, Debian's pure-Perl implementation).
#include "flags/bucketing.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/fakes/runfiles.h"

namespace sluice::flags {
namespace {

using ::sluice::testing::ReadFile;
using ::sluice::testing::Runfile;

TEST(BucketingTest, MatchesTheIndependentVectorsBitForBit) {
  std::ifstream in(Runfile("flags/testdata/bucketing_vectors.tsv"));
  ASSERT_TRUE(in.good());
  int checked = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    ASSERT_EQ(f.size(), 5u) << line;
    uint32_t basis_points = 0, bucket = 0, in_rollout = 0;
    ASSERT_TRUE(absl::SimpleAtoi(f[2], &basis_points));
    ASSERT_TRUE(absl::SimpleAtoi(f[3], &bucket));
    ASSERT_TRUE(absl::SimpleAtoi(f[4], &in_rollout));
    EXPECT_EQ(RolloutBucket(f[0], f[1]), bucket) << "salt '" << f[0] << "' key '" << f[1] << "'";
    EXPECT_EQ(InRollout(RolloutBucket(f[0], f[1]), basis_points), in_rollout == 1) << line;
    ++checked;
  }
  EXPECT_EQ(checked, 240);
}

// The checked-in vectors are exactly what the independent implementation prints
// (so they were not edited to fit the C++ code).
TEST(BucketingTest, VectorsAreReproducedByTheIndependentImplementation) {
  const std::string out = absl::StrCat(std::getenv("TEST_TMPDIR"), "/vectors.tsv");
  const std::string cmd = absl::StrCat("perl ", Runfile("flags/testdata/generate_vectors.pl"),
                                       " > ", out);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "needs Debian's libdigest-murmurhash3-pureperl-perl";
  EXPECT_EQ(ReadFile(out), ReadFile(Runfile("flags/testdata/bucketing_vectors.tsv")));
}

TEST(BucketingTest, BucketsSpreadEvenly) {
  for (uint32_t bp : {100u, 1000u, 5000u, 9900u}) {
    int in = 0;
    for (int i = 0; i < 100000; ++i) {
      in += InRollout(RolloutBucket("kafka-ingest", absl::StrCat("project-", i)), bp);
    }
    const double percent = in / 1000.0;
    EXPECT_NEAR(percent, bp / 100.0, 0.5) << bp << " basis points";
  }
}

TEST(BucketingTest, RaisingOnlyAddsKeys) {
  for (int i = 0; i < 5000; ++i) {
    const uint32_t b = RolloutBucket("s", absl::StrCat("k", i));
    ASSERT_LT(b, kFullRollout);
    for (uint32_t bp = 0; bp < kFullRollout; bp += 250) {
      if (InRollout(b, bp)) {
        ASSERT_TRUE(InRollout(b, bp + 250));
      }
    }
    EXPECT_FALSE(InRollout(b, 0));
    EXPECT_TRUE(InRollout(b, kFullRollout));
  }
}

TEST(BucketingTest, SaltSplitsIndependently) {
  int same = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::string key = absl::StrCat("k", i);
    same += InRollout(RolloutBucket("a", key), 5000) == InRollout(RolloutBucket("b", key), 5000);
  }
  EXPECT_NEAR(same / 100.0, 50.0, 2.0);
}

}  // namespace
}  // namespace sluice::flags
