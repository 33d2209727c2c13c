"""How detection reads folders (fs.py, search.py): a folder of data (hundreds of sub-folders)
is not searched, a long folder without sub-folders is not read to its end when the file
system keeps folder link counts, and the answers are the same either way.  Real folders
under ``tmp_path``."""

import os
from pathlib import Path

import pytest

from appservice_gunicorn import detect
from appservice_gunicorn.detection.listing import Search
from appservice_gunicorn.files import fs
from tests.helpers import count_listings, flask_app, write

ENV: dict[str, str] = {}


@pytest.fixture(autouse=True)
def shorter_long_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long folder from 100 files, not 1,000: the same reading at a smaller scale (each
    file made here costs a millisecond on a slow disk, and the suite made 22,000)."""
    monkeypatch.setattr(fs, "LONG_FOLDER", 100)


def _fill(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        os.close(os.open(folder / f"upload{i:05d}.bin", os.O_CREAT | os.O_WRONLY, 0o644))


def _keeps_link_count(path: Path) -> bool:
    return os.stat(path).st_dev in fs.link_count_devices()


def _without_link_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fs, "KEEPS_LINK_COUNT", frozenset())


# --- the mount table ---------------------------------------------------------------------


def test_devices_are_read_from_the_mount_table(tmp_path: Path) -> None:
    table = tmp_path / "mountinfo"
    table.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        # Several optional fields before the separator, and none at all.
        "23 22 0:21 / /tmp rw shared:5 master:2 unbindable - tmpfs tmpfs rw\n"
        "24 22 0:44 / /var/lib/x rw - overlay overlay rw,lowerdir=/a\n"
        "25 22 0:52 / /home rw - cifs //server/share rw\n"
        "26 22 0:53 / /broken rw shared:9\n"
        "not a mount line\n"
    )
    assert fs.link_count_devices(str(table)) == {os.makedev(8, 1), os.makedev(0, 21)}


def test_no_mount_table_means_no_device_is_trusted(tmp_path: Path) -> None:
    assert fs.link_count_devices(str(tmp_path / "missing")) == frozenset()


# --- listing ------------------------------------------------------------------------------


def test_a_long_folder_without_sub_folders_is_not_read_to_its_end(tmp_path: Path) -> None:
    _fill(tmp_path / "uploads", fs.LONG_FOLDER + 500)
    asked: list[str] = []

    def no_folders(path: str) -> bool:
        asked.append(path)
        return True

    listing = fs.list_dir(tmp_path / "uploads", no_folders)
    assert listing == fs.Listing(None, ())
    assert asked == [str(tmp_path / "uploads")]
    full = fs.list_dir(tmp_path / "uploads", lambda path: False)
    assert full.files is not None and len(full.files) == fs.LONG_FOLDER + 500


def test_a_short_folder_is_listed_without_asking(tmp_path: Path) -> None:
    _fill(tmp_path, fs.LONG_FOLDER - 1)

    def never(path: str) -> bool:
        raise AssertionError("a short folder was asked about")

    listing = fs.list_dir(tmp_path, never)
    assert listing.files is not None and len(listing.files) == fs.LONG_FOLDER - 1


def test_a_long_folder_with_a_sub_folder_is_read_to_its_end(tmp_path: Path) -> None:
    _fill(tmp_path / "media", fs.LONG_FOLDER + 10)
    (tmp_path / "media" / "thumbnails").mkdir()
    if not _keeps_link_count(tmp_path):
        pytest.skip(f"{tmp_path} is on a file system that does not keep folder link counts")
    search = Search(tmp_path, ENV)
    assert search.subdirs(str(tmp_path / "media")) == [f"{tmp_path}/media/thumbnails"]
    files = search.listing(str(tmp_path / "media")).files
    assert files is not None and len(files) == fs.LONG_FOLDER + 10


def test_search_stops_listing_a_long_folder_where_link_counts_are_kept(tmp_path: Path) -> None:
    _fill(tmp_path, 3 * fs.LONG_FOLDER)
    write(tmp_path, {"app.py": flask_app()})
    if not _keeps_link_count(tmp_path):
        pytest.skip(f"{tmp_path} is on a file system that does not keep folder link counts")
    search = Search(tmp_path, ENV)
    assert search.subdirs(str(tmp_path)) == []
    assert search.listing(str(tmp_path)).files is None
    # Its files are then asked for by name.
    assert search.has_file(str(tmp_path), "app.py")
    assert not search.has_file(str(tmp_path), "manage.py")


def test_elsewhere_a_long_folder_is_listed_in_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(tmp_path, 3 * fs.LONG_FOLDER)
    _without_link_counts(monkeypatch)
    files = Search(tmp_path, ENV).listing(str(tmp_path)).files
    assert files is not None and len(files) == 3 * fs.LONG_FOLDER


# --- detection gives the same answer either way --------------------------------------------

LAYOUTS: dict[str, dict[str, str]] = {
    "flask app among uploads": {"app.py": flask_app()},
    "django project beside uploads": {
        "manage.py": (
            "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site1.settings')\n"
        ),
        "site1/__init__.py": "",
        "site1/settings.py": "WSGI_APPLICATION = 'site1.wsgi.application'\n",
        "site1/wsgi.py": (
            "from django.core.wsgi import get_wsgi_application\n"
            "application = get_wsgi_application()\n"
        ),
    },
    "wsgi.py in a long folder": {
        "uploads/wsgi.py": (
            "from django.core.wsgi import get_wsgi_application\n"
            "application = get_wsgi_application()\n"
        ),
    },
    "virtualenv beside a long folder": {"app.py": flask_app(), "env/pyvenv.cfg": "home = /x\n"},
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_detection_is_the_same_with_and_without_link_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    _fill(tmp_path / "uploads", 2 * fs.LONG_FOLDER)
    if layout != "wsgi.py in a long folder":
        _fill(tmp_path, 2 * fs.LONG_FOLDER)
    write(tmp_path, LAYOUTS[layout])
    listed = count_listings(monkeypatch)
    with_counts = detect(tmp_path, env=ENV)
    _without_link_counts(monkeypatch)
    without = detect(tmp_path, env=ENV)
    assert with_counts == without
    assert with_counts.kind != "default", with_counts.rules
    assert len(listed) == 2 * len(set(listed)), "a folder was listed twice in one detection"


# --- a folder of data --------------------------------------------------------------------

DJANGO_PROJECT = {
    "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n",
    "mysite/__init__.py": "",
    "mysite/settings.py": "WSGI_APPLICATION = 'mysite.wsgi.application'\n",
    "mysite/wsgi.py": "application = None\n",
}


def _folders(folder: Path, count: int) -> None:
    for i in range(count):
        (folder / f"d{i:04d}").mkdir(parents=True)


def test_a_crowded_app_folder_is_searched_only_for_app_services_wsgi_py(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _folders(tmp_path, 256)
    write(tmp_path, {"proj/__init__.py": "", "proj/wsgi.py": "application = None\n"})
    write(tmp_path, {"zenv/pyvenv.cfg": "home = /usr/bin\n"})  # 258 sub-folders
    listed = count_listings(monkeypatch)
    found = detect(tmp_path, env=ENV)
    assert (found.rule, found.app) == ("django", "proj.wsgi:application")
    assert found.venv is None  # a virtualenv of another name is not looked for in them
    assert listed == [str(tmp_path)]
    assert any("has 258 sub-folders, more than 256: they are data" in n for n in found.notes)


def test_a_project_below_a_crowded_app_folder_is_not_searched(tmp_path: Path) -> None:
    _folders(tmp_path, 256)
    write(tmp_path / "proj", DJANGO_PROJECT)
    found = detect(tmp_path, env=ENV)
    assert found.rule == "default-site"
    django = next(r for r in found.rules if r.name == "django")
    assert "app folder's direct sub-folders (more than 256: not searched deeper)" in django.reason
    assert any("startup command or --app-dir" in note for note in found.notes)


def test_an_app_folder_of_256_sub_folders_is_searched_in_depth(tmp_path: Path) -> None:
    _folders(tmp_path, 255)
    write(tmp_path / "proj", DJANGO_PROJECT)
    found = detect(tmp_path, env=ENV)
    assert (found.rule, found.app) == ("django", "mysite.wsgi:application")
    assert not any("sub-folders, more than" in note for note in found.notes)


def test_a_crowded_sub_folder_is_not_listed_below(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _folders(tmp_path / "media", 257)
    write(tmp_path, {"media/d0100/wsgi.py": "application = None\n"})
    listed = count_listings(monkeypatch)
    found = detect(tmp_path, env=ENV)
    assert found.rule == "default-site"
    django = next(r for r in found.rules if r.name == "django")
    assert "skipped media: more than 256 sub-folders" in django.reason
    assert sorted(listed) == [str(tmp_path), str(tmp_path / "media")]
    assert found.notes == ()  # the reason says it: no warning at every start
