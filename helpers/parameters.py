"""Each notebook's parameters (its cell tagged ``parameters``) and the checks of ``pipeline run -p NAME VALUE``.

papermill passes any name to any notebook and only logs ``Passed unknown parameter`` (papermill 2.x,
``parameterize.py``); a run with ``-p LAYER`` for ``LAYERS`` would end "ok" with the wrong settings. So
:func:`check` runs before any kernel starts: a name that no selected notebook declares is refused with
the nearest declared name, and values that can be checked without loading a network (layer names, the
type a parameter's default or profile value has, a ratings file's format) are checked. A name declared
by some of the selected notebooks only goes to those (:func:`route`).

The cell is read with :mod:`ast` (every assigned name, ``A, B = 0, 1`` included) and its comments with
:mod:`tokenize`; papermill's own reader (``PythonTranslator.inspect``) skips tuple assignments.
"""
from __future__ import annotations

import ast
import difflib
import io as _io
import tokenize
from dataclasses import dataclass
from pathlib import Path

import nbformat

from helpers import paths, profiles, registry
from helpers.nets.layers import LAYERS

# parameters whose value names layers of the study (helpers.nets.layers.LAYERS): notebook number -> names
LAYER_PARAMETERS = {"01": ("LAYERS", "OCTAVE_LAYER")}

# parameters that name an input file or folder; a relative path is taken from the folder the command runs in
PATH_PARAMETERS = {"03": ("RATINGS", "PARTICIPANTS"), "02": ("IMAGES",), "05": ("NATURAL_IMAGES",), "07": ("CORPUS", "QUERIES"),
                   "08": ("IMAGES", "DATA")}


# a parameter whose profiles.NOTEBOOKS setting has another name than its own in lower case
SETTING_OF = {"START_IMAGES": "start", "SUBSET_SPLIT": "split"}


def setting(name: str) -> str:
    """The :data:`helpers.profiles.NOTEBOOKS` setting a parameter's ``None`` stands for (``SIZE`` -> ``size``).

    Used in: no notebook; by :func:`helpers.pipeline.list_parameters` and :func:`check`.
    """
    return SETTING_OF.get(name, name.lower())


@dataclass(frozen=True)
class Parameter:
    """One name of a notebook's parameters cell: its default (as written, and as a value when it is a literal).

    Used in: no notebook; by :func:`helpers.pipeline.main` (``pipeline params``) through :func:`declared`.
    """

    name: str
    source: str  # the default as written, e.g. '"class"' or 'profiles.default()'
    help: str  # the line's comment
    value: object = None  # the default when it is a Python literal
    literal: bool = False


def _cell(notebook) -> nbformat.NotebookNode:
    path = Path(notebook)
    if not path.is_absolute() and not path.exists():
        path = paths.notebooks() / path
    nb = nbformat.read(str(path), as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if not tagged:
        raise ValueError(f"{path.name}: no cell tagged 'parameters'")
    return tagged[0]


def declared(notebook) -> dict[str, Parameter]:
    """The parameters a notebook declares, in the order of its parameters cell.

    Args:
        notebook: a path, or a file name in ``notebooks/``.

    Used in: no notebook; by :func:`helpers.pipeline.run` and ``pipeline params``; ``tests/test_pipeline.py``.
    """
    src = _cell(notebook).source
    comments = {}
    for tok in tokenize.generate_tokens(_io.StringIO(src).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    out = {}
    for node in ast.parse(src).body:
        if not isinstance(node, (ast.Assign, ast.AnnAssign)):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            names = [target] if isinstance(target, ast.Name) else list(getattr(target, "elts", []))
            values = [node.value] * len(names)
            if len(names) > 1 and isinstance(node.value, ast.Tuple) and len(node.value.elts) == len(names):
                values = node.value.elts
            for name, value in zip(names, values):
                if not isinstance(name, ast.Name) or value is None:
                    continue
                text = ast.get_source_segment(src, value)
                try:
                    parsed, literal = ast.literal_eval(value), True
                except ValueError:
                    parsed, literal = None, False
                out[name.id] = Parameter(name.id, text, comments.get(node.end_lineno, ""), parsed, literal)
    return out


def _number(notebook: str) -> str:
    return Path(notebook).name[:2]


def _type_word(t) -> str:
    return {int: "an integer", float: "a number", bool: "True or False", str: "text"}.get(t, t.__name__)


def _expected_types(nb: str, p: Parameter) -> set[type] | None:
    """The types a value of ``p`` may have, from its literal default or the profiles' values; None: any."""
    if p.literal and p.value is not None:
        seen = [p.value]
    else:
        table = profiles.NOTEBOOKS.get(_number(nb), {})
        key = setting(p.name)
        if key not in table:
            return None
        seen = [v for v in table[key].values() if v is not None]
        if not seen:
            return None
    kinds = {type(v) for v in seen}
    if len(kinds) != 1 or kinds & {list, tuple, dict}:  # lists: a notebook may take one name or number as well
        return None
    [t] = kinds
    return {int, float} if t is float else {t}


def _value_problems(nb: str, p: Parameter, value, cwd: Path) -> list[str]:
    out = []
    expected = _expected_types(nb, p)
    documented = isinstance(value, str) and f'"{value}"' in p.help  # THREADS = None  # ... "auto": ...
    if expected is not None and value is not None and type(value) not in expected and not documented:  # True is no int
        words = " or ".join(sorted({_type_word(t) for t in expected}))
        default = "None: the profile's value" if p.literal and p.value is None else p.source
        out.append(f"-p {p.name} {value!r}: {nb} expects {words} (default {default})")
    if p.name in LAYER_PARAMETERS.get(_number(nb), ()) and value != "all" and value is not None:
        names = [value] if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else []
        for layer in names:
            if layer not in LAYERS:
                near = ([n for n in LAYERS if n.lower() == str(layer).lower()]
                        or difflib.get_close_matches(str(layer), LAYERS, n=1, cutoff=0.6))
                hint = f"; did you mean {near[0]!r}?" if near else ""
                out.append(f"-p {p.name}: {layer!r} is not one of the 144 study layers (helpers.nets.layers.LAYERS){hint}")
    if p.name in PATH_PARAMETERS.get(_number(nb), ()) and isinstance(value, str) and value:
        path = Path(value).expanduser()
        path = path if path.is_absolute() else cwd / path
        if not path.exists():
            out.append(f"-p {p.name} {value!r}: no such file or folder ({path})")
    return out


def check(notebooks: list[str], parameters: dict, *, cwd=None) -> dict[str, dict]:
    """Check ``-p`` parameters against the selected notebooks before any kernel starts.

    Returns:
        ``{notebook: parameters}``: each notebook gets the names it declares; a relative path of a
        :data:`PATH_PARAMETERS` name is made absolute from ``cwd`` (the kernels run in ``notebooks/``).

    Raises:
        SystemExit: one line per problem: a name no selected notebook declares (with the nearest
            declared name and its notebook), ``PROFILE`` (set with ``--profile``), a value of the
            wrong type, an unknown layer name, a missing input file, a ratings file that breaks
            the format (:func:`helpers.study.ratings.load`).

    Used in: no notebook; by :func:`helpers.pipeline.run`; ``tests/test_pipeline.py``.
    """
    cwd = Path(cwd or Path.cwd())
    decl = {nb: declared(nb) for nb in notebooks}
    problems, routed = [], {nb: {} for nb in notebooks}
    for name, value in parameters.items():
        if name == "PROFILE":
            problems.append("-p PROFILE: choose the profile with --profile (or NA_PROFILE), not -p")
            continue
        having = [nb for nb in notebooks if name in decl[nb]]
        if not having:
            near = [(difflib.SequenceMatcher(None, name.upper(), n).ratio(), n, nb) for nb in notebooks for n in decl[nb]]
            near = [x for x in near if x[0] >= 0.6]
            hint, where = "", notebooks[0]
            if near:
                _, best, where = max(near, key=lambda x: x[0])
                owners = [nb for nb in notebooks if best in decl[nb]]
                by = "every selected notebook" if len(owners) == len(notebooks) > 1 else ", ".join(owners)
                hint = f"; did you mean {best} (declared by {by})?"
            elsewhere = [nb for nb in registry.notebooks() if nb not in notebooks and name.upper() in declared(nb)]
            if not near and elsewhere:
                hint = f"; {name.upper()} is a parameter of {', '.join(elsewhere)}, which this run does not select"
            which = notebooks[0] if len(notebooks) == 1 else f"any of the {len(notebooks)} selected notebooks"
            problems.append(f"-p {name}: not a parameter of {which}{hint} "
                            f"(list them: python -m helpers.pipeline params {_number(where)})")
            continue
        for nb in having:
            p = decl[nb][name]
            problems += [x for x in _value_problems(nb, p, value, cwd) if x not in problems]
            v = value
            if name in PATH_PARAMETERS.get(_number(nb), ()) and isinstance(v, str) and v and not Path(v).is_absolute():
                v = str(cwd / Path(v).expanduser())
            routed[nb][name] = v
    for nb, ps in routed.items():  # notebook 03's ANOVAs and Figures 8-9 read the participants' covariates
        if _number(nb) == "03" and ps.get("RATINGS") and not ps.get("PARTICIPANTS"):
            problems.append(f"-p RATINGS without -p PARTICIPANTS: {nb} needs the participants table too "
                            f"(participant, attitude, self_esteem; format: helpers/study/ratings.py)")
    ratings_file = next((ps.get("RATINGS") for ps in routed.values() if ps.get("RATINGS")), None)
    if ratings_file and not problems:
        problems += _ratings_problems(ratings_file, next((ps.get("PARTICIPANTS") for ps in routed.values()), None))
    if problems:
        raise SystemExit("pipeline run: " + ("\n  ".join([f"{len(problems)} problem(s) with -p, nothing was run:"]
                                                          + problems) if len(problems) > 1 else problems[0]))
    return routed


def _ratings_problems(path, participants) -> list[str]:
    """A ratings file is read in a second: check its format before the notebooks run (RatingsFormatError's text)."""
    from helpers.study import ratings  # pandas and pandera: only when RATINGS is given

    try:
        ratings.load(path, participants=participants or None)
    except (ratings.RatingsFormatError, FileNotFoundError, ValueError) as exc:
        return [f"-p RATINGS: {exc}"]
    return []


def not_declared_note(notebooks: list[str], routed: dict[str, dict], parameters: dict) -> str | None:
    """One line naming the selected notebooks that do not get a ``-p`` name (they do not declare it), or None.

    Used in: no notebook; by :func:`helpers.pipeline.run`.
    """
    groups: dict[tuple, list[str]] = {}
    for name in parameters:
        skipped = tuple(nb[:2] for nb in notebooks if name not in routed.get(nb, {}))
        if skipped and len(skipped) < len(notebooks):
            groups.setdefault(skipped, []).append(name)
    parts = []
    for skipped, names in groups.items():
        to = ", ".join(nb[:2] for nb in notebooks if nb[:2] not in skipped)
        one = len(names) == 1
        parts.append(f"{', '.join(names)} {'goes' if one else 'go'} to {to} only ({', '.join(skipped)} "
                     f"{'does' if len(skipped) == 1 else 'do'} not declare {'it' if one else 'them'})")
    return "; ".join(parts) or None
