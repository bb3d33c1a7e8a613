"""Analysis: metrics with confidence intervals, trends, themes, the report.

Nothing here is imported by `cxops validate`; matplotlib only by the report path.
"""
