"""The architecture lab as a stage: measure families, race them on the same data, or save one.

    python -m workbench arch --set task=measure --set families=llama,mamba2
    python -m workbench arch --set task=race --set corpus=my-corpus --set tokenizer=my-bpe
    python -m workbench arch --set task=save --set model.family=llama --set tokenizer=my-bpe --set name=my-llama

Measurements and the race report each point as a metric while they run (per-family names:
`step_s/llama` at step = sequence length, `loss/llama` at step = tokens seen, ...) and each
finished family as an `arch_result` event, so the tab draws them live; the full results are in
the run summary and in `<run>/results.json`.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any

from ..config import ConfigError, StageConfig, param, section
from ..i18n import say
from ..stages import Stage
from .families import FAMILIES, ArchConfig

log = logging.getLogger("workbench.arch")

TASKS = ["measure", "race", "both", "save"]
MIN_SLOW_LEN = 8  # measure.lengths_for halves a slow fallback's cap down to this


@dataclass
class MeasureConfig(StageConfig):
    seq_lens: list[int] = param([128, 256, 512, 1024], ko="학습 시퀀스 길이들", en="Training sequence lengths",
                                help_ko="단계 시간·메모리를 잴 길이 (GPU에서는 128~4096 권장)",
                                help_en="lengths to time a forward+backward step at (on a GPU try 128 to 4096)")
    batch: int = param(1, ko="배치 크기", en="Batch size", min=1, max=1024)
    repeats: int = param(2, ko="반복 횟수 (최솟값)", en="Timed repeats (best of)", min=1, max=50)
    slow_seq_cap: int = param(256, ko="느린 대체 구현 최대 길이", en="Longest length on a slow fallback",
                              help_ko="CUDA 커널 없는 Mamba/RWKV는 이 길이까지만 잽니다 (0 = 제한 없음)",
                              help_en="Mamba/RWKV without their CUDA kernels are measured up to this length "
                                      "(0 = no cap)", min=0, max=1_000_000)
    gen_contexts: list[int] = param([128, 256, 512, 1024], ko="생성 문맥 길이들", en="Generation context lengths",
                                    help_ko="이만큼의 프롬프트 뒤에 생성 속도와 캐시 크기를 잽니다",
                                    help_en="prompt lengths after which decode speed and cache size are measured")
    gen_tokens: int = param(16, ko="생성 토큰 수", en="New tokens per generation", min=2, max=4096)
    attn_implementation: str = param("sdpa", ko="어텐션 구현", en="Attention implementation",
                                     choices=["sdpa", "eager"],
                                     help_ko="eager는 T×T 점수 행렬을 메모리에 만듭니다",
                                     help_en="eager materialises the T x T score matrix; sdpa does not")

    def check(self):  # field names are relative: validation prefixes them with the section ("measure.")
        errors = []
        for name in ("seq_lens", "gen_contexts"):
            vals = getattr(self, name)
            if not vals:
                errors.append((name, say("give at least one length, e.g. 64, 128, 256",
                                         "길이를 하나 이상 쓰세요. 예: 64, 128, 256")))
            elif any(v < 2 for v in vals):
                errors.append((name, say("every length must be at least 2 tokens",
                                         "모든 길이는 2 토큰 이상이어야 합니다")))
        if 0 < self.slow_seq_cap < MIN_SLOW_LEN:
            errors.append(("slow_seq_cap", say(
                "a cap of {v} leaves Mamba and RWKV no length to measure here (the shortest is {m}): use 0 (no "
                "cap) or at least {m}", "최대 길이 {v}이면 Mamba와 RWKV는 여기서 잴 길이가 하나도 없습니다(가장 짧은 "
                "길이는 {m}). 0(제한 없음)이나 {m} 이상을 쓰세요", v=self.slow_seq_cap, m=MIN_SLOW_LEN)))
        return errors


@dataclass
class RaceConfig(StageConfig):
    tokens: int = param(16384, ko="패밀리당 학습 토큰", en="Training tokens per family",
                        help_ko="모든 계열이 똑같은 토큰을 같은 순서로 학습합니다",
                        help_en="every family trains on exactly these tokens, in the same order", min=1)
    seq_len: int = param(64, ko="시퀀스 길이", en="Sequence length", min=2, max=131072)
    batch: int = param(8, ko="배치 크기", en="Batch size", min=1, max=4096)
    lr: float = param(2e-3, ko="학습률", en="Learning rate", min=0.0, max=1.0, step=1e-4, above=0.0)
    warmup: int = param(4, ko="워밍업 단계", en="Warm-up steps", min=0)
    eval_batches: int = param(2, ko="평가 배치 수", en="Held-out batches", min=1, max=1000,
                              help_ko="학습에 쓰지 않고 떼어 둔 평가용 배치",
                              help_en="batches held out from training for the held-out loss")
    eval_every: int = param(4, ko="평가 간격 (단계)", en="Evaluate every (steps)", min=1, max=100_000,
                            help_ko="같은 시간 비교에 쓰는 검증 손실을 이만큼마다 잽니다",
                            help_en="how often the held-out loss (used at equal wall time) is measured")

    def check(self):
        if self.tokens < self.batch * self.seq_len:
            n = self.batch * self.seq_len
            return [("tokens", say("{t:,} tokens is less than one batch ({b} x {s} = {n:,} tokens), so no full step "
                                   "would be trained: use at least {n:,}, or a smaller race.batch or race.seq_len",
                                   "토큰 {t:,}개는 배치 하나({b} x {s} = {n:,} 토큰)보다 적어 한 단계도 온전히 학습할 수 "
                                   "없습니다. {n:,} 이상을 쓰거나 race.batch 나 race.seq_len 을 줄이세요",
                                   t=self.tokens, b=self.batch, s=self.seq_len, n=n))]
        return []


@dataclass
class ArchCompareConfig(StageConfig):
    task: str = param("measure", ko="작업", en="Task", choices=TASKS,
                      help_ko="measure: 비용 측정, race: 같은 데이터 경주, both: 둘 다, save: 아키텍처 저장",
                      help_en="measure: costs; race: same-data race; both; save: publish an architecture artifact")
    families: list[str] = param(["llama", "mamba2", "rwkv", "deepseekv3"], ko="비교할 계열", en="Families to compare",
                                choices=list(FAMILIES))
    model: ArchConfig = section(ArchConfig, ko="모델 크기 (깊이 다이얼)", en="Model size (the depth dial)")
    overrides: dict = param({}, ko="계열별 세부 설정", en="Per-family overrides",
                            help_ko='예: {"mamba": {"depth": 2}, "mixtral": {"experts": 4}}',
                            help_en='e.g. {"mamba": {"depth": 2}, "mixtral": {"experts": 4}}', advanced=True)
    tokenizer: str = param("", ko="토크나이저", en="Tokenizer artifact",
                           help_ko="어휘 크기를 정합니다 (비우면 측정은 8,000 가정, 경주는 번들 텍스트로 즉석 BPE)",
                           help_en="sets the vocabulary (empty: measurements assume 8,000; the race trains a "
                                   "small BPE on the bundled text)")
    corpus: str = param("", ko="말뭉치", en="Corpus artifact",
                        help_ko="경주 데이터 (비우면 konlpy에 들어 있는 한국어 법률 텍스트)",
                        help_en="race data (empty: the Korean statute text bundled with konlpy)")
    measure: MeasureConfig = section(MeasureConfig, ko="측정", en="Measurement")
    race: RaceConfig = section(RaceConfig, ko="같은 데이터 경주", en="Same-data race")
    device: str = param("auto", ko="장치", en="Device", choices=["auto", "cpu", "cuda"], advanced=True)
    dtype: str = param("float32", ko="자료형", en="Dtype", choices=["float32", "bfloat16"], advanced=True)
    threads: int = param(0, ko="CPU 스레드 (0=기본)", en="CPU threads (0 = torch default)", min=0, max=512,
                         advanced=True)
    seed: int = param(0, ko="시드", en="Seed", min=0, advanced=True)
    name: str = param("", ko="저장 이름", en="Name to save as (task=save)")
    overwrite: bool = param(False, ko="덮어쓰기", en="Overwrite an existing architecture of that name")

    # -- per-family configs --------------------------------------------------------
    def arch_for(self, family: str) -> ArchConfig:
        """The model config of one family: the shared size (the depth dial) plus that family's overrides."""
        arch = self.model.replace(family=family)
        ov = (self.overrides or {}).get(family) or {}
        return arch.replace(**ov) if ov else arch

    def check(self) -> list[tuple[str, str]]:
        errors: list[tuple[str, str]] = []
        if self.task != "save" and not self.families:
            errors.append(("families", say("pick at least one family", "계열을 하나 이상 고르세요")))
        if len(set(self.families)) != len(self.families):
            errors.append(("families", say("a family is listed twice: list each once",
                                           "같은 계열이 두 번 들어 있습니다. 한 번씩만 쓰세요")))
        if not isinstance(self.overrides, dict):
            return errors + [("overrides", say('give a mapping such as {"mamba": {"depth": 2}}',
                                               '{"mamba": {"depth": 2}} 같은 매핑을 쓰세요'))]
        arch_fields = {fi.path for fi in ArchConfig.field_infos()}
        for fam, ov in self.overrides.items():
            if fam not in FAMILIES:
                errors.append(("overrides", say("'{f}' is not a family: use one of {all}",
                                                "'{f}' 은(는) 없는 계열입니다. 다음 중 하나를 쓰세요: {all}", f=fam,
                                                all=", ".join(FAMILIES))))
            elif not isinstance(ov, dict):
                errors.append((f"overrides.{fam}", say('give a mapping of field: value, e.g. {"depth": 2}',
                                                       '항목: 값 매핑을 쓰세요. 예: {"depth": 2}')))
            else:
                for k in ov:
                    if k not in arch_fields or k == "family":
                        errors.append((f"overrides.{fam}.{k}", say(
                            "not a model field: use one of {all}", "모델 항목이 아닙니다. 다음 중 하나를 쓰세요: {all}",
                            all=", ".join(sorted(arch_fields - {"family"})))))
        if errors:
            return errors
        todo = [self.model.family] if self.task == "save" else list(self.families)
        for fam in todo:
            ov = self.overrides.get(fam) or {}
            try:
                self.arch_for(fam).validate()
            except ConfigError as e:
                for f, m in e.errors:
                    where = f"overrides.{fam}.{f}" if f in ov else f"model.{f}"
                    errors.append((where, say("{label}: {m}", "{label}: {m}", label=FAMILIES[fam][0], m=m)))
        if self.task == "save" and not self.name.strip():
            errors.append(("name", say("type a name for the architecture artifact, e.g. llama-d4",
                                       "아키텍처 산출물의 이름을 쓰세요. 예: llama-d4")))
        if self.task == "save" and not self.tokenizer.strip():
            errors.append(("tokenizer", say("pick a tokenizer artifact: its vocabulary sizes the model",
                                            "토크나이저 산출물을 고르세요. 그 어휘 크기로 모델 크기가 정해집니다")))
        return errors


def _device_queue(cfg: ArchCompareConfig) -> str:
    if cfg.device == "cpu" or cfg.task == "save":
        return "cpu"
    if cfg.device == "cuda":
        return "cuda:0"
    import torch  # only when a job is submitted, never at app start-up
    return "cuda:0" if torch.cuda.is_available() else "cpu"


# -- the run ----------------------------------------------------------------------------
def run(cfg: ArchCompareConfig, ctx) -> dict[str, Any]:
    import torch

    from .inputs import load_tokenizer_ref

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.task == "save":
        from .save import save_architecture
        return save_architecture(ctx.ws, cfg.arch_for(cfg.model.family), cfg.tokenizer, cfg.name,
                                 overwrite=cfg.overwrite, publish=ctx.publish)
    from .measure import pick_device

    device = pick_device(cfg.device)
    tok, tok_ref = load_tokenizer_ref(ctx.ws, cfg.tokenizer)
    plan = Plan(cfg, device)
    summary: dict[str, Any] = {"task": cfg.task, "device": device, "families": list(cfg.families),
                               "tokenizer": tok_ref.name if tok_ref else None}
    if cfg.task in ("measure", "both"):
        notes = measure_input_notes(cfg, tok, tok_ref)
        for n in notes:
            log.info("%s", n["en"])
        ctx.event("arch_note", {"task": "measure", "notes": notes})
        summary["measure"] = run_measure(cfg, ctx, tok, device, plan)
        summary["measure"]["notes"] = notes
    if cfg.task in ("race", "both") and not ctx.should_stop:
        summary["race"] = run_race(cfg, ctx, tok, tok_ref, device, plan)
    summary = finite(summary)  # no NaN in the JSON line, results.json or the stored summary: null = no value
    (ctx.run_dir / "results.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1, default=str),
                                              encoding="utf-8")
    return summary


def finite(obj):
    """A copy with every NaN / infinite float replaced by None (JSON has no NaN; a person should not read one)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


class Plan:
    """Work units for the progress bar: one per measured point, one per race step."""

    def __init__(self, cfg: ArchCompareConfig, device: str):
        from .measure import lengths_for

        self.total = 0
        if cfg.task in ("measure", "both"):
            for f in cfg.families:
                self.total += len(lengths_for(f, cfg.measure.seq_lens, cfg.measure.slow_seq_cap, device))
                self.total += len(cfg.measure.gen_contexts)
        if cfg.task in ("race", "both"):
            self.total += len(cfg.families) * race_steps(cfg)
        self.done = 0

    def tick(self, ctx, msg: str, n: int = 1) -> None:
        self.done += n
        ctx.progress(self.done, self.total, msg)


def race_steps(cfg: ArchCompareConfig) -> int:
    return max(1, cfg.race.tokens // (cfg.race.batch * cfg.race.seq_len))


def tokenizer_note(tok_ref, vocab: int) -> dict[str, str]:
    where = f"artifact #{tok_ref.artifact_id}" if tok_ref.artifact_id is not None else str(tok_ref.path)
    return {"en": f"tokenizer '{tok_ref.name}' ({where}): vocabulary {vocab:,}",
            "ko": f"토크나이저 '{tok_ref.name}' ({where.replace('artifact', '산출물')}): 어휘 {vocab:,}개"}


def measure_input_notes(cfg: ArchCompareConfig, tok, tok_ref) -> list[dict[str, str]]:
    """What a measurement used, in both languages ({"en", "ko"}, as JSON keeps them)."""
    from .inputs import DEFAULT_VOCAB, vocab_of

    if tok_ref is not None:
        notes = [tokenizer_note(tok_ref, vocab_of(tok))]
    elif cfg.model.vocab_size:
        notes = [{"en": f"no tokenizer chosen: measured with model.vocab_size = {cfg.model.vocab_size:,}",
                  "ko": f"토크나이저를 고르지 않아 model.vocab_size = {cfg.model.vocab_size:,}로 쟀습니다"}]
    else:
        notes = [{"en": f"no tokenizer chosen: measurements assume a vocabulary of {DEFAULT_VOCAB:,} (pick one made "
                        "in tab 2 to size the embeddings as you will train them)",
                  "ko": f"토크나이저를 고르지 않아 측정은 어휘 {DEFAULT_VOCAB:,}개를 가정합니다(2번 탭에서 만든 "
                        "토크나이저를 고르면 실제로 학습할 임베딩 크기로 잽니다)"}]
    notes.append({"en": "measurements run on random token ids: no corpus is read",
                  "ko": "측정은 무작위 토큰 id로 합니다. 말뭉치는 읽지 않습니다"})
    return notes


def run_measure(cfg: ArchCompareConfig, ctx, tok, device: str, plan: Plan) -> dict[str, Any]:
    from .inputs import DEFAULT_VOCAB, vocab_of
    from .measure import measure_family

    vocab = vocab_of(tok) if tok is not None else (cfg.model.vocab_size or DEFAULT_VOCAB)
    m = cfg.measure
    results = []
    for fam in cfg.families:
        if ctx.should_stop:
            break
        label = FAMILIES[fam][0]

        def on_point(kind, n, r, fam=fam, label=label):
            if kind == "train":
                ctx.metrics(n, {f"step_s/{fam}": r["seconds"], f"peak_mib/{fam}": r["peak_bytes"] / 2**20,
                                f"saved_mib/{fam}": r["saved_bytes"] / 2**20}, flush=True)
                plan.tick(ctx, say("{label}: training step at length {n}: {s:.3f} s",
                                   "{label}: 길이 {n}의 학습 한 단계: {s:.3f}초", label=label, n=n, s=r["seconds"]))
            else:
                ctx.metrics(n, {f"decode_tok_s/{fam}": r["tokens_per_s"]})
                # the cache is plotted against the tokens it holds (prompt + generated - 1)
                ctx.metrics(r["cache_tokens"], {f"cache_kib/{fam}": r["cache_bytes"] / 1024}, flush=True)
                plan.tick(ctx, say("{label}: generation after {n} tokens: {t:.1f} tokens/s",
                                   "{label}: 토큰 {n}개 뒤 생성 속도: 초당 {t:.1f} 토큰", label=label, n=n,
                                   t=r["tokens_per_s"]))

        r = measure_family(cfg.arch_for(fam), vocab=vocab, seq_lens=m.seq_lens, gen_contexts=m.gen_contexts,
                           gen_tokens=m.gen_tokens, batch=m.batch, repeats=m.repeats, device=device, dtype=cfg.dtype,
                           attn_implementation=m.attn_implementation, slow_cap=m.slow_seq_cap, seed=cfg.seed,
                           on_point=on_point, should_stop=lambda: ctx.should_stop)
        ctx.event("arch_result", {"kind": "measure", "result": r})
        results.append(r)
    return {"vocab_size": vocab, "families": results,
            "exponents": {r["family"]: r["exponents"] for r in results}}


def run_race(cfg: ArchCompareConfig, ctx, tok, tok_ref, device: str, plan: Plan) -> dict[str, Any]:
    from .inputs import corpus_texts, fallback_tokenizer, special_ids, vocab_of
    from .race import encode_stream, make_data, table, train_family

    rc = cfg.race
    steps = race_steps(cfg)
    need = steps * rc.batch * rc.seq_len + rc.eval_batches * rc.batch * rc.seq_len
    texts, corpus_ref, note = corpus_texts(ctx.ws, cfg.corpus, max_chars=max(200_000, 8 * need))
    notes = [note]  # each {"en", "ko"}: the tab shows them in the UI language
    if tok is None:
        tok = fallback_tokenizer(texts)
        notes.append({"en": f"no tokenizer chosen: trained a {len(tok):,}-token byte-level BPE on the race text here "
                            "(train a real one in tab 2 and pick it).",
                      "ko": f"토크나이저를 고르지 않아 경주 텍스트로 {len(tok):,}개 토큰의 바이트 수준 BPE를 여기서 "
                            "학습했습니다(2번 탭에서 제대로 학습해 고르세요)."})
        tok_name = f"byte-level BPE trained here ({len(tok):,} tokens)"
    else:
        notes.append(tokenizer_note(tok_ref, vocab_of(tok)))
        tok_name = tok_ref.name
    ids = encode_stream(tok, texts, need)
    data = make_data(ids, seq=rc.seq_len, batch=rc.batch, steps=steps, eval_batches=rc.eval_batches)
    if data.epochs > 1:
        notes.append({"en": f"the text gives {data.tokens_available:,} tokens: the race repeats it {data.epochs:.1f} "
                            "times (held-out batches are never trained on)",
                      "ko": f"텍스트가 {data.tokens_available:,}토큰뿐이라 경주에서 {data.epochs:.1f}번 반복합니다"
                            "(검증 배치는 학습에 쓰지 않습니다)"})
    for n in notes:
        log.info("%s", n["en"])
    ctx.event("arch_note", {"task": "race", "notes": notes})
    vocab, special = vocab_of(tok), special_ids(tok)
    results = []
    for fam in cfg.families:
        if ctx.should_stop:
            break
        label = FAMILIES[fam][0]

        def on_step(step, tokens, loss, elapsed, fam=fam, label=label):
            ctx.metrics(tokens, {f"loss/{fam}": loss, f"elapsed_s/{fam}": elapsed})
            plan.tick(ctx, say("race {label}: step {step}/{steps}, loss {loss:.3f}",
                               "경주 {label}: {step}/{steps} 단계, 손실 {loss:.3f}", label=label, step=step,
                               steps=steps, loss=loss))

        def on_eval(tokens, loss, elapsed, fam=fam):
            ctx.metrics(tokens, {f"held_out/{fam}": loss, f"held_out_s/{fam}": elapsed}, flush=True)

        r = train_family(cfg.arch_for(fam), data, vocab=vocab, special=special, batch=rc.batch, lr=rc.lr,
                         warmup=rc.warmup, seed=cfg.seed, device=device, dtype=cfg.dtype, eval_every=rc.eval_every,
                         on_step=on_step, on_eval=on_eval, should_stop=lambda: ctx.should_stop)
        ctx.event("arch_result", {"kind": "race", "result": r})
        results.append(r)
    tab = table(results)
    return {"notes": notes, "corpus": corpus_ref.name if corpus_ref else "konlpy bundled text", "tokenizer": tok_name,
            "vocab_size": vocab, "seq_len": rc.seq_len, "batch": rc.batch, "steps": steps,
            "tokens_per_family": steps * rc.batch * rc.seq_len, "table": tab,
            "curves": {r["family"]: r["curve"] for r in results}}


STAGE = Stage(name="arch", config=ArchCompareConfig, run=run, device=_device_queue,
              help="architecture lab: measure model families (step time, memory, generation, scaling exponents), "
                   "race them on the same data, or save one as an architecture artifact")
