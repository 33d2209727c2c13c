"""What App Service's build (Oryx) deployed: ``oryx-manifest.toml`` and its archives.

The build may compress the virtualenv (``antenv.tar.gz``, ``.zip``, ``.tar.zst``) or the
whole output (``output.tar.zst`` / ``output.tar.gz``, the manifest beside it).  ``inspect``
reads the manifest and says where each archive is (or would be) extracted, writing
nothing; ``prepare`` extracts what is not extracted yet (``archives``: safe, atomic,
reused).  Values in the manifest win over the folder scan, as on the platform.
"""

import logging
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

from appservice_gunicorn.files import fs

# archives (tarfile, zipfile, hashlib, ...) and the TOML parser are imported only where a
# build output is found: every start of the launcher pays for what is imported here.

log = logging.getLogger(__name__)

MANIFEST_NAME = "oryx-manifest.toml"
# The platform's startup script looks for the zstd output first.
OUTPUT_ARCHIVES = ("output.tar.zst", "output.tar.gz")
MAX_MANIFEST_BYTES = 256 * 1024


class Manifest(NamedTuple):
    """The manifest's values as strings, keyed in lower case (Oryx versions differ in
    case: ``VirtualEnvName`` / ``virtualEnvName``)."""

    path: Path
    entries: tuple[tuple[str, str], ...]

    def get(self, key: str) -> str | None:
        return dict(self.entries).get(key.lower()) or None


class Archive(NamedTuple):
    """A compressed venv or output, and the folder it is (or will be) extracted to."""

    path: Path
    target: Path
    extracted: bool


class BuildOutput(NamedTuple):
    """The build's output in ``deployed_dir``: the manifest, the archives, what they give."""

    deployed_dir: Path
    manifest: Manifest | None = None
    venv_archive: Archive | None = None
    output_archive: Archive | None = None
    venv_name: str | None = None
    package_dir: str | None = None
    notes: tuple[str, ...] = ()
    import_hint: str | None = None
    # Why the build output cannot be served (the start stops with it; detect() notes it).
    error: str | None = None

    @property
    def app_dir(self) -> Path:
        """Where the app is served from: the extracted output, else the deployed folder."""
        if self.output_archive is not None and self.output_archive.extracted:
            return self.output_archive.target
        return self.deployed_dir

    @property
    def venv_path(self) -> Path | None:
        """The virtualenv the manifest names, when it is there to use."""
        if self.venv_archive is not None:
            return self.venv_archive.target if self.venv_archive.extracted else None
        if self.venv_name and fs.is_dir(self.app_dir / self.venv_name):
            return self.app_dir / self.venv_name
        return None

    @property
    def package_path(self) -> Path | None:
        """``PackageDir`` (``__oryx_packages__``): packages installed without a venv."""
        if self.package_dir and fs.is_dir(self.app_dir / self.package_dir):
            return self.app_dir / self.package_dir
        return None

    @property
    def venv_unseen(self) -> bool:
        """A compressed virtualenv not extracted yet (``--explain``): not to be looked into."""
        return self.venv_archive is not None and not self.venv_archive.extracted

    def pending(self) -> list[Archive]:
        return [a for a in (self.output_archive, self.venv_archive) if a and not a.extracted]


def read_manifest(app_dir: Path) -> tuple[Manifest | None, str | None]:
    """The manifest in ``app_dir`` (None when absent), and why it could not be read."""
    path = fs.file_in(app_dir, MANIFEST_NAME)
    if path is None:
        return None, None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    try:
        data = tomllib.loads(
            fs.read_regular(path, MAX_MANIFEST_BYTES)[:MAX_MANIFEST_BYTES].decode()
        )
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        problem = getattr(exc, "strerror", None) or str(exc)
        return None, (
            f"{MANIFEST_NAME} cannot be read ({problem}); it is ignored and the folder is "
            "served as deployed"
        )
    entries = tuple(
        (str(key).lower(), str(value))
        for key, value in data.items()
        if isinstance(value, str | int | float | bool)
    )
    return Manifest(path, entries), None


def inspect(deployed_dir: Path, env: Mapping[str, str]) -> BuildOutput | None:
    """The build output in ``deployed_dir`` (None when it holds none); writes nothing."""
    manifest, problem = read_manifest(deployed_dir)
    notes = [problem] if problem else []
    output, error = None, None
    if _compressed(manifest):
        output = _output_archive(deployed_dir, env, notes)
        if output is None and not notes:
            error = (
                f'{MANIFEST_NAME} in {deployed_dir} says CompressDestinationDir="true", but '
                f"neither {' nor '.join(OUTPUT_ARCHIVES)} is there: deploy the build's archive "
                "with its manifest, or deploy the uncompressed output"
            )
            notes.append(error)
    if manifest is None and output is None:
        return BuildOutput(deployed_dir, notes=tuple(notes)) if notes else None
    build = BuildOutput(
        deployed_dir, manifest, output_archive=output, notes=tuple(notes), error=error
    )
    return _with_venv(build, env)


def _compressed(manifest: Manifest | None) -> bool:
    """Whether the build compressed its whole output: App Service extracts an
    ``output.tar.*`` only when the manifest says ``CompressDestinationDir="true"`` (an
    archive of the app's own beside it is data)."""
    value = manifest.get("CompressDestinationDir") if manifest is not None else None
    return (value or "").strip().lower() == "true"


def _output_archive(deployed_dir: Path, env: Mapping[str, str], notes: list[str]) -> Archive | None:
    for name in OUTPUT_ARCHIVES:
        path = fs.file_in(deployed_dir, name)
        if path is not None:
            return _archive(path, env, notes)
    return None


# ``archives`` (tarfile, zipfile, shutil...) is imported where an archive is met: 16 ms
# that a deployment without one never pays.
def _archive(
    path: Path, env: Mapping[str, str], notes: list[str], place: str | None = None
) -> Archive | None:
    from appservice_gunicorn.build import extractions

    try:
        target = extractions.target_for(path, env, place)
    except extractions.ArchiveError as exc:
        notes.append(str(exc))
        return None
    return Archive(path, target, extractions.extracted(target))


def _with_venv(build: BuildOutput, env: Mapping[str, str]) -> BuildOutput:
    """The manifest's virtualenv and package folder, relative to where the app is served."""
    manifest = build.manifest
    if manifest is None:
        return build
    notes = list(build.notes)
    name, compressed, package_dir = (
        _inside(manifest.get(key), key, notes)
        for key in ("VirtualEnvName", "CompressedVirtualEnvFile", "PackageDir")
    )
    venv_archive = None
    hint = None
    if compressed:
        path = build.app_dir / compressed
        output = build.output_archive
        # Inside the output's extraction, whose name each deploy changes: named after the
        # deployed archive, so that the same virtualenv is reused and older ones pruned.
        inner = output is not None and path.is_relative_to(output.target)
        place = f"{output.path.absolute()}/{compressed}" if output and inner else None
        if fs.is_file(path):
            venv_archive = _archive(path, env, notes, place)
        elif build.output_archive is None or build.output_archive.extracted:
            hint = (
                f"{MANIFEST_NAME} names the compressed virtualenv {compressed!r}, which is not "
                f"in {build.app_dir}: deploy the build's whole output"
            )
            notes.append(hint)
    return build._replace(
        venv_archive=venv_archive,
        venv_name=name,
        package_dir=package_dir,
        notes=tuple(notes),
        import_hint=hint,
    )


def _inside(value: str | None, key: str, notes: list[str]) -> str | None:
    """A manifest value naming something in the app folder: a plain relative name."""
    if not value:
        return None
    parts = Path(value).parts
    if Path(value).is_absolute() or ".." in parts or "\0" in value or value in (".", ""):
        notes.append(
            f"{MANIFEST_NAME}: {key} = {value!r} does not name something inside the app "
            "folder; it is ignored"
        )
        return None
    return value


def prepare(
    build: BuildOutput,
    env: Mapping[str, str],
    *,
    prune: bool = False,
    interrupted: Callable[[], bool] | None = None,
) -> BuildOutput:
    """``build`` with its archives extracted (``ArchiveError`` when one cannot be, or when
    ``interrupted`` says a stop signal came meanwhile); ``prune`` removes older extractions
    (at start, when no worker can still use them)."""
    from appservice_gunicorn.build import extractions

    output = build.output_archive
    if output is not None and not output.extracted:
        _extract(output, interrupted)
        output = output._replace(extracted=True)
        build = _with_venv(build._replace(output_archive=output), env)
    venv = build.venv_archive
    if venv is not None and not venv.extracted:
        _extract(venv, interrupted)
        build = build._replace(venv_archive=venv._replace(extracted=True))
    for archive in (build.output_archive, build.venv_archive):
        if archive is not None:
            extractions.hold(archive.target)
            if prune:
                extractions.prune(archive.target)
    return build


def _extract(archive: Archive, interrupted: Callable[[], bool] | None) -> None:
    from appservice_gunicorn.build import archives

    started = time.monotonic()
    archives.extract(archive.path, archive.target, interrupted)
    log.info(
        "Extracted %s to %s in %.1f s",
        archive.path.name,
        archive.target,
        time.monotonic() - started,
    )


def describe(build: BuildOutput) -> list[str]:
    """Lines for ``--explain``: the manifest and each archive, extracted or not."""
    from appservice_gunicorn.build import archives, zstd

    lines = []
    if build.manifest is not None:
        shown = ", ".join(f"{k}={v}" for k, v in build.manifest.entries[:12])
        lines.append(f"{build.manifest.path}: {shown or 'empty'}")
    for archive in (build.output_archive, build.venv_archive):
        if archive is None:
            continue
        state = "extracted, reused" if archive.extracted else "would be extracted at start"
        lines.append(f"{archive.path.name} -> {archive.target} ({state})")
        if archives.archive_format(archive.path) == "tar.zst" and not zstd.support():
            lines.append(
                f"{archive.path.name}: no zstd support here (Python 3.14, the zstandard "
                "package or the zstd program): it cannot be extracted"
            )
    if build.output_archive is not None and not build.output_archive.extracted:
        lines.append("the chain ran over the deployed folder: the output is not extracted yet")
    return lines
