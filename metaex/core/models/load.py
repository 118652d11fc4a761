"""From a MODEL (or adapter) argument to a loaded model and tokenizer, with one-line errors.

A `MODEL` argument is a local model folder, a `full` run folder (its `final/` is the model), or a hub id.
A LoRA/QLoRA run or adapter folder is not a base model: load it with `adapter=` or merge it first. An adapter
remembers a fingerprint of the base it was trained on (`metaex.json` in the adapter folder); loading it onto a
different base is an error. Local paths switch the hub off (no network, no telemetry).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from metaex.core import markers
from metaex.core.errors import InputError
from metaex.core.models.environment import go_offline, quiet_transformers
from metaex.core.models.provenance import model_fingerprint, same_base
from metaex.core.models.runs import ADAPTER_META, is_run_dir, resolve_run


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
    kind = markers.folder_kind(p)
    if kind in ("probe", "parts", "report", "study"):
        raise InputError(f"is {markers.describe(kind)}, not a model", str(model))
    if not (p / "config.json").is_file():
        raise InputError("not a model folder (no config.json)", str(model))
    config = markers.read_json(p / "config.json")
    if config is None or "model_type" not in config or not markers.is_model_folder(p):
        raise InputError("not a model folder (a model folder holds a config.json with a model_type and its "
                         "weights, *.safetensors)", str(model))
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
    if Path(path).is_dir():
        return InputError(f"cannot load from this local folder: {str(err).splitlines()[0]}", path)
    return InputError("no such local folder, and as a hub id it cannot be loaded (the hub is unreachable or offline, "
                      f"or the id unknown): {str(err).splitlines()[0]}", path)


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
    if not same_base(recorded.get("base_fingerprint"), model_fingerprint(base_path)):
        raise InputError(f"adapter was trained on another base model ({recorded.get('base_model')}), not "
                         f"{base_path}", str(adapter_path))
