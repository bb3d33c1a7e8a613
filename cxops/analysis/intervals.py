"""The report's confidence intervals: `cxops.intervals`, a leaf every layer may import
(the quota gate reads them too), re-exported here where the analysis always found them."""

from cxops.intervals import (
    LEVEL,
    Interval,
    mantel_haenszel_difference,
    newcombe_difference,
    nps_adjusted_wald,
    nps_adjusted_wald_margin,
    nps_difference_adjusted_wald,
    t_interval,
    t_quantile,
    welch_difference,
    wilson_interval,
    z_quantile,
)

__all__ = [
    "LEVEL",
    "Interval",
    "mantel_haenszel_difference",
    "newcombe_difference",
    "nps_adjusted_wald",
    "nps_adjusted_wald_margin",
    "nps_difference_adjusted_wald",
    "t_interval",
    "t_quantile",
    "welch_difference",
    "wilson_interval",
    "z_quantile",
]
