"""The mutation exercise for the guards of design invariants 3, 4, 5 and 7.

Each guard (listed in `guard_table.py`) is a piece of code that alone stands between a job
and a wrong effect (an order on someone else's account, a second order, a job dropped, an
order sent late).
For each one this script removes or disables the guard in a temporary copy of the
repository, runs the tests that are expected to notice, and says whether they did:

    killed          a named test failed with the guard gone (what we want)
    survived        every named test passed without the guard: a test is missing
    anchor-missing  the ORIGINAL snippet is not in the file (any more): the code moved;
                    fix the snippet (and MUTATED) in .ci/guards_*.py, see docs/guards.md
    anchor-ambiguous the ORIGINAL snippet occurs more than once: widen it until unique
    error           the mutated tree could not be tested (a collection error, a mutation
                    that is not valid Python, an ERROR in a fixture rather than a FAILED
                    test, no test collected): fix the entry

Before any mutation the named tests run once against the unmutated copy and must pass
(otherwise a "kill" would mean nothing). The checkout this runs from is never modified:
the tracked and untracked (not ignored) files are copied to a temporary directory, the
tests run there with this interpreter and `PYTHONPATH` pointing at the copy (checked
before anything runs), and each file is restored after its mutation.

    uv run python .ci/guard_mutations.py                 # everything (~15-25 min)
    uv run python .ci/guard_mutations.py --only M07,M12  # some guards
    uv run python .ci/guard_mutations.py --list          # the table, nothing run
    uv run python .ci/guard_mutations.py --check-anchors # anchors only, in seconds
    uv run python .ci/guard_mutations.py --markdown      # the table for docs/guards.md

The tests use DATABASE_URL when it is set (fastest: the machine's PostgreSQL), else the
embedded Postgres inside the temporary copy. A mutation of a migration makes the tests
build a template database of its own; this script drops it afterwards.

Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from guard_table import GUARDS, Guard  # .ci/ is on the path: it holds this script

REPO = Path(__file__).resolve().parents[1]
#: Per pytest run: pytest-timeout per test, and a wall-clock bound for the whole run.
TEST_TIMEOUT_S = 120
RUN_TIMEOUT_S = 600


# ---------------------------------------------------------------------------------------
# the runner
# ---------------------------------------------------------------------------------------
@dataclass
class Result:
    guard: Guard
    verdict: str
    #: The file mutated (a migration resolved to the newest definition).
    file: str
    seconds: float = 0.0
    detail: str = ""


def _files_to_copy() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout
    return [p for p in out.decode().split("\0") if p and (REPO / p).is_file()]


def make_copy() -> Path:
    root = Path(tempfile.mkdtemp(prefix="switchyard-mutants-"))
    for rel in _files_to_copy():
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dest)
    return root


def env_for(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    before = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(root) + (os.pathsep + before if before else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def check_copy_is_imported(root: Path) -> None:
    """The copy's modules, not the checkout's (the venv's editable install points there)."""
    code = (
        "import functions, switchyard, tests, worker;"
        "print('\\n'.join(m.__path__[0] for m in (functions, switchyard, tests, worker)))"
    )
    out = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", code], cwd=root, env=env_for(root), capture_output=True, text=True
    )
    paths = out.stdout.split()
    inside = all(Path(p).resolve().is_relative_to(root.resolve()) for p in paths)
    if out.returncode != 0 or not paths or not inside:
        sys.exit(f"the copy in {root} is not what Python imports there: {out.stdout}{out.stderr}")


def schema_hash(root: Path) -> str:
    """As tests/conftest.py names its template database (switchyard_tpl_<hash>)."""
    digest = hashlib.sha256()
    paths = [
        *(root / "sql" / "compat").glob("*.sql"),
        *(root / "supabase" / "migrations").glob("*.sql"),
    ]
    for path in sorted(paths):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


DROP_TEMPLATE = """
import os, sys
from pathlib import Path
from psycopg import connect, sql
url = os.environ.get("DATABASE_URL")
if not url:
    from switchyard.embedded import embedded_url
    url = embedded_url(Path(sys.argv[1]) / ".switchyard" / "test", database="postgres")
with connect(url, autocommit=True) as conn:
    name = "switchyard_tpl_" + sys.argv[2]
    if conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
        conn.execute(sql.SQL("alter database {} is_template false").format(sql.Identifier(name)))
    conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
"""


def drop_template(root: Path, digest: str) -> None:
    done = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", DROP_TEMPLATE, str(root), digest],
        cwd=root,
        env=env_for(root),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        print(f"   (could not drop template switchyard_tpl_{digest}: {done.stderr.strip()[-300:]})")


def run_tests(root: Path, tests: list[str], *, stop_first: bool) -> tuple[int, str, float]:
    command = [
        sys.executable, "-m", "pytest", *tests,
        "-n", "0", "-q", "-p", "no:cacheprovider", f"--timeout={TEST_TIMEOUT_S}",
    ]  # fmt: skip
    if stop_first:
        command.append("-x")
    started = time.monotonic()
    try:
        done = subprocess.run(  # noqa: S603 - this interpreter, the named tests
            command, cwd=root, env=env_for(root), capture_output=True, text=True,
            timeout=RUN_TIMEOUT_S,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return -1, out + f"\n(timed out after {RUN_TIMEOUT_S} s)", time.monotonic() - started
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def failures_in(output: str) -> tuple[list[str], list[str]]:
    """The tests that FAILED, and those that hit an ERROR (in a fixture: not a verdict)."""
    failed = re.findall(r"^FAILED (\S+)", output, flags=re.MULTILINE)
    errors = re.findall(r"^ERROR (\S+)", output, flags=re.MULTILINE)
    return failed, errors


MIGRATIONS = "supabase/migrations"


def resolve(root: Path, guard: Guard) -> str | None:
    """The file to mutate. `migrations:function private.f` / `migrations:index name`: the
    newest migration that (re)defines it, since only that definition is live."""
    if not guard.file.startswith("migrations:"):
        return guard.file
    kind, _, name = guard.file.removeprefix("migrations:").partition(" ")
    pattern = {
        "function": rf"create\s+(or\s+replace\s+)?function\s+{re.escape(name)}\s*\(",
        "index": rf"create\s+(unique\s+)?index\s+(if\s+not\s+exists\s+)?{re.escape(name)}\b",
    }[kind]
    found = None
    for path in sorted((root / MIGRATIONS).glob("*.sql")):
        if re.search(pattern, path.read_text(), flags=re.IGNORECASE):
            found = f"{MIGRATIONS}/{path.name}"
    return found


def locate(root: Path, guard: Guard) -> tuple[str | None, str, str]:
    """(the file's text when the anchor occurs exactly once, else None; the verdict; the
    file, as resolved)."""
    rel = resolve(root, guard)
    if rel is None or not (root / rel).is_file():
        return None, "anchor-missing", rel or guard.file
    text = (root / rel).read_text()
    count = text.count(guard.original)
    if count == 1:
        return text, "", rel
    return None, "anchor-missing" if count == 0 else "anchor-ambiguous", rel


def anchor_help(guard: Guard, verdict: str, rel: str) -> str:
    first = guard.original.strip().splitlines()[0] if guard.original.strip() else "?"
    where = rel if rel == guard.file else f"{rel} (the live definition of {guard.file})"
    if verdict == "anchor-missing":
        return (
            f"{where} does not contain the ORIGINAL snippet of {guard.id} (first line: "
            f"{first!r}). Find where the guard went and update `original` and `mutated` in "
            f".ci/guard_mutations.py; if the guard was removed on purpose, say what replaced it."
        )
    return f"the ORIGINAL snippet of {guard.id} occurs more than once in {where}: widen it"


def mutate(root: Path, guard: Guard) -> Result:
    text, verdict, rel = locate(root, guard)
    if text is None:
        return Result(guard, verdict, rel, detail=anchor_help(guard, verdict, rel))
    path = root / rel
    sql = rel.startswith(MIGRATIONS) or rel.startswith("sql/compat")
    path.write_text(text.replace(guard.original, guard.mutated, 1))
    digest = schema_hash(root) if sql else ""
    try:
        if path.suffix == ".py":
            try:
                compile(path.read_text(), str(path), "exec")
            except SyntaxError as exc:
                return Result(
                    guard, "error", rel, detail=f"the mutation is not valid Python: {exc}"
                )
        code, output, seconds = run_tests(root, list(guard.tests), stop_first=True)
    finally:
        path.write_text(text)
        if sql:
            drop_template(root, digest)
    if code == 0:
        return Result(guard, "survived", rel, seconds, "every named test passed without the guard")
    failed, errors = failures_in(output)
    if code == 1 and failed:
        return Result(guard, "killed", rel, seconds, failed[0])
    if code == -1:
        return Result(guard, "killed", rel, seconds, f"the tests hung: {output.strip()[-200:]}")
    if code == 1 and errors:
        # a fixture broke (the mutated schema does not migrate, a database went missing):
        # that says nothing about the guard
        why = f"a test could not run ({errors[0]}): {output.strip()[-1500:]}"
        return Result(guard, "error", rel, seconds, why)
    return Result(guard, "error", rel, seconds, f"pytest exit {code}: {output.strip()[-1500:]}")


def select(only: str | None) -> list[Guard]:
    if not only:
        return list(GUARDS)
    wanted = {w.strip().upper() for w in only.split(",") if w.strip()}
    unknown = wanted - {g.id for g in GUARDS}
    if unknown:
        sys.exit(f"unknown guard id(s): {', '.join(sorted(unknown))}")
    return [g for g in GUARDS if g.id in wanted]


def print_list(guards: list[Guard]) -> None:
    for g in guards:
        print(f"{g.id}  inv {g.invariant}  {g.file}\n      {g.what}")
        for t in g.tests:
            print(f"      - {t}")


def print_markdown(guards: list[Guard]) -> None:
    print("| id | inv. | where | what the guard does | killed by |")
    print("|---|---|---|---|---|")
    for g in sorted(guards, key=lambda g: g.id):
        tests = "<br>".join(f"`{t.removeprefix('tests/')}`" for t in g.tests)
        print(f"| {g.id} | {g.invariant} | `{g.file}` | {g.what} | {tests} |")


def check_anchors(guards: list[Guard]) -> int:
    bad = 0
    for g in guards:
        _, verdict, rel = locate(REPO, g)
        if verdict:
            bad += 1
            print(f"{g.id} {verdict}: {anchor_help(g, verdict, rel)}")
    print(f"{len(guards) - bad} of {len(guards)} anchors found exactly once")
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated guard ids (M07,M12)")
    parser.add_argument("--list", action="store_true", help="print the guards; run nothing")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    parser.add_argument("--check-anchors", action="store_true", help="only check the anchors")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy")
    args = parser.parse_args()
    guards = select(args.only)
    ids = [g.id for g in GUARDS]
    if len(set(ids)) != len(ids):
        sys.exit("duplicate guard ids in GUARDS")
    if args.list:
        print_list(guards)
        return 0
    if args.markdown:
        print_markdown(guards)
        return 0
    if args.check_anchors:
        return check_anchors(guards)

    missing = check_anchors(guards)  # said first: the run takes a while
    root = make_copy()
    print(f"copy of {REPO} in {root}")
    try:
        check_copy_is_imported(root)
        tests = sorted({t for g in guards for t in g.tests})
        print(f"baseline: {len(tests)} test(s) against the unmutated copy ...", flush=True)
        code, output, seconds = run_tests(root, tests, stop_first=False)
        if code != 0:
            print(output[-6000:])
            print(f"the named tests are not green without any mutation (exit {code}, "
                  f"{seconds:.0f} s): fix them first; nothing was mutated")  # fmt: skip
            return 2
        print(f"baseline green in {seconds:.0f} s", flush=True)
        results: list[Result] = []
        for g in guards:
            result = mutate(root, g)
            results.append(result)
            print(f"{g.id} inv {g.invariant} {result.verdict:<16} {result.seconds:5.0f} s  "
                  f"{result.file}  {result.detail[:300]}", flush=True)  # fmt: skip
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    print()
    print(f"{'id':<4} {'inv':<3} {'verdict':<16} {'file':<58} detail")
    for r in results:
        print(f"{r.guard.id:<4} {r.guard.invariant:<3} {r.verdict:<16} {r.file:<58} "
              f"{r.detail.splitlines()[0][:160] if r.detail else ''}")  # fmt: skip
    bad = [r for r in results if r.verdict != "killed"]
    if missing:
        print("\nsome anchors are missing (above): the code of those guards moved")
    print(f"\n{len(results) - len(bad)} of {len(results)} guards killed by their tests")
    for r in bad:
        print(f"  {r.guard.id}: {r.verdict}: {r.detail}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
