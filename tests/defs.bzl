"""Test macros shared by the tests/ tree."""

def sluice_unit_test(name, deps = [], srcs = None, **kwargs):
    """A fast, hermetic GoogleTest target (<name>.cc, fakes allowed, no servers)."""
    native.cc_test(
        name = name,
        size = "small",
        srcs = srcs or [name + ".cc"],
        deps = deps + [
            "//tests/fakes",
            "//third_party/system:gtest_main",
        ],
        **kwargs
    )
