"""Loading models, adapters and run folders for training and inference, with one-line errors.

A `MODEL` argument is a local model folder, a `full` run folder (its `final/` is the model), or a hub id.
A LoRA/QLoRA run or adapter folder is not a base model: load it with `adapter=` or merge it first. An adapter
remembers a fingerprint of the base it was trained on (`metaex.json` in the adapter folder); loading it onto a
different base is an error. Local paths switch the hub off (no network, no telemetry).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from metaex.core.errors import InputError

RUN_SCHEMA = "metaex/run@1"
FINAL_RUN = "run.json"        # in a run's final/: the finished run's config, committed with the artifact
ADAPTER_META = "metaex.json"  # in an adapter folder: {"base_model": ..., "base_fingerprint": ...}
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "HF_HUB_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1", "TOKENIZERS_PARALLELISM": "false"}


def go_offline() -> None:
    """Turn the hub and telemetry off for this process (also if huggingface_hub is already imported)."""
    os.environ.update(OFFLINE_ENV)
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True
        constants.HF_HUB_DISABLE_TELEMETRY = True


def is_run_dir(path: Path) -> bool:
    cfg = path / "config.json"
    if not cfg.is_file():
        return False
    try:
        return json.loads(cfg.read_text()).get("schema") == RUN_SCHEMA
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return False


def resolve_run(run_dir: str | Path) -> dict[str, Any]:
    """A finished run folder's config.json, with `final` set to the absolute path of its artifact
    (full model or adapter). Errors: not a folder, not a run folder, run not finished."""
    p = Path(run_dir)
    if not p.is_dir():
        raise InputError("no such run folder", str(run_dir))
    if not is_run_dir(p):
        raise InputError("not a metaex run folder (no config.json written by `metaex finetune`)", str(run_dir))
    cfg = json.loads((p / "config.json").read_text())
    final = p / "final"
    if not final.is_dir():
        raise InputError("run not finished (no final/); continue it with `metaex finetune … --resume`", str(p))
    if (final / FINAL_RUN).is_file():  # committed with the artifact: right even if config.json was not rewritten
        cfg = json.loads((final / FINAL_RUN).read_text())
    return {**cfg, "final": str(final.resolve())}


def _looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model


def resolve_model(model: str | Path) -> tuple[str, bool]:
    """(what to pass to from_pretrained, is_local) for a MODEL argument; see the module docstring."""
    p = Path(model).expanduser()
    if not p.exists():
        if _looks_like_path(str(model)):
            raise InputError("no such model folder", str(model))
        return str(model), False
    if not p.is_dir():
        raise InputError("not a folder (a model is a folder with config.json)", str(model))
    if is_run_dir(p):
        run = resolve_run(p)
        if run["method"] != "full":
            raise InputError(f"is a {run['method']} run folder (an adapter), not a base model: pass it as an "
                             "adapter or run `metaex merge` first", str(model))
        return run["final"], True
    if (p / "adapter_config.json").is_file() and not (p / "config.json").is_file():
        raise InputError("is an adapter folder, not a base model: pass it as an adapter or run `metaex merge` "
                         "first", str(model))
    if not (p / "config.json").is_file():
        raise InputError("not a model folder (no config.json)", str(model))
    return str(p.resolve()), True


def resolve_adapter(adapter: str | Path) -> Path:
    """An adapter folder from an adapter folder or a LoRA/QLoRA run folder."""
    p = Path(adapter).expanduser()
    if not p.exists():
        raise InputError("no such run or adapter folder", str(adapter))
    if is_run_dir(p):
        run = resolve_run(p)
        if run["method"] == "full":
            raise InputError("is a full fine-tune run: pass it as the model, not as an adapter", str(adapter))
        p = Path(run["final"])
    if not (p / "adapter_config.json").is_file():
        raise InputError("not an adapter folder (no adapter_config.json)", str(adapter))
    return p


def model_fingerprint(model: str) -> str:
    """A cheap identity of a base model: for a local folder, its config and the size, head and tail of each
    weights file (tiny models of different seeds differ there); for a hub id, the id."""
    p = Path(model)
    if not p.is_dir():
        return f"hub:{model}"
    h = hashlib.sha256((p / "config.json").read_bytes())
    for w in sorted(p.glob("*.safetensors")):
        size = w.stat().st_size
        h.update(f"{w.name}:{size}".encode())
        with open(w, "rb") as fh:
            h.update(fh.read(1 << 20))
            fh.seek(max(0, size - (1 << 20)))
            h.update(fh.read())
    return h.hexdigest()[:16]


def parameter_count(model: str) -> int | None:
    """Parameters of a local model folder, read from its safetensors headers (no weights loaded); None for a hub id
    or a folder without safetensors. Tied weights stored once count once."""
    p = Path(model)
    total, found = 0, False
    for w in sorted(p.glob("*.safetensors")) if p.is_dir() else []:
        with open(w, "rb") as fh:
            size = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(size))
        for name, info in header.items():
            if name != "__metadata__":
                n = 1
                for dim in info["shape"]:
                    n *= dim
                total, found = total + n, True
    return total if found else None


def lineage(model: str | Path) -> list[dict[str, Any]]:
    """The training runs behind a model, newest first: for each run folder on the way down to a plain model, its
    method and the kind of data it trained on (`bridge` for a bridging corpus, else the mix's condition)."""
    out: list[dict[str, Any]] = []
    p = Path(model)
    seen = set()
    while p.is_dir() and is_run_dir(p) and p.resolve() not in seen:
        seen.add(p.resolve())
        cfg = resolve_run(p)
        mix = cfg.get("mix") or {}
        out.append({"run": str(p.resolve()), "method": cfg.get("method"),
                    "data": "bridge" if mix.get("kind") == "bridge" else mix.get("condition")})
        p = Path(str(cfg.get("base_model", "")))
    return out


def quiet_transformers() -> None:
    """No tqdm bars or info logs from transformers/huggingface_hub (metaex reports progress itself)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    # peft asks transformers 5 for a renamed attribute; the warning says nothing a user can act on
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    # bitsandbytes (imported by peft) tries to fetch an optional CPU kernel from the hub and warns that it could
    # not, on every run, LoRA included: metaex is offline by design and its QLoRA runs without that kernel
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)


def _device(device: str | None) -> str:
    import torch

    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def _local_rank_device(device: str) -> Any:
    """device_map target: the local process's GPU under accelerate, else the device string."""
    if device != "cuda":
        return device
    from accelerate import PartialState

    return PartialState().local_process_index


def _load_error(err: OSError, path: str) -> InputError:
    where = "local folder" if Path(path).is_dir() else "hub id (the hub is unreachable or the id unknown)"
    return InputError(f"cannot load from this {where}: {str(err).splitlines()[0]}", path)


def load_tokenizer(path: str):
    """The model's tokenizer; a missing pad token becomes the eos token (training never pads)."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(path)
    except OSError as err:
        raise _load_error(err, path) from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(model: str | Path, *, adapter: str | Path | None = None, method: str | None = None,
               device: str | None = None, for_training: bool = False, bf16: bool = False) -> tuple[Any, Any]:
    """(model, tokenizer). `method="qlora"` loads the base in NF4 with double quantisation, its other weights and
    its compute in bf16 on CUDA or with `bf16`, else float32; otherwise in full precision (float32 on CPU, bf16 on
    CUDA unless full training).
    `adapter` (adapter or run folder) is attached with peft (trainable if `for_training`). For training the
    model stays where the Trainer will place it; otherwise it is moved to `device` and put in eval mode."""
    path, local = resolve_model(model)
    adapter_path = resolve_adapter(adapter) if adapter is not None else None
    if local:
        go_offline()
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    quiet_transformers()
    dev = _device(device)
    cuda = dev.startswith("cuda")
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if cuda and not (for_training and method == "full")
                              else torch.float32}
    if method == "qlora":
        half = cuda or bf16
        kwargs["dtype"] = torch.bfloat16 if half else torch.float32
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if half else torch.float32)
        kwargs["device_map"] = {"": _local_rank_device(dev)}
    tokenizer = load_tokenizer(path)
    try:
        net = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as err:
        raise _load_error(err, path) from None
    if adapter_path is not None:
        check_adapter_base(adapter_path, path)
        from peft import PeftModel

        net = PeftModel.from_pretrained(net, str(adapter_path), is_trainable=for_training)
    if not for_training:
        if method != "qlora":
            net.to(dev)
        net.eval()
    return net, tokenizer


def check_adapter_base(adapter_path: Path, base_path: str) -> None:
    """InputError if the adapter records a base fingerprint different from `base_path`'s."""
    meta = adapter_path / ADAPTER_META
    if not meta.is_file():
        return
    recorded = json.loads(meta.read_text())
    if recorded.get("base_fingerprint") not in (None, model_fingerprint(base_path)):
        raise InputError(f"adapter was trained on another base model ({recorded.get('base_model')}), not "
                         f"{base_path}", str(adapter_path))


def first_positions(texts: Iterable[str]) -> dict[str, int]:
    """Each distinct text, in order of first appearance, with the position (from 0) where it first appears: a
    training file repeats its documents once per pass, and work per text need only be done once."""
    first: dict[str, int] = {}
    for i, text in enumerate(texts):
        first.setdefault(text, i)
    return first


def check_coverage(tokenizer: Any, texts: Iterable[str], where: str) -> None:
    """InputError naming `where`:line (line = position in `texts`, from 1) for the first text holding a word the
    tokenizer maps to its unknown token. Tokenizers without an unknown token (byte-level BPE) always pass."""
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None:
        return
    first = first_positions(texts)
    unique = list(first)
    enc = tokenizer(unique, add_special_tokens=False, return_offsets_mapping=True)
    for text, ids, offsets in zip(unique, enc["input_ids"], enc["offset_mapping"], strict=True):
        if unk in ids:
            start, end = offsets[ids.index(unk)]
            raise InputError(f"word {text[start:end]!r} is not in the model's vocabulary (build the tiny "
                             "model with this file among --vocab-from)", where, first[text] + 1)
