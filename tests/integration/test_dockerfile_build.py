"""examples/Dockerfile's build, replayed without a container engine: its launcher stage's
COPY lines copy exactly what they name into a scratch folder, its RUN line builds the
wheel there with pip, and the final stage's RUN line installs it in a fresh venv, which
then serves the default site."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import uv

from tests.integration.conftest import Start
from tests.unit.test_examples import EXAMPLES, instructions

ROOT = Path(__file__).resolve().parents[2]


def stages() -> dict[str, list[tuple[str, str]]]:
    """The Dockerfile's instructions by stage: the named ones, and the last as ''."""
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, arguments in instructions((EXAMPLES / "Dockerfile").read_text()):
        if keyword == "FROM":
            _, _, name = arguments.partition(" AS ")
            current = found.setdefault(name.strip(), [])
        current.append((keyword, arguments))
    return found


def replay_copy(arguments: str, context: Path, workdir: Path) -> None:
    """``COPY src... dest`` from the build context, relative to WORKDIR: a file into a
    ``dest/`` folder, a folder's content into ``dest``, as Docker copies them."""
    *sources, dest = [word for word in shlex.split(arguments) if not word.startswith("--")]
    target = workdir / dest
    for source in sources:
        origin = context / source
        assert origin.exists(), f"COPY {arguments}: {source} is not in the build context"
        if origin.is_dir():
            shutil.copytree(origin, target, dirs_exist_ok=True)
        else:
            into = target / origin.name if dest.endswith("/") else target
            into.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, into)


def run_line(command: str, cwd: Path, venv: Path, wheels: Path) -> None:
    """A RUN line through the shell, as the image runs it, with the venv's pip first on
    PATH and the image's /wheels at ``wheels``."""
    command = command.replace("/wheels", str(wheels))
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PIP_REQUIRE_VIRTUALENV", None)
    subprocess.run(["/bin/sh", "-c", command], cwd=cwd, env=env, check=True)


def test_the_dockerfile_builds_the_launcher_and_the_image_serves_the_default_site(
    launch: Start, tmp_path: Path
) -> None:
    build = stages()
    launcher_stage, final_stage = build["launcher"], build[""]
    tool = uv.find_uv_bin()
    wheels = tmp_path / "wheels"

    # Stage "launcher": WORKDIR, the COPY lines from the checkout, the RUN line (pip wheel).
    builder = tmp_path / "builder-venv"
    subprocess.run([tool, "venv", "-q", "--seed", "-p", sys.executable, str(builder)], check=True)
    (workdir,) = [arguments for keyword, arguments in launcher_stage if keyword == "WORKDIR"]
    scratch = tmp_path / "stage" / workdir.lstrip("/")
    scratch.mkdir(parents=True)
    for keyword, arguments in launcher_stage:
        if keyword == "COPY":
            replay_copy(arguments, ROOT, scratch)
        elif keyword == "RUN":
            run_line(arguments, scratch, builder, wheels)
    assert len(list(wheels.glob("appservice_gunicorn-*.whl"))) == 1

    # The final stage's install of the launcher: COPY --from=launcher /wheels, then its RUN.
    image = tmp_path / "image-venv"
    subprocess.run([tool, "venv", "-q", "--seed", "-p", sys.executable, str(image)], check=True)
    copies = [a for k, a in final_stage if k == "COPY" and a.startswith("--from=launcher")]
    assert copies == ["--from=launcher /wheels /wheels"]
    (install,) = [a for k, a in final_stage if k == "RUN" and "/wheels" in a]
    run_line(install, tmp_path, image, wheels)

    # The image's CMD, in an empty app folder: the default site.
    (cmd,) = [json.loads(a) for k, a in final_stage if k == "CMD"]
    assert cmd[0] == "python"
    empty = tmp_path / "wwwroot"
    empty.mkdir()
    launcher = launch(empty, command=[str(image / "bin" / "python"), *cmd[1:]])
    with urllib.request.urlopen(launcher.url + "/", timeout=10) as response:
        page = response.read().decode()
    assert "<title>Your container is running, but no app was found</title>" in page
    with urllib.request.urlopen(launcher.url + "/static/style.css", timeout=10) as response:
        assert response.read()
