"""One way for every tab to start work: build the config, validate, submit a job or run it in-process,
and render what went wrong in the person's language.

    def on_start(lang, *values):
        return launch(ctx, "pretrain", lambda: form.to_config(values), lang).outputs()

`build` may raise ConfigError (a field is wrong) or UserError (an input cannot be used); either comes
back as markdown naming the problem, before anything is recorded. No tab repeats that try/except.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Callable

import gradio as gr

from state.i18n import Text, pick, say

from .components import AppContext

STARTED = say("Started job {run}: progress below.", "작업 {run} 을(를) 시작했습니다. 진행 상황은 아래에 있습니다.")
QUEUED = say("Job {run} is queued behind {n} other job(s) on {device}: it starts when they end.",
             "작업 {run} 이(가) {device} 에서 다른 작업 {n}개 뒤에 대기 중입니다. 앞 작업이 끝나면 시작합니다.")


def error_markdown(e: BaseException | Text | str, lang: str) -> str:
    """A ConfigError as a list of fields to fix; a UserError (or any message) as one paragraph."""
    from workbench.config import ConfigError
    if isinstance(e, ConfigError):
        head = pick(("**설정을 확인하세요:**", "**Please fix the settings:**"), lang)
        return head + "\n" + "\n".join(f"- `{f}`: {pick(m, lang)}" if f else f"- {pick(m, lang)}" for f, m in e.errors)
    text = getattr(e, "text", e)
    return f"<span class='wb-err'>{html.escape(pick(text, lang))}</span>"


def build_config(build: Callable[[], Any], lang: str) -> tuple[Any, str]:
    """(validated config, "") or (None, the problem as markdown in `lang`): for a preview, or before a launch."""
    from workbench.config import ConfigError
    from workbench.errors import UserError
    try:
        return build().validate(), ""
    except (ConfigError, UserError) as e:
        return None, error_markdown(e, lang)


@dataclass
class Launch:
    """What a launch did: a run id (None when nothing started), a message in the person's language, the
    validated config, and for an in-process run its result (run_id, status, summary, error)."""
    run_id: str | None
    message: str
    cfg: Any = None
    result: dict | None = None

    @property
    def ok(self) -> bool:
        return self.run_id is not None and (self.result is None or self.result["status"] == "succeeded")

    def outputs(self) -> tuple:
        """(run id for the job panel's State, message): a failed launch leaves the panel on what it showed."""
        return (self.run_id if self.run_id else gr.skip()), self.message


def launch(ctx: AppContext, stage: str, build: Callable[[], Any], lang: str, *,
           in_process: bool | Callable[[Any], bool] = False, started: Text | None = None) -> Launch:
    """Build and validate a config, then queue it as a job (or run it here when `in_process` says so).

    in_process: True, or a function of the validated config (e.g. "small enough to run here")."""
    from workbench.config import ConfigError
    from workbench.errors import UserError
    cfg, problem = build_config(build, lang)
    if cfg is None:
        return Launch(None, problem)
    try:
        here = in_process(cfg) if callable(in_process) else in_process
        if here:
            from workbench.runs import run_in_process
            res = run_in_process(stage, cfg, ctx.ws)
            msg = "" if res["status"] == "succeeded" else error_markdown(res["error"] or res["status"], lang)
            return Launch(res["run_id"], msg, cfg, res)
        run_id = ctx.jobs.submit(stage, cfg)
    except (ConfigError, UserError) as e:
        return Launch(None, error_markdown(e, lang))
    return Launch(run_id, pick(started or _started_note(ctx, run_id), lang).format(run=run_id), cfg)


def _started_note(ctx: AppContext, run_id: str) -> Text:
    """Started, or waiting: a queued run says how many jobs are ahead of it on its device."""
    run = ctx.store.get_run(run_id)
    if run is None or run.status != "queued":
        return STARTED
    running = ctx.store.list_runs(status=("running",), limit=1000)
    ahead = sum(1 for r in running if r.device == run.device) + (ctx.store.queue_position(run_id) or 1) - 1
    if not ahead:
        return STARTED
    return say(QUEUED.en, QUEUED.ko, run="{run}", n=ahead, device=run.device)
