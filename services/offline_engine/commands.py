"""The terminal command that runs the offline engines on one target and writes the merged test file.

Everything runs with the ``python`` first on the terminal's PATH: the project's environment, where the engines
are installed. Each engine gets ``timeout`` seconds (coreutils ``timeout``, then SIGKILL 5 s later); a timeout or a
crash is printed as a line starting ``offline engine:`` and the other engine's tests are still used.
"""

from __future__ import annotations

import ast
import base64
import io
import shlex
import tokenize
import zlib
from pathlib import Path, PurePosixPath

from handoff.offline_engine.settings import OfflineEngineSettings
from handoff.scripted_model.policies import module_name

MERGE_SCRIPT = Path(__file__).with_name("merge_tests.py")
# CrossHair prints its tests only at the end: each function (condition) gets 1/PER_FUNCTION_SHARE of the limit so
# that a module of a few dozen functions finishes inside it
PER_FUNCTION_SHARE = 30
# Pynguin: 40 % of the limit searching, 20 % choosing assertions by mutation analysis (bounded: it can take minutes),
# the rest for its start-up; its reports go to the scratch folder, never into the workspace
ASSERTION_SHARE = 0.2
SEARCH_SHARE = 0.4


# the agent's terminal types the command into an interactive shell, whose line editing slows down with the line's
# length: with the merge script sent as plain base64 (33 KB) it did not finish within the command's timeout on iso8601
# 2.1.0; packed, the whole command is about 10 KB
_UNPACK = (
    "import base64, sys, zlib; sys.stdout.buffer.write(zlib.decompress(base64.b64decode(sys.stdin.buffer.read())))"
)


def merge_script_source() -> str:
    """``merge_tests.py`` as it runs in the project's Python, where Handoff is not installed: each import of a
    module of this package (``from handoff.offline_engine.raises_match import readable_matches``) replaced by that
    module's lines, without its docstring and ``from __future__`` imports (the script's own stand first)."""
    lines = MERGE_SCRIPT.read_text().splitlines(keepends=True)
    for node in reversed(ast.parse("".join(lines)).body):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(f"{__package__}."):
            helper = MERGE_SCRIPT.with_name(f"{(node.module or '').rsplit('.', 1)[1]}.py")
            lines[node.lineno - 1 : node.end_lineno] = _module_code(helper.read_text())
    return "".join(lines)


def _module_code(source: str) -> list[str]:
    tree = ast.parse(source)
    drop: set[int] = set()  # 0-based line numbers
    for index, node in enumerate(tree.body):
        docstring = index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if docstring or (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            drop.update(range(node.lineno - 1, node.end_lineno or node.lineno))
    return [line for index, line in enumerate(source.splitlines(keepends=True)) if index not in drop]


def packed_merge_script() -> str:
    """``merge_tests.py`` (``merge_script_source``) without its comments and docstrings (but the module docstring's
    first line), compressed, in base64. Lines are cut from the source, never re-written: ``ast.unparse`` on this
    Python writes f-strings an older project Python cannot read."""
    source = merge_script_source()
    tree = ast.parse(source)
    drop: set[int] = set()  # 0-based line numbers
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str) and len(body) > 1):  # fmt: skip
            docstring = body[0]
            drop.update(range(docstring.lineno - 1, docstring.end_lineno or docstring.lineno))
    comments = {token.start[0] - 1: token.start[1] for token in tokenize.generate_tokens(io.StringIO(source).readline)
                if token.type == tokenize.COMMENT}  # fmt: skip
    lines = source.splitlines(keepends=True)
    kept = [line[: comments[i]].rstrip() + "\n" if i in comments else line
            for i, line in enumerate(lines) if i not in drop]  # fmt: skip
    first_line = (ast.get_docstring(tree) or "").split("\n", 1)[0]
    packed = f"{first_line!r}\n" + "".join(line for line in kept if line.strip())
    return base64.b64encode(zlib.compress(packed.encode(), 9)).decode()


def engine_command(target: str, test_file: str, settings: OfflineEngineSettings) -> str:
    """One shell command line (run from the workspace root) for ``target``, writing ``test_file``."""
    module = module_name(target)
    limit = int(settings.per_target_s)
    root = "src" if PurePosixPath(target).parts[:1] == ("src",) else "."
    script = packed_merge_script()
    q = shlex.quote
    lines = [
        'd="$(mktemp -d)"',
        f'echo {script} | python -c {q(_UNPACK)} > "$d/merge.py"',
        'export PYTHONPATH="$PWD:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"',
    ]
    inputs = []
    for engine in settings.engines:
        lines.append(f"echo {q(f'offline engine: {engine} on {module} (limit {limit} s)')}")
        if engine == "crosshair":
            run = _crosshair(module, target, limit)
            inputs.append('crosshair="$d/crosshair.py"')
        else:
            search = max(1, int(limit * SEARCH_SHARE))
            assertions = max(1, int(limit * ASSERTION_SHARE))
            run = (f"PYNGUIN_DANGER_AWARE=1 timeout -k 5 {limit} python -m pynguin --project-path {q(root)} "
                   f'--module-name {q(module)} --output-path "$d/pynguin" --maximum-search-time {search} '
                   f'--maximum-mutation-time {assertions} --report-dir "$d/report" '
                   f'--seed 1 > "$d/pynguin.log" 2>&1')  # fmt: skip
            inputs.append('pynguin="$(ls "$d"/pynguin/test_*.py 2>/dev/null | head -n 1)"')
        lines.append(
            f"{run}; rc=$?; "
            f"if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then "
            f'echo "offline engine: {engine} timed out after {limit} s (HANDOFF_OFFLINE_ENGINE_S)"; '
            f"elif [ $rc -ne 0 ]; then "
            f"echo \"offline engine: {engine} failed (exit $rc), {engine}'s own last log line: "
            f'$(tail -n 1 "$d/{engine}.log" | cut -c1-200)"; tail -n 5 "$d/{engine}.log"; fi'
        )
    lines.append(f'python "$d/merge.py" --module {q(module)} --out {q(test_file)} {" ".join(inputs)}')
    lines.append('status=$?; rm -rf "$d"; (exit $status)')
    return "; ".join(lines)


# the module's public top-level functions, one per line (standard library only: runs with the project's Python)
_FUNCTIONS = (
    "import ast, sys; print(*(n.name for n in ast.parse(open(sys.argv[1], 'rb').read()).body "
    "if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and not n.name.startswith('_')), sep=chr(10))"
)


def _crosshair(module: str, target: str, limit: int) -> str:
    """CrossHair on the whole module; if it crashes (exit 1: it stops at the first function it cannot handle, e.g.
    one with a ``Literal[...]`` parameter), again function by function within what is left of the limit, so that one
    such function costs its own tests only. Leaves CrossHair's exit status in ``$rc``'s place (0 if any function
    gave tests)."""
    q = shlex.quote
    per_function = max(1, limit // PER_FUNCTION_SHARE)
    cover = f"python -m crosshair cover --example_output_format=pytest --per_condition_timeout={per_function}"
    return (
        f'start=$SECONDS; timeout -k 5 {limit} {cover} {q(module)} > "$d/crosshair.py" 2> "$d/crosshair.log"; '
        "rc=$?; "
        "if [ $rc -eq 1 ]; then "  # a crash inside the run (2: the module does not import, nor would a function)
        'echo "offline engine: crosshair failed on the module (exit $rc): '
        '$(tail -n 1 "$d/crosshair.log" | cut -c1-200); trying function by function"; : > "$d/crosshair.py"; '
        f"for f in $(python -c {q(_FUNCTIONS)} {q(target)} 2>/dev/null); do "
        f"left=$(({limit} - (SECONDS - start))); "
        'if [ $left -lt 2 ]; then echo "offline engine: crosshair: no time left for $f and the rest"; break; fi; '
        f'timeout -k 5 $left {cover} {q(module)}."$f" >> "$d/crosshair.py" 2>> "$d/crosshair.log" '
        f'|| echo "offline engine: crosshair failed on {module}.$f"; done; '
        '[ -s "$d/crosshair.py" ] && rc=0; '
        "fi; (exit $rc)"
    )
