"""A small byte-level BPE trained in-process in about a second: the fallback tokenizer of the
architecture race when none was picked, and the tokenizer of test and benchmark fixtures. Real
tokenizers for a project are trained in the Tokenizer tab (workbench.tokenizer.train)."""
from __future__ import annotations

from typing import Iterable


def quick_bpe(texts: Iterable[str], vocab_size: int = 1000, *, pad: str = "<pad>", bos: str = "<s>",
              eos: str = "</s>", unk: str | None = None, extra_specials: tuple[str, ...] = (),
              chat_template: str | None = None):
    """A transformers fast tokenizer (byte-level BPE, so nothing is ever unknown)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = [t for t in (pad, bos, eos, unk) if t] + [t for t in extra_specials if t]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(list(texts), trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(dict.fromkeys(specials)), show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    named = {k: v for k, v in (("pad_token", pad), ("bos_token", bos), ("eos_token", eos), ("unk_token", unk)) if v}
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, additional_special_tokens=list(extra_specials) or None,
                                   **named)
    if chat_template:
        fast.chat_template = chat_template
    return fast
