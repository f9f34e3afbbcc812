"""The docs keep up with the code: every environment variable is documented, the README stays short and
links every docs page, and no relative link in the docs is broken.

Pure file parsing (ast and text): no database, no Django setup.
"""
from __future__ import annotations

import ast
import re
import unicodedata
from pathlib import Path

from recsys.ml.events import EVENT_KINDS, weight_setting_name

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
OPERATIONS = DOCS / "operations.md"
# The settings package: one module per concern, composed by config/settings/__init__.py.
SETTINGS_MODULES = sorted((ROOT / "config" / "settings").glob("*.py"))
SETTINGS_TEST = ROOT / "tests" / "settings.py"
# Entry points that read the environment besides the settings (DJANGO_SETTINGS_MODULE, BLAS threads).
ENTRY_POINTS = [ROOT / "manage.py", *sorted((ROOT / "config").glob("*.py"))]
README_MAX_LINES = 200

ENV_HELPERS = {"env_bool", "env_int", "env_float", "env_list"}
ENVIRON_METHODS = {"get", "setdefault", "pop"}
TEST_HOOK_PREFIX = "CURIO_TEST_"
TEST_HOOKS_HEADING = "Test hooks"


# --- collecting the variables ------------------------------------------------------------------------

def _is_os_environ(node: ast.AST) -> bool:
    """`os.environ` (a bare `environ` is a WSGI environ, not the process environment)."""
    return (isinstance(node, ast.Attribute) and node.attr == "environ" and isinstance(node.value, ast.Name)
            and node.value.id == "os")


def _loop_literals(tree: ast.AST) -> dict[str, list[str]]:
    """Names bound by `for NAME in ("A", "B"):` loops over string literals (e.g. the BLAS thread variables)."""
    loops: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name) \
                and isinstance(node.iter, (ast.Tuple, ast.List)):
            values = [e.value for e in node.iter.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if values and len(values) == len(node.iter.elts):
                loops.setdefault(node.target.id, []).extend(values)
    return loops


def _literals(node: ast.AST | None, loops: dict[str, list[str]]) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name):
        return loops.get(node.id, [])
    return []


def env_uses(path: Path) -> list[tuple[str, int]]:
    """Every place a module reads or sets an environment variable by a literal name: (name, line), repeats kept.

    Counted: os.environ.get/setdefault/pop("X"), os.environ["X"], os.getenv("X") and the settings' helpers
    env_bool/env_int/env_float/env_list("X").
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    loops = _loop_literals(tree)
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in ENVIRON_METHODS and _is_os_environ(func.value):
                names = _literals(node.args[0], loops)
            elif isinstance(func, ast.Attribute) and func.attr == "getenv" and isinstance(func.value, ast.Name) \
                    and func.value.id == "os":
                names = _literals(node.args[0], loops)
            elif isinstance(func, ast.Name) and func.id in ENV_HELPERS:
                names = _literals(node.args[0], loops)
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            names = _literals(node.slice, loops)
        found.extend((name, node.lineno) for name in names)
    return sorted(found, key=lambda use: use[1])


def env_names(path: Path) -> dict[str, int]:
    """Every literal variable name a module reads or sets through the environment, with its first line."""
    found: dict[str, int] = {}
    for name, line in env_uses(path):
        found.setdefault(name, line)
    return found


def _commented_as_test_hook(lines: list[str], lineno: int) -> bool:
    """Whether the nearest comment above a settings module's line, in the same paragraph, calls it a test hook."""
    for line in reversed(lines[: lineno - 1]):
        stripped = line.strip()
        if not stripped:
            return False
        if stripped.startswith("#"):
            return "test hook" in stripped.lower()
    return False


def weight_variables() -> set[str]:
    """`CURIO_WEIGHT_<TYPE>` for every event type of the vocabulary (settings build these names)."""
    return {weight_setting_name(kind.name) for kind in EVENT_KINDS}


def collect_variables() -> tuple[set[str], set[str]]:
    """(all variables to document, the test hooks among them)."""
    in_settings: set[str] = set()
    marked_hooks: set[str] = set()
    for path in SETTINGS_MODULES:
        lines = path.read_text(encoding="utf-8").splitlines()
        found = env_names(path)
        in_settings |= set(found)
        marked_hooks |= {name for name, line in found.items() if _commented_as_test_hook(lines, line)}
    in_entry_points = {name for path in ENTRY_POINTS for name in env_names(path)}
    in_settings_test = env_names(SETTINGS_TEST)
    in_tests = {name for path in sorted((ROOT / "tests").rglob("*.py")) for name in env_names(path)}

    # A test hook: read only by the test settings or the tests, or marked "test hook" in a settings module.
    hooks = (set(in_settings_test) | in_tests) - in_settings - in_entry_points
    hooks |= marked_hooks
    everything = in_settings | in_entry_points | set(in_settings_test) | in_tests | weight_variables()
    hooks |= {name for name in everything if name.startswith(TEST_HOOK_PREFIX)}
    return everything, hooks


# --- reading the docs --------------------------------------------------------------------------------

def _documented(text: str) -> set[str]:
    return set(re.findall(r"`([A-Z][A-Z0-9_]*)`", text))


def _section(text: str, heading: str) -> str:
    """The text under a Markdown heading, up to the next heading of the same or a higher level."""
    match = re.search(rf"^(#+)[ \t]+{re.escape(heading)}[ \t]*$", text, flags=re.MULTILINE)
    if match is None:
        return ""
    level = len(match.group(1))
    rest = text[match.end():]
    end = re.search(rf"^#{{1,{level}}}[ \t]", rest, flags=re.MULTILINE)
    return rest[: end.start()] if end else rest


def _without_code(text: str) -> str:
    """Markdown with fenced code blocks and inline code removed (links there are not links)."""
    text = re.sub(r"^(```|~~~).*?^\1[ \t]*$", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def links(path: Path) -> list[str]:
    return LINK.findall(_without_code(path.read_text(encoding="utf-8")))


def _is_relative(target: str) -> bool:
    return not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) and not target.startswith("//")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|__", "", heading.strip()).lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    text = re.sub(r"^(```|~~~).*?^\1[ \t]*$", "", path.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    for heading in re.findall(r"^#+[ \t]+(.+?)[ \t#]*$", text, flags=re.MULTILINE):
        slug = _slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        out.add(slug if count == 0 else f"{slug}-{count}")
    return out


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def doc_pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


# --- the checks --------------------------------------------------------------------------------------

def test_the_collector_sees_the_settings_variables():
    everything, hooks = collect_variables()
    # A sanity floor, so a broken parser cannot pass the documentation test by finding nothing.
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "MODEL_DIR", "CURIO_WEIGHT_PURCHASE"} <= everything
    assert len(SETTINGS_MODULES) > 1 and (ROOT / "config" / "settings" / "__init__.py") in SETTINGS_MODULES
    assert SETTINGS_TEST.is_file()
    assert {"CURIO_TEST_MODEL_DIR", "CURIO_TRAINING_FAIL_AT_STAGE", "CURIO_TRAINING_STAGE_DELAY_SECONDS"} <= hooks
    assert {"DJANGO_SETTINGS_MODULE", "OPENBLAS_NUM_THREADS"} <= everything
    # Production knobs the test settings give their own values are not test hooks.
    assert not {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "MODEL_DIR", "CURIO_CONTROL_SHARE",
                "CURIO_IMPRESSION_BACKGROUND_FLUSH"} & hooks


def test_every_environment_variable_is_documented_in_operations():
    everything, hooks = collect_variables()
    text = OPERATIONS.read_text(encoding="utf-8")
    missing = sorted(everything - _documented(text))
    assert not missing, (
        f"docs/operations.md does not document these environment variables (write each as `NAME` in a table "
        f"with its default and meaning): {', '.join(missing)}"
    )


def test_test_hooks_are_documented_in_their_own_section():
    _, hooks = collect_variables()
    section = _section(OPERATIONS.read_text(encoding="utf-8"), TEST_HOOKS_HEADING)
    assert section, f'docs/operations.md has no "{TEST_HOOKS_HEADING}" heading'
    missing = sorted(hooks - _documented(section))
    assert not missing, (
        f'these test hooks are not documented under "{TEST_HOOKS_HEADING}" in docs/operations.md: '
        f"{', '.join(missing)}"
    )


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move detail to a page in docs/"
    )


def test_readme_links_every_docs_page():
    targets = {target.split("#", 1)[0] for target in links(README)}
    missing = [f"docs/{page.name}" for page in doc_pages() if f"docs/{page.name}" not in targets]
    assert doc_pages(), "docs/ has no pages"
    assert not missing, f"README.md does not link these docs pages: {', '.join(missing)}"


def test_every_relative_link_points_to_an_existing_file_and_heading():
    broken = []
    for source in [README, *doc_pages()]:
        for target in links(source):
            if not _is_relative(target):
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (source.parent / file_part).resolve() if file_part else source
            where = f"{_shown(source)} -> {target}"
            if not resolved.exists():
                broken.append(f"{where} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor.lower() not in anchors(resolved):
                broken.append(f"{where} (no heading with anchor #{anchor} in {_shown(resolved)})")
    assert not broken, "broken links:\n  " + "\n  ".join(broken)


def test_images_in_docs_are_referenced():
    referenced = set()
    for source in [README, *doc_pages()]:
        for target in links(source):
            if _is_relative(target):
                referenced.add((source.parent / target.split("#", 1)[0]).resolve())
    unreferenced = [p.name for p in sorted(DOCS.glob("*.png")) if p.resolve() not in referenced]
    assert not unreferenced, f"images in docs/ that no page shows: {', '.join(unreferenced)}"
