"""Smaller ONNX generators: weights stored as float16 or int8, computed in float32, in one file or in parts.

A large generator (m5's is 57 MB as float32) does not fit in git. Storing each weight tensor in fewer bits and
decoding it inside the graph (a Cast for float16, a DequantizeLinear for int8) shrinks the file 2x or 4x while ONNX
Runtime still computes every layer in float32, on any CPU. int8 is symmetric and per output channel: each channel
keeps its own scale, so a channel of small weights is not rounded away by a channel of large ones.
Only large float tensors are stored this way; biases and BatchNorm statistics stay float32: they weigh nothing.
Where one file of float16 weights is still too large for git, the weights can also move into part files beside the
model (ONNX external data): the same numbers, in files of a bounded size.
"""
from __future__ import annotations

import numpy as np

WEIGHT_FORMATS = ("float32", "float16", "int8")
MIN_ELEMENTS = 1024
# Which axis of a weight holds its output channels, by the operator that reads it (ONNX layouts).
CHANNEL_AXIS = {"Conv": 0, "ConvTranspose": 1, "MatMul": 1, "Gemm": 1, "Gather": 0}


def check_weight_format(weights: str) -> None:
    if weights not in WEIGHT_FORMATS:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_FORMATS)}, not {weights!r}")


def compress(model, weights: str):
    """Rewrite an onnx.ModelProto in place so that its large float32 weights are stored as `weights`."""
    from onnx import TensorProto, helper, numpy_helper

    check_weight_format(weights)
    if weights == "float32":
        return model
    graph = model.graph
    readers = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, node.op_type)
    kept, decoders = [], []
    for tensor in graph.initializer:
        array = numpy_helper.to_array(tensor)
        if tensor.data_type != TensorProto.FLOAT or array.size < MIN_ELEMENTS:
            kept.append(tensor)
            continue
        stored = f"{tensor.name}.{weights}"
        if weights == "float16":
            kept.append(numpy_helper.from_array(array.astype(np.float16), stored))
            decoders.append(helper.make_node("Cast", [stored], [tensor.name], to=TensorProto.FLOAT))
            continue
        axis = CHANNEL_AXIS.get(readers.get(tensor.name), 0)
        codes, scale = quantize_int8(array, axis)
        kept += [numpy_helper.from_array(codes, stored), numpy_helper.from_array(scale, f"{stored}_scale"),
                 numpy_helper.from_array(np.zeros_like(codes, shape=scale.shape), f"{stored}_zero")]
        decoders.append(helper.make_node("DequantizeLinear", [stored, f"{stored}_scale", f"{stored}_zero"],
                                         [tensor.name], axis=axis))
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = decoders + list(graph.node)  # the decoders first: the graph's nodes must stay in topological order
    del graph.node[:]
    graph.node.extend(nodes)
    return model


def quantize_int8(array: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 codes and one float32 scale per slice along `axis`: array ≈ codes * scale."""
    others = tuple(a for a in range(array.ndim) if a != axis)
    peak = np.abs(array).max(axis=others)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    shape = [1] * array.ndim
    shape[axis] = -1
    codes = np.clip(np.rint(array / scale.reshape(shape)), -127, 127).astype(np.int8)
    return codes, scale


def store_in_parts(model, folder, stem: str, part_bytes: int) -> list[str]:
    """Move the bytes of every initializer that holds raw data into files of at most `part_bytes` each (ONNX
    external data, which ONNX Runtime reads from beside the model), so that no file outgrows what git carries.

    A part is named by its content (`<stem>.<hash>.part`): a model already on disk keeps reading its own parts
    while a new one is written. Returns the parts' names, in order."""
    import hashlib
    from pathlib import Path

    from onnx import external_data_helper

    from cgan.io import atomic_write

    # Small tensors too: the model file keeps only its graph.
    tensors = [t for t in model.graph.initializer if t.HasField("raw_data")]
    groups, size = [[]], 0
    for tensor in tensors:
        if len(tensor.raw_data) > part_bytes:
            raise ValueError(f"weight {tensor.name} alone holds {len(tensor.raw_data)} bytes, more than a part's "
                             f"{part_bytes}")
        if size + len(tensor.raw_data) > part_bytes:
            groups.append([])
            size = 0
        groups[-1].append(tensor)
        size += len(tensor.raw_data)
    names = []
    for group in (g for g in groups if g):
        data = b"".join(t.raw_data for t in group)
        name = f"{stem}.{hashlib.sha256(data).hexdigest()[:12]}.part"
        target = Path(folder) / name
        if not target.is_file() or target.stat().st_size != len(data):
            atomic_write(target, lambda tmp: Path(tmp).write_bytes(data))
        offset = 0
        for tensor in group:
            length = len(tensor.raw_data)
            external_data_helper.set_external_data(tensor, location=name, offset=offset, length=length)
            tensor.ClearField("raw_data")
            offset += length
        names.append(name)
    return names


def part_names(model) -> set[str]:
    """The external files an onnx.ModelProto (loaded without its external data) reads its weights from."""
    return {entry.value for tensor in model.graph.initializer for entry in tensor.external_data
            if entry.key == "location"}
