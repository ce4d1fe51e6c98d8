"""Generates C++ (and optionally gRPC) code from .proto files with the system protoc.

Bazel 4.2.3's native proto_library would fetch @com_google_protobuf, which is not
reachable offline, so code generation goes through a genrule instead.
"""

def sluice_cc_proto(name, srcs, grpc = False, deps = []):
    """Declares <name> as a cc_library over the code generated from srcs.

    Args:
      name: the cc_library's name.
      srcs: .proto files in this package, below sluice/v1/.
      grpc: also generate gRPC service stubs (and gmock stubs for tests).
      deps: other sluice_cc_proto targets these protos import.
    """
    outs = []
    hdrs = []
    for src in srcs:
        base = src[:-len(".proto")]
        outs += [base + ".pb.h", base + ".pb.cc"]
        hdrs.append(base + ".pb.h")
        if grpc:
            outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc", base + "_mock.grpc.pb.h"]
            hdrs += [base + ".grpc.pb.h", base + "_mock.grpc.pb.h"]

    grpc_args = ""
    if grpc:
        grpc_args = ("--grpc_out=generate_mock_code=true:$(GENDIR)/proto " +
                     "--plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin")

    native.genrule(
        name = name + "_gen",
        srcs = srcs + [d + "_srcs" for d in deps],
        outs = outs,
        cmd = ("/usr/bin/protoc -I proto -I /usr/include --cpp_out=$(GENDIR)/proto " +
               grpc_args + " " + " ".join(["proto/" + s for s in srcs])),
    )
    native.filegroup(
        name = name + "_srcs",
        srcs = srcs,
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = hdrs,
        includes = ["."],
        deps = deps + ["//third_party/system:protobuf"] +
               (["//third_party/system:grpc"] if grpc else []),
        visibility = ["//visibility:public"],
    )
