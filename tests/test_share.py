"""Lineage, export and share: the chain of a model back to its corpus with each step's run, config and figures; the
graph; an export archive that opens and carries a card naming the lineage and figures; refusals that lose nothing
(missing files, no token, no network); a push through a faked HfApi (private by default); the token never saved."""
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from conftest import last_json, run_cli
from fixtures import konlpy_lines, make_corpus, make_tokenizer
from state import Workspace
from workbench import runs
from workbench.errors import UserError

TINY = ["arch.depth=1", "arch.width=32", "arch.heads=2", "arch.context=64", "seq_len=32", "batch_size=4",
        "warmup_steps=2", "eval_every=5", "eval_batches=2", "sample_every=0", "sample_tokens=8", "threads=1"]
FT = ["max_steps=6", "max_length=64", "eval_every=3", "batch_size=8", "lr=1e-2", "threads=1", "max_rows=64", "max_eval_rows=24",
      "warmup_steps=0", "save_every=1000", "seed=7"]
TOKEN = "hf_testSECRETtoken1234567890"


def _run(ws, stage, *items):
    from workbench import stages
    res = runs.run_in_process(stage, stages.get(stage).config.load(sets=list(items)), ws)
    assert res["status"] == "succeeded", res["error"]
    return res


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """corpus -> tokenizer -> pretrained model (a real run) -> LoRA classifier adapter (a real run) + an eval report."""
    root = tmp_path_factory.mktemp("share")
    ws = Workspace(root / "ws")
    c = make_corpus(ws)
    t = make_tokenizer(ws, parents=[c])
    pre = _run(ws, "pretrain", "corpus=kolaw", "tokenizer=tiny-bpe", "max_steps=10", "output_name=tiny-lm", *TINY)
    rnd = random.Random(0)
    lines = konlpy_lines()[:200]
    tsv = root / "easy.tsv"
    good, bad = ["정말 좋아요", "최고예요", "추천해요"], ["정말 싫어요", "최악이에요", "별로예요"]
    tsv.write_text("id\tdocument\tlabel\n" + "".join(
        f"{i}\t{rnd.choice(good if i % 2 else bad)} {rnd.choice(lines)[:20]}\t{i % 2}\n" for i in range(160)),
        encoding="utf-8")
    ft = _run(ws, "finetune", "base_model=tiny-lm", f"data={tsv}", "output_name=sent-lora", "method=lora", *FT)
    ev = _run(ws, "eval", "threads=1", "models=tiny-lm", "task=perplexity", "max_rows=20", "max_length=64",
              "output_name=ppl-tiny")
    return {"ws": ws, "corpus": c, "tokenizer": t, "model": pre["summary"]["model_artifact"], "pretrain": pre,
            "adapter": ft["summary"]["artifact"], "finetune": ft, "eval": ev["summary"]["artifact"], "eval_run": ev}


def test_chain_runs_from_the_raw_text_to_the_adapter_with_configs_and_figures(made):
    from workbench.lineage import build_graph, chain, chain_markdown, graph_figure
    ws = made["ws"]
    ch = chain(ws.store, made["adapter"])
    ids = [s.node.id for s in ch.steps]
    assert ids == [made["corpus"], made["tokenizer"], made["model"], made["adapter"]]  # raw text first
    corpus, tok, model, adapter = ch.steps
    assert corpus.sources and "konlpy" in corpus.sources[0]  # the corpus's own source of raw text
    assert model.run_id == made["pretrain"]["run_id"] and model.node.stage == "pretrain"
    assert model.key_config["max_steps"] == 10 and model.key_config["corpus"] == "kolaw"
    assert model.figures["val/loss"] == pytest.approx(made["pretrain"]["summary"]["val_loss"], rel=1e-3)
    assert "val/bpb" in model.figures and model.figures["val/bpb"] > 0
    assert adapter.node.stage == "finetune" and adapter.run_id == made["finetune"]["run_id"]
    assert adapter.figures["test/accuracy"] == pytest.approx(made["finetune"]["summary"]["test_accuracy"], abs=1e-4)
    assert adapter.key_config["method"] == "lora" and adapter.config["base_model"] == "tiny-lm"
    # the model's chain names the eval report that scored it, with its headline
    mch = chain(ws.store, made["model"])
    assert [e["id"] for e in mch.evaluations] == [made["eval"]]
    assert mch.evaluations[0]["figures"]["bpb"] > 0 and "ppl" in mch.evaluations[0]["figures"]
    md = chain_markdown(ch, "ko")
    assert "사전학습" in md and made["pretrain"]["run_id"] in md and "test/accuracy" in md and "konlpy" in md

    g = build_graph(ws.store)
    assert set(g.nodes) == {made[k] for k in ("corpus", "tokenizer", "model", "adapter", "eval")}
    assert {(made["corpus"], made["tokenizer"]), (made["corpus"], made["model"]), (made["tokenizer"], made["model"]),
            (made["model"], made["adapter"]), (made["model"], made["eval"])} <= set(g.edges)
    assert g.run_of(made["adapter"]) == made["finetune"]["run_id"] and g.run_of(made["corpus"]) is None
    cols = {g.nodes[i].stage: g.nodes[i].column for i in g.nodes}
    assert cols["corpus"] < cols["tokenizer"] < cols["pretrain"] < cols["finetune"] < cols["eval"]
    fig = graph_figure(g, "en", highlight=ch)
    nodes = [tr for tr in fig.data if tr.mode == "markers+text"]
    custom = {int(c[0]): c[1] for tr in nodes for c in tr.customdata}
    assert custom[made["adapter"]] == made["finetune"]["run_id"] and set(custom) == set(g.nodes)
    assert {tr.name for tr in nodes} == {"corpus", "tokenizer", "model", "adapter", "eval report"}
    assert len([a for a in fig.layout.annotations if a.showarrow]) == len(g.edges)
    with pytest.raises(UserError) as e:
        chain(ws.store, 999)
    assert "999" in str(e.value) and "산출물" in e.value.text.ko


def _check_card(card, made, run_key):
    assert "## Lineage" in card and "kolaw" in card and "tiny-bpe" in card and "tiny-lm" in card
    assert made[run_key]["run_id"] in card and "konlpy" in card
    assert "## Evaluation" in card and "## Configuration" in card and "## Data" in card


def test_export_zip_holds_the_files_and_a_card_with_lineage_and_figures(made):
    ws = made["ws"]
    folder = Path(ws.store.get_artifact(made["model"]).path)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    res = _run(ws, "export", f"artifact={made['model']}", "format=zip")
    arch = Path(res["summary"]["archive"])
    assert arch.parent == ws.root / "exports" and arch.suffix == ".zip" and arch.is_file()
    with zipfile.ZipFile(arch) as z:
        assert z.testzip() is None
        names = set(z.namelist())
        assert {"tiny-lm/model.safetensors", "tiny-lm/config.json", "tiny-lm/tokenizer.json",
                "tiny-lm/README.md", "tiny-lm/workbench.json"} <= names
        assert z.read("tiny-lm/model.safetensors") == before["model.safetensors"]
        card = z.read("tiny-lm/README.md").decode("utf-8")
    _check_card(card, made, "pretrain")
    assert "val/loss" in card and "ppl-tiny" in card and "bpb" in card  # its own figures and the eval that scored it
    assert '"max_steps": 10' in card and "AutoModelForCausalLM.from_pretrained(path)" in card
    assert "The card the pretrain stage wrote" in card  # the stage's card follows, unchanged in substance
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before, "the artifact is untouched"
    assert not list((ws.root / "exports").glob(".*.part"))
    # the model loads from the unpacked archive with plain transformers
    out = Path(made["ws"].root.parent / "unzipped")
    with zipfile.ZipFile(arch) as z:
        z.extractall(out)
    from transformers import AutoModelForCausalLM, AutoTokenizer
    AutoTokenizer.from_pretrained(out / "tiny-lm")
    assert AutoModelForCausalLM.from_pretrained(out / "tiny-lm").config.vocab_size > 0


def test_export_adapter_and_tokenizer_as_tar_gz(made):
    ws = made["ws"]
    res = _run(ws, "export", "artifact=sent-lora", "format=tar.gz")
    with tarfile.open(res["summary"]["archive"], "r:gz") as t:
        names = set(t.getnames())
        card = t.extractfile("sent-lora/README.md").read().decode("utf-8")
    assert {"sent-lora/adapter_config.json", "sent-lora/adapter_model.safetensors"} <= names
    _check_card(card, made, "finetune")
    assert "test/accuracy" in card and "PeftModel.from_pretrained" in card and "library_name: peft" in card
    tok = _run(ws, "export", "artifact=tiny-bpe")  # zip by default
    with zipfile.ZipFile(tok["summary"]["archive"]) as z:
        assert "tiny-bpe/tokenizer.json" in z.namelist()
        assert "AutoTokenizer.from_pretrained(path)" in z.read("tiny-bpe/README.md").decode()


def test_export_refusals_lose_nothing(made, tmp_path):
    ws = made["ws"]
    # a corpus is data, not something to share as a model
    r = run_cli("export", "--set", "artifact=kolaw", workspace=ws.root)
    assert r.returncode == 2 and "only a model, adapter or tokenizer" in r.stderr
    # a model whose weights are gone: refused before any work, with both wordings, nothing else touched
    ws2 = Workspace(tmp_path / "ws2")
    from fixtures import publish_tiny_llama
    mid = publish_tiny_llama(ws2, name="gone")
    art = ws2.store.get_artifact(mid)
    (Path(art.path) / "model.safetensors").unlink()
    left = sorted(p.name for p in Path(art.path).iterdir())
    from workbench.share.export import export_artifact
    with pytest.raises(UserError) as e:
        export_artifact(ws2, "gone", "zip")
    assert "missing" in str(e.value) and "model.safetensors" in str(e.value) and "파일이 " in e.value.text.ko
    assert sorted(p.name for p in Path(art.path).iterdir()) == left and ws2.store.get_artifact(mid) is not None
    assert not list((ws2.root / "exports").iterdir()) if (ws2.root / "exports").exists() else True
    r = run_cli("export", "--set", "artifact=gone", workspace=ws2.root)
    assert r.returncode == 2 and last_json(r.stdout)["status"] == "invalid" and "missing" in r.stderr
    shutil.rmtree(art.path)  # the whole folder gone: refused the same way, the store row kept
    with pytest.raises(UserError, match="the folder itself"):
        export_artifact(ws2, str(mid), "zip")
    assert ws2.store.get_artifact(mid) is not None


class FakeApi:
    """HfApi with its network methods replaced: records what the push sends."""
    calls: list = []

    def __init__(self, token=None, **kw):
        FakeApi.calls.append(("init", token))

    def create_repo(self, repo_id, *, private=None, exist_ok=False, repo_type=None, **kw):
        FakeApi.calls.append(("create_repo", repo_id, private, exist_ok, repo_type))
        from huggingface_hub import RepoUrl
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def upload_folder(self, *, repo_id, folder_path, repo_type=None, commit_message=None, **kw):
        files = sorted(str(p.relative_to(folder_path)) for p in Path(folder_path).rglob("*") if p.is_file())
        card = (Path(folder_path) / "README.md").read_text(encoding="utf-8")
        FakeApi.calls.append(("upload_folder", repo_id, files, card, commit_message))
        from huggingface_hub import CommitInfo
        return CommitInfo(commit_url=f"https://huggingface.co/{repo_id}/commit/abc", commit_message=commit_message,
                          commit_description="", oid="abc123")


def test_push_uploads_the_folder_private_by_default_and_never_saves_the_token(made, monkeypatch):
    import huggingface_hub
    ws = made["ws"]
    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    res = _run(ws, "push", "artifact=sent-lora", "repo_id=me/sent-lora", f"token={TOKEN}")
    assert FakeApi.calls[0] == ("init", TOKEN)
    assert FakeApi.calls[1] == ("create_repo", "me/sent-lora", True, True, "model")  # private unless asked
    _, repo, files, card, msg = FakeApi.calls[2]
    assert repo == "me/sent-lora" and {"README.md", "adapter_config.json", "adapter_model.safetensors"} <= set(files)
    _check_card(card, made, "finetune")
    assert "me/sent-lora" in card and TOKEN not in card
    s = res["summary"]
    assert s["private"] is True and s["url"] == "https://huggingface.co/me/sent-lora" and s["commit"] == "abc123"
    assert not list((ws.root / "exports").glob(".push-*")), "the upload folder is removed"
    # public when asked; the token from HF_TOKEN when none is given
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    FakeApi.calls = []
    _run(ws, "push", "artifact=tiny-lm", "repo_id=me/tiny-lm", "private=false")
    assert FakeApi.calls[0] == ("init", TOKEN) and FakeApi.calls[1][2] is False
    # the token is nowhere in what was saved: the store, the run folders, the logs
    for r in ws.store.list_runs(stage="push"):
        assert r.config["token"] == "" and TOKEN not in json.dumps(r.config) + json.dumps(r.summary or {})
        assert TOKEN not in json.dumps(r.command or [])
    assert_token_nowhere(ws.root)


def assert_token_nowhere(root: Path) -> None:
    """No file under the workspace holds the token (the database and its WAL too). Read in a child process: closing
    a file of the SQLite database in this process would drop the store's locks (POSIX) and corrupt its view."""
    code = ("import sys, pathlib; t = sys.argv[2].encode(); "
            "print([str(p) for p in pathlib.Path(sys.argv[1]).rglob('*') if p.is_file() and t in p.read_bytes()])")
    out = subprocess.run([sys.executable, "-c", code, str(root), TOKEN], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_push_refused_without_a_token_before_any_work(made, monkeypatch):
    import huggingface_hub
    ws = made["ws"]
    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    from workbench import stages
    from workbench.share.push_stage import PushConfig
    n_runs = len(ws.store.list_runs())
    with pytest.raises(UserError) as e:
        runs.run_in_process("push", PushConfig.load(sets=["artifact=tiny-lm", "repo_id=me/x"]), ws)
    assert "no Hugging Face token" in str(e.value) and "토큰이 없습니다" in e.value.text.ko
    assert FakeApi.calls == [] and len(ws.store.list_runs()) == n_runs  # refused before a run or a call
    with pytest.raises(UserError, match="not a Hub repository id"):
        stages.get("push").precheck(PushConfig.load(sets=["artifact=tiny-lm", "repo_id=a/b/c", f"token={TOKEN}"]), ws)
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    r = run_cli("push", "--set", "artifact=tiny-lm", "--set", "repo_id=me/x", workspace=ws.root,
                env={"HF_TOKEN": ""} | {k: v for k, v in env.items() if k == "PATH"})
    assert r.returncode == 2 and "no Hugging Face token" in r.stderr


def test_push_offline_gives_a_clear_message_from_the_real_library(made):
    """One real huggingface_hub call: here there is no network, so it fails fast at the connection; the CLI says so
    plainly, and the token given on the command line is not in the recorded command, config or log."""
    ws = made["ws"]
    env = {"HF_HUB_OFFLINE": "0", "HF_TOKEN": "", "HF_HUB_ETAG_TIMEOUT": "5", "HF_HUB_DOWNLOAD_TIMEOUT": "5"}
    r = run_cli("push", "--set", "artifact=tiny-bpe", "--set", "repo_id=me/tok", "--set", f"token={TOKEN}",
                workspace=ws.root, env=env, timeout=120)
    out = last_json(r.stdout)
    assert r.returncode == 1 and out["status"] == "failed", r.stderr[-2000:]
    if "cannot reach the Hugging Face Hub" not in out["error"]:
        pytest.skip(f"this machine reached the Hub: {out['error'][:200]}")
    assert "Nothing was uploaded" in out["error"] and TOKEN not in r.stdout + r.stderr
    run = ws.store.get_run(out["run_id"])
    assert "연결할 수 없습니다" in run.error.ko  # both wordings kept for the UI
    assert run.config["token"] == "" and "token=***" in " ".join(run.command) and TOKEN not in json.dumps(run.command)
    assert TOKEN not in (ws.run_dir(run.id) / "config.json").read_text()
    assert TOKEN not in (ws.run_dir(run.id) / "log.txt").read_text()
    assert_token_nowhere(ws.root)
    # offline mode switched on (HF_HUB_OFFLINE=1): said as such
    r = run_cli("push", "--set", "artifact=tiny-bpe", "--set", "repo_id=me/tok", "--set", f"token={TOKEN}",
                workspace=ws.root, env={"HF_HUB_OFFLINE": "1"}, timeout=120)
    assert "HF_HUB_OFFLINE" in last_json(r.stdout)["error"]


def test_hub_errors_read_clearly():
    from workbench.share.hub import hub_error

    class Resp:
        def __init__(self, code):
            self.status_code = code

    class HfHubHTTPError(Exception):
        def __init__(self, msg, code):
            super().__init__(msg)
            self.response = Resp(code)

    e = hub_error(HfHubHTTPError(f"401 bad token {TOKEN}", 401), TOKEN, "me/x", "https://huggingface.co")
    assert "rejected the token" in str(e) and TOKEN not in str(e)
    assert "403" in str(hub_error(HfHubHTTPError("no", 403), TOKEN, "me/x", "u"))
    e = hub_error(HfHubHTTPError(f"boom {TOKEN}", 500), TOKEN, "me/x", "u")
    assert "HTTP 500" in str(e) and TOKEN not in str(e) and "***" in str(e)
    assert hub_error(ValueError("unrelated"), TOKEN, "me/x", "u") is None


def test_secret_fields_are_blanked_in_saved_configs_and_commands():
    from workbench.__main__ import redact_argv
    from workbench.share.push_stage import PushConfig
    cfg = PushConfig.load(sets=["artifact=a", "repo_id=me/x", f"token={TOKEN}"])
    assert cfg.token == TOKEN and cfg.to_dict()["token"] == "" and TOKEN not in cfg.to_json()
    assert redact_argv(["--set", f"token={TOKEN}", "--set=token=x", "--set", "artifact=a"], PushConfig) == \
        ["--set", "token=***", "--set=token=***", "--set", "artifact=a"]
