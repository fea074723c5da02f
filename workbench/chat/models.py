"""Which artifacts the chat can load, how to find one by name, and what it is, without loading it.

Nothing here imports torch: the tab calls `describe()` on every model change.

A chat-able artifact is a Hugging Face folder loadable with AutoModelForCausalLM/AutoTokenizer
(safetensors weights, no remote code), or a PEFT adapter folder (adapter_config.json) whose base
model is a local folder. `"chat_model": true` in workbench.json marks fine-tuned/aligned chat models.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

from ..artifacts import read_meta
from ..errors import UserError
from ..i18n import Text, say

# Artifact kinds the chat lists and loads. Later stages add theirs here.
CHAT_KINDS: tuple[str, ...] = ("model", "adapter", "quantized")

# config.json keys that hold a model's context window, by model family.
_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "context_length",
                 "max_sequence_length", "n_ctx")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")


class ModelNotFound(UserError):
    """No artifact or folder answers to the name given."""


@dataclass
class ModelRef:
    """A resolved model: its folder plus what the store knows (None for a bare folder)."""
    path: Path
    name: str
    kind: str = "model"
    artifact_id: int | None = None
    meta: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}" if self.artifact_id is not None else str(self.path)


def resolve(ws, ref: str | int) -> ModelRef:
    """Find a model by artifact id, `kind/name`, name, or (for the CLI) a folder path."""
    s = str(ref).strip()
    if not s:
        raise UserError("no model chosen: pick a model artifact (train one in the Pretrain tab first).",
                        ko="모델을 고르지 않았습니다. 모델 산출물을 고르세요 (없으면 먼저 사전학습 탭에서 학습하세요).")
    store = ws.store if ws is not None else None
    if store is not None:
        art = None
        if s.isdigit():
            art = store.get_artifact(int(s))
        elif "/" in s and s.split("/", 1)[0] in CHAT_KINDS:
            kind, name = s.split("/", 1)
            art = store.get_artifact(kind=kind, name=name)
        else:
            found = [a for a in store.list_artifacts(list(CHAT_KINDS)) if a.name == s]
            if len(found) > 1:
                kinds = ", ".join(f"{a.kind}/{a.name}" for a in found)
                raise UserError(say("several artifacts are named '{s}' ({kinds}): name one as kind/name.",
                                    "이름이 '{s}' 인 산출물이 여러 개입니다 ({kinds}). kind/이름 형식으로 하나를 "
                                    "고르세요.", s=s, kinds=kinds))
            art = found[0] if found else None
        if art is not None:
            if art.kind not in CHAT_KINDS:
                raise UserError(say("artifact {id} is a {kind}, not a model: pick one of kinds {kinds}.",
                                    "산출물 {id} 은(는) 모델이 아니라 {kind} 입니다. 다음 종류 중 하나를 고르세요: "
                                    "{kinds}.", id=art.id, kind=art.kind, kinds=", ".join(CHAT_KINDS)))
            meta = read_meta(art.path) or dict(art.meta)
            return ModelRef(Path(art.path), art.name, art.kind, art.id, meta)
    p = Path(s).expanduser()
    if p.is_dir():
        return ModelRef(p.resolve(), p.name, "adapter" if (p / "adapter_config.json").is_file() else "model",
                        None, read_meta(p))
    names = sorted(a.name for a in store.list_artifacts(list(CHAT_KINDS))) if store is not None else []
    hint = say(" Models in this workspace: {names}.", " 이 작업 공간의 모델: {names}.", names=", ".join(names[:20])) \
        if names else say(" This workspace has no model yet: train one in the Pretrain tab (or `python -m workbench "
                          "pretrain`).", " 이 작업 공간에는 아직 모델이 없습니다. 사전학습 탭(또는 `python -m "
                          "workbench pretrain`)에서 학습하세요.")
    raise ModelNotFound(say("model '{s}' was not found (no such artifact name, id or folder).{hint}",
                            "모델 '{s}' 을(를) 찾을 수 없습니다 (그런 이름, 번호의 산출물이나 폴더가 없습니다).{hint}",
                            s=s, hint=hint))


def list_models(ws) -> list[ModelRef]:
    out = []
    for a in ws.store.list_artifacts(list(CHAT_KINDS)):
        out.append(ModelRef(Path(a.path), a.name, a.kind, a.id, dict(a.meta)))
    return out


def _json_file(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise UserError(say("{name} in {folder} cannot be read ({e}): the model folder is damaged; re-create it with "
                            "the stage that made it, or pick another model.",
                            "{folder} 의 {name} 을(를) 읽을 수 없습니다 ({e}). 모델 폴더가 손상되었습니다. 이 모델을 "
                            "만든 단계로 다시 만들거나 다른 모델을 고르세요.", name=path.name, folder=path.parent,
                            e=e)) from None
    return data if isinstance(data, dict) else {}


def base_model_path(folder: Path) -> Path | None:
    """The local base model of a PEFT adapter folder (workbench.json `base_model_path`, else the adapter config)."""
    meta = read_meta(folder)
    cand = meta.get("base_model_path") or _json_file(folder / "adapter_config.json").get("base_model_name_or_path")
    if not cand:
        return None
    p = Path(cand)
    if not p.is_absolute():
        p = (folder / p).resolve()
    return p


def _missing(name: str) -> Text:
    return say("{f} is missing", "{f} 파일이 없습니다", f=name)


def _is_classifier(folder: Path) -> bool:
    """A fine-tuned classifier (the finetune stage's task, or a *ForSequenceClassification config)."""
    if (read_meta(folder) or {}).get("task") == "sequence-classification":
        return True
    try:
        archs = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("architectures") or []
    except (OSError, ValueError):
        return False
    return any(str(a).endswith("ForSequenceClassification") for a in archs)


def check_files(folder: Path) -> list[Text]:
    """What is missing from a model folder (empty list: looks loadable). Cheap: no weights are read."""
    folder = Path(folder)
    if not folder.is_dir():
        return [say("the folder {f} does not exist (it was moved or deleted)",
                    "폴더 {f} 이(가) 없습니다 (옮겨졌거나 지워졌습니다)", f=folder)]
    if _is_classifier(folder):
        return [say("this is a classifier (sequence classification): it predicts labels and cannot write replies. Pick "
                    "a base model or an SFT (instruction-tuned) one",
                    "분류 모델(시퀀스 분류)입니다: 레이블을 예측할 뿐 답을 쓰지 못합니다. 기본 모델이나 SFT(지시 학습) "
                    "모델을 고르세요")]
    problems = []
    if (folder / "adapter_config.json").is_file():
        if not any((folder / f).is_file() for f in ("adapter_model.safetensors",)):
            problems.append(_missing("adapter_model.safetensors"))
        base = base_model_path(folder)
        if base is None:
            problems.append(say("the adapter names no base model (adapter_config.json base_model_name_or_path)",
                                "어댑터에 기본 모델이 적혀 있지 않습니다 (adapter_config.json 의 "
                                "base_model_name_or_path)"))
        elif not base.is_dir():
            problems.append(say("its base model folder {b} does not exist", "기본 모델 폴더 {b} 이(가) 없습니다",
                                b=base))
        else:
            problems += [say("base model: {p}", "기본 모델: {p}", p=p) for p in check_files(base)
                         if "tokenizer" not in p]
        return problems
    from ..optimize.ort import is_onnx_folder
    if is_onnx_folder(folder):
        return [say("this is an ONNX Runtime model (Optimize's onnx methods): chat runs transformers weights. Serve it "
                    "with workbench.optimize.ort.OrtCausalLM, or chat with the model it came from or its int8-dynamic "
                    "version", "ONNX Runtime 모델입니다 (최적화의 onnx 방법): 채팅은 transformers 가중치로 돕니다. "
                    "workbench.optimize.ort.OrtCausalLM 으로 서빙하거나, 원래 모델이나 int8-dynamic 판으로 대화하세요")]
    if not (folder / "config.json").is_file():
        problems.append(_missing("config.json"))
    if not any((folder / f).is_file() for f in ("model.safetensors", "model.safetensors.index.json",
                                                 "model.int8.safetensors")):
        if any(folder.glob("*.bin")) or any(folder.glob("*.pt")):
            problems.append(say("the weights are not in safetensors format (pickled .bin/.pt files are never loaded, "
                                "for safety): re-save the model with safetensors",
                                "가중치가 safetensors 형식이 아닙니다 (안전을 위해 pickle로 저장된 .bin/.pt 파일은 "
                                "불러오지 않습니다). 모델을 safetensors로 다시 저장하세요"))
        else:
            problems.append(_missing("model.safetensors"))
    if not any((folder / f).is_file() for f in _TOKENIZER_FILES):
        problems.append(say("the tokenizer files are missing (tokenizer.json / tokenizer_config.json)",
                            "토크나이저 파일이 없습니다 (tokenizer.json / tokenizer_config.json)"))
    return problems


def _safetensors_params(path: Path) -> int | None:
    """Parameter count read from a safetensors header (8-byte length + JSON), without loading tensors; of the Optimize
    stage's int8 file too (its per-layer scale and zero point are not parameters)."""
    files = [path / "model.safetensors"] if (path / "model.safetensors").is_file() else sorted(
        path.glob("model-*.safetensors")) or sorted(path.glob("model.int8.safetensors"))
    total = 0
    try:
        for f in files:
            with open(f, "rb") as fh:
                (n,) = struct.unpack("<Q", fh.read(8))
                if n > 100_000_000:
                    return None
                header = json.loads(fh.read(n))
            for k, v in header.items():
                if k != "__metadata__" and not k.endswith((".weight.scale", ".weight.zero_point")):
                    count = 1
                    for d in v.get("shape", []):
                        count *= d
                    total += count
    except (OSError, ValueError, struct.error):
        return None
    return total or None


def context_window(config: dict, tokenizer_config: dict | None = None) -> int | None:
    """The most tokens (prompt + reply) the model can attend to, from its config (None: no fixed limit)."""
    for k in _CONTEXT_KEYS:
        v = config.get(k)
        if isinstance(v, int) and v > 0:
            return v
    for sub in ("text_config", "llm_config"):
        if isinstance(config.get(sub), dict):
            w = context_window(config[sub])
            if w:
                return w
    v = (tokenizer_config or {}).get("model_max_length")
    if isinstance(v, (int, float)) and 0 < v < 10_000_000:
        return int(v)
    return None


def has_chat_template(folder: Path) -> bool:
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    return bool(_json_file(folder / "tokenizer_config.json").get("chat_template"))


@dataclass
class ModelInfo:
    ref: ModelRef
    arch: str
    params: int | None
    context: int | None
    chat_model: bool
    chat_template: bool
    problems: list[Text]

    @property
    def default_mode(self) -> str:
        return "chat" if self.chat_model and self.chat_template else "continue"


def describe(ref: ModelRef) -> ModelInfo:
    """What the UI shows about a model before loading it: family, size, context, chat or base."""
    folder = ref.path
    problems = check_files(folder)
    weights = folder
    if (folder / "adapter_config.json").is_file():
        weights = base_model_path(folder) or folder
    try:
        config = _json_file(weights / "config.json")
        tok_dir = folder if any((folder / f).is_file() for f in _TOKENIZER_FILES) else weights
        tok_cfg = _json_file(tok_dir / "tokenizer_config.json")
        template = has_chat_template(tok_dir)
    except UserError as e:
        problems.append(e.text)
        config, tok_cfg, template, tok_dir = {}, {}, False, folder
    arch = config.get("model_type") or "?"
    meta = ref.meta or read_meta(folder)
    params = _safetensors_params(weights)
    if params is None and (weights / "model.safetensors").is_file():
        problems.append(say("model.safetensors is damaged (its header cannot be read)",
                            "model.safetensors 파일이 손상되었습니다 (헤더를 읽을 수 없습니다)"))
    return ModelInfo(ref=ref, arch=str(arch), params=params, context=context_window(config, tok_cfg),
                     chat_model=bool(meta.get("chat_model")), chat_template=template, problems=problems)
