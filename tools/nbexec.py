"""Execute a notebook with new parameters (papermill-style) through nbclient, for CI and figure builds.

The values go into a new cell right after the cell tagged `parameters`, tagged `injected-parameters`,
as papermill does, so the committed notebook keeps its defaults and stays free of outputs.
"""
from __future__ import annotations

from pathlib import Path

PARAMETERS_TAG = "parameters"


def parameters_cell_index(nb) -> int:
    tagged = [i for i, cell in enumerate(nb.cells) if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise ValueError(f"expected exactly one cell tagged '{PARAMETERS_TAG}', found {len(tagged)}")
    return tagged[0]


def inject_parameters(nb, params: dict):
    """A copy of `nb` with an assignment cell for each parameter after the parameters cell."""
    import copy

    import nbformat

    nb = copy.deepcopy(nb)
    if params:
        source = "# Parameters injected for this execution\n" + "".join(f"{k} = {v!r}\n" for k, v in params.items())
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
        nb.cells.insert(parameters_cell_index(nb) + 1, cell)
    return nb


def execute(path, params: dict | None = None, executed_copy=None, timeout: int = 900, cells=None):
    """Run the notebook at `path` in its own folder, in a fresh kernel; write the executed copy if asked.

    `cells`: indices of the only cells to run (e.g. [-1]: the last cell alone, as a user may); default all.
    `params` then need the parameters cell among them. A failing cell raises nbclient's CellExecutionError
    (with the traceback); the executed copy is written first so the failure can be inspected. The kernel
    inherits this process's environment (CGAN_DATA_DIR, CGAN_RESULTS_DIR, KERAS_BACKEND).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    if cells is not None:
        nb.cells = [nb.cells[i] for i in cells]
    nb = inject_parameters(nb, params or {})
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellExecutionError:
        if executed_copy:
            nbformat.write(nb, executed_copy)
        raise
    if executed_copy:
        nbformat.write(nb, executed_copy)
    return nb
