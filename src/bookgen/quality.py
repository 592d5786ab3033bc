"""The enhance loop: prompt -> generate -> analyze -> enhance, until the chapter is good.

A chapter's first draft is measured by the analyzers. While it is unacceptable (a hard
defect) or scores under ``--quality-threshold``, and calls remain (``--max-iterations``
counts the calls a chapter may make):

1. rules repair what they can without a call (strip leaked chatter and code fences,
   cut a degenerate repeated tail), and the result is measured again;
2. otherwise a truncated or merely short draft gets a continuation call, and any
   other draft a revision call that carries the draft and the findings.

The best version so far is kept (an acceptable one over an unacceptable one, then the
higher score). The loop stops at the threshold, at the iteration limit, or when a new
version does not improve on the best (plateau). Every version is checkpointed before
the next call is paid for: ``drafts/NN-iK.md`` and its scores and findings in the
manifest, so a crash resumes at the last finished iteration. The best version is
the chapter file, written when the loop ends (a crash just before its manifest line
is adopted on resume, see ``BookStore.prepare``), and not copied to drafts/ unless it
was checkpointed: a draft accepted at once costs one file, not two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bookgen.analyzers import Analysis, analyze
from bookgen.analyzers.base import Draft as AnalyzerDraft
from bookgen.analyzers.base import GenreStyle
from bookgen.analyzers.leaks import strip_leaks
from bookgen.analyzers.loops import cut_repeated_tail
from bookgen.errors import BadRequestError
from bookgen.events import Event
from bookgen.store import CHAPTERS, chapter_body, count_words

if TYPE_CHECKING:
    from bookgen.pipeline import ChapterJob

# A new version must beat the best by this much to count as progress.
PLATEAU_EPSILON = 0.01
# "The End", "To be continued" and the like as the last line of a chapter that is not last.
_END_MARKER = re.compile(
    r"\n\s*[#*_ -]*(?:the end|fin|finis|to be continued)[.!…]*[#*_ -]*\s*$", re.IGNORECASE
)


def strip_end_marker(text: str) -> str:
    """Remove a closing end-of-book marker line (a rule repair; no call needed)."""
    stripped = _END_MARKER.sub("", text.rstrip())
    return stripped if stripped != text.rstrip() else text


@dataclass
class Version:
    text: str
    finish_reason: str
    analysis: Analysis
    kind: str  # draft, continuation, revision, repair
    iteration: int
    calls: int  # generation calls spent up to and including this version

    @property
    def rank(self) -> tuple[bool, float]:
        return (self.analysis.acceptable, self.analysis.score)

    @property
    def words(self) -> int:
        return count_words(self.text)


class QualityLoop:
    """Runs the loop for one chapter job (its provider calls go through the job)."""

    def __init__(self, job: ChapterJob) -> None:
        self.job = job
        self.ctx = job.ctx
        self.chapter = job.chapter
        self.records: list[dict[str, Any]] = []
        self.unsaved: list[Version] = []  # recorded, not yet in drafts/ (see checkpoint)
        self.others = self.ctx.store.other_chapters(self.chapter.number)

    # --- measuring -----------------------------------------------------------------

    def measure(self, text: str, finish_reason: str) -> Analysis:
        ctx, chapter = self.ctx, self.chapter
        bible = ctx.prompts.bible
        required: frozenset[str] = frozenset()
        known: frozenset[str] = ctx.known_names
        if bible is not None and (contract := bible.contract(chapter.number)) is not None:
            required = frozenset(part for name in contract.characters for part in name.split()[:1])
        preset = ctx.prompts.preset
        return analyze(
            AnalyzerDraft(
                text=text,
                number=chapter.number,
                title=chapter.title,
                target_words=ctx.book.target_for(chapter),
                finish_reason=finish_reason,
                is_last=ctx.book.is_last(chapter),
                audience=ctx.book.audience,
                style=GenreStyle(
                    ctx.book.genre,
                    float(preset["dialogue_min"]),
                    float(preset["dialogue_max"]),
                    float(preset["sentence_cv_min"]),
                ),
                others=self.others,
                known_names=known,
                required_names=required,
            )
        )

    def good(self, version: Version) -> bool:
        return version.analysis.acceptable and version.analysis.score >= self.ctx.quality_threshold

    # --- checkpoints -----------------------------------------------------------------

    def record(self, version: Version) -> None:
        """Note a version's scores and findings; ``checkpoint`` puts it on disk."""
        self.records.append(
            {
                "iteration": version.iteration,
                "kind": version.kind,
                "calls": version.calls,
                "finish_reason": version.finish_reason,
                "file": None,
                **version.analysis.as_json(),
            }
        )
        self.unsaved.append(version)

    def checkpoint(self) -> None:
        """The versions recorded so far on disk and in the manifest, before anything
        else is paid for."""
        if self.unsaved:
            self._write_drafts(self.unsaved)
            self.ctx.store.update_chapter(self.chapter.number, iterations=list(self.records))

    def finish(self, best: Version, relpath: str) -> list[dict[str, Any]]:
        """The records to save with the finished chapter, whose file (``relpath``) holds
        ``best``; the other versions not yet on disk go to drafts/ first."""
        self._write_drafts([v for v in self.unsaved if v is not best])
        record = self._record_of(best)
        if record["file"] is None:
            record["file"] = relpath
        return list(self.records)

    def _write_drafts(self, versions: list[Version]) -> None:
        for version in versions:
            self._record_of(version)["file"] = self.ctx.store.write_draft(
                self.chapter.number, version.iteration, version.text
            )
        self.unsaved.clear()

    def _record_of(self, version: Version) -> dict[str, Any]:
        return next(r for r in self.records if r["iteration"] == version.iteration)

    def resume(self, records: list[dict[str, Any]]) -> list[Version]:
        """The versions a crashed run finished, read back from drafts/."""
        versions = []
        for record in records:
            file = record.get("file")
            text = self.ctx.store.read_text(str(file)) if file else None
            if text is None:
                break
            if str(file).startswith(f"{CHAPTERS}/"):
                # The version that became the chapter file (a chapter whose job failed
                # after saving it): its heading is not part of the text.
                text = chapter_body(text).strip()
            finish = str(record.get("finish_reason", "stop"))
            versions.append(
                Version(
                    text,
                    finish,
                    self.measure(text, finish),
                    str(record["kind"]),
                    int(record["iteration"]),
                    int(record["calls"]),
                )
            )
            self.records.append(record)
        return versions

    # --- the loop ----------------------------------------------------------------------

    def run(self, resumed: list[dict[str, Any]]) -> Version:
        versions = self.resume(resumed) if resumed else []
        if not versions:
            before = self.job.calls
            completion = self.job.generate(
                self.ctx.prompts.chapter(self.chapter),
                self.job.target,
                max_calls=self.ctx.max_iterations,
            )
            first = Version(
                completion.text.strip(),
                completion.finish_reason,
                self.measure(completion.text.strip(), completion.finish_reason),
                "draft",
                1,
                self.job.calls - before,
            )
            self.record(first)
            versions = [first]
        best = max(versions, key=lambda v: v.rank)
        current = versions[-1]
        while not self.good(best):
            repaired_text = cut_repeated_tail(strip_leaks(current.text))
            if not self.ctx.book.is_last(self.chapter):
                repaired_text = strip_end_marker(repaired_text)
            if repaired_text.strip() and repaired_text != current.text:
                current = self.next_version(
                    current, repaired_text, current.finish_reason, "repair", current.calls
                )
            elif current.calls >= self.ctx.max_iterations:
                break
            else:
                enhanced = self.enhance(current)
                if enhanced is None:
                    break
                current = enhanced
            if current.rank > best.rank and (
                current.analysis.acceptable != best.analysis.acceptable
                or current.analysis.score > best.analysis.score + PLATEAU_EPSILON
            ):
                best = current
            elif current.kind != "repair" and best.analysis.acceptable:
                # Plateau: an acceptable draft that another call does not improve is kept.
                # An unacceptable one is worth the calls that remain.
                break
        return best

    def next_version(
        self, previous: Version, text: str, finish: str, kind: str, calls: int
    ) -> Version:
        version = Version(
            text, finish, self.measure(text, finish), kind, previous.iteration + 1, calls
        )
        self.record(version)
        return version

    def enhance(self, current: Version) -> Version | None:
        """The next version from a continuation or a revision call; None when the
        provider refuses the request itself (say, a draft too long for a small context
        window to continue): the best version so far is then the chapter."""
        prompts, chapter, target = self.ctx.prompts, self.chapter, self.job.target
        hard = {f.analyzer for f in current.analysis.findings if f.severity == "hard"}
        truncated = current.finish_reason == "length" or "truncation" in hard
        before = self.job.calls
        remaining = self.ctx.max_iterations - current.calls
        self.checkpoint()
        try:
            if truncated or (hard == {"length"} and current.words < target):
                missing = max(target - current.words, 1)
                messages = prompts.continuation(chapter, current.text)
                completion = self.job.generate(messages, missing, max_calls=remaining)
                text = current.text.rstrip() + "\n\n" + completion.text.strip()
                kind = "continuation"
            else:
                findings = [finding.message for finding in current.analysis.findings]
                messages = prompts.revision(chapter, current.text, findings)
                completion = self.job.generate(messages, target, max_calls=remaining)
                text = completion.text.strip()
                kind = "revision"
        except BadRequestError as exc:
            message = f"stopped improving the chapter: the provider refused the request ({exc})"
            self.ctx.events(Event("notice", chapter.number, chapter.title, {"message": message}))
            return None
        calls = current.calls + self.job.calls - before
        return self.next_version(current, text, completion.finish_reason, kind, calls)
