"""Where a supervised server listens, read from its command line (serverports.py), and the
warning detection adds when requests to $PORT would find nothing there."""

from pathlib import Path

import pytest

from appservice_gunicorn import detect
from appservice_gunicorn.startup.server_ports import warnings

PORT = {"PORT": "18104"}
ON_PORT = "requests come to port 18104 ($PORT)"
LOOPBACK = "listens on 127.0.0.1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Azure's FastAPI quickstart, PORT not 8000: uvicorn keeps its own port.
        (
            "python -m uvicorn main:app --host 0.0.0.0",
            ["uvicorn listens on port 8000", "add --port $PORT"],
        ),
        ("uvicorn main:app", ["uvicorn listens on port 8000", LOOPBACK, "add --host 0.0.0.0"]),
        ("uvicorn main:app --host 0.0.0.0 --port $PORT", []),
        ("uvicorn main:app --host=0.0.0.0 --port=${PORT}", []),
        ("exec uvicorn main:app --host 127.0.0.1 --port $PORT", ["listens on 127.0.0.1 as told"]),
        ("uvicorn main:app --host 0.0.0.0 --port 8000", ["told to listen on port 8000", ON_PORT]),
        ("UVICORN_PORT=$PORT uvicorn main:app --host 0.0.0.0", []),
        ("uvicorn --uds /tmp/app.sock main:app", []),
        ("python manage.py migrate && python manage.py runserver", [LOOPBACK, "0.0.0.0:$PORT"]),
        ("python manage.py runserver 0.0.0.0:$PORT", []),
        ("python3 manage.py runserver 8000", ["told to listen on port 8000", LOOPBACK]),
        ("flask run --host=0.0.0.0 -p $PORT", []),
        ("flask run", ["flask run listens on port 5000", LOOPBACK]),
        ("flask db upgrade", []),
        ("hypercorn main:app --bind 0.0.0.0:$PORT", []),
        ("hypercorn main:app", ["hypercorn listens on port 8000", "add --bind 0.0.0.0:$PORT"]),
        ("daphne -b 0.0.0.0 -p $PORT proj.asgi:application", []),
        ("waitress-serve --listen=*:$PORT app:app", []),
        ("waitress-serve app:app", ["waitress-serve listens on port 8080"]),
        ("streamlit run app.py --server.port $PORT", []),
        ("streamlit run app.py", ["streamlit run listens on port 8501", "--server.port $PORT"]),
        # Options before the address, the subcommand or the module (found in review).
        ("python manage.py runserver -v 2 0.0.0.0:$PORT", []),
        ("python manage.py runserver --settings mysite.prod --noreload 0.0.0.0:$PORT", []),
        ("django-admin runserver 0.0.0.0:8000", ["told to listen on port 8000"]),
        ("flask --app app run", ["flask run listens on port 5000", LOOPBACK]),
        ("python -m flask --app app run --host 0.0.0.0 --port $PORT", []),
        ("python -u -m uvicorn main:app --host 0.0.0.0", ["uvicorn listens on port 8000"]),
        ("python -m waitress --listen=0.0.0.0:$PORT app:app", []),
        ("hypercorn main:app -b 127.0.0.1:9000 -b 0.0.0.0:$PORT", []),
        ("hypercorn -c hypercorn.toml main:app", []),
        ("UVICORN_FD=3 uvicorn main:app", []),
        ("streamlit run app.py -- --server.port 1", ["streamlit run listens on port 8501"]),
        (
            "python -m streamlit run app.py --server.port=$PORT --server.address=127.0.0.1",
            ["listens on 127.0.0.1 as told", "add --server.address 0.0.0.0"],
        ),
        # gunicorn run supervised (microblog's boot.sh): on 0.0.0.0:$PORT unless told.
        ("cd . && gunicorn -b :5000 microblog:app", ["gunicorn is told to listen on port 5000"]),
        ("gunicorn microblog:app", []),
        ("python -m gunicorn --bind=0.0.0.0:$PORT app:app", []),
        ("exec gunicorn -b 127.0.0.1:$PORT app:app", ["listens on 127.0.0.1 as told"]),
        ("gunicorn -c conf.py app:app", []),
        ("GUNICORN_CMD_ARGS=--bind=:1 gunicorn app:app", []),
        ("gunicorn -b 0.0.0.0 app:app", ["gunicorn is told to listen on port 8000", ON_PORT]),
        # Behind a proxy the command starts, which listens on $PORT itself.
        ("nginx -g 'daemon off;' & exec gunicorn -b 127.0.0.1:5000 wsgi:app", []),
        ("service nginx start && gunicorn -b 127.0.0.1:5000 wsgi:app", []),
        # A script with a loop: its last line is the server.
        (
            "#!/bin/sh\nwhile ! nc -z db 5432; do sleep 1; done\n\n"
            "exec uvicorn main:app --port 5000\n",
            ["uvicorn is told to listen on port 5000", LOOPBACK],
        ),
        ("#!/bin/sh\nfor i in 1 2; do uvicorn main:app; done\n# the end\n", []),
        # Not a server it knows, or not one command it can read: nothing is said.
        ("python app.py", []),
        ("node server.js", []),
        ("uvicorn main:app $(extra_args)", []),
    ],
)
def test_a_server_that_would_not_answer_on_port_is_named(text: str, expected: list[str]) -> None:
    said = " | ".join(warnings(text, "startup command", PORT))
    assert all(fragment in said for fragment in expected), said
    assert bool(said) == bool(expected), said


def test_the_default_port_of_app_service_needs_no_port_option() -> None:
    assert warnings("python -m uvicorn main:app --host 0.0.0.0", "startup command", {}) == []


def test_detection_notes_it_for_a_supervised_command(tmp_path: Path) -> None:
    (tmp_path / "startup.sh").write_text("#!/bin/sh\npip list\npython -m uvicorn main:app\n")
    found = detect(tmp_path, "startup.sh", PORT)
    assert found.kind == "command"
    assert [note.split(":")[0] for note in found.notes] == ["startup.sh"] * 2
    assert "uvicorn listens on port 8000 unless told" in found.notes[0]
    # gunicorn itself is given $PORT by the launcher: nothing to say.
    assert detect(tmp_path, "gunicorn main:app", PORT).notes == ()


def test_a_script_is_read_with_its_line_continuations(tmp_path: Path) -> None:
    script = "#!/bin/sh\npython manage.py runserver \\\n    0.0.0.0:$PORT\n"
    assert warnings(script, "startup.sh", PORT) == []
    script = "#!/bin/sh\nuvicorn main:app --host 0.0.0.0 --port \\\n    8000\n"
    assert "told to listen on port 8000" in " ".join(warnings(script, "startup.sh", PORT))


@pytest.mark.parametrize(
    ("command", "config"),
    [("flask run", ".flaskenv"), ("streamlit run app.py", ".streamlit/config.toml")],
)
def test_an_address_its_config_file_may_set_is_left_alone(
    tmp_path: Path, command: str, config: str
) -> None:
    assert warnings(command, "startup command", PORT, tmp_path) != []
    (tmp_path / config).parent.mkdir(exist_ok=True)
    (tmp_path / config).write_text("")
    assert warnings(command, "startup command", PORT, tmp_path) == []
