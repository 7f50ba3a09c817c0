"""Property-based tests over the CRA, population and supplier-total adapters: generated files in
each published layout, with random values and broken rows mixed in. Every row read is counted,
quarantined or excluded for a reason, and the amounts that reach the output are exactly the
generated good ones."""

from __future__ import annotations

import csv
import json
import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_adapter_cra import HEADER_2014, assert_accounted, write_xlsx
from totalplace.ingest.adapters.cra import CraAdapter
from totalplace.ingest.adapters.ons_population import OnsPopulationAdapter
from totalplace.ingest.adapters.supplier_totals import SupplierTotalsAdapter
from totalplace.ingest.base import ParseContext

REGIONS = ["ENGLAND_North East", "ENGLAND_London", "SCOTLAND", "ENGLAND_South West"]
FAST = settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow])

cra_row = st.tuples(
    st.sampled_from([*REGIONS, "ATLANTIS"]),  # an unknown region must be quarantined
    st.sampled_from(["ID", "Non-ID"]),
    st.lists(
        st.one_of(st.none(), st.integers(-(10**6), 10**7).map(lambda n: n / 10)),
        min_size=2,
        max_size=2,
    ),
)


@FAST
@given(rows=st.lists(cra_row, min_size=1, max_size=25))
def test_cra_rows_are_all_accounted_for_and_amounts_exact(rows: list) -> None:  # type: ignore[type-arg]
    body = [
        [
            "Department for Work and Pensions",
            "10. Social protection",
            "10. Social protection",
            "10.2 Old age",
            "10.2 Old age",
            f"SEG{i}",
            "desc",
            ident,
            "CUR",
            "CG",
            region,
            "X",
            *amounts,
        ]
        for i, (region, ident, amounts) in enumerate(rows)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_xlsx(
            Path(tmp) / "cra.xlsx", [HEADER_2014, *body], sheet="CRA14 combined database"
        )
        result = CraAdapter().parse(path, ParseContext(source_id="test"))
    assert_accounted(result)
    expected = sum(
        round(Decimal(repr(a)) * 1000 * 100)
        for region, ident, amounts in rows
        if region != "ATLANTIS" and ident == "ID"
        for a in amounts
        if a
    )
    out = result.rows()
    assert (len(out) == 0 and expected == 0) or int(out["amount_pence"].sum()) == expected
    bad = sum(1 for region, ident, _ in rows if region == "ATLANTIS" and ident == "ID")
    assert len(result.quarantine) == bad


pop_row = st.tuples(st.lists(st.integers(0, 5000), min_size=91, max_size=91), st.booleans())


@FAST
@given(rows=st.lists(pop_row, min_size=1, max_size=12))
def test_population_rows_add_up_or_are_quarantined(rows: list) -> None:  # type: ignore[type-arg]
    header = ["ltla19_code", "ltla19_name", "total_population", *map(str, range(90)), "90+"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pop.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for i, (ages, wrong) in enumerate(rows):
                total = sum(ages) + (7 if wrong else 0)
                w.writerow([f"E0700{i:04d}", f"District {i}", total, *ages])
        result = OnsPopulationAdapter().parse(path, ParseContext(source_id="test"))
    assert_accounted(result)
    assert len(result.quarantine) == sum(1 for _, wrong in rows if wrong)
    out = result.rows()
    good = sum(sum(ages) for ages, wrong in rows if not wrong)
    assert (int(out["persons"].sum()) if len(out) else 0) == good


amount_text = st.integers(-(10**9), 10**9).map(
    lambda p: (f"({abs(p) / 100:,.2f})" if p < 0 else f" {p / 100:,.2f} ", p)
)


@FAST
@given(
    rows=st.lists(
        st.tuples(st.text("ABCDEFGH &'", min_size=1, max_size=12), amount_text),
        min_size=1,
        max_size=30,
    )
)
def test_supplier_totals_sum_exactly(rows: list) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "totals.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["Supplier Name", "Sum of Invoice Nett Amount"])
            for name, (text, _) in rows:
                w.writerow([f"S {name}", text])
        options = {
            "year": "2010-11",
            "body": "E09000022",
            "agency": "Lambeth",
            "agency_type": "Councils",
        }
        result = SupplierTotalsAdapter().parse(path, ParseContext(source_id="t", options=options))
    assert_accounted(result)
    out = result.rows()
    assert int(out["amount_pence"].sum()) == sum(p for _, (_, p) in rows)


grant = st.tuples(
    st.one_of(st.integers(1, 10**7), st.integers(1, 10**8).map(lambda n: n / 100)),
    st.sampled_from(["GBP", "GBP", "USD"]),
    st.sampled_from([("E08000032", "MD"), ("MD", "E08000032"), ("W99", "COUNTRY")]),
)


@FAST
@given(grants=st.lists(grant, min_size=1, max_size=20))
def test_grants_in_pounds_and_placed_are_counted_the_rest_set_aside(grants: list) -> None:  # type: ignore[type-arg]
    from tests.fixtures.make_fixtures import mini_lookups
    from totalplace.ingest.adapters.grants360 import Grants360Adapter

    doc = {
        "grants": [
            {
                "id": f"360G-f-{i}",
                "title": "t",
                "currency": cur,
                "amountAwarded": amount,
                "awardDate": "2020-03-17",
                "fundingOrganization": [{"id": "GB-1", "name": "Funder"}],
                "recipientOrganization": [{"id": "GB-2", "name": "Recipient"}],
                "beneficiaryLocation": [{"name": "X", "geoCode": code, "geoCodeType": kind}],
            }
            for i, (amount, cur, (code, kind)) in enumerate(grants)
        ]
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "grants.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        result = Grants360Adapter().parse(path, ParseContext(source_id="t", options=mini_lookups()))
    assert_accounted(result)
    placed = [(a, c) for a, c, (code, kind) in grants if "E08000032" in (code, kind)]
    good = [round(Decimal(repr(a)) * 100) for a, c in placed if c == "GBP"]
    out = result.rows()
    assert (int(out["amount_pence"].sum()) if len(out) else 0) == sum(good)
    assert len(result.quarantine) == len(grants) - len(good)


@FAST
@given(
    values=st.lists(
        st.lists(st.integers(-5000, 10**6), min_size=11, max_size=11), min_size=1, max_size=8
    )
)
def test_outturn_service_lines_sum_exactly(values: list) -> None:  # type: ignore[type-arg]
    from tests.test_adapter_revenue_outturn import GSS, SERVICES, authority, write_rs
    from totalplace.ingest.adapters.revenue_outturn import RevenueOutturnAdapter

    keys = [s.split()[0].lower() for s in SERVICES]
    rows = [
        authority(f"E01{i:02d}", f"Council {i}", "UA", **dict(zip(keys, v, strict=True)))
        for i, v in enumerate(values)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_rs(
            Path(tmp) / "rs.xlsx", [*rows, [None, "ENGLAND", None, None, None, *[1] * 11]]
        )
        result = RevenueOutturnAdapter().parse(
            path, ParseContext(source_id="t", options={"ecode_to_gss": GSS})
        )
    assert_accounted(result)
    out = result.rows()
    assert (int(out["amount_pence"].sum()) if len(out) else 0) == sum(map(sum, values)) * 100_000


@FAST
@given(
    rows=st.lists(st.tuples(st.integers(-(10**6), 10**8), st.booleans()), min_size=1, max_size=25)
)
def test_mapped_returns_count_good_rows_and_quarantine_broken_ones(rows: list) -> None:  # type: ignore[type-arg]
    import shutil

    from totalplace.ingest.adapters.mapped import MappedAdapter

    fixtures = Path(__file__).parent / "fixtures"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "police-return.csv"
        shutil.copy(
            fixtures / "police-return.mapping.yaml", Path(tmp) / "police-return.mapping.yaml"
        )
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["Force", "ONS code", "Service", "Net expenditure £000"])
            for i, (tenths, broken) in enumerate(rows):
                text = f"{tenths / 10:,.1f}" + ("O" if broken else "")
                w.writerow(["Kent Police Authority", "E23000032", f"Service {i}", text])
        result = MappedAdapter().parse(path, ParseContext(source_id="t"))
    assert_accounted(result)
    out = result.rows()
    good = sum(t * 10_000 for t, broken in rows if not broken)  # £ thousand, 1 dp -> pence
    assert (int(out["amount_pence"].sum()) if len(out) else 0) == good
    assert len(result.quarantine) == sum(1 for _, broken in rows if broken)
