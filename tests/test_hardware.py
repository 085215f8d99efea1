"""The GPU catalogue (lifecycle_opt/model/hardware.py) against the datasheets it cites:
dense peaks are half the sparse figures NVIDIA prints."""
import pytest

from lifecycle_opt.model.hardware import gpu


@pytest.mark.parametrize("name, dtype, sparse, memory, bandwidth", [
    ("H100", "bf16", 1979e12, 80e9, 3.35e12),          # H100 SXM5 datasheet
    ("H100", "fp8", 3958e12, 80e9, 3.35e12),
    ("H200", "bf16", 1979e12, 141e9, 4.8e12),          # H200 SXM datasheet
    ("B200", "fp8", 9e15, 180e9, 8e12),                # HGX B200, per GPU
    ("A100-80GB", "bf16", 624e12, 80e9, 2.039e12),     # A100 SXM datasheet (312 dense)
    ("A100-40GB", "int8", 1248e12, 40e9, 1.555e12),
])
def test_dense_peaks_memory_and_bandwidth(name, dtype, sparse, memory, bandwidth):
    g = gpu(name)
    assert g.peak(dtype) == pytest.approx(sparse / 2, rel=2e-4)
    assert (g.memory_bytes, g.bandwidth) == (memory, bandwidth)


def test_names_and_unknowns():
    assert gpu("a100") is gpu("A100-80GB") and gpu(" H100-sxm ") is gpu("H100")
    with pytest.raises(KeyError, match="known: A100-40GB"):
        gpu("TPU9")
    with pytest.raises(KeyError, match="no 'fp8' peak"):
        gpu("A100").peak("fp8")
