"""Config fields every training stage inherits: where and how it runs.

A stage config subclasses ComputeSettings (`class PretrainConfig(ComputeSettings)`), so the fields keep
their flat names (`--set device=cpu --set nproc=2`) and the job queue asks the config itself how to
start the job (`launcher_prefix`: torchrun or accelerate for several processes)."""
from __future__ import annotations

import sys
from dataclasses import dataclass

from ..config import StageConfig, param
from ..devices import resolve_device
from ..i18n import say


@dataclass
class ComputeSettings(StageConfig):
    precision: str = param("auto", ko="정밀도", en="Precision", choices=["auto", "fp32", "bf16", "fp16"],
                           help_ko="auto: GPU면 bf16, CPU면 fp32", help_en="auto: bf16 on a GPU that has it, else fp32")
    compile: bool = param(False, ko="torch.compile", en="torch.compile the model", advanced=True)
    device: str = param("auto", ko="장치", en="Device", choices=["auto", "cpu", "cuda"])
    threads: int = param(0, ko="CPU 스레드 (0=전부)", en="CPU threads (0 = all cores)", min=0, advanced=True)
    launcher: str = param("python", ko="실행 방식", en="Launcher", choices=["python", "torchrun", "accelerate"],
                          help_ko="여러 프로세스(DDP)는 torchrun/accelerate",
                          help_en="several processes (DDP): torchrun or accelerate launch")
    nproc: int = param(1, ko="프로세스 수", en="Processes (DDP ranks)", min=1, max=1024)
    fsdp: bool = param(False, ko="FSDP", en="Shard with FSDP instead of DDP", advanced=True)

    COMPUTE_FIELDS = ("device", "precision", "threads", "launcher", "nproc", "fsdp", "compile")

    def launcher_prefix(self) -> list[str]:
        if self.launcher == "torchrun" or (self.nproc > 1 and self.launcher != "accelerate"):
            return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={self.nproc}"]
        if self.launcher == "accelerate":
            return [sys.executable, "-m", "accelerate.commands.launch", f"--num_processes={self.nproc}"]
        return [sys.executable]

    def queue_device(self) -> str:
        """The job queue this run waits in (one running job per device)."""
        return resolve_device(self.device)

    def check(self) -> list[tuple[str, str]]:
        errors = []
        if self.nproc > 1 and self.launcher == "python":
            errors.append(("launcher", say("several processes need launcher torchrun or accelerate",
                                           "여러 프로세스를 쓰려면 실행 방식을 torchrun 이나 accelerate 로 고르세요")))
        if self.precision == "fp16" and self.device == "cpu":
            errors.append(("precision", say("fp16 training needs a GPU: use fp32 or bf16 on the CPU",
                                            "fp16 학습에는 GPU가 필요합니다. CPU에서는 fp32 나 bf16 을 쓰세요")))
        if self.fsdp and self.nproc < 2:
            errors.append(("fsdp", say("FSDP shards across processes: set nproc to 2 or more",
                                       "FSDP는 여러 프로세스에 나눠 싣습니다. 프로세스 수를 2 이상으로 하세요")))
        return errors
