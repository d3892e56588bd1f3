"""Screening the agent's changes against a fresh copy: only test files by default, and nothing dangerous ever."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from handoff.common.secrets import Redactor
from handoff.runners.openhands import changes
from handoff.runners.openhands import workspace as ws
from handoff.runners.openhands.changes import ChangePolicy
from handoff.runners.openhands.secret_scan import SecretScanner
from handoff.schemas.events import RefusalReason
from tests.runners.conftest import PASSING_TEST, SAMPLE, TARGET, TEST_FILE

WORKER_SECRET = "nats-pw-7c1e9b2d4f"
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLQ"
NKEY_SEED = "SU" + "A" * 56


@pytest.fixture
def trees(tmp_path: Path) -> tuple[Path, Path]:
    workspace, clean = tmp_path / "workspace", tmp_path / "clean"
    shutil.copytree(SAMPLE, workspace)
    shutil.copytree(SAMPLE, clean)
    return workspace, clean


def policy(*, allow_source: bool = False, max_file_bytes: int = 1_000_000) -> ChangePolicy:
    return ChangePolicy(
        test_dir="tests",
        allow_source=allow_source,
        max_file_bytes=max_file_bytes,
        scanner=SecretScanner(Redactor([WORKER_SECRET])),
    )


def refused(found: changes.ChangeSet) -> dict[str, RefusalReason]:
    return {r.path: r.reason for r in found.refused}


def test_a_source_change_is_dropped_and_listed_while_the_test_file_is_accepted(trees: tuple[Path, Path]) -> None:
    """Editing the module under test is refused as source_change; the new test file is accepted."""
    workspace, clean = trees
    (workspace / TARGET).write_text("def area(a, b):\n    return 7\n")
    (workspace / TEST_FILE).write_text(PASSING_TEST)
    found = changes.screen(workspace, clean, policy())
    assert [(c.status, c.path) for c in found.accepted] == [("A", TEST_FILE)]
    assert refused(found) == {TARGET: RefusalReason.SOURCE_CHANGE}
    changes.apply(found.accepted, workspace, clean)
    assert (clean / TEST_FILE).read_text() == PASSING_TEST
    assert (clean / TARGET).read_text() == (SAMPLE / TARGET).read_text()


def test_source_changes_are_kept_when_the_runner_allows_them(trees: tuple[Path, Path]) -> None:
    """With allow_source the edited module and a deleted README are accepted and applied."""
    workspace, clean = trees
    (workspace / TARGET).write_text("changed\n")
    (workspace / "README.md").unlink()
    found = changes.screen(workspace, clean, policy(allow_source=True))
    assert sorted((c.status, c.path) for c in found.accepted) == [("D", "README.md"), ("M", TARGET)]
    changes.apply(found.accepted, workspace, clean)
    assert (clean / TARGET).read_text() == "changed\n" and not (clean / "README.md").exists()


def test_test_files_are_recognised_by_directory_and_by_name() -> None:
    """The test dir, test_*.py, *_test.py and conftest.py count as test files; other modules do not."""
    assert changes.is_test_file("tests/data/fixture.json", "tests")
    assert changes.is_test_file("shapes/test_geometry.py", "tests")
    assert changes.is_test_file("shapes/geometry_test.py", "tests")
    assert changes.is_test_file("conftest.py", "tests")
    assert not changes.is_test_file("shapes/geometry.py", "tests")
    assert not changes.is_test_file("tests", "tests")
    assert not changes.is_test_file("testsuite/x.py", "tests")


def test_a_symlink_out_of_the_repo_is_refused_even_in_the_test_dir(trees: tuple[Path, Path]) -> None:
    """tests/creds_link -> /etc/passwd is refused as symlink, so is a link to a directory; neither is applied."""
    workspace, clean = trees
    (workspace / "tests" / "creds_link").symlink_to("/etc/passwd")
    (workspace / "tests" / "data").symlink_to("/")
    found = changes.screen(workspace, clean, policy())
    assert refused(found) == {"tests/creds_link": RefusalReason.SYMLINK, "tests/data": RefusalReason.SYMLINK}
    assert found.accepted == []


def test_a_fifo_is_refused_as_a_special_file(trees: tuple[Path, Path]) -> None:
    """A named pipe in the test dir is refused as special_file."""
    workspace, clean = trees
    os.mkfifo(workspace / "tests" / "pipe")
    assert refused(changes.screen(workspace, clean, policy())) == {"tests/pipe": RefusalReason.SPECIAL_FILE}


def test_an_executable_bit_alone_is_refused_and_new_files_are_handed_over_without_it(trees: tuple[Path, Path]) -> None:
    """chmod +x on an existing test is a mode_change; a new executable test is applied as 0644."""
    workspace, clean = trees
    existing = workspace / "tests" / "test_package.py"
    existing.chmod(0o755)
    new = workspace / TEST_FILE
    new.write_text(PASSING_TEST)
    new.chmod(0o755)
    found = changes.screen(workspace, clean, policy())
    assert refused(found) == {"tests/test_package.py": RefusalReason.MODE_CHANGE}
    changes.apply(found.accepted, workspace, clean)
    assert stat.S_IMODE((clean / TEST_FILE).stat().st_mode) == 0o644


def test_a_file_over_the_artifact_limit_is_refused(trees: tuple[Path, Path]) -> None:
    """A test file larger than the limit is refused as too_large."""
    workspace, clean = trees
    (workspace / TEST_FILE).write_text(PASSING_TEST)
    found = changes.screen(workspace, clean, policy(max_file_bytes=100))
    assert refused(found) == {TEST_FILE: RefusalReason.TOO_LARGE}


@pytest.mark.parametrize(
    "line",
    [f"PASSWORD = '{WORKER_SECRET}'", f"KEY = '{AWS_KEY}'", f"SEED = '{NKEY_SEED}'", "-----BEGIN RSA PRIVATE KEY-----"],
    ids=["worker secret", "aws key", "nkey seed", "private key"],
)
def test_a_test_file_holding_a_secret_or_a_credential_is_refused(trees: tuple[Path, Path], line: str) -> None:
    """A configured secret or a credential-shaped string drops the file with reason secret."""
    workspace, clean = trees
    (workspace / TEST_FILE).write_text(PASSING_TEST + f"\n{line}  # pragma: allowlist secret\n")
    (workspace / "tests" / "test_other.py").write_text("def test_x():\n    assert True\n")
    found = changes.screen(workspace, clean, policy())
    assert refused(found) == {TEST_FILE: RefusalReason.SECRET}
    assert [c.path for c in found.accepted] == ["tests/test_other.py"]
    assert line not in repr(found)


def test_ordinary_test_data_is_not_taken_for_a_credential(trees: tuple[Path, Path]) -> None:
    """Hashes, a dummy password and long hex strings in a test do not trip the scanner."""
    workspace, clean = trees
    text = PASSING_TEST + '\nDIGEST = "' + "ab12" * 16 + '"\npassword = "x"\nTOKEN_LIKE = "ZmFrZS1iYXNlNjQtZGF0YQ=="\n'
    (workspace / TEST_FILE).write_text(text)
    found = changes.screen(workspace, clean, policy())
    assert found.refused == [] and [c.path for c in found.accepted] == [TEST_FILE]


def test_a_write_through_a_symlinked_directory_of_the_snapshot_is_refused(trees: tuple[Path, Path]) -> None:
    """If the snapshot has tests -> shapes, a file the agent puts at tests/x.py after replacing the link is unsafe."""
    workspace, clean = trees
    shutil.rmtree(clean / "tests")
    (clean / "tests").symlink_to("shapes")
    shutil.rmtree(workspace / "tests")
    (workspace / "tests").mkdir()
    (workspace / TEST_FILE).write_text(PASSING_TEST)
    found = changes.screen(workspace, clean, policy())
    assert refused(found) == {"tests": RefusalReason.SYMLINK, TEST_FILE: RefusalReason.UNSAFE_PATH}
    assert found.accepted == []


def test_caches_and_a_git_dir_are_not_changes(trees: tuple[Path, Path]) -> None:
    """__pycache__, .pytest_cache, .coverage and a .git the agent made are ignored, not listed."""
    workspace, clean = trees
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)
    (workspace / "shapes" / "__pycache__").mkdir()
    (workspace / "shapes" / "__pycache__" / "geometry.cpython-312.pyc").write_bytes(b"\0")
    (workspace / ".coverage").write_bytes(b"x")
    found = changes.screen(workspace, clean, policy())
    assert found.accepted == [] and found.refused == []


def test_the_patch_of_the_clean_copy_holds_only_the_accepted_changes(trees: tuple[Path, Path], tmp_path: Path) -> None:
    """record_tree + apply + diff_tree: git apply of the patch on the snapshot gives the test file and nothing else."""
    workspace, clean = trees
    (workspace / TARGET).write_text("changed\n")
    (workspace / TEST_FILE).write_text(PASSING_TEST)
    (workspace / "tests" / "creds_link").symlink_to("/etc/passwd")
    found = changes.screen(workspace, clean, policy())
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    paths = [c.path for c in found.accepted]
    ws.record_tree(tmp_path / "clean.git", clean, env, paths)
    changes.apply(found.accepted, workspace, clean)
    patch = ws.diff_tree(tmp_path / "clean.git", clean, env, paths)
    copy = tmp_path / "copy"
    shutil.copytree(SAMPLE, copy)
    (tmp_path / "p.diff").write_bytes(patch)
    subprocess.run(["git", "apply", str(tmp_path / "p.diff")], cwd=copy, check=True, capture_output=True)
    assert (copy / TEST_FILE).read_text() == PASSING_TEST
    assert (copy / TARGET).read_text() == (SAMPLE / TARGET).read_text()
    assert b"creds_link" not in patch and b"120000" not in patch


def test_the_missing_test_dir_is_created_but_never_through_a_symlink(tmp_path: Path) -> None:
    """ensure_test_dir makes tests/ when absent, leaves an existing one, and refuses a symlink or a file."""
    (tmp_path / "a").mkdir()
    assert ws.ensure_test_dir(tmp_path / "a", "tests") and (tmp_path / "a" / "tests").is_dir()
    assert not ws.ensure_test_dir(tmp_path / "a", "tests")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "tests").symlink_to(tmp_path / "elsewhere")
    assert not ws.ensure_test_dir(tmp_path / "b", "tests/unit") and not (tmp_path / "elsewhere").exists()


def test_source_changes_are_allowed_only_by_an_explicit_runner_setting() -> None:
    """HANDOFF_ALLOW_SOURCE_CHANGES defaults to false and reads true from the environment."""
    from handoff.runners.openhands.settings import RunnerSettings

    assert not RunnerSettings.from_env({"HANDOFF_SCRIPTED_MODEL": "true"}).allow_source_changes
    env = {"HANDOFF_SCRIPTED_MODEL": "true", "HANDOFF_ALLOW_SOURCE_CHANGES": "true"}
    assert RunnerSettings.from_env(env).allow_source_changes


def test_a_coverage_html_report_the_projects_pytest_options_write_is_not_a_change(trees: tuple[Path, Path]) -> None:
    """wcwidth 0.9.4's tox.ini adds --cov-report=html to every pytest run: its htmlcov/ is not listed as 40 refused
    source changes, and the coverage data files beside it are not either."""
    workspace, clean = trees
    (workspace / "htmlcov").mkdir()
    for name in ("index.html", "status.json", "style_cb_6b508a39.css"):
        (workspace / "htmlcov" / name).write_text("x")
    (workspace / ".coverage.vm.4711.XbcdEfgh").write_bytes(b"x")
    found = changes.screen(workspace, clean, policy())
    assert found.accepted == [] and found.refused == []
