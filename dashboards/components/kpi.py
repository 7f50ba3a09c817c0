"""KPI cards: one big figure, what it is, and where it came from."""

from __future__ import annotations

from dash import html


def kpi_card(label: str, value: str, detail: str | None = None, card_id: str | None = None) -> html.Div:
    """A card showing ``value`` large under ``label``, with an optional line of ``detail``."""
    children: list[html.Div] = [
        html.Div(label, className="kpi-label"),
        html.Div(value, className="kpi-value"),
    ]
    if detail:
        children.append(html.Div(detail, className="kpi-detail"))
    extra = {"id": card_id} if card_id else {}
    return html.Div(children, className="kpi-card", **extra)


def kpi_row(cards: list[html.Div]) -> html.Div:
    """Cards side by side (wrapping on narrow screens)."""
    return html.Div(cards, className="kpi-row")
