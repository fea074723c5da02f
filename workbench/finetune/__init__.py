"""Fine-tune stage: specialise a base model (a `model` artifact, a Hugging Face folder or a Hub name) for a
Korean task: classification (single texts or sentence pairs) or sft (instruction following, the loss on the
answer tokens only), with full fine-tuning or PEFT (LoRA, DoRA, WaveFT, QLoRA, 8-bit LoRA, or any other method
of the installed peft under "advanced").

For the tab (engine functions, no gradio; each raises a bilingual UserError for bad input):
- stage.FinetuneConfig                        the config (form, CLI and validation)
- data.preview(data, task=..., ...)           splits, columns, first rows, the columns used, classes + counts
- model.target_modules(base, ws, task)        the base's layers grouped: attention / mlp / experts / ...
- model.count_trainable(cfg, ws)              trainable parameters (count, share) on the meta device
- methods.method_catalog()                    named methods + every PeftType with the inputs it needs
- save.predict(artifact, texts, pairs, adapter=True/False)   label probabilities (adapter truly off: base)
- save.answer(artifact, prompts, adapter=True/False)         replies of a chat adapter (or its base)
- save.merge_and_save(ws, adapter, name)      an adapter merged into its base as a `model` artifact

Importing this package imports no torch."""
