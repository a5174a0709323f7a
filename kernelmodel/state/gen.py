"""Generate the save and load functions of every class that declares its state (model
plumbing, no kernel counterpart; docs/ARCHITECTURE.md, "State: declared once").

A class declares a saved field by ending the field's line in ``__init__`` with a ``# state``
comment; the annotation on that line is the field's type, and the order of those lines is the
order of the keys in the snapshot::

    self.vm_start: int = vm_start  # state
    self.older_than_this: int | None = older_than_this  # state: has
    self.page_cluster: int = 3  # state: range=0..8

Options after ``# state:`` (comma-separated; the table in docs/ARCHITECTURE.md says what each
does): ``key=NAME``, ``range=LO..HI``, ``has``, ``optional``, ``custom``, ``ref=ID``,
``keyed=ID``, ``column``, ``columns``, ``if_set``, ``pack=KEY``, ``split=KEYS/VALUES``,
``str_keys``. Types: scalars (``int``, ``i64``, ``bool``, ``str``, ``bytes``, ``bytearray``,
``int | None``), lists and maps of them, and a class that declares its own state (saved as a
dict), ``list[`` of one ``]`` or ``| None``. ``vl_check_state(self)`` holds checks across
fields; the loader calls it last. Lines above ``__init__``: ``# state context: NAME: TYPE
from MODULE`` (loader parameters), ``# state save context: ...`` (saver parameters), ``# state
row`` (saved as a list), ``# state into`` (loaded in place only), ``# state generated: NAME``
(the package's generated module ``NAME``).

Run ``python -m kernelmodel.state.gen`` after changing a declaration; ``--check`` exits 1
when a generated file is not current (tests/kernelmodel/test_state_declared.py runs it).
The output goes to ``machine/state_generated.py`` (classes of ``machine/``, which must not
import ``kernelmodel/``) and, for each sub-package of ``kernelmodel/`` that declares state, to
its own ``state_generated.py`` beside the classes (``kernelmodel/mm/state_generated.py``).
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from kernelmodel.state.gen_count import count_lines
from kernelmodel.state.gen_helpers import pick

ROOT = Path(__file__).resolve().parents[2]
MARK = re.compile(r"#\s*state\b(?::\s*(?P<opts>[^#]*))?\s*$")
CONTEXT = re.compile(r"#\s*state context:\s*(.*)$")
SAVE_CONTEXT = re.compile(r"#\s*state save context:\s*(.*)$")
ROW = re.compile(r"#\s*state row\s*$")
INTO = re.compile(r"#\s*state into\s*$")
#: Marks an import the generated module needs only for annotations (a save context's type,
#: whose module may import the generated one): it goes under ``if TYPE_CHECKING:``.
TYPE_ONLY = "type-only "
SCALARS = {"int": "read_int", "bool": "read_bool", "str": "read_str", "bytes": "read_bytes",
           "i64": "read_int"}  # i64: mypyc's native int, saved and read as an int
LISTS = {"list[int]": "read_int_list", "list[str]": "read_str_list"}
#: Where the declarations are read: ``machine/`` gets one generated module; each sub-package of
#: ``kernelmodel/`` gets its own (``kernelmodel/mm/state_generated.py``, ...), beside the classes
#: it saves, so the generated code sits in no import cycle across sub-packages.
ROOTS = ("machine", "kernelmodel")
GENERATED_NAME = "state_generated.py"
#: A class's own line naming the generated module of its code, where the package's one would
#: grow past the module-size limit (``# state generated: trace_generated`` above ``__init__``).
OWN_TARGET = re.compile(r"#\s*state generated:\s*(\w+)\s*$")


@dataclass
class Field:
    """One declared field: attribute, snapshot key, type text and options."""

    attr: str
    key: str
    type: str
    lo: str | None
    hi: str | None
    has: bool
    ref: str | None  # a reference stored as the id attribute ``ref`` of the object
    keyed: str | None  # a dict[int, X] saved as its values, keyed again by X.<keyed>
    custom: bool  # saved and loaded by the class's vl_save_<attr> and vl_load_<attr>
    optional: bool  # a state without the key (an older snapshot) keeps the constructor's value
    ctor_direct: bool  # __init__ assigns the parameter of the same name unchanged
    column: bool = False  # saved only as one column of its owner's ``columns`` list
    columns: bool = False  # a list[X] of column-only objects: one int list per field of X
    pack: str | None = None  # saved with the other int fields of this pack as one int list
    if_set: bool = False  # saved only when non-zero (and optional on load)
    str_keys: bool = False  # a dict[int, int] saved as {"decimal": int} (a msgpack map)
    split: str | None = None  # "KEYS/VALUES": a dict[int, int] saved as two int lists


@dataclass
class Decl:
    """One class's declaration."""

    module: str
    name: str
    fields: list[Field]
    ctor: list[tuple[str, bool]]  # __init__ parameters: (name, has a default)
    check: bool
    context: list[str]  # extra parameters of the loader ("pages: list[Page]")
    save_context: list[str]  # extra parameters of the saver ("k: Kernel")
    row: bool = False  # saved as a list of its fields' values, not a dict
    target: str | None = None  # the generated module's name, when not the package's
    into: bool = False  # loaded only in place (``load_X_into``): the owner of the others
    imports: frozenset[str] = frozenset()  # what the generated code of its context imports


def snake(name: str) -> str:
    """VmArea -> vm_area."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _field(line: str, stmt: ast.stmt, params: set[str], where: str) -> Field | None:
    m = MARK.search(line)
    if m is None:
        return None
    if not isinstance(stmt, ast.AnnAssign):
        raise SystemExit(f"{where}: a # state field needs a type annotation")
    target = stmt.target
    if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
            and target.value.id == "self"):
        raise SystemExit(f"{where}: # state marks a self.field")
    attr = target.attr
    f = Field(attr, attr, ast.unparse(stmt.annotation), None, None, False, None, None, False,
              False, False)
    value = stmt.value
    f.ctor_direct = isinstance(value, ast.Name) and value.id == attr and attr in params
    for opt in (m.group("opts") or "").split(","):
        opt = opt.strip()
        if not opt:
            continue
        if opt.startswith("key="):
            f.key = opt[4:]
        elif opt.startswith("range="):
            f.lo, f.hi = opt[6:].split("..")
        elif opt.startswith("keyed="):
            f.keyed = opt[6:]
        elif opt == "optional":
            f.optional = True
        elif opt.startswith("split="):  # a dict[int, int] as its sorted keys and their values
            f.split = opt[6:]
            f.key = f.split.split("/")[0]
        elif opt == "str_keys":  # a dict[int, int] saved as a map with decimal-string keys
            f.str_keys = True
        elif opt == "if_set":  # saved only when non-zero; a state without it keeps the default
            f.optional = f.if_set = True
        elif opt == "column":
            f.column = True
        elif opt == "columns":
            f.columns = True
        elif opt == "custom":
            f.custom = True
        elif opt.startswith("ref="):
            f.ref = opt[4:]
        elif opt == "has":
            f.has = True
        elif opt.startswith("pack="):
            f.pack = f.key = opt[5:]
        else:
            raise SystemExit(f"{where}: unknown # state option {opt!r}")
    return f


def scan(path: Path, module: str, extra_imports: set[str]) -> list[Decl]:
    """The declarations in one source file (the imports their loaders' context needs are
    added to ``extra_imports``)."""
    src = path.read_text()
    lines = src.splitlines()
    out: list[Decl] = []
    for node in ast.parse(src).body:
        if not isinstance(node, ast.ClassDef):
            continue
        init = next((b for b in node.body
                     if isinstance(b, ast.FunctionDef) and b.name == "__init__"), None)
        if init is None:
            continue
        args = init.args.args[1:]
        ndef = len(init.args.defaults)
        ctor = [(a.arg, i >= len(args) - ndef) for i, a in enumerate(args)]
        params = {a.arg for a in args}
        fields: list[Field] = []
        for stmt in init.body:
            where = f"{path.relative_to(ROOT)}:{stmt.lineno}"
            f = _field(lines[(stmt.end_lineno or stmt.lineno) - 1], stmt, params, where)
            if f is not None:
                fields.append(f)
        if not fields:
            continue
        context: list[str] = []
        save_context: list[str] = []
        imports: set[str] = set()
        for line in lines[node.lineno - 1:init.lineno - 1]:
            for pattern, into, prefix in ((CONTEXT, context, ""),
                                          (SAVE_CONTEXT, save_context, TYPE_ONLY)):
                m = pattern.search(line)
                if m is None:
                    continue
                for item in m.group(1).split(";"):
                    param, _, source = item.partition(" from ")
                    into.append(param.strip())
                    if source:
                        name = next(n for n in re.findall(r"\b([A-Z]\w*)\b",
                                                          param.partition(":")[2]) if n != "None")
                        imports.add(f"{prefix}from {source.strip()} import {name}")
        extra_imports |= imports
        if all(f.column for f in fields):  # saved only as columns of its owner: no ctor check
            out.append(Decl(module, node.name, fields, ctor, False, [], []))
            continue
        names = {f.attr for f in fields if not f.custom and not f.optional and not f.columns}
        names |= {c.split(":")[0] for c in context}
        for pname, has_default in ctor:
            if pname not in names and not has_default and not any(
                    INTO.search(line) for line in lines[node.lineno - 1:init.lineno - 1]):
                raise SystemExit(f"{path.relative_to(ROOT)}: {node.name}.__init__ parameter "
                                 f"{pname} is not a # state field and has no default")
        check = any(isinstance(b, ast.FunctionDef) and b.name == "vl_check_state"
                    for b in node.body)
        head = lines[node.lineno - 1:init.lineno - 1]
        row = any(ROW.search(line) for line in head)
        in_place = any(INTO.search(line) for line in head)
        own = next((m.group(1) for m in map(OWN_TARGET.search, head) if m), None)
        for f in fields:
            if row and f.type not in ("int", "bool", "str"):
                raise SystemExit(f"{node.name}.{f.attr}: a row holds int, bool or str fields")
            if f.pack is not None and f.type != "int":
                raise SystemExit(f"{node.name}.{f.attr}: pack= packs int fields")
        out.append(Decl(module, node.name, fields, ctor, check, context, save_context, row=row,
                        target=own, imports=frozenset(imports), into=in_place))
    return out


def _declared(t: str, classes: set[str]) -> tuple[str, str] | None:
    """(shape, class) for a field whose type is a declared class: shape one/list/opt."""
    if t in classes:
        return ("one", t)
    m = re.fullmatch(r"list\[(\w+)\]", t)
    if m and m.group(1) in classes:
        return ("list", m.group(1))
    m = re.fullmatch(r"(\w+) \| None", t)
    if m and m.group(1) in classes:
        return ("opt", m.group(1))
    return None


def _ref_shape(t: str) -> tuple[str, str]:
    """(shape, class) of a reference field: one, list or opt."""
    m = re.fullmatch(r"list\[(\w+)\]", t)
    if m:
        return ("list", m.group(1))
    m = re.fullmatch(r"(\w+) \| None", t)
    if m:
        return ("opt", m.group(1))
    return ("one", t)


#: Every declaring class by name (set by ``render``: a ``columns`` field reads its element's).
_ALL: dict[str, Decl] = {}


def _column_fields(f: Field) -> list[Field]:
    """The fields of the column-only class a ``columns`` field lists."""
    m = re.fullmatch(r"list\[(\w+)\]", f.type)
    if m is None or m.group(1) not in _ALL or not all(c.column for c in _ALL[m.group(1)].fields):
        raise SystemExit(f"{f.attr}: columns needs list[C], C's fields all # state: column")
    for c in _ALL[m.group(1)].fields:
        if c.type not in ("int", "i64"):
            raise SystemExit(f"{c.attr}: a column must be an int or i64")
    return _ALL[m.group(1)].fields


def _tuple_types(t: str) -> list[str]:
    """The element types of ``list[tuple[int, str, ...]]`` (int and str only), or []."""
    m = re.fullmatch(r"list\[tuple\[([\w, ]+)\]\]", t)
    kinds = [x.strip() for x in m.group(1).split(",")] if m else []
    return kinds if all(x in ("int", "str") for x in kinds) else []


def _save_args(cls: str) -> str:
    """The save context a nested declared class's saver takes, as call arguments."""
    ctx = _ALL[cls].save_context if cls in _ALL else []
    return "".join(f", {c.split(':')[0]}" for c in ctx)


def _save_expr(f: Field, classes: set[str]) -> list[str]:
    v = f"o.{f.attr}"
    if f.columns:
        return [f'"{c.key}": [x.{c.attr} for x in {v}]' for c in _column_fields(f)]
    if f.ref is not None:
        shape, _ = _ref_shape(f.type)
        expr = {"one": f"{v}.{f.ref}", "list": f"[x.{f.ref} for x in {v}]",
                "opt": f"{v}.{f.ref} if {v} is not None else -1"}[shape]
        return [f'"{f.key}": {expr}']
    if f.has:
        return [f'"has_{f.key}": {v} is not None', f'"{f.key}": {v} if {v} is not None else 0']
    d = _declared(f.type, classes)
    if d is not None:
        fn = f"save_{snake(d[1])}"
        a = _save_args(d[1])
        expr = {"one": f"{fn}({v}{a})", "list": f"[{fn}(x{a}) for x in {v}]",
                "opt": f"{fn}({v}{a}) if {v} is not None else None"}[d[0]]
        return [f'"{f.key}": {expr}']
    if f.keyed is not None:
        m = re.fullmatch(r"dict\[int, (\w+)\]", f.type)
        assert m is not None, f.type
        a = _save_args(m.group(1))
        return [f'"{f.key}": [save_{snake(m.group(1))}(x{a}) for x in {v}.values()]']
    if f.type in LISTS:
        return [f'"{f.key}": list({v})']
    if f.type in ("dict[str, int]", "dict[str, str]"):
        return [f'"{f.key}": dict({v})']
    if f.type == "dict[str, list[int]]":
        return [f'"{f.key}": {{n: list(q) for n, q in {v}.items()}}']
    m = re.fullmatch(r"list\[list\[(\w+)\]\]", f.type)
    if m and m.group(1) in _ALL and _ALL[m.group(1)].row:  # lists of rows
        return [f'"{f.key}": [[save_{snake(m.group(1))}(x) for x in p] for p in {v}]']
    if _tuple_types(f.type):
        return [f'"{f.key}": [list(x) for x in {v}]']
    if f.type == "dict[int, int]" and f.str_keys:
        return [f'"{f.key}": {{str(i): x for i, x in {v}.items()}}']
    if f.type == "dict[int, int]":
        return [f'"{f.key}": [[i, x] for i, x in {v}.items()]']
    if f.type == "bytearray":
        return [f'"{f.key}": bytes({v})']
    if f.type in SCALARS or f.type == "int | None":
        return [f'"{f.key}": {v}']
    raise SystemExit(f"{f.attr}: no codec for type {f.type}")


def _load_expr(f: Field, classes: set[str]) -> str:
    k = f'"{f.key}"'
    if f.ref is not None:
        shape, cls = _ref_shape(f.type)
        table = f"refs_{snake(cls)}"
        if shape == "list":
            return f"resolve_ids(read_int_list(state, {k}, WHAT), {table}, WHAT, {k})"
        if shape == "opt":
            return f"resolve_opt_id(read_int(state, {k}, WHAT), {table})"
        return f"resolve_ids([read_int(state, {k}, WHAT)], {table}, WHAT, {k})[0]"
    if f.has:
        return f"read_has_int(state, {k}, WHAT)"
    d = _declared(f.type, classes)
    if d is not None:
        fn = f"load_{snake(d[1])}"
        if d[0] == "one":
            return f"{fn}(read_dict(state, {k}, WHAT))"
        if d[0] == "list":
            return f"[{fn}(x) for x in read_dict_list(state, {k}, WHAT)]"
        return f"_opt(read_opt_dict(state, {k}, WHAT), {fn})"
    if f.lo is not None:
        return f"read_int_in(state, {k}, WHAT, {f.lo}, {f.hi})"
    if f.type in SCALARS:
        return f"{SCALARS[f.type]}(state, {k}, WHAT)"
    if f.type in LISTS:
        return f"{LISTS[f.type]}(state, {k}, WHAT)"
    if f.type == "int | None":
        return f"read_opt_int(state, {k}, WHAT)"
    if f.type == "dict[str, int]":
        return f"read_str_int_dict(state, {k}, WHAT)"
    if f.type == "dict[str, str]":
        return f"_str_dict(read_dict(state, {k}, WHAT), WHAT, {k})"
    if f.type == "dict[str, list[int]]":
        return f"_int_list_dict(read_dict(state, {k}, WHAT), WHAT, {k})"
    m = re.fullmatch(r"list\[list\[(\w+)\]\]", f.type)
    if m and m.group(1) in _ALL and _ALL[m.group(1)].row:
        return (f"[[load_{snake(m.group(1))}(x) for x in _list(p, WHAT, {k})] "
                f"for p in read_list(state, {k}, WHAT)]")
    kinds = _tuple_types(f.type)
    if kinds:  # a list of tuples of scalars, each saved as a list
        reads = ", ".join(f"_row_{t}(r, {i}, WHAT, {k})" for i, t in enumerate(kinds))
        return (f"[({reads}) for r in (_row(x, {len(kinds)}, WHAT) "
                f"for x in read_list(state, {k}, WHAT))]")
    if f.split is not None:
        keys, values = (f'"{x}"' for x in f.split.split("/"))
        return (f"_split_dict(read_int_list(state, {keys}, WHAT), "
                f"read_int_list(state, {values}, WHAT), WHAT, {values})")
    if f.type == "dict[int, int]" and f.str_keys:
        return f"_int_keys(read_str_int_dict(state, {k}, WHAT), WHAT, {k})"
    if f.type == "dict[int, int]":
        return f"read_int_pairs(state, {k}, WHAT)"
    if f.type == "bytearray":
        return f"bytearray(read_bytes(state, {k}, WHAT))"
    raise SystemExit(f"{f.attr}: no codec for type {f.type}")


def _packs(d: Decl) -> dict[str, list[Field]]:
    """The fields of each ``pack=`` of ``d``, in order."""
    out: dict[str, list[Field]] = {}
    for f in d.fields:
        if f.pack is not None:
            out.setdefault(f.pack, []).append(f)
    return out


def _row_value(f: Field) -> str:
    return f"1 if o.{f.attr} else 0" if f.type == "bool" else f"o.{f.attr}"


def _emit_row(d: Decl) -> list[str]:
    """A ``# state row`` class: saved as the list of its fields' values, bools as 0 or 1."""
    s = snake(d.name)
    n = len(d.fields)
    out = ["", "", f"def save_{s}(o: {d.name}) -> list[object]:",
           f'    """``{d.name}`` as the list of its ``# state`` fields, in order."""',
           f"    return [{', '.join(_row_value(f) for f in d.fields)}]",
           "", "", f"def load_{s}(state: object) -> {d.name}:",
           f'    """A ``{d.name}`` from ``save_{s}`` output (ValueError: a bad row)."""',
           f'    r = _row(state, {n}, "{s.replace("_", " ")} state")']
    args = []
    for i, f in enumerate(d.fields):
        read = "_row_str" if f.type == "str" else "_row_int"
        expr = f'{read}(r, {i}, "{s.replace("_", " ")} state", "{f.key}")'
        args.append(f"{f.attr}={expr} != 0" if f.type == "bool" else f"{f.attr}={expr}")
    return [*out, f"    return {d.name}({', '.join(args)})"]


def _emit_save(d: Decl, classes: set[str]) -> list[str]:
    s = snake(d.name)
    params = "".join(f", {c}" for c in d.save_context)
    ctx = "".join(f", {c.split(':')[0]}" for c in d.save_context)
    out = ["", "", f"def save_{s}(o: {d.name}{params}) -> dict[str, object]:",
           f'    """``{d.name}`` as plain data (its ``# state`` fields, in order)."""']
    packs = _packs(d)

    def saved(f: Field) -> list[str]:
        if f.pack is None:
            return _save_expr(f, classes)
        if packs[f.pack][0] is not f:  # saved with the first of its pack
            return []
        return [f'"{f.pack}": [{", ".join(f"o.{g.attr}" for g in packs[f.pack])}]']

    if not any(f.custom or f.if_set or f.split for f in d.fields):
        out.append("    return {")
        for f in d.fields:
            out += [f"        {line}," for line in saved(f)]
        return [*out, "    }"]
    out.append("    out: dict[str, object] = {}")
    for f in d.fields:
        if f.custom:
            out.append(f"    o.vl_save_{f.attr}(out{ctx})")
            continue
        if f.split is not None:  # sorted once, for both lists
            keys, values = f.split.split("/")
            out += [f"    k_{f.attr} = sorted(o.{f.attr})", f'    out["{keys}"] = k_{f.attr}',
                    f'    out["{values}"] = [o.{f.attr}[i] for i in k_{f.attr}]']
            continue
        for line in saved(f):
            key, expr = line.split(": ", 1)
            if f.if_set:
                out += [f"    if o.{f.attr}:", f"        out[{key}] = {expr}"]
            else:
                out.append(f"    out[{key}] = {expr}")
    return [*out, "    return out"]


def _load_params(d: Decl) -> list[str]:
    params: list[str] = []
    for f in d.fields:
        if f.ref is not None:
            cls = _ref_shape(f.type)[1]
            param = f"refs_{snake(cls)}: dict[int, {cls}]"
            if param not in params:
                params.append(param)
    return params + d.context


def _emit_class(d: Decl, classes: dict[str, Decl]) -> list[str]:
    if all(f.column for f in d.fields):  # saved by its owner's ``columns`` field
        return []
    if d.row:
        return _emit_row(d)
    s = snake(d.name)
    names = set(classes)
    what = f'"{s.replace("_", " ")} state"'
    out = _emit_save(d, names)
    params = ", ".join(["state: dict[str, object]", *_load_params(d)])
    out += ["", ""]
    header = len(out)
    out += [f"def load_{s}({params}) -> {d.name}:",
            f'    """A ``{d.name}`` from ``save_{s}`` output (ValueError: a bad field)."""',
            f"    WHAT = {what}"]
    ctx_names = [c.split(":")[0] for c in d.context]
    # a field the constructor does not take is read straight into the new object after it
    # (an object loaded in place, ``load_X_into``, is changed only once every field is read)
    ctor_params = {p for p, _ in d.ctor}
    direct: dict[str, str] = {}
    # keyed tables whose objects refer into another keyed table load after it
    order = sorted(d.fields, key=lambda f: f.keyed is not None and _has_refs(f, classes))
    packs = _packs(d)
    deferred: list[Field] = []
    for f in order:
        if f.custom or (f.optional and f.keyed is None) or f.columns:
            continue
        if f.pack is not None and packs[f.pack][0] is f:  # one checked list for the pack
            out.append(f"    p_{f.pack} = read_int_column(state, \"{f.pack}\", WHAT, "
                       f"{len(packs[f.pack])})")
        if f.keyed is not None:
            if _owner_context(f, d, classes):  # loads after the owner's other fields
                deferred.append(f)
            else:
                out += _keyed_load(f, d, classes)
            continue
        expr = (f"p_{f.pack}[{packs[f.pack].index(f)}]" if f.pack is not None
                else _load_expr(f, names))
        dcl = _declared(f.type, names)
        if dcl is not None and classes[dcl[1]].context:
            extra = ", ".join(c.split(":")[0] for c in classes[dcl[1]].context)
            expr = expr.replace(f"load_{snake(dcl[1])}(read_dict(state, \"{f.key}\", WHAT))",
                                f"load_{snake(dcl[1])}(read_dict(state, \"{f.key}\", WHAT), "
                                f"{extra})")
        if d.ctor and f.attr not in ctor_params:  # a new object: read into it directly
            direct[f.attr] = expr
            continue
        out.append(f"    v_{f.attr}: {f.type} = {expr}")
    by_attr = {f.attr: f for f in d.fields
               if not f.custom and not (f.optional and f.keyed is None) and not f.columns}
    args = ", ".join(f"{p}=v_{p}" if p in by_attr else f"{p}={p}"
                     for p, _ in d.ctor if p in by_attr or p in ctx_names)
    # a constructor without arguments: the fields also load into an object
    into = not d.ctor or d.into
    if into:
        out[header:header + 2] = [
            f"def load_{s}_into(o: {d.name}, {params}) -> None:",
            f'    """Load ``save_{s}`` output into ``o`` (ValueError: a bad field)."""']
    else:
        out.append(f"    o = {d.name}({args})")
    for f in d.fields:
        if f.optional and f.keyed is None:
            out += [f'    if "{f.key}" in state:',
                    f"        o.{f.attr} = {_load_expr(f, names)}"]
        elif f.custom:
            call_args = ", ".join(["state", *ctx_names])
            out.append(f"    o.vl_load_{f.attr}({call_args})")
        elif f.columns:  # after the constructor made the list: one checked column per field
            cols = _column_fields(f)
            out += [f"    n_{f.attr} = len(o.{f.attr})"]
            out += [f'    c_{c.attr} = read_int_column(state, "{c.key}", WHAT, n_{f.attr})'
                    for c in cols]
            out += [f"    l_{f.attr} = o.{f.attr}", f"    for i in range(n_{f.attr}):",
                    f"        x = l_{f.attr}[i]"]
            out += [f"        x.{c.attr} = c_{c.attr}[i]" for c in cols]
        elif f.attr in direct:
            out.append(f"    o.{f.attr} = {direct[f.attr]}")
        elif f in deferred:
            continue
        elif not (f.ctor_direct and any(p == f.attr for p, _ in d.ctor)) or d.into:
            out.append(f"    o.{f.attr} = v_{f.attr}")
    for f in deferred:  # objects that take the owner itself: once its other fields are in
        out += [*_keyed_load(f, d, classes), f"    o.{f.attr} = v_{f.attr}"]
    if d.check:
        out.append("    o.vl_check_state()")
    if d.into:
        return out
    if into:
        call_state = ", ".join(["state", *ctx_names])
        return [*out, "", "",
                f"def load_{s}({params}) -> {d.name}:",
                f'    """A ``{d.name}`` from ``save_{s}`` output (ValueError: a bad field)."""',
                f"    o = {d.name}()",
                f"    load_{s}_into(o, {call_state})",
                "    return o"]
    out.append("    return o")
    return out


def _keyed_child(f: Field, d: Decl, classes: dict[str, Decl]) -> Decl:
    cls = re.fullmatch(r"dict\[int, (\w+)\]", f.type)
    if cls is None or cls.group(1) not in classes:
        raise SystemExit(f"{d.name}.{f.attr}: keyed= needs dict[int, DeclaredClass]")
    return classes[cls.group(1)]


def _owner_context(f: Field, d: Decl, classes: dict[str, Decl]) -> bool:
    """A keyed table of an in-place owner whose objects' loader takes the owner itself."""
    child = _keyed_child(f, d, classes)
    return d.into and any(c.split(":")[1].strip() == d.name for c in child.context)


def _keyed_load(f: Field, d: Decl, classes: dict[str, Decl]) -> list[str]:
    """The loop that loads a keyed table into ``v_<attr>``, refusing an id seen twice."""
    child = _keyed_child(f, d, classes)
    ctx_names = [c.split(":")[0] for c in d.context]
    # a child's references resolve in a sibling keyed table loaded before it
    refs = [f"v_{_keyed_of(d, p)}" for p in _load_params(child) if p.startswith("refs_")]
    # a child's context is the parent's own, a field of the parent loaded before, or the
    # (in-place) parent itself
    loaded = {g.attr for g in d.fields if g.attr in {p for p, _ in d.ctor}}
    args = ["e", *refs]
    for c in child.context:
        n, _, t = c.partition(":")
        args.append("o" if t.strip() == d.name else
                    f"v_{n}" if n in loaded and n not in ctx_names else n)
    src = f'read_{"list" if child.row else "dict_list"}(state, "{f.key}", WHAT)'
    if f.optional:  # an older state without the table has none
        src = f'{src} if "{f.key}" in state else []'
    x = f"x_{f.attr}"
    return [f"    v_{f.attr}: {f.type} = {{}}",
            f"    for e in {src}:",
            f"        {x} = load_{snake(child.name)}({', '.join(args)})",
            f"        if {x}.{f.keyed} in v_{f.attr}:",
            f'            raise ValueError(f"{{WHAT}}: {f.key} holds {f.keyed} {{{x}.{f.keyed}}} '
            f'twice")',
            f"        v_{f.attr}[{x}.{f.keyed}] = {x}"]


def _has_refs(f: Field, classes: dict[str, Decl]) -> bool:
    """A keyed field whose objects hold references (their loader takes a refs_ table)."""
    m = re.fullmatch(r"dict\[int, (\w+)\]", f.type)
    return m is not None and m.group(1) in classes and any(
        p.startswith("refs_") for p in _load_params(classes[m.group(1)]))


def _keyed_of(d: Decl, param: str) -> str:
    """The keyed field of ``d`` whose table resolves the loader parameter ``refs_<class>``."""
    cls_snake, _, cls = param.removeprefix("refs_").partition(": dict[int, ")
    for f in d.fields:
        m = re.fullmatch(r"dict\[int, (\w+)\]", f.type)
        if f.keyed is not None and m and snake(m.group(1)) == cls_snake:
            return f.attr
    raise SystemExit(f"{d.name}: no keyed table of {cls.rstrip(']')} for {param}")


def _how(f: Field) -> str:
    if f.custom:
        return "custom"
    if f.column or f.columns:
        return "column" if f.column else "columns"
    if f.pack is not None:
        return f"pack={f.pack}"
    if f.if_set:
        return "if_set"
    if f.str_keys:
        return "str_keys"
    if f.split is not None:
        return f"split={f.split}"
    if f.optional:
        return "optional"
    if f.has:
        return "has"
    if f.ref is not None:
        return f"ref={f.ref}"
    if f.keyed is not None:
        return f"keyed={f.keyed}"
    if f.lo is not None:
        return f"range={f.lo}..{f.hi}"
    return ""


def render(decls: list[Decl], package: str, extra_imports: set[str],
           known: dict[str, Decl] | None = None, homes: dict[str, str] | None = None,
           out_name: str = GENERATED_NAME) -> str:
    """The generated module for one package (``known``: every declaring class, for fields of
    a class declared in another package, whose functions ``homes`` says where to import)."""
    classes = dict(known) if known is not None else {d.name: d for d in decls}
    _ALL.clear()
    _ALL.update(classes)
    body: list[str] = []
    for d in decls:
        body += _emit_class(d, classes)
    own = {snake(d.name) for d in decls}
    if homes:
        calls = set(re.findall(r"\b((?:save|load)_(\w+?))(?:_into)?\(", "\n".join(body)))
        for fn, cls in sorted(calls):
            if cls not in own and cls in homes:
                extra_imports.add(f"from {homes[cls]} import {fn}")
        text = "\n".join(body)
        mine = {d.name for d in decls}
        for name, other in classes.items():
            if name not in mine and re.search(rf"\b{name}\b", text):
                extra_imports.add(f"from {other.module} import {name}")
    used = sorted(set(re.findall(r"\b((?:read|resolve)_\w+)\(", "\n".join(body))))
    opt = any("_opt(" in line for line in body)
    head = [
        "# GENERATED by `python -m kernelmodel.state.gen` from the `# state` fields of the",
        f"# classes of {package}/{'' if out_name == GENERATED_NAME else ' that name this module'}.",
        "# do not edit; change a declaration and regenerate (docs/ARCHITECTURE.md, "
        '"State: declared once").',
        f'"""Save and load functions of the declared classes of ``{package}/`` (generated)."""',
        "",
        "from __future__ import annotations",
        "",
    ]
    type_only = sorted(i.removeprefix(TYPE_ONLY) for i in extra_imports if i.startswith(TYPE_ONLY))
    typing = [n for n, need in (("TYPE_CHECKING", type_only), ("TypeVar", opt)) if need]
    if opt:
        head += ["from collections.abc import Callable"]
    if typing:
        head += [f"from typing import {', '.join(typing)}", ""]
    if re.search(r"\bi64\b", "\n".join(body)):
        head += ["from mypy_extensions import i64", ""]
    mods: dict[str, list[str]] = {}
    for d in decls:
        if not all(f.column for f in d.fields):  # a column-only class is not named in code
            mods.setdefault(d.module, []).append(d.name)
    imports = [f"from {m} import {', '.join(sorted(n))}" for m, n in sorted(mods.items())]
    imports += sorted(i for i in extra_imports if not i.startswith(TYPE_ONLY))
    if used:
        imports.append(f"from machine.state_read import {', '.join(used)}")
    merged: dict[str, set[str]] = {}
    for line in imports:
        module, _, names = line.removeprefix("from ").partition(" import ")
        merged.setdefault(module, set()).update(n.strip() for n in names.split(","))
    for m, n in sorted(merged.items()):  # names in ruff's isort order (case ignored)
        ordered = sorted(n, key=lambda s: (not s.isupper(), not s[:1].isupper(), s.lower()))
        head.append(f"from {m} import {', '.join(ordered)}")
    if type_only:
        head += ["", "if TYPE_CHECKING:", *(f"    {i}" for i in type_only)]
    head += pick("\n".join(body))
    if opt:
        head += ["", '_T = TypeVar("_T")', "", "",
                 "def _opt(state: dict[str, object] | None, "
                 "load: Callable[[dict[str, object]], _T]) -> _T | None:",
                 "    return load(state) if state is not None else None"]
    table = ["", "", "#: Per class, its declared fields: (snapshot key, attribute, type, the",
             "#: options that change how it is stored: custom, has, ref=ID, keyed=ID, column,",
             "#: columns or range).",
             "FIELDS: dict[str, tuple[tuple[str, str, str, str], ...]] = {"]
    for d in decls:
        table.append(f'    "{d.name}": (')
        table += [f'        ("{f.key}", "{f.attr}", "{f.type}", "{_how(f)}"),' for f in d.fields]
        table.append("    ),")
    table.append("}")
    return _format("\n".join(head + body + table) + "\n", package, out_name)


def _format(text: str, package: str, name: str) -> str:
    """``text`` as ``ruff format`` lays it out (the project's style, so lint stays quiet)."""
    done = subprocess.run(
        [shutil.which("ruff") or "ruff", "format", "--stdin-filename",
         f"{package}/{name}",
         "-"], input=text, capture_output=True, text=True, check=True, cwd=ROOT)
    return done.stdout


def _target(rel: Path) -> str:
    """The generated module a source file's declarations go to."""
    parts = rel.parts
    if parts[0] == "kernelmodel" and len(parts) > 2:
        return f"kernelmodel/{parts[1]}/{GENERATED_NAME}"
    return f"{parts[0]}/{GENERATED_NAME}"


def collect() -> dict[str, str]:
    """Output path -> its text, for every package."""
    groups: dict[str, list[Decl]] = {}
    extras: dict[str, set[str]] = {}
    for root in ROOTS:
        for path in sorted((ROOT / root).rglob("*.py")):
            rel = path.relative_to(ROOT)
            src = path.read_text()
            if rel.name == "gen.py" or "GENERATED" in src[:200]:
                continue
            module = ".".join(rel.with_suffix("").parts)
            target = _target(rel)
            found_extras: set[str] = set()
            for d in scan(path, module, found_extras):
                own = f"{rel.parent.as_posix()}/{d.target}.py" if d.target else target
                groups.setdefault(own, []).append(d)
                extras.setdefault(own, set()).update(d.imports)
    known = {d.name: d for decls in groups.values() for d in decls}
    homes = {snake(d.name): target[:-3].replace("/", ".")
             for target, decls in groups.items() for d in decls}
    return {target: render(decls, str(Path(target).parent), extras[target], known, homes,
                           Path(target).name)
            for target, decls in sorted(groups.items())}


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) the generated modules."""
    ap = argparse.ArgumentParser(prog="python -m kernelmodel.state.gen", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true",
                    help="exit 1 when a generated file differs from what it would be")
    ap.add_argument("--count", action="store_true",
                    help="print the lines of hand-written save/load code per file, and the total")
    args = ap.parse_args(argv)
    if args.count:
        counts = count_lines()
        for name, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            print(f"{n:6d} {name}")
        print(f"{sum(counts.values()):6d} in all")
        return 0
    stale = []
    for target, text in collect().items():
        path = ROOT / target
        current = path.read_text() if path.exists() else ""
        if current != text:
            if args.check:
                stale.append(target)
            else:
                path.write_text(text)
                print(f"wrote {target}")
    if stale:
        print(f"not current: {', '.join(stale)} (run python -m kernelmodel.state.gen)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
