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
    # Several machines: torchrun's static rendezvous. Node 0 (the machine at master_addr) runs global rank 0, which
    # records the run, so the app's machine is node 0; every node needs the workspace at the same path (a shared disk).
    nnodes: int = param(1, ko="노드 수", en="Nodes (machines)", min=1, max=4096, advanced=True,
                        visible_when=("launcher", "torchrun"),
                        help_ko="여러 머신: 각 머신에서 같은 명령을 node_rank 만 바꿔 실행 (파이프라인 탭의 실행 파일)",
                        help_en="several machines: each runs the same command with its node_rank (Pipeline tab: "
                                "launch files)")
    node_rank: int = param(0, ko="이 노드 번호", en="This node's rank", min=0, advanced=True,
                           visible_when=("launcher", "torchrun"))
    master_addr: str = param("", ko="노드 0 주소", en="Node 0 address (master_addr)", advanced=True,
                             visible_when=("launcher", "torchrun"),
                             help_ko="다른 노드가 접속할 수 있는 노드 0의 호스트 이름이나 IP",
                             help_en="host name or IP of node 0 that the other nodes can reach")
    master_port: int = param(29500, ko="노드 0 포트", en="Node 0 port (master_port)", min=1, max=65535,
                             advanced=True, visible_when=("launcher", "torchrun"))

    COMPUTE_FIELDS = ("device", "precision", "threads", "launcher", "nproc", "fsdp", "compile",
                      "nnodes", "node_rank", "master_addr", "master_port")

    def launcher_prefix(self) -> list[str]:
        if self.nnodes > 1:
            return [sys.executable, "-m", "torch.distributed.run", f"--nnodes={self.nnodes}",
                    f"--node_rank={self.node_rank}", f"--nproc_per_node={self.nproc}",
                    f"--master_addr={self.master_addr}", f"--master_port={self.master_port}"]
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
        if self.nnodes > 1:
            if self.launcher != "torchrun":
                errors.append(("launcher", say("several nodes are started with torchrun: set launcher to torchrun",
                                               "여러 노드는 torchrun 으로 실행합니다. 실행 방식을 torchrun 으로 고르세요")))
            if not self.master_addr.strip():
                errors.append(("master_addr", say(
                    "several nodes need node 0's address: set master_addr to a host name or IP the other nodes reach",
                    "여러 노드에는 노드 0의 주소가 필요합니다. 다른 노드가 접속할 수 있는 master_addr 를 쓰세요")))
            if self.node_rank >= self.nnodes:
                errors.append(("node_rank", say("node_rank {r} is not below nnodes {n}: nodes are numbered 0 to {m}",
                                                "node_rank {r}: 노드 번호는 0 부터 {m} 까지입니다 (nnodes {n})",
                                                r=self.node_rank, n=self.nnodes, m=self.nnodes - 1)))
        elif self.node_rank:
            errors.append(("node_rank", say("node_rank {r} needs nnodes above 1", "node_rank {r}: nnodes 가 2 이상이어야 합니다",
                                            r=self.node_rank)))
        if self.fsdp and self.nproc * self.nnodes < 2:
            errors.append(("fsdp", say("FSDP shards across processes: set nproc to 2 or more",
                                       "FSDP는 여러 프로세스에 나눠 싣습니다. 프로세스 수를 2 이상으로 하세요")))
        return errors
