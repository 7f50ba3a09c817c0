"""A count as ``totalplace count`` shows it on screen, as plain JSON-able data.

One definition for both ways the CLI gets a count: computed now, or kept by ``totalplace build``
(``results/<key>/counts/<digest>/screen.json``, read without pandas or the engine). The CLI's
one renderer prints this summary, so the two screens cannot differ. Amounts stay integer pence;
the renderer formats them.
"""

from __future__ import annotations

from typing import Any

from totalplace.count.deflators import describe_real_terms
from totalplace.count.result import CountResult, is_missing, row_ids


def screen_summary(result: CountResult) -> dict[str, Any]:
    """Everything the count's screen prints: the title, the non-zero rows (id, agency type,
    function, basis, driver, pence), the total, population and its year, per head, the
    release, the shares by confidence, the real-terms line, councils' own outturn, the CRA
    lines it replaced, the transfers eliminated and the caveats."""
    rows = result.rows
    shares = rows.groupby("confidence")["amount_pence"].sum() / max(result.total_pence, 1)
    councils = result.reported_by_councils
    return {
        "title": f"{result.place_name} {result.year}: high-level count",
        "place": result.place_name,
        "year": result.year,
        "rows": [
            {
                "row": rid,
                "agency_type": str(r.agency_type),
                "function": str(r.function),
                "basis": _text(r.basis),
                "driver": _text(r.driver),
                "amount_pence": int(r.amount_pence),
            }
            for r, rid in zip(rows.itertuples(), row_ids(rows), strict=True)
            if r.amount_pence != 0
        ],
        "total_pence": result.total_pence,
        "population": int(result.population),
        "population_year": int(result.population_year),
        "per_head_gbp": result.per_head_gbp,
        "release": result.release,
        "confidence": [[str(k), float(v)] for k, v in shares.items()],
        "real_terms": None if result.real_terms is None else describe_real_terms(result.real_terms),
        "reported_by_councils_pence": None
        if councils is None
        else int(councils["amount_pence"].sum()),
        "replaced": None
        if result.replaced is None
        else [[str(r.function), int(r.amount_pence)] for r in result.replaced.itertuples()],
        "eliminated": None
        if result.eliminated is None
        else [
            {
                "payer": str(e.payer),
                "payee": str(e.payee),
                "amount_pence": int(e.amount_pence),
                "reason": str(e.reason),
            }
            for e in result.eliminated.itertuples()
        ],
        "caveats": [str(c) for c in result.caveats],
    }


def _text(value: Any) -> str | None:
    """A cell's text; a blank cell stays blank (None), as on the screen."""
    return None if is_missing(value) else str(value)
