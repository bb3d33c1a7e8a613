"""Write the dbt package's Student t quantiles (`dbt/cxops/seeds/cxops_t_quantiles.csv`).

The report's t intervals use `cxops.intervals.t_quantile` (a bisection on the incomplete
beta function); SQL has no such function, so the package reads t_{0.975, df} for df 1..300
from this seed, and above 300 uses the Cornish-Fisher expansion to the fourth order, which
agrees with `t_quantile` to about 1e-12 there. Each value is written as `repr(float)`, the
shortest text that reads back as the same double. `tests/test_dbt_package.py` checks the
file against `t_quantile`.

    python scripts/dbt_t_quantiles.py
"""

from __future__ import annotations

from pathlib import Path

from cxops.intervals import t_quantile

#: Largest df in the seed: above it the expansion (macros/cxops_intervals.sql) is as good.
MAX_DF = 300
SEED = Path(__file__).resolve().parents[1] / "dbt" / "cxops" / "seeds" / "cxops_t_quantiles.csv"


def seed_text() -> str:
    rows = [f"{df},{t_quantile(0.95, df)!r}" for df in range(1, MAX_DF + 1)]
    return "df,t_975\n" + "\n".join(rows) + "\n"


if __name__ == "__main__":
    SEED.write_text(seed_text(), encoding="utf-8")
    print(f"wrote {SEED} ({MAX_DF} rows)")
