"""manuscript.md and the EPUB: order, headings, incomplete books, epubcheck."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from bookgen import AsyncBookOrchestrator
from bookgen.cli import main
from tests.conftest import FAST, ScriptedProvider


def epubcheck_command() -> list[str]:
    """Debian's epubcheck is a jar behind a symlink; run it with java (make test installs it)."""
    found = shutil.which("epubcheck")
    assert found, "epubcheck is missing: `make test` installs it (apt-get install epubcheck)"
    real = os.path.realpath(found)
    return ["java", "-jar", real] if real.endswith(".jar") else [real]


async def write_book(outline: Path, tmp_path: Path, **kwargs: object) -> Path:
    orchestrator = AsyncBookOrchestrator(
        source_file=outline,
        provider=ScriptedProvider(),
        output_dir=tmp_path / "books",
        **kwargs,  # type: ignore[arg-type]
    )
    await orchestrator.generate_chapters_parallel()
    return tmp_path / "books" / "the-test-book"


async def test_a_completed_run_exports_both_formats(outline: Path, tmp_path: Path) -> None:
    book = await write_book(outline, tmp_path)
    manuscript = (book / "manuscript.md").read_text()
    lines = manuscript.splitlines()
    assert lines[0] == "# The Test Book"
    assert lines[2:8] == [
        "## Contents",
        "",
        "1. [Chapter 1: Arrival](#chapter-1-arrival)",
        "2. [Chapter 2: The Mill](#chapter-2-the-mill)",
        "3. [Chapter 3: The Storm](#chapter-3-the-storm)",
        "4. [Chapter 4: Departure](#chapter-4-departure)",
    ]
    headings = [line for line in lines if line.startswith("## Chapter")]
    assert headings == [
        "## Chapter 1: Arrival",
        "## Chapter 2: The Mill",
        "## Chapter 3: The Storm",
        "## Chapter 4: Departure",
    ]
    chapter_two = (book / "chapters" / "02-the-mill.md").read_text().split("\n\n", 1)[1].strip()
    assert chapter_two in manuscript
    with zipfile.ZipFile(book / "the-test-book.epub") as archive:
        names = archive.namelist()
        assert names[0] == "mimetype"
        assert [n for n in names if n.endswith(".xhtml") and "chapter-" in n] == [
            "EPUB/chapter-001.xhtml",
            "EPUB/chapter-002.xhtml",
            "EPUB/chapter-003.xhtml",
            "EPUB/chapter-004.xhtml",
        ]
        assert "<h1>Chapter 3: The Storm</h1>" in archive.read("EPUB/chapter-003.xhtml").decode()


async def test_the_epub_passes_epubcheck(outline: Path, tmp_path: Path) -> None:
    book = await write_book(outline, tmp_path)
    result = subprocess.run(
        [*epubcheck_command(), str(book / "the-test-book.epub")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 fatals / 0 errors" in result.stdout + result.stderr


async def test_no_export_and_incomplete_books(
    outline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    orchestrator = AsyncBookOrchestrator(
        source_file=outline,
        provider=ScriptedProvider(),
        output_dir=tmp_path / "books",
        export=False,
    )
    await orchestrator.generate_chapters_parallel([1, 3])
    book = tmp_path / "books" / "the-test-book"
    assert not (book / "manuscript.md").exists()
    args = ["export", "--book-name", "the-test-book", "--output-dir", str(tmp_path / "books")]
    assert main(args) == 2
    assert capsys.readouterr().err == (
        "error: book 'the-test-book' is missing chapters 2, 4; finish them with `bookgen generate`, "
        f"or pass --allow-incomplete ({book})\n"
    )
    assert not (book / "manuscript.md").exists()
    assert main([*args, "--allow-incomplete", "--format", "markdown"]) == 0
    assert capsys.readouterr().out == f"wrote {book / 'manuscript.md'}\n"
    manuscript = (book / "manuscript.md").read_text()
    assert "*Incomplete draft: some chapters are not written yet.*" in manuscript
    assert [line for line in manuscript.splitlines() if line.startswith("## Chapter")] == [
        "## Chapter 1: Arrival",
        "## Chapter 3: The Storm",
    ]
    assert not (book / "the-test-book.epub").exists()


def test_generate_prints_what_it_exported(
    outline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "generate",
            "--source",
            str(outline),
            "--output-dir",
            str(tmp_path / "books"),
            "--progress",
            "plain",
            *FAST,
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    book = tmp_path / "books" / "the-test-book"
    assert f"wrote {book / 'manuscript.md'}" in err.splitlines()
    assert f"wrote {book / 'the-test-book.epub'}" in err.splitlines()
