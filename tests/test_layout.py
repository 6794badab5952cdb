"""The library's layout: no import cycle between helpers modules, and no torch where no network runs.

The cycle check is static: it reads every ``import`` statement of every module, including those inside
functions, which a dynamic check (importing each module) would never execute. The old cycle
dream -> plots -> ratings -> stats -> dream hid in exactly such function-level imports.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import helpers

ROOT = Path(helpers.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def import_graph(modules: dict[str, Path] | None = None) -> dict[str, set[str]]:
    """``{module: helpers modules it imports}`` from every import statement of its source (any depth)."""
    modules = modules or _modules()
    graph = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{name}: relative import (the project uses absolute imports only)"
                base = node.module or ""
                # "from helpers.x import y": y may be a module of its own
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in modules:  # helpers.a.b.name -> the module that defines it
                    t = t.rpartition(".")[0]
                if t and t != name:
                    deps.add(t)
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == "open":
                return stack[stack.index(d):] + [d]
            if d not in state:
                found = visit(d)
                if found:
                    return found
        state[m] = "done"
        stack.pop()
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_the_helpers_import_graph_has_no_cycle():
    graph = import_graph()
    assert len(graph) > 40 and "helpers.study.stats" in graph["helpers.study.mixed"]  # the graph is read at all
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_check_sees_imports_inside_functions(tmp_path):
    pkg = tmp_path / "helpers"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("from helpers.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from helpers.sub.a import x\n")
    mods = {".".join(p.relative_to(tmp_path).with_suffix("").parts).removesuffix(".__init__"): p for p in pkg.rglob("*.py")}
    assert find_cycle(import_graph(mods)) == ["helpers.sub.a", "helpers.sub.b", "helpers.sub.a"]


# Modules that run a network, and so import torch: the networks, synthesis, the search (ResNet-152), the rehearsal
# writers, and one measure module: aesthetics_cnn (it applies AlexNet's conv1 with torch). Everything else must not.
TORCH_MODULES = {"helpers.nets.inception", "helpers.nets.inception_ops", "helpers.nets.inception_fast", "helpers.nets.graphdef",
                 "helpers.measures.aesthetics_cnn", "helpers.testing.rehearsal"}
TORCH_PACKAGES = ("helpers.synthesis.", "helpers.search.gram", "helpers.search.index")


def _torch_free() -> list[str]:
    return [m for m in _modules() if m not in TORCH_MODULES and not m.startswith(TORCH_PACKAGES)]


def test_study_measures_and_analysis_modules_do_not_import_torch():
    """One fresh interpreter imports each torch-free module in turn and names the first that loaded torch."""
    mods = _torch_free()
    assert {"helpers.study.stats", "helpers.study.ratings", "helpers.measures.table", "helpers.measures.clutter",
            "helpers.measures.aesthetics", "helpers.nets.layers", "helpers.nets.models", "helpers.profiles"} <= set(mods)
    code = ("import importlib, sys\n"
            f"for m in {mods!r}:\n"
            "    importlib.import_module(m)\n"
            "    if 'torch' in sys.modules:\n"
            "        print(m); break\n"
            "else:\n"
            "    print('none')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "none", f"importing {out} imports torch"


@pytest.mark.parametrize("module", ["helpers.measures.aesthetics_cnn", "helpers.synthesis.dream"])
def test_the_network_modules_do_import_torch(module):
    """The check above can see torch: these modules run networks and load it."""
    code = f"import sys, {module}; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "True"


def test_no_module_imports_another_under_a_misleading_name():
    """No ``from helpers... import x as y`` where ``y`` is the name of another helpers module (the old
    ``from helpers import inception as dream``); abbreviations such as ``ratings as rt`` are fine."""
    short = {m.rpartition(".")[2] for m in _modules()}
    bad = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helpers"):
                bad += [f"{name}: {a.name} as {a.asname}" for a in node.names if a.asname in short and a.asname != a.name]
    assert bad == []


def test_notebooks_call_the_one_homes():
    """The stand-in rule, profile resolution, sources, hashing and the mixed models live in helpers, not in notebooks."""
    import nbformat

    from helpers import paths

    for path in sorted(paths.notebooks().glob("*.ipynb")):
        code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        for inline in ("weights_source", "PROFILE ==", "hashlib", "https://", ".sizes(", "profile_settings", "mixed_model("):
            assert inline not in code, f"{path.name}: {inline!r} (use the helper that owns it)"
        if "mixed." in code:
            assert "mixed.mixed_models(" in code, path.name


def test_every_public_helper_says_where_it_is_used():
    """Each public function and class of ``helpers`` names, in a ``Used in:`` line, the notebooks (and figures or
    tables) that use it, or says "no notebook" and which helper, test or benchmark does."""
    missing = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                if "Used in:" not in (ast.get_docstring(node) or ""):
                    missing.append(f"{path.relative_to(ROOT.parent).as_posix()}:{node.lineno} {node.name}")
    assert not missing, "public helpers without a 'Used in:' line in their docstring:\n" + "\n".join(missing)
