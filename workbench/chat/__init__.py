"""The chat stage: talk to any model artifact the project made.

models.py  which artifacts can be chatted with, finding them, describing them without loading (no torch)
engine.py  the generation engine: LRU model cache with a memory limit, fair slots, prompt building
           (chat template or plain continuation, context-window truncation), streaming with stop
api.py     the OpenAI-compatible HTTP endpoint (/v1/chat/completions, /v1/models) on the same engine
stage.py   `python -m workbench chat`: one reply, or serve the API
"""
