"""What every training stage shares (Pretrain today; Fine-tune and Align next), the way nanochat's
`base_train.py` and `chat_sft.py` share `loss_eval.py` and `checkpoint_manager.py`:

- settings.py     ComputeSettings: device, precision, threads, launcher, processes, FSDP, compile (config
                  fields every training stage inherits; they also tell the job queue how to launch it)
- hardware.py     resolve those settings on this machine (device, bf16/fp16, threads, world size)
- memory.py       refuse a model/batch that cannot fit, before anything is built
- checkpoints.py  complete checkpoints and resuming a run from its last one
- evaluation.py   held-out loss, perplexity and bits per byte
- sampling.py     sample generations (and their Hangul share)
- callback.py     the Trainer callback: metrics and progress into the store, Stop, time budget,
                  early stopping, periodic evaluation and samples
- arguments.py    the TrainingArguments every stage shares (checkpoints, logging, precision, DDP/FSDP)

Importing this package (or settings.py) imports no torch: the job queue and the forms read it.
"""
