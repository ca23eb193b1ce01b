"""``POST /api/graphql``: a small but real GraphQL parser and executor over a tiny slice
of GitLab's schema — enough for work-item status and capability probes.

Supported: named/anonymous operations, variables (with defaults and type checks for the
declared scalar types), aliases, fragments and inline fragments (type conditions are
checked against the schema), ``@include``/``@skip``, ``__typename`` and a minimal
``__type(name:)`` introspection.

Schema slice::

    Query.project(fullPath: ID!): Project
    Query.__type(name: String!): __Type   (name kind fields { name type { name kind ofType } })
    Query.currentUser: UserCore
    Project { id fullPath name webUrl workItems(iids, first, after, state, sort, types)
              issues(iid, iids, first, after, state, sort, types)
              mergeRequests(iids, first, after, state, sort) }
    WorkItemConnection { nodes edges { cursor node } pageInfo count }
    IssueConnection / MergeRequestConnection { count nodes pageInfo }
    Issue { id iid title state type createdAt updatedAt userNotesCount }
    MergeRequest { id iid title state createdAt updatedAt userNotesCount }
    WorkItem { id iid title state createdAt updatedAt closedAt webUrl confidential
               workItemType { id name iconName } widgets [WorkItemWidget] }
    WorkItemWidgetStatus: by version (:func:`status_fields_for`)

Status widget by version (GitLab's ``status_type.rb`` history): CE and EE before 15.5 have
no ``WorkItemWidgetStatus``; EE 15.5–17.7 ``status: String`` (requirements verification,
null on issues; ``status { name }`` fails validation "Selections can't be made on
scalars"); 17.8–17.10 flat ``id name iconName`` (+ ``color position`` from 17.10);
17.11–18.0 ``status { id name color iconName description position }``; 18.1+ also
``category``. ``work_item_status=False`` removes the widget on any version.

Complexity is GitLab's rule (``Types::BaseField``/``BaseResolver``): each field 1 plus its
selections; a connection its selections plus 1 (+1 with ``sort``), times ``1 + 0.01 *
first`` unless it is filtered by ``iid``/``iids`` (no per-item cost then). Above the
configured limit (default 250, GitLab's for an authenticated user; ``None`` disables) the
answer is ``{"errors": [{"message": "Query has complexity of N, which exceeds max
complexity of 250"}]}``. ``first`` is capped at 100 like GitLab's max page size;
``workItems(iids:)`` takes at most 100 iids ("iids is too long (maximum is 100)", the
field null). Cursors are keyset (sort key + id).

A project whose merge requests are disabled resolves ``mergeRequests`` to null, no error.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lore.sim.model import Issue, iso_ms, parse_iso_ms
from lore.sim.wire import Request, Response

if TYPE_CHECKING:
    from lore.sim.server import SimState

MAX_PAGE_SIZE = 100


def complexity_error(complexity: int, limit: int) -> dict[str, Any]:
    """GitLab's answer to a query above the complexity limit."""
    return {
        "errors": [
            {
                "message": f"Query has complexity of {complexity}, "
                f"which exceeds max complexity of {limit}"
            }
        ]
    }


class GraphQLError(Exception):
    def __init__(
        self,
        message: str,
        line: int | None = None,
        column: int | None = None,
        path: list[str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.path = path
        self.extensions = extensions

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.line is not None:
            out["locations"] = [{"line": self.line, "column": self.column or 1}]
        if self.path:
            out["path"] = self.path  # graphql-ruby's static validation path
        if self.extensions:
            out["extensions"] = self.extensions
        return out


# --- parsing ----------------------------------------------------------------------------

_TOKEN = re.compile(
    r'''
    (?P<ignored>[\s,\ufeff]+|\#[^\n\r]*)
  | (?P<spread>\.\.\.)
  | (?P<punct>[!$&()\:=@\[\]{}|])
  | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
  | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<block>"""(?:\\"""|[^"]|"(?!""))*""")
  | (?P<string>"(?:\\.|[^"\\\n])*")
''',
    re.VERBOSE,
)


@dataclass(slots=True)
class _Tok:
    kind: str
    value: str
    line: int
    column: int


def _tokenize(source: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    line, line_start = 1, 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None:
            raise GraphQLError(
                f'Parse error on "{source[pos]}" at [{line}, {pos - line_start + 1}]',
                line,
                pos - line_start + 1,
            )
        kind = m.lastgroup or ""
        text = m.group()
        if kind != "ignored":
            out.append(_Tok(kind, text, line, pos - line_start + 1))
        newlines = text.count("\n")
        if newlines:
            line += newlines
            line_start = m.start() + text.rfind("\n") + 1
        pos = m.end()
    out.append(_Tok("eof", "", line, pos - line_start + 1))
    return out


@dataclass(slots=True)
class Var:
    name: str


@dataclass(slots=True)
class EnumValue:
    name: str


@dataclass(slots=True)
class Field:
    name: str
    alias: str | None
    args: dict[str, Any]
    directives: list[tuple[str, dict[str, Any]]]
    selections: list[Any] | None
    line: int
    column: int

    @property
    def key(self) -> str:
        return self.alias or self.name


@dataclass(slots=True)
class FragmentSpread:
    name: str
    directives: list[tuple[str, dict[str, Any]]]
    line: int
    column: int


@dataclass(slots=True)
class InlineFragment:
    type_condition: str | None
    directives: list[tuple[str, dict[str, Any]]]
    selections: list[Any]
    line: int
    column: int


@dataclass(slots=True)
class Operation:
    kind: str
    name: str | None
    variables: dict[str, tuple[str, Any, bool]]  # name → (type, default, has_default)
    selections: list[Any]


@dataclass(slots=True)
class Fragment:
    name: str
    type_condition: str
    selections: list[Any]
    line: int
    column: int


@dataclass(slots=True)
class Document:
    operations: list[Operation] = field(default_factory=list)
    fragments: dict[str, Fragment] = field(default_factory=dict)


class _Parser:
    def __init__(self, source: str) -> None:
        self.toks = _tokenize(source)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def _fail(self, tok: _Tok | None = None) -> GraphQLError:
        tok = tok or self.tok
        shown = tok.value or "end of file"
        return GraphQLError(
            f'Parse error on "{shown}" ({tok.kind.upper()}) at [{tok.line}, {tok.column}]',
            tok.line,
            tok.column,
        )

    def _peek(self, value: str) -> bool:
        return self.tok.kind in ("punct", "spread") and self.tok.value == value

    def _expect(self, value: str) -> _Tok:
        if not self._peek(value):
            raise self._fail()
        tok = self.tok
        self.i += 1
        return tok

    def _name(self) -> str:
        if self.tok.kind != "name":
            raise self._fail()
        value = self.tok.value
        self.i += 1
        return value

    def parse(self) -> Document:
        doc = Document()
        if self.tok.kind == "eof":
            raise GraphQLError("Unexpected end of document")
        while self.tok.kind != "eof":
            if self._peek("{"):
                doc.operations.append(Operation("query", None, {}, self._selection_set()))
            elif self.tok.kind == "name" and self.tok.value in (
                "query",
                "mutation",
                "subscription",
            ):
                kind = self._name()
                name = self._name() if self.tok.kind == "name" else None
                variables = self._variable_defs() if self._peek("(") else {}
                self._directives()
                doc.operations.append(Operation(kind, name, variables, self._selection_set()))
            elif self.tok.kind == "name" and self.tok.value == "fragment":
                tok = self.tok
                self._name()
                name = self._name()
                if self._name() != "on":
                    raise self._fail(self.toks[self.i - 1])
                cond = self._name()
                self._directives()
                doc.fragments[name] = Fragment(
                    name, cond, self._selection_set(), tok.line, tok.column
                )
            else:
                raise self._fail()
        return doc

    def _variable_defs(self) -> dict[str, tuple[str, Any, bool]]:
        self._expect("(")
        out: dict[str, tuple[str, Any, bool]] = {}
        while not self._peek(")"):
            self._expect("$")
            name = self._name()
            self._expect(":")
            type_str = self._type()
            default, has_default = None, False
            if self._peek("="):
                self.i += 1
                default, has_default = self._value(const=True), True
            self._directives()
            out[name] = (type_str, default, has_default)
        self._expect(")")
        return out

    def _type(self) -> str:
        if self._peek("["):
            self.i += 1
            inner = self._type()
            self._expect("]")
            text = f"[{inner}]"
        else:
            text = self._name()
        if self._peek("!"):
            self.i += 1
            text += "!"
        return text

    def _directives(self) -> list[tuple[str, dict[str, Any]]]:
        out = []
        while self._peek("@"):
            self.i += 1
            name = self._name()
            out.append((name, self._arguments() if self._peek("(") else {}))
        return out

    def _arguments(self) -> dict[str, Any]:
        self._expect("(")
        out: dict[str, Any] = {}
        while not self._peek(")"):
            name = self._name()
            self._expect(":")
            out[name] = self._value()
        self._expect(")")
        return out

    def _value(self, const: bool = False) -> Any:
        tok = self.tok
        if self._peek("$") and not const:
            self.i += 1
            return Var(self._name())
        if self._peek("["):
            self.i += 1
            items = []
            while not self._peek("]"):
                items.append(self._value(const))
            self.i += 1
            return items
        if self._peek("{"):
            self.i += 1
            obj: dict[str, Any] = {}
            while not self._peek("}"):
                key = self._name()
                self._expect(":")
                obj[key] = self._value(const)
            self.i += 1
            return obj
        if tok.kind == "number":
            self.i += 1
            return float(tok.value) if any(c in tok.value for c in ".eE") else int(tok.value)
        if tok.kind == "string":
            self.i += 1
            return json.loads(tok.value)
        if tok.kind == "block":
            self.i += 1
            return tok.value[3:-3].replace('\\"""', '"""')
        if tok.kind == "name":
            self.i += 1
            if tok.value in ("true", "false"):
                return tok.value == "true"
            if tok.value == "null":
                return None
            return EnumValue(tok.value)
        raise self._fail()

    def _selection_set(self) -> list[Any]:
        self._expect("{")
        out: list[Any] = []
        while not self._peek("}"):
            out.append(self._selection())
        self._expect("}")
        if not out:
            raise self._fail(self.toks[self.i - 1])
        return out

    def _selection(self) -> Any:
        tok = self.tok
        if self._peek("..."):
            self.i += 1
            if self.tok.kind == "name" and self.tok.value == "on":
                self.i += 1
                cond = self._name()
                return InlineFragment(
                    cond, self._directives(), self._selection_set(), tok.line, tok.column
                )
            if self.tok.kind == "name":
                name = self._name()
                return FragmentSpread(name, self._directives(), tok.line, tok.column)
            return InlineFragment(
                None, self._directives(), self._selection_set(), tok.line, tok.column
            )
        name = self._name()
        alias = None
        if self._peek(":"):
            self.i += 1
            alias, name = name, self._name()
        args = self._arguments() if self._peek("(") else {}
        directives = self._directives()
        selections = self._selection_set() if self._peek("{") else None
        return Field(name, alias, args, directives, selections, tok.line, tok.column)


def parse(source: str) -> Document:
    """Parse a GraphQL document (raises :class:`GraphQLError` on syntax errors)."""
    return _Parser(source).parse()


# --- schema -----------------------------------------------------------------------------

_WIDGET_TYPES = {
    "ASSIGNEES": "WorkItemWidgetAssignees",
    "DESCRIPTION": "WorkItemWidgetDescription",
    "HIERARCHY": "WorkItemWidgetHierarchy",
    "LABELS": "WorkItemWidgetLabels",
    "MILESTONE": "WorkItemWidgetMilestone",
    "NOTES": "WorkItemWidgetNotes",
    "START_AND_DUE_DATE": "WorkItemWidgetStartAndDueDate",
    "STATUS": "WorkItemWidgetStatus",
}

#: The arguments of a connection field without a resolver (``discussions``, ``notes``).
_PAGE_ARGS = frozenset({"first", "after", "last", "before"})

# type name → field name → (result type, allowed argument names). "[T]" is a list.
_SCHEMA: dict[str, dict[str, tuple[str, frozenset[str]]]] = {
    "Query": {
        "project": ("Project", frozenset({"fullPath"})),
        "__type": ("__Type", frozenset({"name"})),
        "currentUser": ("UserCore", frozenset()),
    },
    "Project": {
        "id": ("ID", frozenset()),
        "fullPath": ("ID", frozenset()),
        "name": ("String", frozenset()),
        "webUrl": ("String", frozenset()),
        "workItems": (
            "WorkItemConnection",
            frozenset({"iids", "first", "after", "last", "before", "state", "sort", "types"}),
        ),
        "issues": (
            "IssueConnection",
            frozenset(
                {"iid", "iids", "first", "after", "last", "before", "state", "sort", "types"}
            ),
        ),
        "mergeRequests": (
            "MergeRequestConnection",
            frozenset({"iids", "first", "after", "last", "before", "state", "sort"}),
        ),
    },
    "IssueConnection": {
        "nodes": ("[Issue]", frozenset()),
        "pageInfo": ("PageInfo", frozenset()),
        "count": ("Int", frozenset()),
    },
    "Issue": {
        "id": ("ID", frozenset()),
        "iid": ("String", frozenset()),
        "title": ("String", frozenset()),
        "state": ("String", frozenset()),
        "type": ("String", frozenset()),
        "createdAt": ("Time", frozenset()),
        "updatedAt": ("Time", frozenset()),
        "userNotesCount": ("Int", frozenset()),
        "discussions": ("DiscussionConnection", _PAGE_ARGS),
    },
    "MergeRequestConnection": {
        "nodes": ("[MergeRequest]", frozenset()),
        "pageInfo": ("PageInfo", frozenset()),
        "count": ("Int", frozenset()),
    },
    "MergeRequest": {
        "id": ("ID", frozenset()),
        "iid": ("String", frozenset()),
        "title": ("String", frozenset()),
        "state": ("String", frozenset()),
        "createdAt": ("Time", frozenset()),
        "updatedAt": ("Time", frozenset()),
        "userNotesCount": ("Int", frozenset()),
        "discussions": ("DiscussionConnection", _PAGE_ARGS),
        "diffStats": ("[DiffStats]", frozenset({"path"})),
    },
    "UserCore": {
        "id": ("ID", frozenset()),
        "username": ("String", frozenset()),
        "name": ("String", frozenset()),
        "webUrl": ("String", frozenset()),
        "avatarUrl": ("String", frozenset()),
        "state": ("String", frozenset()),
    },
    "DiscussionConnection": {
        "nodes": ("[Discussion]", frozenset()),
        "edges": ("[DiscussionEdge]", frozenset()),
        "pageInfo": ("PageInfo", frozenset()),
    },
    "DiscussionEdge": {"cursor": ("String", frozenset()), "node": ("Discussion", frozenset())},
    "NoteEdge": {"cursor": ("String", frozenset()), "node": ("Note", frozenset())},
    "Discussion": {
        "id": ("ID", frozenset()),
        "replyId": ("ID", frozenset()),
        "createdAt": ("Time", frozenset()),
        "resolvable": ("Boolean", frozenset()),
        "resolved": ("Boolean", frozenset()),
        "resolvedAt": ("Time", frozenset()),
        "notes": ("NoteConnection", _PAGE_ARGS),
    },
    "NoteConnection": {
        "nodes": ("[Note]", frozenset()),
        "edges": ("[NoteEdge]", frozenset()),
        "pageInfo": ("PageInfo", frozenset()),
        "count": ("Int", frozenset()),
    },
    "Note": {
        "id": ("ID", frozenset()),
        "body": ("String", frozenset()),
        "system": ("Boolean", frozenset()),
        "internal": ("Boolean", frozenset()),
        "confidential": ("Boolean", frozenset()),
        "resolvable": ("Boolean", frozenset()),
        "resolved": ("Boolean", frozenset()),
        "resolvedAt": ("Time", frozenset()),
        "author": ("UserCore", frozenset()),
        "createdAt": ("Time", frozenset()),
        "updatedAt": ("Time", frozenset()),
        "url": ("String", frozenset()),
        "position": ("DiffPosition", frozenset()),
    },
    "DiffPosition": {
        "diffRefs": ("DiffRefs", frozenset()),
        "filePath": ("String", frozenset()),
        "oldPath": ("String", frozenset()),
        "newPath": ("String", frozenset()),
        "positionType": ("String", frozenset()),
        "oldLine": ("Int", frozenset()),
        "newLine": ("Int", frozenset()),
        "x": ("Int", frozenset()),
        "y": ("Int", frozenset()),
        "width": ("Int", frozenset()),
        "height": ("Int", frozenset()),
    },
    "DiffRefs": {
        "baseSha": ("String", frozenset()),
        "headSha": ("String", frozenset()),
        "startSha": ("String", frozenset()),
    },
    "DiffStats": {
        "path": ("String", frozenset()),
        "additions": ("Int", frozenset()),
        "deletions": ("Int", frozenset()),
    },
    "WorkItemConnection": {
        "nodes": ("[WorkItem]", frozenset()),
        "edges": ("[WorkItemEdge]", frozenset()),
        "pageInfo": ("PageInfo", frozenset()),
        "count": ("Int", frozenset()),
    },
    "WorkItemEdge": {"cursor": ("String", frozenset()), "node": ("WorkItem", frozenset())},
    "PageInfo": {
        "hasNextPage": ("Boolean", frozenset()),
        "hasPreviousPage": ("Boolean", frozenset()),
        "startCursor": ("String", frozenset()),
        "endCursor": ("String", frozenset()),
    },
    "WorkItem": {
        "id": ("ID", frozenset()),
        "iid": ("String", frozenset()),
        "title": ("String", frozenset()),
        "state": ("String", frozenset()),
        "createdAt": ("Time", frozenset()),
        "updatedAt": ("Time", frozenset()),
        "closedAt": ("Time", frozenset()),
        "webUrl": ("String", frozenset()),
        "confidential": ("Boolean", frozenset()),
        "workItemType": ("WorkItemType", frozenset()),
        "widgets": ("[WorkItemWidget]", frozenset({"onlyTypes"})),
    },
    "WorkItemType": {
        "id": ("ID", frozenset()),
        "name": ("String", frozenset()),
        "iconName": ("String", frozenset()),
    },
    "WorkItemWidget": {"type": ("String", frozenset())},
    "WorkItemWidgetAssignees": {"type": ("String", frozenset())},
    "WorkItemWidgetDescription": {
        "type": ("String", frozenset()),
        "description": ("String", frozenset()),
    },
    "WorkItemWidgetHierarchy": {"type": ("String", frozenset())},
    "WorkItemWidgetLabels": {"type": ("String", frozenset())},
    "WorkItemWidgetMilestone": {"type": ("String", frozenset())},
    "WorkItemWidgetNotes": {"type": ("String", frozenset())},
    "WorkItemWidgetStartAndDueDate": {
        "type": ("String", frozenset()),
        "dueDate": ("String", frozenset()),
    },
    "__Type": {
        "name": ("String", frozenset()),
        "kind": ("String", frozenset()),
        "description": ("String", frozenset()),
        "fields": ("[__Field]", frozenset({"includeDeprecated"})),
        "possibleTypes": ("[__Type]", frozenset()),
        "ofType": ("__Type", frozenset()),
    },
    "__Field": {
        "name": ("String", frozenset()),
        "description": ("String", frozenset()),
        "type": ("__Type", frozenset()),
    },
}
#: Fields whose resolver GitLab gives a per-item complexity (connections).
_CONNECTIONS = {"workItems", "issues", "mergeRequests"}
#: Fields declared ``calls_gitaly: true`` (``BaseField#base_complexity`` adds 1).
_CALLS_GITALY = {"diffStats"}
#: ``Note.internal`` exists from 15.5 (``confidential`` was deprecated then, renamed).
NOTE_INTERNAL_SINCE = (15, 5)
#: GitLab's cap on the number of iids one ``workItems(iids:)`` takes.
MAX_IIDS = 100
#: GitLab's complexity limits (``GitlabSchema``): unauthenticated, authenticated, admin.
COMPLEXITY_LIMITS = {"unauthenticated": 200, "authenticated": 250, "admin": 300}
#: Work item type names per ``Issue.issue_type`` and the ``IssueType`` enum values.
_WORK_ITEM_TYPE_NAMES = {
    "issue": "Issue",
    "incident": "Incident",
    "task": "Task",
    "test_case": "Test Case",
}
_ISSUE_TYPE_ENUM = {
    "issue": "ISSUE",
    "incident": "INCIDENT",
    "task": "TASK",
    "test_case": "TEST_CASE",
}


def status_fields_for(version: Any, enabled: bool) -> dict[str, dict[str, str]] | None:
    """The status widget's shape on one GitLab version: ``{type name: {field: type}}`` for
    ``WorkItemWidgetStatus`` (and ``WorkItemStatus`` where it exists), None without it.

    From GitLab's history of ``status_type.rb``: EE 15.5–17.7 ``status`` is a String
    (requirements verification); 17.8–17.9 flat ``id name iconName`` (17.10 adds
    ``color position``); 17.11 a ``WorkItemStatus`` object; 18.1 adds ``category``.
    CE builds never have the widget.
    """
    if not enabled or version is None or not version.ee or not version.at_least(15, 5):
        return None
    if not version.at_least(17, 8):
        return {"WorkItemWidgetStatus": {"type": "String", "status": "String"}}
    if not version.at_least(17, 11):
        flat = {"type": "String", "id": "ID", "name": "String", "iconName": "String"}
        if version.at_least(17, 10):
            flat |= {"color": "String", "position": "Int"}
        return {"WorkItemWidgetStatus": flat}
    status = {
        "id": "ID",
        "name": "String",
        "color": "String",
        "iconName": "String",
        "description": "String",
        "position": "Int",
    }
    if version.at_least(18, 1):
        status["category"] = "String"
    return {
        "WorkItemWidgetStatus": {"type": "String", "status": "WorkItemStatus"},
        "WorkItemStatus": status,
    }


class FieldError(Exception):
    """An execution error of one field: the field becomes null, the error lists its path."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_SCALARS = {"ID", "String", "Int", "Boolean", "Time", "Float"}
_INTERFACES = {"WorkItemWidget": set(_WIDGET_TYPES.values())}


_SCHEMA_CACHE: dict[tuple[str, bool], dict[str, dict[str, tuple[str, frozenset[str]]]]] = {}


def schema_for(state: SimState) -> dict[str, dict[str, tuple[str, frozenset[str]]]]:
    """The schema slice of the simulated version (status widget types by version)."""
    version = getattr(state, "gitlab_version", None)
    key = (str(version), bool(state.work_item_status))
    cached = _SCHEMA_CACHE.get(key)
    if cached is None:
        cached = {name: dict(fields) for name, fields in _SCHEMA.items()}
        if version is not None and not version.at_least(*NOTE_INTERNAL_SINCE):
            cached["Note"] = {k: v for k, v in cached["Note"].items() if k != "internal"}
        extra = status_fields_for(version, bool(state.work_item_status)) or {}
        for type_name, fields in extra.items():
            cached[type_name] = {f: (t, frozenset()) for f, t in fields.items()}
        _SCHEMA_CACHE[key] = cached
    return cached


@dataclass(slots=True)
class _Ctx:
    state: SimState
    variables: dict[str, Any]
    fragments: dict[str, Fragment]
    schema: dict[str, dict[str, tuple[str, frozenset[str]]]]
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status_enabled(self) -> bool:
        return "WorkItemWidgetStatus" in self.schema

    def known_type(self, name: str) -> bool:
        return name in self.schema


def _unwrap(type_str: str) -> tuple[str, bool]:
    """``[WorkItem]`` → (``WorkItem``, True)."""
    if type_str.startswith("["):
        return type_str[1:-1].rstrip("!"), True
    return type_str, False


class GraphqlApi:
    """Executes queries against the simulator's dataset."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    # --- request handling ---------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        try:
            body = req.json()
        except (ValueError, UnicodeDecodeError):
            return Response.json({"errors": [{"message": "Invalid JSON in request body"}]}, 400)
        if isinstance(body, list):
            return Response.json([self._run(item).get("body") for item in body])
        result = self._run(body)
        return Response.json(result["body"], result["status"])

    def forced_complexity_error(self, req: Request) -> Response:
        """For the ``graphql_complexity`` fault: the error this query would get."""
        complexity = 0
        limit = self.state.complexity_limit or COMPLEXITY_LIMITS["authenticated"]
        try:
            body = req.json()
            doc = parse(body.get("query") or "")
            op = doc.operations[0]
            variables = body.get("variables") or {}
            if isinstance(variables, str):
                variables = json.loads(variables)
            complexity = self._query_complexity(doc, op, variables)
        except Exception:
            pass  # a fault must answer whatever the request looked like
        return Response.json(complexity_error(max(complexity, limit + 1), limit))

    def _run(self, body: Any) -> dict[str, Any]:
        def err(message: str, status: int = 200) -> dict[str, Any]:
            return {"status": status, "body": {"errors": [{"message": message}]}}

        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return err("No query string was present", 400)
        variables = body.get("variables")
        if isinstance(variables, str):
            try:
                variables = json.loads(variables) if variables.strip() else {}
            except ValueError:
                return err("Invalid variables JSON", 400)
        if variables is None:
            variables = {}
        if not isinstance(variables, dict):
            return err("Variables must be an object", 400)
        try:
            doc = parse(body["query"])
            op = self._pick_operation(doc, body.get("operationName"))
            ctx = _Ctx(
                self.state,
                self._coerce_variables(op, variables),
                doc.fragments,
                schema_for(self.state),
            )
            self._check_types(doc, ctx)
            if op.kind != "query":
                raise GraphQLError(f"Schema is not configured for {op.kind}s")
            limit = self.state.complexity_limit
            if limit:
                complexity = self.complexity(op.selections, ctx)
                if complexity > limit:
                    return {"status": 200, "body": complexity_error(complexity, limit)}
            data = self._select("Query", None, op.selections, ctx)
        except GraphQLError as exc:
            return {"status": 200, "body": {"errors": [exc.as_json()]}}
        if ctx.errors:
            return {"status": 200, "body": {"data": data, "errors": ctx.errors}}
        return {"status": 200, "body": {"data": data}}

    @staticmethod
    def _pick_operation(doc: Document, name: Any) -> Operation:
        if not doc.operations:
            raise GraphQLError("No operations in document")
        if name:
            for op in doc.operations:
                if op.name == name:
                    return op
            raise GraphQLError(f'No operation named "{name}"')
        if len(doc.operations) > 1:
            raise GraphQLError("An operation name is required")
        return doc.operations[0]

    # --- variables ----------------------------------------------------------------------

    def _coerce_variables(self, op: Operation, given: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, (type_str, default, has_default) in op.variables.items():
            if name in given:
                value = given[name]
            elif has_default:
                value = default
            else:
                value = None
                if type_str.endswith("!"):
                    raise GraphQLError(
                        f"Variable ${name} of type {type_str} was provided invalid value",
                        code="variableMismatch",
                    )
            problem = self._type_problem(type_str, value)
            if problem:
                raise GraphQLError(
                    f"Variable ${name} of type {type_str} was provided invalid value ({problem})",
                    code="variableMismatch",
                )
            out[name] = value
        return out

    def _type_problem(self, type_str: str, value: Any) -> str | None:
        non_null = type_str.endswith("!")
        base = type_str[:-1] if non_null else type_str
        if value is None:
            return "Expected value to not be null" if non_null else None
        if base.startswith("["):
            items = value if isinstance(value, list) else [value]
            for item in items:
                problem = self._type_problem(base[1:-1], item)
                if problem:
                    return problem
            return None
        if base == "String" and not isinstance(value, str):
            return f"Could not coerce value {json.dumps(value)} to String"
        if base == "ID" and (not isinstance(value, str | int) or isinstance(value, bool)):
            return f"Could not coerce value {json.dumps(value)} to ID"
        if base == "Int" and (not isinstance(value, int) or isinstance(value, bool)):
            return f"Could not coerce value {json.dumps(value)} to Int"
        if base == "Boolean" and not isinstance(value, bool):
            return f"Could not coerce value {json.dumps(value)} to Boolean"
        return None

    def _value(self, node: Any, ctx: _Ctx) -> Any:
        if isinstance(node, Var):
            return ctx.variables.get(node.name)
        if isinstance(node, EnumValue):
            return node.name
        if isinstance(node, list):
            return [self._value(x, ctx) for x in node]
        if isinstance(node, dict):
            return {k: self._value(v, ctx) for k, v in node.items()}
        return node

    # --- validation ---------------------------------------------------------------------

    def _check_types(self, doc: Document, ctx: _Ctx) -> None:
        """Static validation: fragment type conditions and fields exist, scalars have no
        selections, objects have some, arguments are known. Like GitLab, an invalid
        query gets errors and no data, whatever the data would have been."""
        for frag in doc.fragments.values():
            self._check_condition(frag.type_condition, frag.line, frag.column, ctx)
        for op in doc.operations:
            root = f"{op.kind} {op.name}" if op.name else op.kind
            self._check_selections("Query", op.selections, doc, ctx, set(), [root])

    @staticmethod
    def _check_condition(cond: str, line: int, column: int, ctx: _Ctx) -> None:
        if not ctx.known_type(cond):
            raise GraphQLError(
                f"No such type {cond}, so it can't be a fragment condition",
                line,
                column,
                code="undefinedType",
                typeName=cond,
            )

    def _check_selections(
        self,
        type_name: str,
        selections: list[Any],
        doc: Document,
        ctx: _Ctx,
        seen_fragments: set[str],
        path: list[str],
    ) -> None:
        fields = ctx.schema.get(type_name, {})
        for sel in selections:
            if isinstance(sel, FragmentSpread):
                frag = doc.fragments.get(sel.name)
                if frag is None:
                    raise GraphQLError(
                        f"Fragment {sel.name} was used, but not defined", sel.line, sel.column
                    )
                if sel.name in seen_fragments:
                    raise GraphQLError(f"Fragment {sel.name} contains an infinite loop")
                self._check_selections(
                    frag.type_condition,
                    frag.selections,
                    doc,
                    ctx,
                    seen_fragments | {sel.name},
                    [f"fragment {sel.name}"],
                )
                continue
            if isinstance(sel, InlineFragment):
                cond = sel.type_condition or type_name
                self._check_condition(cond, sel.line, sel.column, ctx)
                self._check_selections(
                    cond, sel.selections, doc, ctx, seen_fragments, [*path, f"... on {cond}"]
                )
                continue
            if sel.name == "__typename":
                continue
            spec = fields.get(sel.name)
            if spec is None:
                raise GraphQLError(
                    f"Field '{sel.name}' doesn't exist on type '{type_name}'",
                    sel.line,
                    sel.column,
                    [*path, sel.key],
                    code="undefinedField",
                    typeName=type_name,
                    fieldName=sel.name,
                )
            result_type, allowed_args = spec
            for arg in sel.args:
                if arg not in allowed_args:
                    raise GraphQLError(
                        f"Field '{sel.name}' doesn't accept argument '{arg}'",
                        sel.line,
                        sel.column,
                        [*path, sel.key, arg],
                        code="argumentNotAccepted",
                        name=sel.name,
                        typeName="Field",
                        argumentName=arg,
                    )
            base, _ = _unwrap(result_type)
            if base in _SCALARS:
                if sel.selections:
                    raise GraphQLError(
                        f"Selections can't be made on scalars (field '{sel.name}' returns "
                        f"{base} but has selections [{', '.join(self._names(sel.selections))}])",
                        sel.line,
                        sel.column,
                        [*path, sel.key],
                        code="selectionMismatch",
                        nodeName=f"field '{sel.name}'",
                        typeName=base,
                    )
            elif not sel.selections:
                raise GraphQLError(
                    f"Field must have selections (field '{sel.name}' returns {base} but has "
                    "no selections. Did you mean '" + sel.name + " { ... }'?)",
                    sel.line,
                    sel.column,
                    [*path, sel.key],
                    code="selectionMismatch",
                    nodeName=f"field '{sel.name}'",
                    typeName=base,
                )
            else:
                self._check_selections(
                    base, sel.selections, doc, ctx, seen_fragments, [*path, sel.key]
                )

    @staticmethod
    def _names(selections: list[Any]) -> list[str]:
        # graphql-ruby quotes each selection; an inline fragment shows as "... on T { ... }".
        out = []
        for sel in selections:
            if isinstance(sel, InlineFragment):
                out.append(
                    f'"... on {sel.type_condition} {{ ... }}"'
                    if sel.type_condition
                    else '"... { ... }"'
                )
            else:
                out.append(f'"{sel.name}"')
        return out

    # --- complexity ---------------------------------------------------------------------

    def complexity(self, selections: list[Any], ctx: _Ctx) -> int:
        """GitLab's query complexity (``Types::BaseField``): every field costs 1 plus its
        selections; a connection with a resolver costs its selections plus the resolver's
        own (1, +1 with ``sort``), and then 1% more per requested item (``first``, at most
        100), except when it is asked for by ``iid``/``iids`` (``complexity_multiplier``
        is 0 then). On an abstract type the costliest possible type counts."""
        return self._cost("Query", selections, ctx)

    def _cost(self, type_name: str, selections: list[Any], ctx: _Ctx) -> int:
        if type_name in _INTERFACES:
            return max(
                (
                    self._cost(t, selections, ctx)
                    for t in _INTERFACES[type_name]
                    if ctx.known_type(t)
                ),
                default=0,
            )
        total = 0
        fields = ctx.schema.get(type_name, {})
        for f in self._collect(type_name, selections, ctx):
            spec = fields.get(f.name)
            base = _unwrap(spec[0])[0] if spec else "String"
            child = self._cost(base, f.selections, ctx) if f.selections else 0
            if f.name not in _CONNECTIONS:
                # A field without a resolver (nested connections such as ``discussions``
                # and ``notes`` too): BaseField's constant complexity, 1 (+1 when it calls
                # Gitaly), plus its selections; no per-item multiplier.
                total += 1 + (1 if f.name in _CALLS_GITALY else 0) + child
                continue
            args = {k: self._value(v, ctx) for k, v in f.args.items()}
            cost = float(child + 1 + (1 if args.get("sort") is not None else 0))
            limit = min(
                x
                for x in (args.get("first"), args.get("last"), MAX_PAGE_SIZE)
                if isinstance(x, int)
            )
            by_iid = args.get("iid") is not None or args.get("iids") is not None
            cost += cost * limit * (0.0 if by_iid else 0.01)
            total += int(cost)
        return total

    def _query_complexity(self, doc: Document, op: Operation, variables: dict[str, Any]) -> int:
        ctx = _Ctx(self.state, variables, doc.fragments, schema_for(self.state))
        return self.complexity(op.selections, ctx)

    # --- execution ----------------------------------------------------------------------

    def _included(self, directives: list[tuple[str, dict[str, Any]]], ctx: _Ctx) -> bool:
        for name, args in directives:
            cond = bool(self._value(args.get("if"), ctx))
            if (name == "include" and not cond) or (name == "skip" and cond):
                return False
        return True

    def _collect(self, type_name: str, selections: list[Any], ctx: _Ctx) -> list[Field]:
        out: list[Field] = []
        for sel in selections:
            if not self._included(sel.directives, ctx):
                continue
            if isinstance(sel, Field):
                out.append(sel)
                continue
            if isinstance(sel, FragmentSpread):
                frag = ctx.fragments[sel.name]
                cond, inner = frag.type_condition, frag.selections
            else:
                cond, inner = sel.type_condition, sel.selections
            if cond is None or cond == type_name or type_name in _INTERFACES.get(cond, ()):
                out.extend(self._collect(type_name, inner, ctx))
        return out

    def _select(
        self,
        type_name: str,
        obj: Any,
        selections: list[Any],
        ctx: _Ctx,
        path: tuple[str | int, ...] = (),
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        fields = ctx.schema.get(type_name, {})
        for f in self._collect(type_name, selections, ctx):
            if f.name == "__typename":
                out[f.key] = type_name
                continue
            result_type = fields[f.name][0]  # validated by _check_types
            args = {k: self._value(v, ctx) for k, v in f.args.items()}
            try:
                value = self._resolve(type_name, obj, f.name, args, ctx)
            except FieldError as exc:
                # Like graphql-ruby: the field is null and the error says where.
                ctx.errors.append(
                    {
                        "message": exc.message,
                        "locations": [{"line": f.line, "column": f.column}],
                        "path": [*path, f.key],
                    }
                )
                out[f.key] = None
                continue
            out[f.key] = self._complete(result_type, value, f, ctx, (*path, f.key))
        return out

    def _complete(
        self, type_str: str, value: Any, f: Field, ctx: _Ctx, path: tuple[str | int, ...]
    ) -> Any:
        base, is_list = _unwrap(type_str)
        if value is None:
            return None
        if is_list:
            return [self._complete(base, v, f, ctx, (*path, n)) for n, v in enumerate(value)]
        if base in _SCALARS or not f.selections:
            return value
        concrete = value["__typename"] if base in _INTERFACES else base
        return self._select(concrete, value, f.selections, ctx, path)

    def _resolve(self, type_name: str, obj: Any, name: str, args: dict[str, Any], ctx: _Ctx) -> Any:
        ds = self.state.dataset
        if type_name == "Query":
            if name == "project":
                return (
                    ds.find_project(str(args.get("fullPath") or ""))
                    if not str(args.get("fullPath") or "").isdigit()
                    else None
                )
            if name == "currentUser":
                return ds.users[ds.token_user_id]
            if name == "__type":
                return self._introspect(str(args.get("name") or ""), ctx)
        if type_name == "Project":
            if name == "workItems":
                return self._work_items(obj, args, ctx)
            if name == "issues":
                return self._listing(obj, list(obj.issues.values()), args, "Issue")
            if name == "mergeRequests":
                # Merge requests disabled: GitLab resolves the connection to null, no error.
                if getattr(obj, "merge_requests_access_level", "enabled") == "disabled":
                    return None
                return self._listing(obj, list(obj.mrs.values()), args, "MergeRequest")
            return {
                "id": f"gid://gitlab/Project/{obj.id}",
                "fullPath": obj.path,
                "name": obj.name,
                "webUrl": f"{self.state.base_url}/{obj.path}",
            }[name]
        if type_name == "UserCore":
            return self._user_field(obj, name)
        if type_name == "Discussion":
            return self._discussion_field(obj, name, args)
        if type_name == "Note":
            return self._note_field(obj, name)
        if isinstance(obj, dict):
            return obj.get(name)
        if type_name == "WorkItem":
            return self._work_item_field(obj, name, args, ctx)
        if type_name in ("Issue", "MergeRequest"):
            if name == "discussions":
                return self._array_page([(d, obj) for d in obj.discussions], args)
            if name == "diffStats":
                return self._diff_stats(obj, args)
            return self._listed_field(type_name, obj, name)
        return None

    # --- discussions, notes, diff stats (the children of issues and MRs) -----------------

    @staticmethod
    def _time(ms: int | None) -> str | None:
        """GitLab's ``Time`` scalar: ``value.iso8601``, whole seconds (no milliseconds)."""
        return iso_ms(ms)[:-5] + "Z" if ms is not None else None

    def _array_page(self, items: list[Any], args: dict[str, Any]) -> dict[str, Any]:
        """graphql-ruby's ArrayConnection (``discussions`` and ``notes`` resolve to Ruby
        arrays): the cursor is the base64 of the 1-based index of the item, so an item
        removed between two pages shifts the later ones (an offset, not a keyset)."""
        first = self._first_arg(args)
        start = 0
        after = args.get("after")
        if after:
            try:
                start = int(base64.b64decode(str(after), validate=True).decode())
            except (ValueError, UnicodeDecodeError):
                raise GraphQLError("Invalid cursor provided") from None
            if start < 0:
                raise GraphQLError("Invalid cursor provided")

        def cursor(index: int) -> str:
            return base64.b64encode(str(index).encode()).decode()

        nodes = items[start : start + first]
        end = start + len(nodes)
        return {
            "nodes": nodes,
            "edges": [
                {"cursor": cursor(start + n + 1), "node": node} for n, node in enumerate(nodes)
            ],
            "pageInfo": {
                "hasNextPage": end < len(items),
                "hasPreviousPage": start > 0,
                "startCursor": cursor(start + 1) if nodes else None,
                "endCursor": cursor(end) if nodes else None,
            },
            "count": len(items),
        }

    def _user_field(self, user: Any, name: str) -> Any:
        rendered = self.state.renderer.user(user.id)
        return {
            "id": f"gid://gitlab/User/{user.id}",
            "username": user.username,
            "name": user.name,
            "webUrl": rendered["web_url"],
            "avatarUrl": rendered["avatar_url"],
            "state": user.state,
        }[name]

    def _discussion_field(self, obj: tuple[Any, Any], name: str, args: dict[str, Any]) -> Any:
        disc, item = obj
        if name in ("id", "replyId"):
            return f"gid://gitlab/Discussion/{disc.id}"
        if name == "createdAt":
            return self._time(disc.notes[0].created_ms if disc.notes else None)
        resolvable = [n for n in disc.notes if n.resolvable]
        if name == "resolvable":
            return bool(resolvable)
        if name == "resolved":
            return bool(resolvable) and all(n.resolved for n in resolvable)
        if name == "resolvedAt":
            done = [n.resolved_ms for n in resolvable if n.resolved and n.resolved_ms]
            return self._time(max(done)) if resolvable and len(done) == len(resolvable) else None
        if name == "notes":
            return self._array_page([(n, item) for n in disc.notes], args)
        return None

    def _note_field(self, obj: tuple[Any, Any], name: str) -> Any:
        note, item = obj
        if name == "id":
            return f"gid://gitlab/Note/{note.id}"
        if name == "body":
            return note.body
        if name == "system":
            return note.system
        if name in ("internal", "confidential"):
            return note.internal
        if name == "resolvable":
            return note.resolvable
        if name == "resolved":
            return bool(note.resolved) if note.resolvable else False
        if name == "resolvedAt":
            return self._time(note.resolved_ms) if note.resolvable else None
        if name == "author":
            return self.state.dataset.users[note.author_id]
        if name == "createdAt":
            return self._time(note.created_ms)
        if name == "updatedAt":
            return self._time(note.updated_ms)
        if name == "url":
            project = self.state.dataset.projects_by_id[item.project_id]
            kind = "merge_requests" if hasattr(item, "diffs") else "issues"
            return f"{self.state.base_url}/{project.path}/-/{kind}/{item.iid}#note_{note.id}"
        if name == "position":
            pos = note.position
            if pos is None:
                return None
            # GitLab's DiffPosition: no line_range (REST has it), no line codes.
            return {
                "diffRefs": {
                    "baseSha": pos.base_sha,
                    "headSha": pos.head_sha,
                    "startSha": pos.start_sha,
                },
                "filePath": pos.new_path or pos.old_path,
                "oldPath": pos.old_path,
                "newPath": pos.new_path,
                "positionType": "text",
                "oldLine": pos.old_line,
                "newLine": pos.new_line,
                "x": None,
                "y": None,
                "width": None,
                "height": None,
            }
        return None

    @staticmethod
    def _diff_stats(mr: Any, args: dict[str, Any]) -> list[dict[str, Any]]:
        """``MergeRequest.diffStats``: GitLab's DiffStats has only ``path``, ``additions``
        and ``deletions`` (no old path, no new/renamed/deleted flags); Gitaly counts every
        file, it is not cut at ``diff_max_files`` like the REST diff list."""
        wanted = args.get("path")
        out = []
        for f in mr.diffs:
            path = f.new_path or f.old_path
            if wanted is not None and path != wanted:
                continue
            lines = f.diff.splitlines()
            out.append(
                {
                    "path": path,
                    "additions": sum(
                        1 for x in lines if x.startswith("+") and not x.startswith("+++")
                    ),
                    "deletions": sum(
                        1 for x in lines if x.startswith("-") and not x.startswith("---")
                    ),
                }
            )
        return out

    def _type_ref(self, type_str: str, ctx: _Ctx) -> dict[str, Any]:
        """``__Field.type`` of a field declared as ``type_str`` (lists become LIST)."""
        base, is_list = _unwrap(type_str)
        kind = "SCALAR" if base in _SCALARS else "INTERFACE" if base in _INTERFACES else "OBJECT"
        named = {
            "name": base,
            "kind": kind,
            "ofType": None,
            "description": None,
            "fields": None,
            "possibleTypes": None,
        }
        if not is_list:
            return named
        return {
            "name": None,
            "kind": "LIST",
            "ofType": named,
            "description": None,
            "fields": None,
            "possibleTypes": None,
        }

    def _introspect(self, name: str, ctx: _Ctx) -> dict[str, Any] | None:
        if not ctx.known_type(name) and name not in _SCALARS:
            return None
        kind = "SCALAR" if name in _SCALARS else "INTERFACE" if name in _INTERFACES else "OBJECT"
        fields = None
        if name in ctx.schema:
            fields = [
                {"name": f, "description": None, "type": self._type_ref(t, ctx)}
                for f, (t, _args) in ctx.schema[name].items()
            ]
        possible = None
        if name in _INTERFACES:
            possible = [
                {
                    "name": t,
                    "kind": "OBJECT",
                    "description": None,
                    "fields": None,
                    "possibleTypes": None,
                    "ofType": None,
                }
                for t in sorted(_INTERFACES[name])
                if ctx.known_type(t)
            ]
        return {
            "name": name,
            "kind": kind,
            "description": None,
            "fields": fields,
            "possibleTypes": possible,
            "ofType": None,
        }

    # --- work items ---------------------------------------------------------------------

    @staticmethod
    def _cursor(item: Any, sort: str) -> str:
        key = "updated_at" if sort.startswith("UPDATED") else "created_at"
        ms = item.updated_ms if key == "updated_at" else item.created_ms
        raw = json.dumps({key: iso_ms(ms), "id": str(item.id)}, separators=(",", ":"))
        return base64.b64encode(raw.encode()).decode()

    @staticmethod
    def _sort_of(args: dict[str, Any], field_name: str, type_name: str) -> str:
        sort = str(args.get("sort") or "CREATED_DESC").upper()
        if sort not in ("CREATED_DESC", "CREATED_ASC", "UPDATED_DESC", "UPDATED_ASC"):
            raise GraphQLError(
                f"Argument 'sort' on Field '{field_name}' has an invalid value "
                f"({sort}). Expected type '{type_name}'."
            )
        return sort

    @staticmethod
    def _first_arg(args: dict[str, Any]) -> int:
        first = args.get("first")
        if first is None:
            first = MAX_PAGE_SIZE
        if not isinstance(first, int) or first < 0:
            raise GraphQLError("first must be a non-negative integer")
        return int(min(first, MAX_PAGE_SIZE))

    def _page(self, items: list[Any], args: dict[str, Any], sort: str) -> dict[str, Any]:
        """One keyset page: the cursor holds the sort key and the id, and the next page
        starts after that pivot, so an item edited during a walk cannot push another one
        onto a page already read."""
        first = self._first_arg(args)
        attr = "updated_ms" if sort.startswith("UPDATED") else "created_ms"
        desc = sort.endswith("DESC")
        items.sort(key=lambda i: (getattr(i, attr), i.id), reverse=desc)
        after = args.get("after")
        if after:
            key_name = "updated_at" if attr == "updated_ms" else "created_at"
            try:
                decoded = json.loads(base64.b64decode(str(after), validate=True))
                pivot = (parse_iso_ms(decoded[key_name]), int(decoded["id"]))
            except (ValueError, KeyError, TypeError):
                raise GraphQLError("Please provide a valid cursor") from None
            items = [
                i
                for i in items
                if ((getattr(i, attr), i.id) < pivot if desc else (getattr(i, attr), i.id) > pivot)
            ]
        nodes = items[:first]
        return {
            "nodes": nodes,
            "edges": [{"cursor": self._cursor(i, sort), "node": i} for i in nodes],
            "pageInfo": {
                "hasNextPage": len(items) > first,
                "hasPreviousPage": bool(after),
                "startCursor": self._cursor(nodes[0], sort) if nodes else None,
                "endCursor": self._cursor(nodes[-1], sort) if nodes else None,
            },
        }

    @staticmethod
    def _filter_iids(items: list[Any], args: dict[str, Any]) -> list[Any]:
        wanted: set[str] | None = None
        iids = args.get("iids")
        if iids is not None:
            wanted = {str(x) for x in (iids if isinstance(iids, list) else [iids])}
        iid = args.get("iid")
        if iid is not None:
            wanted = (wanted or set()) | {str(iid)} if wanted is None else wanted & {str(iid)}
        if wanted is None:
            return items
        return [i for i in items if str(i.iid) in wanted]

    def _work_items(self, project: Any, args: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        sort = self._sort_of(args, "workItems", "WorkItemSort")
        iids = args.get("iids")
        if isinstance(iids, list) and len(iids) > MAX_IIDS:
            # GitLab validates the argument's length: the field is null, with this error.
            raise FieldError(f"iids is too long (maximum is {MAX_IIDS})")
        items: list[Issue] = self._filter_iids(list(project.issues.values()), args)
        state = args.get("state")
        if state:
            want = {"OPENED": "opened", "OPEN": "opened", "CLOSED": "closed"}.get(str(state))
            if want:
                items = [i for i in items if i.state == want]
        types = args.get("types")
        if types is not None:
            wanted = {str(t).upper() for t in (types if isinstance(types, list) else [types])}
            items = [
                i
                for i in items
                if _ISSUE_TYPE_ENUM.get(getattr(i, "issue_type", "issue"), "ISSUE") in wanted
            ]
        page = self._page(items, args, sort)
        page["count"] = len(items)
        return page

    def _listing(
        self, project: Any, items: list[Any], args: dict[str, Any], kind: str
    ) -> dict[str, Any]:
        """``Project.issues`` / ``Project.mergeRequests``: keyset-paginated listings."""
        sort = self._sort_of(
            args,
            "issues" if kind == "Issue" else "mergeRequests",
            "IssueSort" if kind == "Issue" else "MergeRequestSort",
        )
        items = self._filter_iids(items, args)
        state = args.get("state")
        if state is not None and str(state).lower() != "all":
            items = [i for i in items if i.state == str(state).lower()]
        types = args.get("types")
        if kind == "Issue" and types is not None:
            wanted = {str(t).upper() for t in (types if isinstance(types, list) else [types])}
            items = [
                i
                for i in items
                if _ISSUE_TYPE_ENUM.get(getattr(i, "issue_type", "issue"), "ISSUE") in wanted
            ]
        page = self._page(items, args, sort)
        page["count"] = len(items)
        return page

    def _listed_field(self, kind: str, item: Any, name: str) -> Any:
        from lore.sim.render import Renderer

        if name == "id":
            return f"gid://gitlab/{kind}/{item.id}"
        if name == "iid":
            return str(item.iid)
        if name == "title":
            return item.title
        if name == "state":
            return item.state
        if name == "type":
            return _ISSUE_TYPE_ENUM.get(getattr(item, "issue_type", "issue"), "ISSUE")
        if name == "createdAt":
            return iso_ms(item.created_ms)[:-5] + "Z"
        if name == "updatedAt":
            return iso_ms(item.updated_ms)[:-5] + "Z"
        if name == "userNotesCount":
            return Renderer.user_notes_count(item.discussions)
        return None

    def _work_item_field(self, issue: Issue, name: str, args: dict[str, Any], ctx: _Ctx) -> Any:
        if name == "id":
            return f"gid://gitlab/WorkItem/{issue.id}"
        if name == "iid":
            return str(issue.iid)
        if name == "title":
            return issue.title
        if name == "state":
            return "OPEN" if issue.state == "opened" else "CLOSED"
        if name == "createdAt":
            return iso_ms(issue.created_ms)[:-5] + "Z"
        if name == "updatedAt":
            return iso_ms(issue.updated_ms)[:-5] + "Z"
        if name == "closedAt":
            return iso_ms(issue.closed_ms)[:-5] + "Z" if issue.closed_ms else None
        if name == "webUrl":
            project = self.state.dataset.projects_by_id[issue.project_id]
            return f"{self.state.base_url}/{project.path}/-/issues/{issue.iid}"
        if name == "confidential":
            return issue.confidential
        if name == "workItemType":
            issue_type = getattr(issue, "issue_type", "issue")
            type_name = _WORK_ITEM_TYPE_NAMES.get(issue_type, "Issue")
            number = (
                list(_WORK_ITEM_TYPE_NAMES).index(issue_type) + 1
                if issue_type in _WORK_ITEM_TYPE_NAMES
                else 1
            )
            return {
                "id": f"gid://gitlab/WorkItems::Type/{number}",
                "name": type_name,
                "iconName": f"issue-type-{issue_type.replace('_', '-')}",
            }
        if name == "widgets":
            return self._widgets(issue, args.get("onlyTypes"), ctx)
        return None

    def _widgets(self, issue: Issue, only: Any, ctx: _Ctx) -> list[dict[str, Any]]:
        from lore.sim.render import Renderer

        out = []
        wanted = {str(x) for x in only} if isinstance(only, list) else None
        status_shape = ctx.schema.get("WorkItemWidgetStatus")
        for wtype, typename in _WIDGET_TYPES.items():
            if wtype == "STATUS" and status_shape is None:
                continue
            if wanted is not None and wtype not in wanted:
                continue
            widget: dict[str, Any] = {"__typename": typename, "type": wtype}
            if wtype == "STATUS":
                status = (
                    Renderer.status(issue.status_index) if issue.status_index is not None else None
                )
                assert status_shape is not None
                status_type = status_shape["status"][0] if "status" in status_shape else None
                if status_type == "String":
                    widget["status"] = None  # requirements verification: none on issues
                elif status_type is not None:
                    widget["status"] = status
                else:  # 17.8–17.10: the status's fields sit on the widget itself
                    for key in status_shape:
                        if key != "type":
                            widget[key] = status.get(key) if status else None
            elif wtype == "DESCRIPTION":
                widget["description"] = issue.description
            elif wtype == "START_AND_DUE_DATE":
                widget["dueDate"] = issue.due_date
            out.append(widget)
        return out
