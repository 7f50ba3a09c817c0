"""Shared controls whose state lives in the URL query, so every view can be shared by address.

A page's ``layout(**query)`` reads the query (``choose`` keeps only allowed values) and builds
its controls with ``dropdown``/``control``; ``url_sync`` registers the one callback that writes
the controls back into the address bar (without reloading the page) as they change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from dash import Input, Output, callback, dcc, html

Option = tuple[str, str]


def control(label: str, component: Any, *, wide: bool = False) -> html.Div:
    """A labelled control (``wide`` for place and peer pickers)."""
    return html.Div(
        [
            html.Label(label, className="control-label", htmlFor=getattr(component, "id", None)),
            component,
        ],
        className="control control-wide" if wide else "control",
    )


def controls(*children: Any) -> html.Div:
    """A row of controls, wrapping on narrow screens."""
    return html.Div(list(children), className="controls")


def options(values: Iterable[str | Option]) -> list[dict[str, str]]:
    """Dropdown options from plain values or (value, label) pairs."""
    out = []
    for v in values:
        value, label = (v, v) if isinstance(v, str) else v
        out.append({"value": value, "label": label})
    return out


def dropdown(
    component_id: str,
    values: Iterable[str | Option],
    value: str | list[str] | None,
    *,
    clearable: bool = False,
    multi: bool = False,
    searchable: bool = True,
    placeholder: str | None = None,
) -> dcc.Dropdown:
    """A Dash dropdown with the project's defaults (not clearable unless asked)."""
    return dcc.Dropdown(
        id=component_id,
        options=options(values),
        value=value,
        clearable=clearable,
        multi=multi,
        searchable=searchable,
        placeholder=placeholder,
    )


def choose(value: Any, allowed: Sequence[str], default: str | None) -> str | None:
    """``value`` if it is one of ``allowed`` (a URL may say anything), else ``default``."""
    return value if isinstance(value, str) and value in allowed else default


def split_list(value: Any, allowed: Sequence[str] | None = None) -> list[str]:
    """A list from a URL value: 'a,b' or repeated keys; unknown items dropped if ``allowed``."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = [p.strip() for item in items for p in str(item).split(",") if p.strip()]
    return [p for p in out if allowed is None or p in allowed]


#: The value a filter takes for "no filter": left out of the URL (a page's default).
ANY = "all"


def query_string(state: Mapping[str, Any]) -> str:
    """'?key=value&...' for the items of ``state`` that say something (lists comma-joined;
    empty values and ``ANY`` left out, since pages default to them)."""
    pairs = []
    for key, value in state.items():
        if isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        if value not in (None, "", ANY):
            pairs.append((key, str(value)))
    return "?" + urlencode(pairs) if pairs else ""


def url_sync(url_id: str, fields: Sequence[tuple[str, ...]]) -> None:
    """Write the controls ``fields`` ((query key, component id[, property[, default]]) tuples;
    property 'value' by default; a value equal to its default is left out of the URL) into
    ``url_id``'s search whenever one changes. Registered once, when the page module is
    imported."""
    keys = [f[0] for f in fields]
    defaults = {f[0]: f[3] for f in fields if len(f) > 3}

    @callback(
        Output(url_id, "search"),
        [Input(f[1], f[2] if len(f) > 2 else "value") for f in fields],
        prevent_initial_call=True,
    )
    def _sync(*values: Any) -> str:
        state = dict(zip(keys, values, strict=True))
        return query_string({k: None if defaults.get(k) == v else v for k, v in state.items()})
