"""A study config's checks across keys (each key was checked alone when it was read, `core/options.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from metaex.core.errors import InputError
from metaex.core.explain.options import ExplainOptions

if TYPE_CHECKING:
    from metaex.core.study.config import StudyConfig


def check_config(cfg: StudyConfig, src: str) -> None:
    """What no single key's check can see: the design's shape, the templates, the styles, the analysis, and
    whether each grammar holds the strings (or, contested, the contest) a seed draws."""
    if "examples" not in cfg.conditions:
        raise InputError("the conditions must include the control `examples`", src)
    if len(cfg.grammars) < 2 or len(cfg.grammars) % 2:
        raise InputError("a study needs an even number (≥ 2) of grammars: half are explained in each run", src)
    if len(cfg.seeds) % 2:
        raise InputError("seeds should be an even number of integers (complementary pairs)", src)
    for g in cfg.grammars:
        if not cfg.grammar_path(g).is_file():
            raise InputError(f"no grammar {g!r} in {cfg.grammar_path(g).parent}/ (grammar_dir is relative to the "
                             "config file)", src)
    try:
        ExplainOptions(styles=cfg.styles, paraphrases=cfg.explain_paraphrases).check()
    except InputError as err:
        raise InputError(f"[data] styles, paraphrases and the exposure ladder: {err}", src) from None
    try:
        cfg.analysis_options().check()
    except InputError as err:
        raise InputError(f"[analysis] {err}", src) from None
    _check_language_sizes(cfg, src)


def _check_language_sizes(cfg: StudyConfig, src: str) -> None:
    """Each grammar must have the distinct strings a seed draws under the length cap (the largest dose, the test
    strings and the `worked` pool): found here, not an hour into a study."""
    from metaex.core.grammar.pcfg import load_grammar
    from metaex.core.grammar.sample import language_size

    need = cfg.strings_needed
    for name in cfg.grammars:
        g = load_grammar(cfg.grammar_path(name))
        if cfg.contested:   # the shared sub-language holds them, and the contest has its pairs and strings
            from metaex.core.grammar.contest import choose

            try:
                choose(g, max_len=cfg.max_len, need=need, pairs=cfg.contest_pairs + cfg.contest_strings)
            except InputError as err:
                raise InputError(f"contested design: {err}", src) from None
            continue
        size = language_size(g, cfg.max_len, at_least=need)
        if size is not None:
            raise InputError(f"grammar {name!r} has only {size} distinct strings of at most {cfg.max_len} terminals; "
                             f"a seed draws {need} (largest dose {cfg.max_dose} + test_strings {cfg.test_strings}"
                             + (f" + worked pool {cfg.pool_size}" if cfg.pool_size else "")
                             + "): lower those or raise [data] max_len", src)
