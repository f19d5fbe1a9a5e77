"""cgan/onnx_weights.py: float16 and int8 storage of an ONNX graph's weights, decoded inside the graph."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from cgan.onnx_weights import MIN_ELEMENTS, compress, part_names, quantize_int8, store_in_parts  # noqa: E402


def matmul_model(weight: np.ndarray, bias: np.ndarray):
    """y = x @ weight + bias, with both as initializers."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, weight.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, weight.shape[1]])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=10)


def run(model, x):
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


@pytest.fixture
def weights():
    rng = np.random.default_rng(0)
    # Columns of very different scales: per-channel scales must keep the small ones.
    return (rng.standard_normal((64, 32)) * np.geomspace(1e-3, 1, 32)).astype("float32"), \
        rng.standard_normal(32).astype("float32")


@pytest.mark.parametrize("fmt, stored_type, shrink, tolerance",
                         [("float16", TensorProto.FLOAT16, 0.5, 1e-3), ("int8", TensorProto.INT8, 0.25, 1e-2)])
def test_compressed_weights_are_smaller_and_compute_nearly_the_same(weights, fmt, stored_type, shrink, tolerance):
    weight, bias = weights
    x = np.random.default_rng(1).standard_normal((8, 64)).astype("float32")
    reference = run(matmul_model(weight, bias), x)
    model = compress(matmul_model(weight, bias), fmt)
    types = {t.name: t.data_type for t in model.graph.initializer}
    assert types[f"w.{fmt}"] == stored_type and types["b"] == TensorProto.FLOAT  # the small bias stays float32
    weight_bytes = {t.name: len(t.raw_data) for t in model.graph.initializer}
    assert weight_bytes[f"w.{fmt}"] == weight.nbytes * shrink
    out = run(model, x)
    assert out.dtype == np.float32
    assert np.abs(out - reference).max() <= tolerance * np.abs(reference).max()


def test_int8_keeps_one_scale_per_output_channel(weights):
    weight, _ = weights
    codes, scale = quantize_int8(weight, axis=1)
    assert codes.dtype == np.int8 and scale.shape == (32,)
    error = np.abs(codes * scale - weight).max(axis=0)
    assert np.all(error <= scale / 2 + 1e-9)  # each column within half of its own step, tiny columns included
    assert np.abs(codes).max() == 127


def test_float32_and_small_tensors_are_left_alone(weights):
    weight, bias = weights
    untouched = compress(matmul_model(weight, bias), "float32")
    assert [t.data_type for t in untouched.graph.initializer] == [TensorProto.FLOAT] * 2
    small = compress(matmul_model(weight[:8, :8], bias[:8]), "int8")  # 64 elements < MIN_ELEMENTS
    assert weight[:8, :8].size < MIN_ELEMENTS and len(small.graph.node) == 2
    with pytest.raises(ValueError, match="weights must be one of"):
        compress(matmul_model(weight, bias), "int4")


def test_parts_hold_the_same_weights_in_files_under_the_limit(weights, tmp_path):
    weight, bias = weights
    x = np.random.default_rng(1).standard_normal((8, 64)).astype("float32")
    two = helper.make_graph(  # two weights, so that a limit under their sum needs two parts
        [helper.make_node("MatMul", ["x", "w"], ["xw"]), helper.make_node("MatMul", ["xw", "w2"], ["y"])], "two",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 32])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(weight[:32], "w2")])
    model = helper.make_model(two, opset_imports=[helper.make_opsetid("", 20)], ir_version=10)
    reference = run(model, x)
    names = store_in_parts(model, tmp_path, "generator.onnx", weight.nbytes)
    assert len(names) == 2 and part_names(model) == set(names)
    assert all((tmp_path / name).stat().st_size <= weight.nbytes for name in names)
    onnx.save(model, str(tmp_path / "generator.onnx"))
    session = onnxruntime.InferenceSession(str(tmp_path / "generator.onnx"), providers=["CPUExecutionProvider"])
    assert np.array_equal(session.run(None, {"x": x})[0], reference)
    with pytest.raises(ValueError, match="more than a part's"):
        store_in_parts(matmul_model(weight, bias), tmp_path, "generator.onnx", weight.nbytes - 1)
