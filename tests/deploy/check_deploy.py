#!/usr/bin/env python3
"""Checks deploy/: the Kubernetes manifests against the binaries' own flags and
defaults, and the Dockerfile against scripts/lib.sh and the libraries the
binaries link. Usage: check_deploy.py WORKER CONTROLLER SLUICECTL (the binaries)."""

import glob
import os
import re
import shlex
import subprocess
import sys
import unittest

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARIES = {}


def help_text(binary):
    """The binary's --help output (flag names and their documented defaults)."""
    out = subprocess.run([BINARIES[binary], "--help"], capture_output=True, text=True)
    return out.stdout + out.stderr


def flag_default(binary, flag):
    """The '(default X)' the binary's --help gives for --flag."""
    text = help_text(binary)
    m = re.search(r"--%s\b[^\n]*(?:\n(?!\s*--)[^\n]*)*" % re.escape(flag), text)
    if not m:
        raise AssertionError("%s --help does not list --%s" % (binary, flag))
    d = re.search(r"\(default ([^)]*)\)", m.group(0))
    if not d:
        raise AssertionError("%s --help gives no default for --%s" % (binary, flag))
    return d.group(1).split()[0].rstrip(";,")


def known_flags(binary):
    """The flags --help lists, one per line."""
    return set(re.findall(r"^\s+--([a-z0-9-]+)", help_text(binary), re.M))


def seconds(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", text)
    if not m:
        raise AssertionError("not a duration: " + text)
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
    return float(m.group(1)) * scale


def documents():
    docs = []
    for path in sorted(glob.glob(os.path.join(ROOT, "deploy/k8s/*.yaml"))):
        with open(path) as f:
            for d in yaml.safe_load_all(f):
                if d:
                    docs.append((os.path.basename(path), d))
    return docs


def find(kind, name):
    for _, d in documents():
        if d["kind"] in kind.split("|") and d["metadata"]["name"] == name:
            return d
    raise AssertionError("no %s %s in deploy/k8s" % (kind, name))


def args_of(container):
    """--flag=value arguments as a dict."""
    out = {}
    for a in container.get("args", []):
        assert a.startswith("--") and "=" in a, "argument not in --flag=value form: " + a
        k, v = a[2:].split("=", 1)
        out[k] = v
    return out


class ManifestTest(unittest.TestCase):
    def check_deployment(self, name, binary, metrics_flag="metrics-address"):
        dep = find("Deployment|StatefulSet", name)
        pod = dep["spec"]["template"]
        spec = pod["spec"]
        (container,) = spec["containers"]
        args = args_of(container)
        # Every flag is one the binary knows.
        unknown = set(args) - known_flags(binary)
        self.assertFalse(unknown, "%s: flags %s unknown to %s" % (name, unknown, binary))
        # The metrics port: the flag's (the default when left out), the container
        # port named metrics, the scrape annotations and both probes.
        address = args.get(metrics_flag, flag_default(binary, metrics_flag))
        port = int(address.rsplit(":", 1)[1])
        self.assertEqual(port, int(flag_default(binary, metrics_flag).rsplit(":", 1)[1]),
                         "%s: the manifest moves the metrics port off the default" % name)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        self.assertEqual(ports["metrics"], port)
        annotations = pod["metadata"]["annotations"]
        self.assertEqual(annotations["prometheus.io/scrape"], "true")
        self.assertEqual(int(annotations["prometheus.io/port"]), port)
        self.assertEqual(annotations["prometheus.io/path"], "/metrics")
        for probe, path in (("readinessProbe", "/ready"), ("livenessProbe", "/healthz")):
            get = container[probe]["httpGet"]
            self.assertEqual(get["path"], path, "%s %s" % (name, probe))
            self.assertIn(get["port"], ("metrics", port))
        # Every $(VAR) an argument uses is set in the container's environment.
        env_names = {e["name"] for e in container.get("env", [])}
        for value in args.values():
            for var in re.findall(r"\$\(([A-Z_]+)\)", value):
                self.assertIn(var, env_names, "%s: $(%s) is not set" % (name, var))
        # Secrets: files from secret volumes, never arguments or environment, and
        # readable by the user the pod runs as.
        self.assertNotIn("db-password", args)
        security = spec.get("securityContext", {})
        if security.get("runAsUser", 0) != 0:
            self.assertEqual(security.get("fsGroup"), security.get("runAsGroup"),
                             "%s: a non-root user reads the secret files through fsGroup" % name)
            for v in spec["volumes"]:
                if "secret" in v:
                    self.assertEqual(v["secret"].get("defaultMode", 0o644) & 0o040, 0o040,
                                     "%s: secret %s is not group-readable" % (name, v["name"]))
        for env in container.get("env", []):
            self.assertNotIn("secretKeyRef", str(env.get("valueFrom", "")), env["name"])
        secret_mounts = {m["mountPath"] for m in container["volumeMounts"]
                         if any(v["name"] == m["name"] and "secret" in v for v in spec["volumes"])}
        for flag, value in args.items():
            if flag.endswith("-file") or flag in ("tls-key", "tls-cert", "tls-ca"):
                self.assertTrue(any(value.startswith(m + "/") for m in secret_mounts),
                                "%s: --%s=%s is not in a mounted secret" % (name, flag, value))
        # A PodDisruptionBudget selects these pods.
        pdb = find("PodDisruptionBudget", name)
        labels = pod["metadata"]["labels"]
        self.assertTrue(pdb["spec"]["selector"]["matchLabels"], "%s: empty PDB selector" % name)
        for k, v in pdb["spec"]["selector"]["matchLabels"].items():
            self.assertEqual(labels.get(k), v)
        return spec, args

    def test_worker(self):
        spec, args = self.check_deployment("sluice-worker", "worker")
        shutdown = seconds(args.get("shutdown-timeout", flag_default("worker", "shutdown-timeout")))
        self.assertGreater(spec["terminationGracePeriodSeconds"], shutdown,
                           "the worker must finish its last batch before SIGKILL")
        self.assertIn("worker-id", args)
        self.assertIn("controller-token-file", args)

    def test_controller(self):
        spec, args = self.check_deployment("sluice-controller", "controller")
        listen = int(args["listen"].rsplit(":", 1)[1])
        (container,) = spec["containers"]
        self.assertEqual({p["name"]: p["containerPort"] for p in container["ports"]}["grpc"],
                         listen)
        # A network listener needs tokens and TLS (the controller refuses otherwise).
        for flag in ("auth-tokens-file", "tls-cert", "tls-key"):
            self.assertIn(flag, args)
        self.assertFalse(args["listen"].startswith("127."), "a loopback listener in a pod")
        # Followers redirect to the leader by its advertised name: a stable one
        # (a StatefulSet's pod under its headless Service), as the TLS certificate
        # names it.
        ss = find("StatefulSet", "sluice-controller")
        peers = find("Service", ss["spec"]["serviceName"])
        self.assertEqual(peers["spec"].get("clusterIP"), "None")
        self.assertIn("$(POD_NAME).%s." % ss["spec"]["serviceName"], args["advertise-address"])
        service = find("Service", "sluice-controller")
        names = {p["name"] for p in container["ports"]}
        for p in service["spec"]["ports"]:
            self.assertIn(p["targetPort"], names)

    def test_scrape_config_keeps_annotated_pods(self):
        config = yaml.safe_load(find("ConfigMap", "sluice-prometheus-scrape")["data"]["sluice-scrape.yaml"])
        (job,) = config["scrape_configs"]
        keep = [r for r in job["relabel_configs"] if r.get("action") == "keep"]
        self.assertEqual(keep[0]["source_labels"],
                         ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"])

    def test_every_document_is_a_known_kind(self):
        kinds = {d["kind"] for _, d in documents()}
        self.assertLessEqual(kinds, {"Namespace", "Deployment", "StatefulSet", "Service",
                                     "PodDisruptionBudget", "Secret", "ConfigMap"})


def dockerfile_stages():
    """Per stage (in order), the packages its RUN apt-get install lines install."""
    with open(os.path.join(ROOT, "deploy/Dockerfile")) as f:
        text = f.read().replace("\\\n", " ")
    stages = []
    for line in text.splitlines():
        if line.startswith("FROM "):
            stages.append(set())
        m = re.search(r"apt-get install ([^&]*)", line)
        if m:
            stages[-1] |= {w for w in shlex.split(m.group(1)) if not w.startswith("-")}
    return stages


def lib_sh_packages():
    with open(os.path.join(ROOT, "scripts/lib.sh")) as f:
        m = re.search(r"SLUICE_PACKAGES=\(([^)]*)\)", f.read())
    return set(m.group(1).split())


# What scripts/lib.sh installs only to test, benchmark or debug, not to build.
NOT_FOR_BUILDING = {
    "postgresql-15", "postgresql-client-15", "kcat", "python3", "python3-yaml", "curl",
    "libdigest-murmurhash3-pureperl-perl", "prometheus", "gdb", "clang-14",
    "libclang-rt-14-dev", "tmux",
}
# Always in debian:12-slim.
BASE = {"libc6", "libgcc-s1", "libstdc++6"}


class DockerfileTest(unittest.TestCase):
    def test_build_stage_installs_what_lib_sh_installs_to_build(self):
        build, _ = dockerfile_stages()
        self.assertEqual(build, lib_sh_packages() - NOT_FOR_BUILDING)

    def test_runtime_stage_has_every_library_the_binaries_link(self):
        _, runtime = dockerfile_stages()
        needed = set()
        for binary in BINARIES.values():
            dump = subprocess.run(["objdump", "-p", binary], capture_output=True, text=True).stdout
            needed |= set(re.findall(r"NEEDED\s+(\S+)", dump))
        cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
        for lib in sorted(needed):
            m = re.search(r"^\s*%s \([^)]*\) => (\S+)" % re.escape(lib), cache, re.M)
            self.assertTrue(m, "ldconfig does not know " + lib)
            path = os.path.realpath(m.group(1))
            owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
            if owner.returncode != 0:  # merged /usr: dpkg may know the /lib path
                owner = subprocess.run(["dpkg", "-S", path.replace("/usr/lib/", "/lib/")],
                                       capture_output=True, text=True)
            package = owner.stdout.split(":")[0]
            self.assertTrue(package, "no package owns " + path)
            if package not in BASE:
                self.assertIn(package, runtime, "%s (%s) is not installed in the image" %
                              (package, lib))


if __name__ == "__main__":
    BINARIES.update(zip(("worker", "controller", "sluicectl"), sys.argv[1:4]))
    unittest.main(argv=sys.argv[:1] + sys.argv[4:], verbosity=2)
