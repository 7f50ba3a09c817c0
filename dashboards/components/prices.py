"""The cash / real switch every view that shows money carries (URL key ``terms``).

``terms_switch`` is the control; the page's callback takes its value as an Input and asks
``dashboards.data`` for figures in those terms (``count_in``, ``in_terms``), titling them with
``data.terms_label`` ('(2018-19 prices)'). Without a GDP deflator series the real option is
disabled and the view stays in cash.
"""

from __future__ import annotations

from typing import Any

from dash import dcc

from dashboards import data
from dashboards.components.controls import choose, control

#: The URL query key of the switch.
TERMS_KEY = "terms"


def terms_field(component_id: str) -> tuple[str, str, str, str]:
    """The switch as a ``url_sync`` field: cash, the default, is left out of the URL."""
    return (TERMS_KEY, component_id, "value", "cash")


def terms_value(value: Any) -> str:
    """The switch's value from a URL ('cash' unless it says 'real' and deflators are loaded)."""
    chosen = choose(value, data.TERMS, "cash") or "cash"
    return chosen if chosen == "cash" or data.prices_year() else "cash"


def terms_switch(component_id: str, value: Any = None) -> Any:
    """'Cash' / 'Real (2018-19 prices)' radio buttons, labelled 'Money'."""
    base = data.prices_year()
    real = f"Real ({base} prices)" if base else "Real (no GDP deflators loaded)"
    return control(
        "Money",
        dcc.RadioItems(
            id=component_id,
            options=[
                {"value": "cash", "label": "Cash"},
                {"value": "real", "label": real, "disabled": base is None},
            ],
            value=terms_value(value),
            inline=True,
            className="terms-switch",
        ),
    )
