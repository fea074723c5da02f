"""Export and share: an artifact (model, adapter, tokenizer) as a downloadable archive with a model card that states
its lineage, data, config and evaluation figures (`export.py`, stage `export`), or pushed to the Hugging Face Hub
(`hub.py`, stage `push`). The card is written fresh into what is shared (`card.py`); the artifact folder is never
modified."""
