"""pysource: reading Python files as detection does (the AST, never importing them)."""

import ast
import inspect
import textwrap
from pathlib import Path

import pytest

import appservice_gunicorn
from appservice_gunicorn.files import pysource
from appservice_gunicorn.files.pysource import walk

SYNTAX = textwrap.dedent(
    """
    import os, sys as system
    from .x import *
    @decorator(1)
    class A(Base, metaclass=M):
        x: int = 1
        async def f(self, a, /, b=2, *args, c, d=3, **kwargs) -> None:
            async with a as b, c:
                async for i in range(3):
                    yield [j async for j in k if j] or {k: v for k, v in d.items()}
            try:
                lambda q=1: (q, *r)
            except (ValueError, TypeError) as exc:
                raise RuntimeError from exc
            finally:
                del a[1:2:3], b.c
    match command.split():
        case [action, *rest] if rest:
            pass
        case {"k": 1, **others} | Point(x=0, y=_):
            global g
        case _:
            nonlocal_ = f"{value!r:>{width}}" + b"bytes"
    while (n := n - 1) > 0:
        assert n, "message"
    else:
        print(not -n @ m ** 2 if a < b <= c else ...)
    """
)


@pytest.mark.parametrize(
    "source",
    [
        SYNTAX,
        inspect.getsource(ast),
        inspect.getsource(inspect),
        *(path.read_text() for path in Path(appservice_gunicorn.__file__).parent.rglob("*.py")),
    ],
    ids=lambda source: source.partition("\n")[0][:30] or "syntax",
)
def test_walk_visits_the_nodes_ast_walk_visits_in_the_same_order(source: str) -> None:
    tree = ast.parse(source)
    assert [id(node) for node in walk(tree)] == [id(node) for node in ast.walk(tree)]


def test_walk_starts_anywhere_in_a_tree() -> None:
    call = ast.parse("f(a, b=[1, 2])").body[0].value  # type: ignore[attr-defined]
    assert walk(call) == list(ast.walk(call))


def test_a_file_is_parsed_once_until_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    path.write_text("app = 1\n")
    first = pysource.parse(path)
    assert pysource.parse(path) is first
    path.write_text("app = 22\n")
    second = pysource.parse(path)
    assert second is not first
    assert ast.unparse(second) == "app = 22"
