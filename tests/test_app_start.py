"""Starting the app: what it says before it listens beyond this machine, and its own start-up line."""
import subprocess
import sys
import time

from conftest import ROOT, free_port

import app


def test_listening_beyond_this_machine_without_auth_is_warned():
    (only,) = app.exposure_warnings(app.parse_args(["--host", "0.0.0.0", "--api"]))
    assert "--auth" in only and "anyone" in only and "API" in only
    assert app.exposure_warnings(app.parse_args([])) == []
    assert app.exposure_warnings(app.parse_args(["--host", "0.0.0.0", "--auth", "a:b"])) == []
    assert any("--share" in w for w in app.exposure_warnings(app.parse_args(["--share"])))


def test_start_up_lines_name_the_apps_flags(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "app.py", "--host", "0.0.0.0", "--port", str(port), "--workspace",
                             str(tmp_path / "ws")], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not any("Korean LLM Workbench: http" in ln for ln in lines):
            lines.append(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(15)
    text = "".join(lines)
    assert f"http://127.0.0.1:{port}" in text and "--share" in text, text
    assert "warning: --host 0.0.0.0 without --auth" in text
    assert "share=True" not in text, "gradio's own advice points at launch(), not at our flag"
