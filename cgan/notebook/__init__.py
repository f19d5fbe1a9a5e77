"""What the notebooks call, so that each notebook stays a few thin cells.

    steps.py   the training notebooks' steps: config, architecture, train-or-load, TensorBoard, results
    widget.py  the label picker that draws with a run's generator (also the Voilà page)
    eda.py     the EDA notebooks: pandas views, label tables, PCA
    colab.py   setting up a Colab runtime (the notebooks' first cell carries a copy, since cgan is not
               installed yet when it runs)
"""
