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
# CrossHair: each function or method (condition) gets 1/PER_FUNCTION_SHARE of the limit, at least 1 s. It prints its
# tests only at the end, so a run cut by the limit gives none: one run over the whole module is made only when its
# conditions, at their time plus 1 s each (the per-condition time is not a hard limit: parse 1.20.2's 45 conditions at
# 4 s took 207 s), fit into 1/MODULE_RUN_MARGIN of the limit; that run is stopped at MODULE_RUN_SHARE of the limit
# and, when it crashes or is stopped, the rest goes to one run per function or method
PER_FUNCTION_SHARE = 30
MODULE_RUN_MARGIN = 2
MODULE_RUN_SHARE = 0.75
# Pynguin logs through Rich, which wraps at 80 columns off a terminal (its ERROR line and traceback cut in pieces)
LOG_COLUMNS = 300
# Pynguin: 40 % of the limit searching, 20 % choosing assertions by mutation analysis (bounded: it can take minutes),
# the rest for its start-up; its reports go to the scratch folder, never into the workspace. A module of more than
# MUTATION_STATEMENTS_PER_S statements (Python's `ast`) per second of that assertion time gets assertions from every
# value its tests observe (SIMPLE) and BIG_SEARCH_SHARE of the limit searching: its mutants do not fit that time
# (toolz 1.0.0's functoolz.py, 421 statements, 539 mutants: 96 checked in 12 s, which left 6 assertions in 46 tests),
# and its fixed costs, start-up, analysis, mutants, minimisation, writing, took 82 s with the shares above, past the
# 60 s limit, so the run was killed and wrote nothing
ASSERTION_SHARE = 0.2
SEARCH_SHARE = 0.4
MUTATION_STATEMENTS_PER_S = 10
BIG_SEARCH_SHARE = 0.25
# with `<=N)` after it: exits 0 when the module on standard input has more than N statements, 1 when not or when it
# does not parse
_STATEMENTS = 'from ast import*;exit(sum(isinstance(n,stmt)for n in walk(parse(open(0,"rb").read())))'


# the agent's terminal types the command into an interactive shell, whose line editing slows down with the line's
# length: with the merge script sent as plain base64 (33 KB) it did not finish within the command's timeout on iso8601
# 2.1.0; packed, the whole command is about 10 KB. `echo` hands it over as one line: `input()` reads it
_UNPACK = "import base64,sys,zlib;sys.stdout.buffer.write(zlib.decompress(base64.b64decode(input())))"


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
        FAILURE_LINE,
        SAY_LINE,
        # `ended ENGINE`, right after the engine's run: says how it ended unless it succeeded
        'ended() { rc=$?; case $rc in 0) ;; 124|137) say "$1 timed out after '
        f'{limit} s (HANDOFF_OFFLINE_ENGINE_S)";; *) say "$1 failed (exit $rc), '
        """$1's log says: $(why "$d/$1.log")"; tail -n 5 "$d/$1.log" | tr -s " ";; esac; }""",
    ]
    inputs = []
    for engine in settings.engines:
        lines.append(f"say {q(f'{engine} on {module} (limit {limit} s)')}")
        if engine == "crosshair":
            run = _crosshair(module, target, limit)
            inputs.append('crosshair="$d/crosshair.py"')
        else:
            run = (f"{_pynguin_budget(target, limit)}; PYNGUIN_DANGER_AWARE=1 COLUMNS={LOG_COLUMNS} timeout -k 5 "
                   f"{limit} python -m pynguin --project-path {q(root)} --module-name {q(module)} --output-path "
                   f'"$d/pynguin" --maximum-search-time $s $a --report-dir "$d/report" --seed 1 > "$d/pynguin.log" '
                   "2>&1")  # fmt: skip
            inputs.append('pynguin="$(ls "$d"/pynguin/test_*.py 2>/dev/null | head -n 1)"')
        lines.append(f"{run}; ended {engine}")
    lines.append(f'python "$d/merge.py" --module {q(module)} --out {q(test_file)} {" ".join(inputs)}')
    lines.append('status=$?; rm -rf "$d"; (exit $status)')
    return "; ".join(lines)


# what CrossHair covers in a module: its top-level functions and the methods of its top-level classes (`C.m`), one
# per line, public functions first, then public methods, then the rest (standard library only: the project's Python).
# Left out: methods decorated as properties (`property`, `cached_property`, `x.setter`, any `*property`) and
# classmethods. CrossHair checks a property's getter and a classmethod's function, but writes its tests as calls
# through the class: `Rect.area(Rect(0, 0))` fails with `'property' object is not callable` and
# `Rect.square(Rect, 0)` passes the class twice (parse 1.20.2's `Parser.named_fields`); a `cached_property` gives
# no test at all. The run over the whole module (CrossHair's own choice of conditions) still writes such tests: the
# filters drop them
_CONDITIONS = (
    'import ast,re,sys;F=ast.FunctionDef,ast.AsyncFunctionDef;b=ast.parse(open(sys.argv[1],"rb").read()).body;'
    'c=[n.name for n in b if isinstance(n,F)]+[k.name+"."+n.name for k in b if isinstance(k,ast.ClassDef) '
    'for n in k.body if isinstance(n,F)and not re.search(r"property|classmethod|([gs]|del)etter\\b",'
    'str([*map(ast.dump,n.decorator_list)]))];print(*sorted(c,key=lambda s:("._"in"."+s,"."in s)),sep="\\n")'
)
# `why LOG`: the line of an engine's log that says why it failed: its last ERROR line (Pynguin's `[05:08:25] ERROR
# Failed to load SUT: ... generator.py:297`, without the time and Pynguin's own source line), else its last line that
# is not blank; spaces collapsed, at most 200 characters (in Python: `cut` would split a character of Rich's boxes)
_REASON = (
    'import re,sys;L=[" ".join(w) for w in map(str.split,open(sys.argv[1],errors="replace")) if w];'
    'E=[l for l in L if re.match(r"(\\[[\\d:]+\\] )?ERROR ",l)];'
    'print(re.sub(r"^\\[[\\d:]+\\] | \\w+\\.py:\\d+$","",(E or L or[""])[-1])[:200])'
)
FAILURE_LINE = f'why() {{ python -c {shlex.quote(_REASON)} "$1"; }}'
# `say TEXT`: one line of the engine's report, `offline engine: TEXT`
SAY_LINE = 'say() { echo "offline engine: $*"; }'


def _pynguin_budget(target: str, limit: int) -> str:
    """Sets ``$s``, Pynguin's search time, and ``$a``, its assertion flags, for ``target``: mutation analysis within
    ASSERTION_SHARE of the limit or, for a module too big for that (see ``MUTATION_STATEMENTS_PER_S``), SIMPLE
    assertions and BIG_SEARCH_SHARE of the limit searching. A module that does not parse gets the former (Pynguin
    then says why it cannot load it)."""
    assertions = max(1, int(limit * ASSERTION_SHARE))
    count = shlex.quote(f"{_STATEMENTS}<={assertions * MUTATION_STATEMENTS_PER_S})")
    return (
        f"python -c {count} <{shlex.quote(target)} 2>/dev/null && s={max(1, int(limit * BIG_SEARCH_SHARE))} "
        f'a="--assertion-generation SIMPLE" || s={max(1, int(limit * SEARCH_SHARE))} '
        f'a="--maximum-mutation-time {assertions}"'
    )


def _crosshair(module: str, target: str, limit: int) -> str:
    """CrossHair on the whole module when its conditions fit the limit (see ``PER_FUNCTION_SHARE``); else, or when
    that run crashes (exit 1: it stops at the first function it cannot handle, e.g. one with a ``Literal[...]``
    parameter) or is stopped, function by function within what is left of the limit, so that one such function costs
    its own tests only and a big module still gives those of the functions there is time for. Leaves CrossHair's exit
    status in ``$?`` (0 if any function gave tests, 124 if the time ran out before any did)."""
    q = shlex.quote
    per_function = max(1, limit // PER_FUNCTION_SHARE)
    module_s = max(1, int(limit * MODULE_RUN_SHARE))
    each = "; trying function by function"
    return (
        f"m={q(module)}; start=$SECONDS; rc=0; set -- $(python -c {q(_CONDITIONS)} {q(target)} 2>/dev/null); "
        f'c="python -m crosshair cover --example_output_format=pytest --per_condition_timeout={per_function}"; '
        f"if [ $(($# * {(per_function + 1) * MODULE_RUN_MARGIN})) -gt {limit} ]; then "
        f'say "crosshair: $m has $# functions and methods, too many for one run within '
        f'{limit} s{each}"; '
        f'else timeout -k 5 {module_s} $c $m > "$d/crosshair.py" 2> "$d/crosshair.log"; rc=$?; case $rc in '
        f'1) say "crosshair failed on the module (exit 1): $(why "$d/crosshair.log"){each}";; '
        f'124|137) say "crosshair timed out on the module after {module_s} s{each}";; '
        # 0: done; 2: the module does not import, nor would a function (then nothing more is tried)
        '*) set --;; esac; [ $# -gt 0 ] && : > "$d/crosshair.py"; fi; '
        f"for f; do left=$(({limit} - (SECONDS - start))); if [ $left -lt 2 ]; then rc=124; "
        'say "crosshair: no time left for $m.$f and the rest"; break; fi; '
        'timeout -k 5 $left $c $m."$f" > "$d/f.py" 2>> "$d/crosshair.log"; case $? in '
        '0) cat "$d/f.py" >> "$d/crosshair.py";; '  # not what a stopped run may have half-written
        '124|137) rc=124; say "crosshair timed out on $m.$f";; '
        '*) rc=1; say "crosshair failed on $m.$f";; esac; done; '
        '[ -s "$d/crosshair.py" ] && rc=0; (exit $rc)'
    )
