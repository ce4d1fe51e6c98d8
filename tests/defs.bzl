"""Test macros shared by the tests/ tree."""

# LeakSanitizer's suppressions, read through a relative path in --config=asan.
_SANITIZER_DATA = ["//tools/sanitizers:lsan.supp"]

def sluice_unit_test(name, deps = [], srcs = None, data = [], **kwargs):
    """A fast, hermetic GoogleTest target (<name>.cc, fakes allowed, no servers)."""
    native.cc_test(
        name = name,
        size = "small",
        srcs = srcs or [name + ".cc"],
        data = data + _SANITIZER_DATA,
        deps = deps + [
            "//tests/fakes",
            "//third_party/system:gtest_main",
        ],
        **kwargs
    )

def sluice_integration_test(name, deps = [], data = [], tags = [], size = "medium", **kwargs):
    """A test against real components (PostgreSQL, the dev broker, Sluice processes).

    Runs outside Bazel's sandbox ("local": it starts PostgreSQL as the postgres user
    and talks to processes on loopback) and is never cached ("external": it depends
    on those servers).
    """
    native.cc_test(
        name = name,
        size = size,
        srcs = [name + ".cc"],
        data = data + _SANITIZER_DATA,
        tags = tags + ["external", "local"],
        deps = deps + [
            "//tests/fixtures",
            "//third_party/system:gtest_main",
        ],
        **kwargs
    )
