"""Tiny models, grammars and a LoRA run folder for the probe tests (built in seconds, saved like a hub model)."""

from __future__ import annotations

import json
from pathlib import Path

GRAMMARS = {
    "vemo": "# name: vemo\nS -> 'ka' X [1.0]\nX -> 'blick' X [0.3] | 'glims' X [0.2] | 'glims' [0.5]\n",
    "dura": "# name: dura\nS -> 'po' Y 'zun' [1.0]\nY -> 'mek' Y [0.3] | 'tov' Y [0.2] | 'mek' [0.5]\n",
}
PROSE = ("In every sentence of the language begins with ends one or more then after before word each "
         "the , . a sentence Is Yes No").split()


def write_grammars(folder: Path) -> dict[str, Path]:
    """The two test grammars as .pcfg files in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in GRAMMARS.items():
        paths[name] = folder / f"{name}.pcfg"
        paths[name].write_text(text)
    return paths


def vocabulary() -> list[str]:
    words = ["vemo", "dura", "ka", "blick", "glims", "po", "mek", "tov", "zun", ":", "'", "?", *PROSE]
    return list(dict.fromkeys(words))


def build_model(out: Path, *, words: list[str] | None = None, seed: int = 0) -> Path:
    """A randomly initialised tiny Llama (the project's `build_tiny`) covering the test grammars."""
    from metaex.core.models import build_tiny

    build_tiny(words or vocabulary(), out, seed=seed)
    return out


def build_lora_run(run_dir: Path, base: Path, *, mix: dict | None = None, seed: int = 1) -> Path:
    """A finetune-style run folder: config.json (base_model, method, mix) and final/ holding a LoRA adapter
    whose weights are non-zero (so the adapter changes the model)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from metaex.core.models.provenance import model_fingerprint

    model = AutoModelForCausalLM.from_pretrained(base)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    peft_model.save_pretrained(run_dir / "final")
    AutoTokenizer.from_pretrained(base).save_pretrained(run_dir / "final")
    (run_dir / "final" / "metaex.json").write_text(json.dumps(
        {"base_model": str(base), "base_fingerprint": model_fingerprint(str(base))}))
    config = {"schema": "metaex/run@1", "base_model": str(base), "method": "lora", "mix": mix}
    (run_dir / "config.json").write_text(json.dumps(config))
    return run_dir
