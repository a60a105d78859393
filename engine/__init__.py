"""The scoring engine: the only place that knows the formula of the scoring contract (docs/scoring-contract.md).

- document.py: model documents, validated whole
- values.py, conditions.py: the value and condition rules
- single.py: one lead in memory (explanations, dry run)
- sql.py: every lead at once in set-based SQL (bulk and real-time rescoring)
"""
