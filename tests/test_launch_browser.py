"""The launch files as a person gets them in the Pipeline tab ("Past one machine"): a pretrain run's files for two
nodes written, read on the page (run_node.sh, slurm.sbatch) and downloaded as a zip."""
from conftest import screenshot
from fixtures import make_corpus, make_tokenizer
from state import Workspace
from workbench import runs
from workbench.stages import get


def test_launch_files_for_two_nodes_written_read_and_downloaded(app_factory, page, tmp_path):
    ws = Workspace(tmp_path / "ws")
    corpus = make_corpus(ws)
    make_tokenizer(ws, parents=[corpus])
    pretrain = get("pretrain")
    pre = runs.create(ws, pretrain, pretrain.config.load(base={"corpus": "kolaw", "tokenizer": "tiny-bpe",
                                                               "max_steps": 40}), status="succeeded")
    app = app_factory(ws.root)
    page.set_default_timeout(120_000)  # other jobs on a 2-core machine can slow every click to tens of seconds
    page.goto(app.url)
    page.get_by_role("tab", name="10. 파이프라인").click()

    # past one machine: the pretrain run's launch files for 2 nodes, read on the page and downloaded as a zip
    assert pre in page.locator("#pipe-launch-run").inner_text() or pre in page.locator("#pipe-launch-run input").input_value()
    page.get_by_label("노드 0 주소").fill("node0.lan")
    page.locator("#pipe-launch-write").click()
    page.locator("#pipe-launch-msg").get_by_text("4개 파일").wait_for()
    launch = ws.store.list_runs(stage="launch")
    assert len(launch) == 1 and launch[0].status == "succeeded"
    folder = ws.root / "runs" / launch[0].id / "launch"
    assert "node0.lan" in page.locator("#pipe-launch-msg").inner_text()
    page.locator("#pipe-launch-code").get_by_text("--nnodes=2").first.wait_for()
    page.locator("#pipe-launch-file input").click()
    page.get_by_role("option", name="slurm.sbatch").click()
    page.locator("#pipe-launch-code").get_by_text("#SBATCH --nodes=2").first.wait_for()
    page.locator("#pipe-launch-zip a").first.wait_for()
    assert "launch_files.zip" in (page.locator("#pipe-launch-zip a").first.get_attribute("href") or "")
    assert (folder / "config.json").is_file() and (folder / "run_node.sh").is_file()
    screenshot(page, "pipeline-launch-files")
