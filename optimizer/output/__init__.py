"""Result tables (pandas DataFrames) and the writers of every report: report.xlsx, summary.md,
results.json, comparison, frontier and stress reports."""
