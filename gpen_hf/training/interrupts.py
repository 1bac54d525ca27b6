"""Checkpoints on request, by signal: for runs that a job scheduler or a session end may stop.

* ``SIGUSR1``: write a checkpoint after the current step and keep training (``kill -USR1 PID`` before a job's
  time runs out, or to have a checkpoint to evaluate now).
* ``SIGTERM``: write a checkpoint after the current step, end the run (its summary is written) and exit with
  status 143, as a plain SIGTERM would: a chain of commands (``set -e``) stops there instead of starting the next
  stage on an unfinished one. ``--resume_from_checkpoint latest`` then goes on from that step.

With several processes a signal to any one of them is enough: the requests are combined across ranks every step
(one tiny all-reduce) so that every rank saves and stops at the same step.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import torch
from accelerate import Accelerator

#: exit status of a run ended by SIGTERM (128 + 15, what the shell reports for a process killed by it)
SIGTERM_EXIT_STATUS = 128 + signal.SIGTERM
#: the signals a training run catches (SIGUSR1 does not exist on Windows)
CHECKPOINT_SIGNALS = tuple(s for s in (getattr(signal, "SIGUSR1", None), signal.SIGTERM) if s is not None)


class CheckpointSignals:
    """Catches SIGUSR1 and SIGTERM while a training loop runs; :meth:`poll` once per step says what was asked."""

    def __init__(self, accelerator: Accelerator) -> None:
        self.accelerator = accelerator
        self.checkpoint_asked = False
        self.stop_asked = False
        self._previous: dict[int, object] = {}
        if threading.current_thread() is threading.main_thread():  # handlers can only be set there
            for sig in CHECKPOINT_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.checkpoint_asked = True
        self.stop_asked = self.stop_asked or signum == signal.SIGTERM

    def poll(self) -> tuple[bool, bool]:
        """``(checkpoint, stop)`` asked on any rank since the last poll; call it on every rank at every step."""
        asked = (self.checkpoint_asked, self.stop_asked)
        if self.accelerator.num_processes > 1:
            flags = torch.tensor([float(a) for a in asked], device=self.accelerator.device)
            asked = tuple(bool(v) for v in self.accelerator.reduce(flags, reduction="max").tolist())
        self.checkpoint_asked = False
        return asked

    def restore(self) -> None:
        """Put the handlers that were there before back."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
