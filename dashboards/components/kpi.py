"""KPI cards: one big figure, what it is, and where it came from."""

from __future__ import annotations

from dash import html


def kpi_card(
    label: str,
    value: str,
    detail: str | None = None,
    card_id: str | None = None,
    text: bool = False,
) -> html.Div:
    """A card showing ``value`` large under ``label``, with an optional line of ``detail``.

    ``text=True`` for a value that is words (a release name) rather than a figure: smaller type.
    """
    children: list[html.Div] = [
        html.Div(label, className="kpi-label"),
        html.Div(value, className="kpi-value"),
    ]
    if detail:
        children.append(html.Div(detail, className="kpi-detail"))
    class_name = "kpi-card kpi-text" if text else "kpi-card"
    if card_id:
        return html.Div(children, id=card_id, className=class_name)
    return html.Div(children, className=class_name)


def kpi_row(cards: list[html.Div]) -> html.Div:
    """Cards side by side (wrapping on narrow screens)."""
    return html.Div(cards, className="kpi-row")
