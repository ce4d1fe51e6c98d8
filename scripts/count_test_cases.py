"""Counts test cases from the JUnit XML that `bazel test` wrote (scripts/lib.sh).

Usage: count_test_cases.py TESTLOGS STARTED EVENTS COUNTS_FILE TARGET...
  TESTLOGS     the bazel-testlogs folder of the run (plain or --config=asan)
  STARTED      epoch seconds when the run began: an older XML is a stale result
  EVENTS       the run's --build_event_json_file, for each target's own status
  COUNTS_FILE  receives one line, "PASSED FAILED"
Prints a "FAILED..." line for each failure. A target without a fresh XML (it did
not build, or crashed before writing one) or with no test case in it counts as one
failure; so does a target that Bazel calls failed although all its cases passed
(the binary failed after writing the XML, e.g. LeakSanitizer's check at exit).
"""
import json
import os
import sys
import xml.etree.ElementTree as ET


def failed_targets(events_path):
    """Labels whose test result is neither PASSED nor FLAKY."""
    failed = set()
    if not os.path.exists(events_path):
        return failed
    with open(events_path) as f:
        for line in f:
            event = json.loads(line)
            if "testResult" in event and event["testResult"].get("status") not in ("PASSED", "FLAKY"):
                failed.add(event["id"]["testResult"]["label"])
    return failed


def main():
    testlogs, started, events, counts_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    bazel_failed = failed_targets(events)
    passed = failed = 0
    for target in sys.argv[5:]:
        path = os.path.join(testlogs, target.lstrip("/").replace(":", "/"), "test.xml")
        if not os.path.exists(path) or os.path.getmtime(path) < started:
            print(f"FAILED (no result): {target}")
            failed += 1
            continue
        n = n_failed = 0
        for case in ET.parse(path).getroot().iter("testcase"):
            n += 1
            if case.find("failure") is not None or case.find("error") is not None:
                n_failed += 1
                print(f"FAILED: {target} {case.get('classname')}.{case.get('name')}")
            elif case.get("status") == "notrun" or case.find("skipped") is not None:
                pass
            else:
                passed += 1
        failed += n_failed
        if n == 0:
            failed += 1
            print(f"FAILED (no test cases): {target}")
        elif n_failed == 0 and target in bazel_failed:
            failed += 1
            print(f"FAILED (exited non-zero after its test cases; see its test.log): {target}")
    with open(counts_file, "w") as f:
        f.write(f"{passed} {failed}\n")


if __name__ == "__main__":
    main()
