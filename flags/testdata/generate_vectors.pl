#!/usr/bin/perl
# Generates bucketing_vectors.tsv with an implementation of MurmurHash3 that shares
# no code with Sluice's (Debian's libdigest-murmurhash3-pureperl-perl), so the C++
# library, and any other-language client, can be checked against it bit for bit.
#
#   bucket = (murmur3_x86_32(seed 0, "<salt>:<key>") * 10000) >> 32
#   in     = bucket < basis_points
#
# The hash input is the UTF-8 bytes of "<salt>:<key>". Digest::MurmurHash3::PurePerl
# UTF-8-encodes its argument itself, so it is given character strings (use utf8);
# handing it bytes would encode them twice.
#
# Usage: perl flags/testdata/generate_vectors.pl > flags/testdata/bucketing_vectors.tsv
use strict;
use warnings;
use utf8;
binmode STDOUT, ':encoding(UTF-8)';
use Digest::MurmurHash3::PurePerl qw(murmur32);

print "# salt\tkey\tbasis_points\tbucket\tin_rollout\n";
my @salts = ("kafka-ingest", "s", "", "rollout-2026", "ümlaut");
my @keys = ("project-1", "project-42", "", "12345", "a:b", "key with spaces", "日本", "x" x 100);
my @percents = (0, 1, 100, 1000, 1250, 5000, 9900, 9999, 10000);
my $i = 0;
for my $salt (@salts) {
  for my $key (@keys) {
    my $hash = murmur32("$salt:$key", 0);
    # 32x14-bit product fits in a 64-bit Perl integer.
    my $bucket = ($hash * 10000) >> 32;
    my $bp = $percents[$i++ % @percents];
    printf "%s\t%s\t%d\t%d\t%d\n", $salt, $key, $bp, $bucket, $bucket < $bp ? 1 : 0;
  }
}
for my $n (1 .. 200) {
  my $key = "project-$n";
  my $bucket = (murmur32("kafka-ingest:$key", 0) * 10000) >> 32;
  my $bp = $percents[$n % @percents];
  printf "%s\t%s\t%d\t%d\t%d\n", "kafka-ingest", $key, $bp, $bucket, $bucket < $bp ? 1 : 0;
}
