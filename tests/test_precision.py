"""Whether the CPU computes bfloat16 natively (metaex.core.models.precision): read from /proc/cpuinfo's flags."""

from __future__ import annotations

from metaex.core.models.precision import cpu_bf16


def _cpuinfo(tmp_path, flags: str):
    path = tmp_path / "cpuinfo"
    path.write_text("".join(f"processor\t: {i}\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\n" for i in range(2)))
    return path


def test_native_bf16_flags(tmp_path):
    assert cpu_bf16(_cpuinfo(tmp_path, "fpu sse2 avx2 fma avx512f avx512_bf16 amx_tile")) is True
    assert cpu_bf16(_cpuinfo(tmp_path, "fpu sse2 avx2 fma amx_bf16 amx_tile")) is True
    # an AVX2-only EPYC, and AVX-512 without its bf16 extension: no native bfloat16
    assert cpu_bf16(_cpuinfo(tmp_path, "fpu sse2 avx avx2 fma f16c vaes")) is False
    assert cpu_bf16(_cpuinfo(tmp_path, "fpu avx2 avx512f avx512bw avx512_vnni")) is False


def test_slow_bf16_warning_follows_the_device(monkeypatch):
    """An explicit `--device cpu` warns on a CPU without bf16 even where a GPU is present; CUDA never warns."""
    import torch

    from metaex.core.models import precision

    monkeypatch.setattr(precision, "cpu_bf16", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert "no native bfloat16" in precision.slow_bf16_warning("cpu")
    assert precision.slow_bf16_warning(None) is None       # the default device is then the GPU
    assert precision.slow_bf16_warning("cuda") is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert "no native bfloat16" in precision.slow_bf16_warning(None)
    monkeypatch.setattr(precision, "cpu_bf16", lambda: True)
    assert precision.slow_bf16_warning("cpu") is None
