"""The process environment metaex runs the Hugging Face libraries in: offline, without telemetry, quiet."""

from __future__ import annotations

import logging
import os
import sys
import warnings

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "HF_HUB_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1", "TOKENIZERS_PARALLELISM": "false"}


def go_offline() -> None:
    """Turn the hub and telemetry off for this process (also if huggingface_hub is already imported)."""
    os.environ.update(OFFLINE_ENV)
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True
        constants.HF_HUB_DISABLE_TELEMETRY = True


def quiet_transformers() -> None:
    """No tqdm bars or info logs from transformers/huggingface_hub (metaex reports progress itself)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    # peft asks transformers 5 for a renamed attribute; the warning says nothing a user can act on
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


# bitsandbytes (imported by peft and the Trainer) tries to fetch an optional CPU kernel from the hub and warns, as it
# is imported, that it could not, on every run, LoRA included: metaex is offline by design and its QLoRA runs
# without that kernel. Set at import of this module (the CLI imports it), before any command imports
# bitsandbytes: set inside quiet_transformers it came too late, and every finetune error was two lines.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
