"""Push an artifact to the Hugging Face Hub with `huggingface_hub` (HfApi.create_repo + upload_folder), private by
default, with the same fresh model card as an export.

The token is used for the calls and nowhere else: it is never logged, never written to a run's config (the push
config's field is `secret`), and scrubbed from any error message shown. Without a token the push is refused before
any work; without a network the library's connection error becomes a clear message."""
from __future__ import annotations

import logging
import os
import re
import shutil
import time
from pathlib import Path

from ..errors import UserError
from ..i18n import say
from .export import card_for, exports_dir, shareable, staged_copy

log = logging.getLogger("workbench.share")

_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_NETWORK = {"ConnectError", "ConnectTimeout", "ReadTimeout", "WriteTimeout", "PoolTimeout", "TimeoutException",
            "NetworkError", "TransportError", "ProxyError", "RemoteProtocolError", "ConnectionError", "Timeout",
            "ConnectionRefusedError", "ConnectionResetError", "gaierror", "SSLError"}

NO_TOKEN = say("no Hugging Face token: enter a token with write access (huggingface.co/settings/tokens), or set "
               "HF_TOKEN. Nothing was uploaded.",
               "Hugging Face 토큰이 없습니다. 쓰기 권한이 있는 토큰(huggingface.co/settings/tokens)을 입력하거나 "
               "HF_TOKEN 환경 변수를 설정하세요. 아무것도 올리지 않았습니다.")


def token_from(value: str | None) -> str:
    """The token to use: the one entered, else the env HF_TOKEN (or HUGGING_FACE_HUB_TOKEN); "" if none."""
    for t in (value, os.environ.get("HF_TOKEN"), os.environ.get("HUGGING_FACE_HUB_TOKEN")):
        if t and str(t).strip():
            return str(t).strip()
    return ""


def check_repo_id(repo_id: str) -> str:
    repo_id = (repo_id or "").strip()
    if not repo_id:
        raise UserError(say("no Hub repository: give one as your-name/model-name",
                            "Hub 저장소가 비어 있습니다. 사용자이름/모델이름 형식으로 쓰세요"))
    if not _REPO_ID.match(repo_id) or ".." in repo_id or "--" in repo_id or repo_id.endswith((".", "-")):
        raise UserError(say("'{r}' is not a Hub repository id: use your-name/model-name (letters, digits, '-', '_', "
                            "'.'; at most 96 characters each)",
                            "'{r}' 은(는) Hub 저장소 이름이 아닙니다. 사용자이름/모델이름 형식으로 쓰세요 (영문자, 숫자, "
                            "'-', '_', '.'; 각 96자 이내)", r=repo_id))
    return repo_id


def precheck(ws, ref, repo_id: str, token: str | None):
    """Everything that can be refused before a byte is sent: the token, the repository id, the artifact's files."""
    if not token_from(token):
        raise UserError(NO_TOKEN)
    check_repo_id(repo_id)
    return shareable(ws, ref)


def _chain(e: BaseException):
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


def hub_error(e: BaseException, token: str, repo_id: str, endpoint: str) -> UserError | None:
    """A clear, bilingual message for what the Hub library raised (None: not a Hub/network failure)."""
    names = {c.__name__ for x in _chain(e) for c in type(x).__mro__}
    detail = _scrub(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__, token)[:300]
    if "OfflineModeIsEnabled" in names:
        return UserError(say("the Hugging Face Hub is switched off here (HF_HUB_OFFLINE is set): unset HF_HUB_OFFLINE "
                             "where there is a network, then push again. The archive export works offline.",
                             "여기서는 Hugging Face Hub 접속이 꺼져 있습니다 (HF_HUB_OFFLINE 설정됨). 네트워크가 있는 "
                             "곳에서 HF_HUB_OFFLINE 을 해제하고 다시 올리세요. 압축 파일 내보내기는 오프라인에서도 "
                             "됩니다."))
    status = None
    for x in _chain(e):
        resp = getattr(x, "response", None)
        status = getattr(resp, "status_code", None) or status
    if status is None and names & _NETWORK:
        return UserError(say("cannot reach the Hugging Face Hub at {url}: no network connection ({d}). Nothing was "
                             "uploaded. Check the internet connection (or proxy) and push again; the archive export "
                             "works offline.",
                             "Hugging Face Hub ({url}) 에 연결할 수 없습니다: 네트워크 연결이 없습니다 ({d}). 아무것도 "
                             "올리지 않았습니다. 인터넷 연결(또는 프록시)을 확인하고 다시 올리세요. 압축 파일 "
                             "내보내기는 오프라인에서도 됩니다.", url=endpoint, d=detail))
    if status == 401:
        return UserError(say("the Hub rejected the token (401 unauthorized): check that it is a valid token",
                             "Hub 가 토큰을 거부했습니다 (401). 올바른 토큰인지 확인하세요"))
    if status == 403:
        return UserError(say("the token may not write to {r} (403 forbidden): use a token with write access, and a "
                             "repository under your name or an organization you belong to",
                             "이 토큰으로는 {r} 에 쓸 수 없습니다 (403). 쓰기 권한이 있는 토큰과 내 이름 또는 내가 속한 "
                             "조직의 저장소를 쓰세요", r=repo_id))
    if status is not None:
        return UserError(say("the Hub refused the push to {r} (HTTP {s}): {d}",
                             "Hub 가 {r} 로의 업로드를 거부했습니다 (HTTP {s}): {d}", r=repo_id, s=status, d=detail))
    if "HFValidationError" in names:
        return UserError(say("the Hub does not accept '{r}' as a repository id: {d}",
                             "Hub 가 '{r}' 을(를) 저장소 이름으로 받지 않습니다: {d}", r=repo_id, d=detail))
    return None


def push_artifact(ws, ref, repo_id: str, token: str | None = None, *, private: bool = True,
                  commit_message: str = "", progress=None) -> dict:
    """Create the repository (private unless asked otherwise; an existing one is reused as it is) and upload the
    artifact's files with a fresh card. Returns {"repo_id", "url", "commit_url", "private", "files", ...}."""
    token = token_from(token)
    art = precheck(ws, ref, repo_id, token)
    repo_id = check_repo_id(repo_id)
    from huggingface_hub import HfApi, constants

    endpoint = constants.ENDPOINT
    card, files = card_for(ws, art, repo_id=repo_id)
    tmp = exports_dir(ws) / f".push-{art.kind}-{art.name}-{os.getpid()}-{time.time_ns()}"
    if progress:
        progress(0, 3, say("preparing {n} files", "파일 {n}개 준비 중", n=len(files) + 1))
    try:
        staged_copy(art, card, files, tmp)
        api = HfApi(token=token)
        log.info("pushing %s #%s to %s/%s (private=%s)", art.kind, art.id, endpoint, repo_id, private)
        try:
            if progress:
                progress(1, 3, say("creating the repository {r}", "저장소 {r} 만드는 중", r=repo_id))
            url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            if progress:
                progress(2, 3, say("uploading to {r}", "{r} 로 올리는 중", r=repo_id))
            commit = api.upload_folder(repo_id=repo_id, folder_path=str(tmp), repo_type="model",
                                       commit_message=commit_message.strip() or
                                       f"Upload {art.kind} {art.name} from the Korean LLM Workbench")
        except Exception as e:  # noqa: BLE001 - turned into a clear message, or re-raised with the token scrubbed
            clear = hub_error(e, token, repo_id, endpoint)
            if clear is not None:
                raise clear from None
            raise RuntimeError(_scrub(f"{type(e).__name__}: {e}", token)) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if progress:
        progress(3, 3, say("pushed to {r}", "{r} 에 올렸습니다", r=repo_id))
    repo_url = str(url) if url is not None else f"{endpoint}/{repo_id}"
    return {"repo_id": repo_id, "url": repo_url, "commit_url": str(getattr(commit, "commit_url", "") or ""),
            "commit": str(getattr(commit, "oid", "") or ""), "private": bool(private), "files": len(files) + 1,
            "artifact": art.id, "name": art.name, "kind": art.kind}
