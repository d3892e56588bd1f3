"""A round's test files after the filters (``Judged``), and re-writing them: the extended project files left with
only the project's own tests are put back as they were, and a re-admitted test's file is re-written from the
round's text without the tests still dropped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path

from handoff.assurance import (
    bound_calls,
    built_type_checks,
    dunder_calls,
    engine_messages,
    generated_source,
    none_comparisons,
    readable_names,
    target_names,
    unused_code,
)
from handoff.assurance.coverage_runs import TargetCoverage
from handoff.assurance.filters import FilterReport
from handoff.runners.openhands.changes import ChangeSet
from handoff.schemas.events import RoundCounts, Verdict


def restore_unextended(tree: Path, originals: Mapping[str, tuple[bytes, list[str]]]) -> set[str]:
    """Put back the snapshot's version of each extended test file left with only the project's own tests."""
    restored = set()
    for name, (original, own) in originals.items():
        path = tree / name
        if not path.is_file():
            continue
        try:
            left = {t.qualname for t in generated_source.find_tests(path.read_text())}
        except (SyntaxError, ValueError, UnicodeDecodeError):
            continue  # the filters failed the whole file: it stays as judged
        if left <= set(own):
            path.write_bytes(original)
            restored.add(name)
    return restored


def tidy_generated(
    tree: Path, names: Sequence[str], originals: Mapping[str, tuple[bytes, list[str]]], targets: Sequence[str] = ()
) -> None:
    """Before the round's tests are judged: no ``assert isinstance(x, C)`` right after ``x = C(...)``
    (``built_type_checks``), readable names for their numbered locals (``readable_names``), operators for special
    methods called by name (``dunder_calls``), methods of the ``targets``' classes called as a reader would rather
    than through the class (``bound_calls``), ``is None`` for ``== None`` (``none_comparisons``), and no ``match=``
    quoting a generator's stand-in types (``engine_messages``); the project's own tests of an extended file stay as
    they are."""
    classes = _target_classes(tree, targets)
    for name in names:
        path = tree / name
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError):
            continue  # the filters fail such a file as a whole
        own = originals[name][1] if name in originals else ()
        tidied = built_type_checks.without_built_type_checks(text, skip=own)
        tidied = dunder_calls.plain_operators(readable_names.readable(tidied, skip=own), skip=own)
        tidied = bound_calls.on_the_object(tidied, classes, skip=own)
        tidied = none_comparisons.identity_checks(tidied, skip=own)
        tidied = engine_messages.without_stand_in_matches(tidied, skip=own)
        if tidied != text:
            path.write_text(tidied)


def _target_classes(tree: Path, targets: Sequence[str]) -> dict[str, target_names.Members]:
    """What each class of the targets defines, by class name (a target that cannot be read adds none; of two
    classes of one name, the first target's)."""
    found: dict[str, target_names.Members] = {}
    for target in targets:
        try:
            members = target_names.members((tree / target).read_text())
        except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
            continue
        for cls, defined in members.items():
            found.setdefault(cls, defined)
    return found


def tests_in(tree: Path, name: str) -> set[str]:
    """The node ids (without parameters) of the test functions in ``name``; none when it cannot be read."""
    try:
        found = generated_source.find_tests((tree / name).read_text())
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return set()
    return {f"{name}::{t.qualname.replace('.', '::')}" for t in found}


def decoded(originals: Mapping[str, tuple[bytes, list[str]]]) -> dict[str, str]:
    """The snapshot's text of each extended test file (what the filters leave of its imports)."""
    return {name: original.decode(errors="replace") for name, (original, _) in originals.items()}


def texts(tree: Path, names: Sequence[str]) -> dict[str, str]:
    texts = {}
    for name in names:
        try:
            texts[name] = (tree / name).read_text()
        except (OSError, UnicodeDecodeError):
            continue  # the filters fail such a file as a whole; nothing of it can be re-admitted
    return texts


def write_back(tree: Path, judged: Judged, rescued: set[str], also: AbstractSet[str] = frozenset()) -> set[str]:
    """Re-write the rescued tests' files (and the files of ``also``, tests re-admitted before and dropped again)
    from the round's texts without the tests still dropped (and the imports and definitions only those used); a
    generated file left without tests is deleted, and the extended files left with only the project's own tests are
    put back as they were. The files put back."""
    for name in {test.split("::", 1)[0] for test in {*rescued, *also}}:
        still = [j.test for j in judged.report.judgements if j.verdict != Verdict.KEPT and j.test not in rescued]
        dropped = {t.split("::", 1)[1].replace("::", ".") for t in still if t.startswith(name + "::")}
        source = judged.sources[name]
        project = judged.originals[name][0].decode(errors="replace") if name in judged.originals else ""
        pruned = unused_code.without_unused(source, generated_source.remove_tests(source, dropped), project)
        if name in judged.originals or generated_source.find_tests(pruned):
            (tree / name).write_text(pruned)
        else:
            (tree / name).unlink(missing_ok=True)
    return restore_unextended(tree, judged.originals)


@dataclass(frozen=True, slots=True)
class Judged:
    """One round's tests after the filters: the files left, the re-made patch and change set, the counts."""

    test_files: list[str]
    patch: bytes
    changes: ChangeSet
    counts: RoundCounts
    report: FilterReport
    final: dict[str, TargetCoverage]  # the targets' coverage by the existing tests plus the files left
    # what re-writes the files when a dropped test is re-admitted (rescue): the round's test files as handed over,
    # the extended files' snapshot versions, the round's recorded git dir and its change set before the filters
    sources: dict[str, str] = field(default_factory=dict)
    originals: dict[str, tuple[bytes, list[str]]] = field(default_factory=dict)
    git_dir: Path | None = None
    handed_changes: ChangeSet = field(default_factory=ChangeSet)

    @property
    def kept(self) -> int:
        return self.counts.kept
