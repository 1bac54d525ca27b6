"""gpen_hf.training.setup: the schedulers' warm-up."""

from __future__ import annotations

import argparse

import pytest
import torch

from gpen_hf.training.setup import add_common_args, make_scheduler


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_common_args(parser)
    return parser.parse_args(["--train_data_dir", "x", "--output_dir", "y", "--max_train_steps", "10", *argv])


def learning_rates(scheduler, optimizer, steps: int) -> list[float]:
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


@pytest.mark.parametrize("name", ["constant", "linear"])
def test_warmup_ramps_the_rate_for_every_scheduler(name: str) -> None:
    args = parse("--lr_scheduler", name, "--learning_rate", "1.0")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    rates = learning_rates(make_scheduler(opt, args, num_processes=1, warmup_steps=4), opt, 6)
    assert rates[:4] == pytest.approx([0, 0.25, 0.5, 0.75])
    assert rates[4] == pytest.approx(1.0)  # full rate after the warm-up: "constant" holds it, "linear" decays
    assert rates[5] == pytest.approx(1.0 if name == "constant" else 5 / 6)
    flat = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    assert learning_rates(make_scheduler(flat, parse(), num_processes=1), flat, 3) == [1.0, 1.0, 1.0]


def test_g_warmup_is_an_option_of_both_stages() -> None:
    assert parse("--g_warmup_steps", "500").g_warmup_steps == 500 and parse().g_warmup_steps == 0
