"""The book folder: paths, atomic writes, the manifest, the lock, resume decisions.

Layout of ``<output-dir>/<book-name>/``::

    manifest.json        per-chapter state: a snapshot, rewritten atomically at the start
                         and end of a run and when the journal grows long
    manifest.journal     every chapter state change since the snapshot, one line each,
                         fsynced before the change counts (see journal.py)
    outline.json         the parsed outline as used by the last run
    chapters/NN-slug.md  one Markdown file per finished chapter
    .lock                held (flock) by the process generating the book

Every file is written atomically (temp file in the same folder, fsync, rename), so
a kill -9 at any instant leaves each file either old or new, never partial.
"""

from __future__ import annotations

import bisect
import errno
import fcntl
import hashlib
import itertools
import os
import re
import threading
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bookgen.errors import BookLockedError, BookNameError, BookNotFoundError, ManifestError
from bookgen.journal import Journal, read_entries
from bookgen.models import BookSpec, ChapterSpec, ChapterState, Manifest, Usage

MANIFEST = "manifest.json"
JOURNAL = "manifest.journal"
OUTLINE = "outline.json"
CHAPTERS = "chapters"
LOCK = ".lock"
DRAFTS = "drafts"
# Cross-chapter checks compare a chapter with at most this many others (the nearest).
OTHER_CHAPTERS = 30
# The journal is folded into a snapshot once it has more lines than this, or than
# twice the chapters: rewriting the snapshot then costs O(1) per change on average.
JOURNAL_MIN_LINES = 256


def slugify(text: str, *, max_length: int = 60, fallback: str = "untitled") -> str:
    """Lower-case, hyphen-separated; accents dropped where a letter remains ("Café" ->
    "cafe"), other scripts kept ("戦争と平和" stays); ``fallback`` when nothing is left."""
    # "Keeper's" -> "keepers", not "keeper-s".
    text = re.sub(r"(\w)['\u2019](\w)", r"\1\2", text)
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    normalized = unicodedata.normalize("NFC", stripped).lower()
    slug = re.sub(r"[\W_]+", "-", normalized).strip("-")
    return slug[:max_length].rstrip("-") or fallback


def count_words(text: str) -> int:
    return len(text.split())


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


_temp_names = itertools.count()


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half."""
    # A name no other writer uses, created exclusively: random bits (a pid repeats
    # across container runs, and a killed run can leave its temp file) and a counter
    # for this process's threads. Cheaper than tempfile.mkstemp.
    tmp = os.path.join(path.parent, f".{path.name}.{os.urandom(6).hex()}-{next(_temp_names)}.tmp")
    data = text.encode("utf-8")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


MAX_NAME_BYTES = 200  # well inside the 255-byte file-name limit of common file systems


def validate_book_name(name: str) -> str:
    if not name or not name.strip():
        raise BookNameError("--book-name is empty")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise BookNameError(
            f"--book-name is longer than {MAX_NAME_BYTES} bytes; use a shorter name"
        )
    if "/" in name or "\\" in name or os.sep in name:
        raise BookNameError(f"--book-name {name!r} contains a path separator; use a plain name")
    if name in {".", ".."} or ".." in name:
        raise BookNameError(f"--book-name {name!r} contains '..'; use a plain name")
    if name.startswith("."):
        raise BookNameError(f"--book-name {name!r} starts with '.'; use a plain name")
    if "\x00" in name:
        raise BookNameError("--book-name contains a NUL character")
    return name


@dataclass(frozen=True)
class ResumePlan:
    """Which chapters a run will generate and which it skips, and why."""

    to_run: list[int]
    skipped: list[int]
    # Chapters whose completed text is regenerated, with the reason (shown to the user).
    reasons: dict[int, str]


class BookStore:
    """One book folder. Thread-safe: chapter jobs update the manifest from worker threads.

    >>> store = BookStore("books", "my-book")          # doctest: +SKIP
    >>> with store.locked():                           # doctest: +SKIP
    ...     manifest = store.prepare(book, source="outline.md")
    """

    def __init__(self, output_dir: str | Path, book_name: str) -> None:
        self.output_dir = Path(output_dir)
        self.name = validate_book_name(book_name)
        self.root = self.output_dir / self.name
        self._root_text = str(self.root)
        # _lock guards the in-memory manifest. Lock order: a journal's lock, then _lock.
        self._lock = threading.RLock()
        self._manifest: Manifest | None = None
        self._journal: Journal | None = None
        self._seq = 0  # the last journal line number handed out
        self._dirty: set[int] = set()  # chapters changed since their last journal line
        # Completed chapters' files by number, and the manifest object they describe.
        self._done: dict[int, str] | None = None
        self._done_of: Manifest | None = None
        # Chapter bodies by relative path: (full path, the (inode, mtime, size) they were
        # read at, body).
        self._bodies: dict[str, tuple[str, tuple[int, int, int], str]] = {}
        # Set by prepare(): the book-level outline fields differ from the last run's.
        self.book_changed = False

    # --- paths -------------------------------------------------------------------

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    @property
    def journal_path(self) -> Path:
        return self.root / JOURNAL

    @property
    def chapters_dir(self) -> Path:
        return self.root / CHAPTERS

    def chapter_relpath(self, chapter: ChapterSpec) -> str:
        return f"{CHAPTERS}/{chapter.number:02d}-{slugify(chapter.title)}.md"

    # --- folder and lock ---------------------------------------------------------

    def ensure_folder(self) -> None:
        self.check_paths()
        try:
            self.chapters_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BookNameError(
                f"cannot create the book folder: {exc.strerror}", where=self.root
            ) from exc

    def check_paths(self) -> None:
        """Refuse, without creating anything, paths where the book folder cannot live."""
        if self.output_dir.exists() and not self.output_dir.is_dir():
            raise BookNameError(f"--output-dir {self.output_dir} is a file, not a folder")
        if self.root.exists() and not self.root.is_dir():
            raise BookNameError(f"book path {self.root} exists and is not a folder")
        for path, kind in ((self.chapters_dir, "folder"), (self.manifest_path, "file")):
            if path.exists() and path.is_dir() != (kind == "folder"):
                other = "file" if kind == "folder" else "folder"
                raise BookNameError(
                    f"{path} is a {other} where bookgen keeps a {kind}; move it away"
                )

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the book's exclusive lock. A lock left by a killed process is taken over.

        flock() locks die with their process, so a stale ``.lock`` file never blocks;
        its content (the holder's pid) only serves the error message.
        """
        self.ensure_folder()
        path = self.root / LOCK
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                raise BookLockedError(
                    f"book {self.name!r} is being generated by process {holder}; "
                    "wait for it to finish or stop it",
                    where=self.root,
                ) from exc
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    # --- manifest ----------------------------------------------------------------

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def load(self) -> Manifest:
        """The book as last recorded: manifest.json plus the journal lines after it.

        A missing book is BookNotFoundError, a broken one ManifestError.
        """
        if not self.root.is_dir() or not self.manifest_path.is_file():
            raise BookNotFoundError(
                f"no book named {self.name!r} in {self.output_dir}", where=self.manifest_path
            )
        try:
            raw = self.manifest_path.read_text(encoding="utf-8")
            manifest = Manifest.model_validate_json(raw)
            seq = manifest.journal_seq
            for entry in read_entries(self.journal_path):
                if int(entry["seq"]) > manifest.journal_seq:
                    _replace_state(manifest, ChapterState.model_validate(entry["state"]))
                    seq = max(seq, int(entry["seq"]))
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestError(f"cannot read manifest: {exc}", where=self.manifest_path) from exc
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(part) for part in first["loc"])
            raise ManifestError(
                f"manifest is not valid: {loc}: {first['msg']}", where=self.manifest_path
            ) from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ManifestError(f"journal is not valid: {exc}", where=self.journal_path) from exc
        with self._lock:
            self._manifest = manifest
            self._seq = seq
            self._dirty.clear()
        return manifest

    @property
    def manifest(self) -> Manifest:
        if self._manifest is None:
            raise RuntimeError("manifest not loaded; call prepare() or load() first")
        return self._manifest

    def save(self, *, durable: bool = True) -> None:
        """Make every change so far durable; returns once it is on disk.

        During a run (the journal is open) that is one journal line per changed
        chapter, group-committed; otherwise a snapshot. With ``durable=False`` the
        lines are written but not waited for: they reach the disk with the next
        durable save (a kill -9 does not lose them; a power cut can).
        """
        journal = self._journal
        if journal is None:
            self.checkpoint()
            return
        try:
            with journal.lock:
                with self._lock:
                    entries = [self._entry(number) for number in sorted(self._dirty)]
                    self._dirty.clear()
                written = journal.write(entries)
            if durable:
                journal.sync(written)
        except OSError as exc:
            raise ManifestError(
                f"cannot write the journal: {exc.strerror or exc}", where=self.journal_path
            ) from exc
        if journal.lines > max(JOURNAL_MIN_LINES, 2 * len(self.manifest.chapters)):
            self.checkpoint()

    def _entry(self, number: int) -> str:
        self._seq += 1
        return f'{{"seq": {self._seq}, "state": {self.manifest.state(number).model_dump_json()}}}'

    def checkpoint(self) -> None:
        """Rewrite manifest.json with everything, atomically, and empty the journal."""
        journal = self._journal
        with journal.lock if journal is not None else nullcontext():
            with self._lock:
                manifest = self.manifest
                manifest.updated_at = time.time()
                manifest.journal_seq = self._seq
                self._dirty.clear()
                payload = manifest.model_dump_json(indent=2) + "\n"
            try:
                atomic_write_text(self.manifest_path, payload)
                if journal is not None:
                    journal.truncate()
            except OSError as exc:
                raise ManifestError(
                    f"cannot write the manifest: {exc.strerror or exc}", where=self.manifest_path
                ) from exc

    def close(self) -> None:
        """End of a run: one snapshot with everything, and the journal closed."""
        if self._journal is None:
            return
        try:
            self.checkpoint()
        finally:
            self._journal.close()
            self._journal = None

    def state(self, number: int) -> ChapterState:
        """A copy of one chapter's state (safe to hand to another thread or process)."""
        with self._lock:
            return self.manifest.state(number).model_copy()

    def update_chapter(self, number: int, *, durable: bool = True, **changes: Any) -> ChapterState:
        """Apply ``changes`` to one chapter's state and save it (see ``save`` for
        ``durable``)."""
        with self._lock:
            state = self.manifest.state(number)
            for key, value in changes.items():
                setattr(state, key, value)
            self._dirty.add(number)
            if self._done is not None and self._done_of is self._manifest:
                if state.status == "completed" and state.file:
                    self._done[number] = state.file
                else:
                    self._done.pop(number, None)
            snapshot = state.model_copy()
        self.save(durable=durable)
        return snapshot

    def add_usage(
        self, number: int, usage: Usage, *, provider: str, cost: float | None, save: bool = True
    ) -> None:
        """Count one finished provider call (made with ``provider``, "name:model")
        against its chapter. With ``save=False`` it rides along with the next write
        (the caller makes sure one comes)."""
        with self._lock:
            state = self.manifest.state(number)
            state.calls += 1
            state.prompt_tokens += usage.prompt_tokens
            state.completion_tokens += usage.completion_tokens
            state.cached_prompt_tokens += usage.cached_prompt_tokens
            state.usage_estimated = state.usage_estimated or usage.estimated
            if state.cost_usd is not None:
                state.cost_usd = None if cost is None else state.cost_usd + cost
            if provider not in state.providers:
                state.providers = [*state.providers, provider]
            self._dirty.add(number)
        if save:
            self.save()

    def add_planning(self, usage: Usage, cost: float | None) -> None:
        """Count a call made for the whole book (the story bible); saved at once."""
        with self._lock:
            manifest = self.manifest
            manifest.planning_usage = manifest.planning_usage + usage
            manifest.planning_calls += 1
            if manifest.planning_cost_usd is not None:
                manifest.planning_cost_usd = (
                    None if cost is None else manifest.planning_cost_usd + cost
                )
        self.checkpoint()

    def prepare(self, book: BookSpec, *, source: str | Path) -> Manifest:
        """Create or reconcile the manifest with ``book`` and save outline.json.

        Chapters left ``running`` by a crash become ``pending``, unless their file was
        written during that run (the crash hit between saving the text and the
        manifest): then the text is adopted, not paid for again. Chapters no longer
        in the outline are kept aside (``detached``) with what was paid for them, and
        come back as they were if the outline brings them back unchanged.
        """
        self.ensure_folder()
        self._sweep_temp_files()
        source_path = str(Path(source).resolve())
        with self._lock:
            now = time.time()
            old: dict[int, ChapterState] = {}
            planning: dict[str, Any] = {}
            created = now
            self.book_changed = False
            if self.exists():
                previous = self.load()
                if previous.title != book.title and previous.source != source_path:
                    raise BookNameError(
                        f"{self.root} holds another book, {previous.title!r} from "
                        f"{previous.source}; pass --book-name to write this one elsewhere",
                        where=source,
                    )
                planning = {
                    "planning_usage": previous.planning_usage,
                    "planning_calls": previous.planning_calls,
                    "planning_cost_usd": previous.planning_cost_usd,
                }
                old = {state.number: state for state in previous.detached}
                old.update({state.number: state for state in previous.chapters})
                created = previous.created_at
                self.book_changed = previous.book_hash not in (None, book.book_hash())
            states = [
                self._reconcile(book, chapter, old.pop(chapter.number, None))
                for chapter in book.chapters
            ]
            self._manifest = Manifest(
                book=self.name,
                title=book.title,
                source=source_path,
                book_hash=book.book_hash(),
                created_at=created,
                updated_at=now,
                chapters=states,
                detached=sorted(old.values(), key=lambda state: state.number),
                **planning,
            )
            manifest = self._manifest
        atomic_write_text(self.root / OUTLINE, book.model_dump_json(indent=2) + "\n")
        if self._journal is None:
            self._journal = Journal(self.journal_path)
        self.checkpoint()
        return manifest

    def _sweep_temp_files(self) -> None:
        """Remove temp files a killed writer left behind (call with the lock held)."""
        for folder in (self.root, self.chapters_dir, self.root / DRAFTS):
            for path in folder.glob(".*.tmp"):
                path.unlink(missing_ok=True)

    def _reconcile(
        self, book: BookSpec, chapter: ChapterSpec, old: ChapterState | None
    ) -> ChapterState:
        spec_hash = book.spec_hash(chapter)
        if old is None:
            return ChapterState(number=chapter.number, title=chapter.title, spec_hash=spec_hash)
        state = old.model_copy()
        state.title = chapter.title
        if state.status == "running":
            state.status = "pending"
            path = self.root / self.chapter_relpath(chapter)
            started = old.started_at or 0.0
            if old.spec_hash == spec_hash and path.is_file() and path.stat().st_mtime >= started:
                text = path.read_text(encoding="utf-8")
                state.status = "completed"
                state.file = self.chapter_relpath(chapter)
                state.sha256 = sha256_text(text)
                state.words = count_words(chapter_body(text))
                state.error = None
        return state

    def plan(self, book: BookSpec, requested: list[int], *, force: bool) -> ResumePlan:
        """Decide which of ``requested`` to generate. A completed chapter whose file
        exists and whose spec is unchanged is skipped unless ``force``."""
        to_run: list[int] = []
        skipped: list[int] = []
        reasons: dict[int, str] = {}
        for number in requested:
            chapter = book.chapter(number)
            state = self.manifest.state(number)
            if state.status != "completed":
                to_run.append(number)
                continue
            if force:
                reasons[number] = "--force"
            elif state.spec_hash != book.spec_hash(chapter):
                reasons[number] = "its outline entry changed"
            elif not state.file or not (self.root / state.file).is_file():
                reasons[number] = "its file is missing"
            else:
                skipped.append(number)
                continue
            to_run.append(number)
        return ResumePlan(to_run=to_run, skipped=skipped, reasons=reasons)

    def write_draft(self, number: int, iteration: int, text: str) -> str:
        """Checkpoint one version of a chapter: ``drafts/NN-iK.md``; returns its path."""
        relpath = f"{DRAFTS}/{number:02d}-i{iteration}.md"
        try:
            atomic_write_text(self.root / relpath, text.strip() + "\n")
        except FileNotFoundError:  # the first draft of the book (or the folder removed)
            (self.root / DRAFTS).mkdir(exist_ok=True)
            atomic_write_text(self.root / relpath, text.strip() + "\n")
        return relpath

    def read_text(self, relpath: str) -> str | None:
        path = self.root / relpath
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def other_chapters(self, number: int, *, limit: int = OTHER_CHAPTERS) -> dict[int, str]:
        """The saved text of the completed chapters nearest to ``number`` (for the
        cross-chapter checks): at most ``limit``, so a long book costs the same per chapter."""
        with self._lock:
            done = self._completed_files()
            numbers = sorted(done)
            # The nearest ``limit`` by distance, walking out from ``number`` both ways.
            right = bisect.bisect_left(numbers, number)
            left = right - 1
            if right < len(numbers) and numbers[right] == number:
                right += 1
            nearest: list[tuple[int, str]] = []
            while len(nearest) < limit and (left >= 0 or right < len(numbers)):
                if right >= len(numbers) or (
                    left >= 0 and number - numbers[left] <= numbers[right] - number
                ):
                    nearest.append((numbers[left], done[numbers[left]]))
                    left -= 1
                else:
                    nearest.append((numbers[right], done[numbers[right]]))
                    right += 1
            cached = [self._bodies.get(relpath) for _, relpath in nearest]
        texts = {}
        for (other, relpath), entry in zip(nearest, cached, strict=True):
            body = self._body_of(relpath, entry)
            if body is not None:
                texts[other] = body
        return texts

    def _completed_files(self) -> dict[int, str]:
        """Completed outline chapters and their files (call with ``_lock`` held): kept
        up to date by update_chapter, so a job does not scan the whole manifest."""
        if self._done is None or self._done_of is not self._manifest:
            self._done = {
                s.number: s.file
                for s in self.manifest.chapters
                if s.status == "completed" and s.file
            }
            self._done_of = self._manifest
        return self._done

    def _body_of(
        self, relpath: str, cached: tuple[str, tuple[int, int, int], str] | None
    ) -> str | None:
        """A chapter file's body, read once and kept while the file is unchanged (a
        chapter job compares against up to 30 others: rereading them all cost more than
        the comparison). ``cached`` is its ``_bodies`` entry, looked up by the caller
        for all of them under one lock."""
        # pathlib cost more than the stat
        path = cached[0] if cached is not None else os.path.join(self._root_text, relpath)
        try:
            key = _file_key(os.stat(path))
        except OSError:
            return None
        if cached is not None and cached[1] == key:
            return cached[2]
        try:
            body = read_chapter_body(Path(path))
        except OSError:
            return None
        with self._lock:
            self._bodies[relpath] = (path, key, body)
        return body

    def _remember_body(self, relpath: str, path: Path, body: str) -> None:
        """Keep a chapter this process just wrote, so no other job reads it back."""
        try:
            stat = path.stat()
        except OSError:
            return
        with self._lock:
            self._bodies[relpath] = (str(path), _file_key(stat), body)

    def write_chapter(self, chapter: ChapterSpec, text: str) -> tuple[str, str]:
        """Save a finished chapter; returns (relative path, sha256 of the file)."""
        relpath = self.chapter_relpath(chapter)
        content = f"# Chapter {chapter.number}: {chapter.title}\n\n{text.strip()}\n"
        path = self.root / relpath
        atomic_write_text(path, content)
        self._remember_body(relpath, path, chapter_body(content))
        return relpath, sha256_text(content)


def _file_key(stat: os.stat_result) -> tuple[int, int, int]:
    """What tells one version of a file from another. Atomic writes replace the inode,
    so a rewritten file never matches its old key."""
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _replace_state(manifest: Manifest, state: ChapterState) -> None:
    for states in (manifest.chapters, manifest.detached):
        for index, old in enumerate(states):
            if old.number == state.number:
                states[index] = state
                return


def chapter_body(chapter_file_text: str) -> str:
    """The chapter text without its ``# Chapter N: Title`` heading."""
    lines = chapter_file_text.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join(lines)


def read_chapter_body(path: Path) -> str:
    return chapter_body(path.read_text(encoding="utf-8"))
