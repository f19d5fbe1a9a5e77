"""Reports made from committed run folders: the generated resultados/README.md and its tables and plots.

    tables.py    reading summaries and metrics into comparison tables and quality curves
    findings.py  what the original project claimed, checked against our runs
    index.py     resultados/README.md and the comparison plots
"""
