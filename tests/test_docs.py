"""Every code example in docs/*.md and README.md runs, and its shown output is checked.

Per page, in order, in one namespace (so a page reads as one session):

- a fenced ``pycon`` block is a doctest: ``>>> `` lines with the expected output
  below them (compared with ELLIPSIS and NORMALIZE_WHITESPACE);
- a fenced ``python`` block is executed and must not raise;
- every other fence (``bash``, ``text``, ``dot``, ...) is not run.

One test per page, so a failure names the page (and the line of the block).
"""

from __future__ import annotations

import doctest
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [*sorted(DOCS.rglob("*.md")), ROOT / "README.md"]

_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    lang: str
    code: str
    line: int  # 1-based line of the first line of code


def blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text (indented fences too, e.g. in admonitions)."""
    lines = text.splitlines()
    found = []
    i = 0
    while i < len(lines):
        m = _OPEN.match(lines[i])
        if m is None:
            i += 1
            continue
        indent, fence, lang = m["indent"], m["fence"], m["lang"].lower()
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body = []
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            line = lines[j]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            j += 1
        if j == len(lines):
            msg = f"unclosed code fence opened on line {i + 1}"
            raise ValueError(msg)
        found.append(Block(lang, "\n".join(body) + "\n", i + 2))
        i = j + 1
    return found


def page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def run_page(path: Path, root: Path = ROOT) -> int:
    """Run the page's examples; return how many blocks ran. Fails the test on a mismatch."""
    name = str(path.relative_to(root))
    namespace: dict[str, object] = {"__name__": f"docs:{name}"}
    parser = doctest.DocTestParser()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    ran = 0
    for block in blocks(path.read_text(encoding="utf-8")):
        where = f"{name}, code block at line {block.line}"
        if block.lang == "pycon":
            test = parser.get_doctest(block.code, namespace, where, str(path), block.line - 1)
            test.globs = namespace  # DocTest copies its globals: share the page's namespace
            if not test.examples:
                pytest.fail(f"{where}: a pycon block without any '>>> ' line")
            report: list[str] = []
            runner = doctest.DocTestRunner(optionflags=flags)
            result = runner.run(test, out=report.append, clear_globs=False)
            if result.failed:
                pytest.fail(f"{where}: {result.failed} example(s) failed\n" + "".join(report))
            ran += 1
        elif block.lang == "python":
            try:
                exec(compile(block.code, where, "exec"), namespace)
            except Exception as exc:
                pytest.fail(f"{where} raised {type(exc).__name__}: {exc}")
            ran += 1
    return ran


@pytest.mark.parametrize("path", PAGES, ids=page_id)
def test_page_examples(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    if "import numpy" in path.read_text(encoding="utf-8"):
        pytest.importorskip("numpy")  # numpy is optional (the numpy and test extras)
    run_page(path)


def test_readme_quick_start_is_checked() -> None:
    """The README's quick start is a pycon block with outputs, and its set-up is two commands."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "\n## Quick start\n" in text
    quick = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    pycon = [b for b in blocks(quick) if b.lang == "pycon"]
    assert pycon, "the quick start needs a pycon block (checked by test_page_examples)"
    examples = [e for b in pycon for e in doctest.DocTestParser().get_examples(b.code)]
    for call in ("fad.grad", "fad.jvp", "fad.vjp", "fad.hessian"):
        assert any(call in e.source for e in examples), call
    assert sum(bool(e.want) for e in examples) >= 4
    bash = [b for b in blocks(text) if b.lang == "bash"]
    assert len(bash) == 2, "the README has exactly two set-up commands"
    assert "python -m fad" in bash[0].code
    assert "python -m pytest" in bash[1].code


def test_nav_lists_every_page() -> None:
    """mkdocs.yml's nav names every page of docs/, and every page it names exists."""
    nav = re.findall(r"^\s*-\s*[^:\n]+:\s*(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert set(nav) == pages


def test_block_parser() -> None:
    text = (
        "a\n```pycon\n>>> 1 + 1\n2\n```\n\n    ```python\n    x = 1\n    ```\n````bash\nls\n````\n"
    )
    assert blocks(text) == [
        Block("pycon", ">>> 1 + 1\n2\n", 3),
        Block("python", "x = 1\n", 8),
        Block("bash", "ls\n", 11),
    ]


def test_a_wrong_output_fails(tmp_path: Path) -> None:
    """The docs test can fail: a page whose shown output is wrong is reported."""
    page = tmp_path / "bad.md"
    page.write_text("```pycon\n>>> import fad\n>>> fad.grad(lambda x: x * x)(3.0)\n7.0\n```\n")
    with pytest.raises(pytest.fail.Exception, match="1 example"):
        run_page(page, root=tmp_path)


def test_api_reference_lists_every_public_name() -> None:
    """docs/api.md has a ``::: fad.<name>`` entry for every name in ``fad.__all__``."""
    import fad

    api = (DOCS / "api.md").read_text(encoding="utf-8")
    entries = set(re.findall(r"^::: (fad\.\w+)", api, re.M))
    assert {f"fad.{name}" for name in fad.__all__} <= entries
