"""The container examples hold what the README promises (read as text: no container engine)."""

from __future__ import annotations

import json
import re
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


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


def only(pattern: str, text: str) -> str:
    matches = re.findall(pattern, text, re.MULTILINE)
    assert len(matches) == 1, f"{pattern!r}: {matches}"
    return str(matches[0])


def test_dockerfile() -> None:
    steps = instructions((EXAMPLES / "Dockerfile").read_text())
    keywords = [keyword for keyword, _ in steps]
    args = dict(steps)  # the last of each instruction
    assert re.fullmatch(r"python:3\.\d+-slim", steps[0][1]), steps[0]
    assert args["WORKDIR"] == "/home/site/wwwroot"
    assert any(k == "COPY" and a.endswith("/home/site/wwwroot") for k, a in steps)
    assert json.loads(args["CMD"]) == ["python", "-m", "appservice_gunicorn"]  # exec form
    assert args["STOPSIGNAL"] == "SIGTERM"
    user = args["USER"].partition(":")[0]
    assert user not in ("", "0", "root")
    assert keywords.index("USER") < keywords.index("CMD")
    assert f"--uid {user}" in args["RUN"]  # the user exists in the image


def test_kubernetes_deployment_matches_gunicorn_and_the_image() -> None:
    manifest = (EXAMPLES / "kubernetes.yaml").read_text()
    assert re.search(r"^kind: Deployment$", manifest, re.MULTILINE)
    grace = int(only(r"^\s+terminationGracePeriodSeconds: (\d+)$", manifest))
    graceful_timeout = int(only(r'value: "--graceful-timeout=(\d+)"', manifest))
    pre_stop = int(only(r'command: \["sleep", "(\d+)"\]', manifest))
    # SIGTERM comes after preStop; gunicorn then needs up to graceful_timeout.
    assert grace >= pre_stop + graceful_timeout + 5
    port = only(r"containerPort: (\d+)$", manifest)
    assert only(r'- name: PORT\n\s+value: "(\d+)"', manifest) == port
    assert only(r"- name: (\w+)\n\s+containerPort: \d+$", manifest) == "http"
    for probe in ("readinessProbe", "livenessProbe"):
        assert re.search(rf"{probe}:\n\s+httpGet:\n\s+path: /\n\s+port: http\n", manifest)
    dockerfile = (EXAMPLES / "Dockerfile").read_text()
    user = only(r"^USER (\d+)", dockerfile)
    assert only(r"runAsUser: (\d+)$", manifest) == user
    assert "readOnlyRootFilesystem: true" in manifest
    assert "runAsNonRoot: true" in manifest
