"""Both training stages end to end through the real command lines (tiny configs, CPU)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--resolution", "16", "--train_batch_size", "2", "--report_to", "none", "--dataloader_num_workers", "0",
        "--num_threads", "1", "--logging_steps", "1"]
TINY_ARCH = ["--narrow", "0.125", "--style_dim", "32", "--n_mlp", "2", "--channel_multiplier", "1"]


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> Path:
    """Six 24-px synthetic 'faces' (resized to 16 by the data set), in a nested folder with mixed formats."""
    root = tmp_path_factory.mktemp("faces")
    (root / "sub").mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        yy, xx = np.mgrid[0:24, 0:24]
        img = np.stack([(xx * 9 + i * 30) % 256, (yy * 7) % 256, rng.integers(0, 256, (24, 24))], -1)
        Image.fromarray(img.astype(np.uint8)).save(root / ("sub" if i % 2 else ".") / f"f{i}.{'png' if i % 3 else 'jpg'}")
    return root


def run_cli(script: str, *args: str, launcher: list[str] | None = None) -> dict:
    """Run a training script to the end; returns the summary it wrote into its ``--output_dir``."""
    from gpen_hf.training.progress import SUMMARY_FILE, read_summary

    out = Path(args[list(args).index("--output_dir") + 1])
    (out / SUMMARY_FILE).unlink(missing_ok=True)  # the summary read below is this invocation's
    cmd = (launcher or [sys.executable]) + [str(ROOT / "training" / script), *map(str, args)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return read_summary(out)


def finetune_args(faces: Path, out: Path, *extra: str) -> list[str]:
    return ["--train_data_dir", faces, "--output_dir", out, *TINY, *TINY_ARCH, "--r1_every", "2",
            "--validation_steps", "0", *extra]


def assert_same_weights(a: Path, b: Path) -> None:
    sa, sb = load_file(a), load_file(b)
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_pretrain_then_finetune_from_prior(faces, tmp_path):
    prior = tmp_path / "prior"
    summary = run_cli("pretrain_prior.py", "--train_data_dir", faces, "--output_dir", prior, *TINY, *TINY_ARCH,
                      "--max_train_steps", "3", "--r1_every", "2", "--path_length_weight", "2",
                      "--path_length_every", "2", "--diffaugment", "color,translation,cutout", "--use_ema",
                      "--validation_steps", "3", "--checkpointing_steps", "2", "--random_flip")
    assert summary["step"] == 3 and np.isfinite(summary["train/g_loss"])
    for sub in ("generator", "discriminator"):  # the layout of stage 2: generator/ holds the EMA weights
        assert (prior / sub / "config.json").is_file()
    assert not (prior / "generator_ema").exists()
    assert (prior / "validation" / "samples-0000003.png").is_file()
    from gpen_hf.models import StyleGAN2Prior

    g = StyleGAN2Prior.from_pretrained(prior, subfolder="generator")
    assert g(torch.randn(1, 32)).shape == (1, 3, 16, 16)

    out = tmp_path / "gpen"
    summary = run_cli("finetune.py", "--pretrained_prior", prior, "--train_data_dir", faces, "--output_dir", out,
                      *TINY, "--max_train_steps", "2", "--use_ema", "--validation_steps", "2")
    assert summary["step"] == 2 and {"train/adv", "train/content", "train/fm"} <= summary.keys()
    from gpen_hf.models import GPENDiscriminator, GPENModel

    model = GPENModel.from_pretrained(out, subfolder="generator")
    assert model.config.style_dim == 32 and model(torch.zeros(1, 3, 16, 16)).sample.shape == (1, 3, 16, 16)
    GPENDiscriminator.from_pretrained(out, subfolder="discriminator")
    assert (out / "validation" / "hq_lq_restored-0000002.png").is_file()


def test_finetune_loads_prior_weights_into_decoder(faces, tmp_path):
    from gpen_hf.models import StyleGAN2Prior
    from gpen_hf.training import gpen_from_prior

    prior = StyleGAN2Prior(resolution=16, style_dim=32, n_mlp=2, channel_multiplier=1, narrow=0.125)
    prior.save_pretrained(tmp_path / "p" / "generator_ema")
    model, disc = gpen_from_prior(tmp_path / "p", noise_mode="concat")
    assert disc is None
    for k, v in prior.generator.state_dict().items():
        assert torch.equal(model.generator.state_dict()[k], v), k
    with pytest.raises(ValueError, match="noise_mode='add' but the prior has 'concat'"):
        gpen_from_prior(tmp_path / "p", noise_mode="add")
    # a tuple asks for what the config (read back from JSON) holds as a list
    assert gpen_from_prior(tmp_path / "p", blur_kernel=(1, 3, 3, 1))[0].config.blur_kernel == [1, 3, 3, 1]


def test_empty_data_dir_error_names_dir_and_extensions(tmp_path):
    from gpen_hf.training.data import find_images

    (tmp_path / "x.txt").write_text("not an image")
    with pytest.raises(ValueError, match=rf"no images found in .*{tmp_path.name}.*\.png, \.jpg"):
        find_images(tmp_path)


@pytest.mark.parametrize("ablation", [["--freeze_decoder"], ["--noise_mode", "add"], ["--noise_mode", "none"]])
def test_finetune_ablations_run(faces, tmp_path, ablation):
    summary = run_cli("finetune.py", *finetune_args(faces, tmp_path, "--max_train_steps", "2", *ablation))
    assert summary["step"] == 2
    from gpen_hf.models import GPENModel

    model = GPENModel.from_pretrained(tmp_path, subfolder="generator")
    if "--noise_mode" in ablation:
        assert model.config.noise_mode == ablation[1]


def test_finetune_reports_loss_shares_and_takes_an_identity_term(faces, tmp_path):
    summary = run_cli("finetune.py", *finetune_args(faces, tmp_path / "paper", "--max_train_steps", "2"))
    shares = {k: v for k, v in summary.items() if k.startswith("train/share_")}
    assert set(shares) == {"train/share_adv", "train/share_content", "train/share_fm"}
    assert sum(shares.values()) == pytest.approx(1.0) and min(shares.values()) > 0
    at64 = [*finetune_args(faces, tmp_path / "identity", "--max_train_steps", "1", "--identity_weight", "0.5")]
    at64[at64.index("--resolution") + 1] = "64"
    summary = run_cli("finetune.py", *at64)
    assert summary["train/identity"] > 0 and summary["train/share_identity"] > 0
    with pytest.raises(AssertionError, match=r"--identity_weight needs --resolution >= 64"):
        run_cli("finetune.py", *finetune_args(faces, tmp_path / "small", "--max_train_steps", "1",
                                              "--identity_weight", "0.5"))


def test_freeze_decoder_keeps_prior_weights(faces, tmp_path):
    from gpen_hf.models import GPENModel, StyleGAN2Prior

    prior = StyleGAN2Prior(resolution=16, style_dim=32, n_mlp=2, channel_multiplier=1, narrow=0.125)
    prior.save_pretrained(tmp_path / "p" / "generator")
    run_cli("finetune.py", *finetune_args(faces, tmp_path / "o", "--pretrained_prior", tmp_path / "p",
                                          "--max_train_steps", "2", "--freeze_decoder"))
    model = GPENModel.from_pretrained(tmp_path / "o", subfolder="generator")
    tuned = model.generator.state_dict()
    for k, v in prior.generator.state_dict().items():
        if ".noise." not in k:
            assert torch.equal(tuned[k], v), k
    assert not torch.equal(model.final_linear[0].weight, GPENModel(16, 32, 2, 1, 0.125).final_linear[0].weight)


def test_resume_continues_identically(faces, tmp_path):
    args = ("--max_train_steps", "4", "--checkpointing_steps", "2", "--use_ema", "--lr_scheduler", "linear",
            "--gradient_accumulation_steps", "2", "--random_flip", "--random_jitter", "0.04")
    full = run_cli("finetune.py", *finetune_args(faces, tmp_path / "full", *args))
    first = run_cli("finetune.py", *finetune_args(faces, tmp_path / "split", *args, "--stop_after_steps", "2"))
    assert first["step"] == 2 and not (tmp_path / "split" / "generator").exists()
    second = run_cli("finetune.py", *finetune_args(faces, tmp_path / "split", *args,
                                                   "--resume_from_checkpoint", "latest"))
    assert second["step"] == 4
    assert second["generator_digest"] == full["generator_digest"]
    assert second["discriminator_digest"] == full["discriminator_digest"]
    for sub in ("generator", "discriminator"):  # generator/ holds the EMA weights
        assert_same_weights(tmp_path / "full" / sub / "diffusion_pytorch_model.safetensors",
                            tmp_path / "split" / sub / "diffusion_pytorch_model.safetensors")
    opt_full = torch.load(tmp_path / "full" / "checkpoint-4" / "optimizer.bin", weights_only=True)
    opt_split = torch.load(tmp_path / "split" / "checkpoint-4" / "optimizer.bin", weights_only=True)
    for k, v in opt_full["state"].items():
        assert torch.equal(v["exp_avg_sq"], opt_split["state"][k]["exp_avg_sq"])
    assert second["train/loss"] == pytest.approx(full["train/loss"], abs=0)
    # each checkpoint also holds the shippable (EMA) generator and the discriminator in from_pretrained form:
    # the last one's are the final ones
    for sub in ("generator", "discriminator"):
        assert_same_weights(tmp_path / "full" / "checkpoint-4" / sub / "diffusion_pytorch_model.safetensors",
                            tmp_path / "full" / sub / "diffusion_pytorch_model.safetensors")
    # and a checkpoint is a start folder for a new run: both models are taken from it
    start = tmp_path / "split" / "checkpoint-2"
    zero = run_cli("finetune.py", *finetune_args(faces, tmp_path / "next", "--max_train_steps", "0",
                                                 "--pretrained_model_name_or_path", start))
    assert zero["step"] == 0
    for sub in ("generator", "discriminator"):
        assert_same_weights(start / sub / "diffusion_pytorch_model.safetensors",
                            tmp_path / "next" / sub / "diffusion_pytorch_model.safetensors")
    from gpen_hf.models import GPENModel

    early = GPENModel.from_pretrained(tmp_path / "split" / "checkpoint-2" / "generator")
    final = GPENModel.from_pretrained(tmp_path / "split" / "generator")
    assert {k: v for k, v in early.config.items() if not k.startswith("_")} == {
        k: v for k, v in final.config.items() if not k.startswith("_")}
    assert not torch.equal(early.final_linear[0].weight, final.final_linear[0].weight)


def test_pretrain_resume_continues_identically(faces, tmp_path):
    """Stage 1 split in two runs equals one run; its checkpoints keep the layout runs in progress resume from."""
    args = ("--train_data_dir", faces, *TINY, *TINY_ARCH, "--max_train_steps", "4", "--checkpointing_steps", "2",
            "--use_ema", "--r1_every", "2", "--path_length_weight", "2", "--path_length_every", "2",
            "--diffaugment", "color,translation,cutout", "--lr_scheduler", "linear", "--validation_steps", "0")
    full = run_cli("pretrain_prior.py", *args, "--output_dir", tmp_path / "full")
    first = run_cli("pretrain_prior.py", *args, "--output_dir", tmp_path / "split", "--stop_after_steps", "2")
    second = run_cli("pretrain_prior.py", *args, "--output_dir", tmp_path / "split", "--resume_from_checkpoint",
                     "latest")
    assert (first["step"], second["step"]) == (2, 4)
    assert second["generator_digest"] == full["generator_digest"]
    assert second["discriminator_digest"] == full["discriminator_digest"]
    assert second["train/path_mean"] == full["train/path_mean"] != 0
    for sub in ("generator", "discriminator"):
        assert_same_weights(tmp_path / "full" / sub / "diffusion_pytorch_model.safetensors",
                            tmp_path / "split" / sub / "diffusion_pytorch_model.safetensors")
    # accelerate's files in the order prepare_gan registers them: G, D, their optimisers and schedulers, EMA, state
    checkpoint = tmp_path / "split" / "checkpoint-2"
    assert sorted(p.name for p in checkpoint.iterdir()) == [
        "custom_checkpoint_0.pkl", "custom_checkpoint_1.pkl", "discriminator", "generator", "model.safetensors",
        "model_1.safetensors", "optimizer.bin", "optimizer_1.bin", "random_states_0.pkl", "scheduler.bin",
        "scheduler_1.bin"]
    from gpen_hf.models import GPENDiscriminator, StyleGAN2Prior

    prior = StyleGAN2Prior.from_pretrained(checkpoint / "generator")
    assert load_file(checkpoint / "model.safetensors").keys() == prior.state_dict().keys()
    disc = GPENDiscriminator.from_pretrained(checkpoint / "discriminator")
    assert load_file(checkpoint / "model_1.safetensors").keys() == disc.state_dict().keys()
    assert torch.load(checkpoint / "custom_checkpoint_1.pkl", weights_only=True).keys() == {"path_mean"}


def test_carried_checkpoint_resumes_at_its_step_without_optimiser_moments(faces, tmp_path):
    """training/carry_checkpoint.py: about half the files' bytes, the same models, EMA and step; a run resumes
    from the copy where the original stopped, on a fresh Adam."""
    args = ("--train_data_dir", faces, *TINY, *TINY_ARCH, "--max_train_steps", "4", "--checkpointing_steps", "2",
            "--use_ema", "--validation_steps", "0")
    run_cli("pretrain_prior.py", *args, "--output_dir", tmp_path / "run", "--stop_after_steps", "2")
    source = tmp_path / "run" / "checkpoint-2"
    subprocess.run([sys.executable, str(ROOT / "training" / "carry_checkpoint.py"), str(source),
                    str(tmp_path / "carried")], check=True, capture_output=True, cwd=ROOT)
    carried = tmp_path / "carried" / "checkpoint-2"
    assert sorted(p.name for p in carried.iterdir()) == sorted(p.name for p in source.iterdir() if p.is_file())
    for name in ("model.safetensors", "model_1.safetensors"):
        assert_same_weights(source / name, carried / name)
    assert (carried / "custom_checkpoint_0.pkl").read_bytes() == (source / "custom_checkpoint_0.pkl").read_bytes()
    for name in ("optimizer.bin", "optimizer_1.bin"):
        before, after = (torch.load(d / name, weights_only=True) for d in (source, carried))
        assert before["state"] and not after["state"] and after["param_groups"] == before["param_groups"]
    size = {d: sum(p.stat().st_size for p in d.rglob("*") if p.is_file()) for d in (source, carried)}
    assert size[carried] < 0.6 * size[source]
    resumed = run_cli("pretrain_prior.py", *args, "--output_dir", tmp_path / "carried", "--resume_from_checkpoint",
                      "latest", "--stop_after_steps", "1")
    assert resumed["step"] == 3  # went on from step 2, not from 0
    not_a_checkpoint = subprocess.run([sys.executable, str(ROOT / "training" / "carry_checkpoint.py"),
                                       str(tmp_path / "run"), str(tmp_path / "x")], capture_output=True, text=True,
                                      cwd=ROOT, check=False)
    assert not_a_checkpoint.returncode != 0
    assert f"{tmp_path / 'run'}: expected a complete checkpoint folder checkpoint-<step>" in not_a_checkpoint.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_resume_after_kill_matches_uninterrupted_run(faces, tmp_path):
    """SIGKILL a real run after its first checkpoint; ``latest`` must skip half-written folders."""
    extra = ("--max_train_steps", "30", "--checkpointing_steps", "3", "--use_ema", "--dataloader_num_workers", "1",
             "--checkpoints_total_limit", "2")
    args = finetune_args(faces, tmp_path / "killed", *extra)
    cmd = [sys.executable, str(ROOT / "training" / "finetune.py"), *map(str, args)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True)
    deadline = time.time() + 120
    while not (tmp_path / "killed" / "checkpoint-6").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    (tmp_path / "killed" / "checkpoint-99.tmp").mkdir()  # a half-written checkpoint must never be picked
    resumed = run_cli("finetune.py", *args, "--resume_from_checkpoint", "latest")
    full = run_cli("finetune.py", *finetune_args(faces, tmp_path / "full", *extra))
    assert resumed["step"] == full["step"] == 30
    assert resumed["generator_digest"] == full["generator_digest"]
    assert_same_weights(tmp_path / "full" / "generator" / "diffusion_pytorch_model.safetensors",
                        tmp_path / "killed" / "generator" / "diffusion_pytorch_model.safetensors")
    assert len(list((tmp_path / "killed").glob("checkpoint-*"))) == 2  # rotation, and the .tmp was removed


@pytest.mark.slow
def test_signals_ask_for_checkpoints_and_sigterm_stops_resumably(faces, tmp_path):
    """SIGUSR1: a checkpoint off the schedule, the run goes on; SIGTERM to the whole process group (data workers
    included): a checkpoint, the summary, exit 143; resuming from it ends where an uninterrupted run ends."""
    from gpen_hf.training.checkpointing import list_checkpoints
    from gpen_hf.training.progress import read_summary

    extra = ("--max_train_steps", "200", "--checkpointing_steps", "1000", "--use_ema", "--dataloader_num_workers", "1")
    out = tmp_path / "signalled"
    cmd = [sys.executable, str(ROOT / "training" / "finetune.py"), *map(str, finetune_args(faces, out, *extra))]
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr, cwd=ROOT,
                                env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True)

    def wait_for(condition) -> None:
        deadline = time.time() + 120
        while not condition() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert condition(), log.read_text()[-3000:]

    wait_for(lambda: "steps:" in log.read_text())  # the loop has started
    os.kill(proc.pid, signal.SIGUSR1)
    wait_for(lambda: list_checkpoints(out))
    (first, _), = list_checkpoints(out)
    assert proc.poll() is None, log.read_text()[-3000:]  # still training
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=120) == 143, log.read_text()[-3000:]
    steps = [s for s, _ in list_checkpoints(out)]
    assert len(steps) == 2 and first < steps[-1] < 200
    assert read_summary(out)["step"] == steps[-1]
    assert not (out / "generator").exists()  # no final weights from an unfinished run
    resumed = run_cli("finetune.py", *finetune_args(faces, out, *extra), "--resume_from_checkpoint", "latest")
    full = run_cli("finetune.py", *finetune_args(faces, tmp_path / "full", *extra))
    assert resumed["step"] == full["step"] == 200
    assert resumed["generator_digest"] == full["generator_digest"]


@pytest.mark.distributed
@pytest.mark.slow
def test_two_process_ddp_keeps_replicas_identical(faces, tmp_path):
    # torchrun (what `accelerate launch` runs under the hood on GPUs); gloo backend on CPU
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517"]
    summaries = run_cli("finetune.py", *finetune_args(faces, tmp_path, "--max_train_steps", "3", "--use_ema",
                                                      "--checkpointing_steps", "2", "--freeze_decoder"),
                        launcher=launcher)["processes"]  # each rank's digests
    assert sorted(s["rank"] for s in summaries) == [0, 1]
    assert summaries[0]["generator_digest"] == summaries[1]["generator_digest"]
    assert summaries[0]["discriminator_digest"] == summaries[1]["discriminator_digest"]
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-2"]
    assert (tmp_path / "checkpoint-2" / "random_states_1.pkl").is_file()
    from gpen_hf.models import GPENModel
    from gpen_hf.training.checkpointing import parameter_digest

    torch.manual_seed(0)
    assert parameter_digest(GPENModel.from_pretrained(tmp_path, subfolder="generator")) != parameter_digest(
        GPENModel(16, 32, 2, 1, 0.125))


def test_default_threads_ignore_launchers_single_thread_export(monkeypatch) -> None:
    """`accelerate launch` exports OMP_NUM_THREADS=1; one process per node still gets every core."""
    from gpen_hf.training import setup

    monkeypatch.setattr(setup.os, "cpu_count", lambda: 8)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert setup.default_num_threads() == 8
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert setup.default_num_threads() == 2
    assert setup.default_num_threads(3) == 3


def test_finetune_rejects_out_of_range_jitter(faces, tmp_path) -> None:
    cmd = [sys.executable, str(ROOT / "training" / "finetune.py"), *map(str, finetune_args(faces, tmp_path,
                                                                                        "--random_jitter", "0.7"))]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert proc.returncode == 2
    assert "--random_jitter must be in [0, 0.5), got 0.7" in proc.stderr
    assert not (tmp_path / "generator").exists()


def test_grown_prior_first_draws_the_small_priors_images_upsampled():
    from gpen_hf.models import GPENDiscriminator, StyleGAN2Prior
    from gpen_hf.training.grow import grow_discriminator, grow_prior

    torch.manual_seed(0)
    small = StyleGAN2Prior(resolution=16, style_dim=32, n_mlp=2, channel_multiplier=1, narrow=0.125)
    for p in small.parameters():  # trained-looking weights: noise strengths and biases non-zero
        p.data.add_(torch.randn_like(p) * 0.1)
    big = grow_prior(small, 32)
    z = torch.randn(2, 32)
    with torch.no_grad():
        torch.manual_seed(1)
        low = small(z)
        torch.manual_seed(1)  # the noise of the shared layers is drawn first, in the same order
        high = big(z)
    assert high.shape == (2, 3, 32, 32)
    assert torch.allclose(high, big.generator.to_rgbs[-1].upsample(low), atol=1e-5)
    with pytest.raises(ValueError, match="multiple of it"):
        grow_prior(small, 8)

    d_small = GPENDiscriminator(resolution=16, channel_multiplier=1, narrow=0.125)
    d_big = grow_discriminator(d_small, 32)
    big_state = d_big.state_dict()
    for key, value in d_small.state_dict().items():  # every block but the input layer, one index further down
        if not key.startswith("convs.0."):
            moved = f"convs.{int(key.split('.')[1]) + 1}.{key.split('.', 2)[2]}" if key.startswith("convs.") else key
            assert torch.equal(big_state[moved], value), key
    assert d_big(torch.zeros(2, 3, 32, 32)).logits.shape == (2, 1)
    same = grow_discriminator(d_small, 16)  # the same resolution: a copy (a run started from another's weights)
    assert all(torch.equal(v, same.state_dict()[k]) for k, v in d_small.state_dict().items())
    assert all(torch.equal(v, grow_prior(small, 16).state_dict()[k]) for k, v in small.state_dict().items())


def test_pretrain_grows_from_a_smaller_prior_and_reads_weighted_sources(faces, tmp_path):
    small = tmp_path / "prior16"
    run_cli("pretrain_prior.py", "--train_data_dir", faces, "--output_dir", small, *TINY, *TINY_ARCH,
            "--max_train_steps", "2", "--validation_steps", "0")
    summary = run_cli("pretrain_prior.py", "--train_data_dir", faces, faces / "sub", "--source_weights", "1",
                      "0.5", "--output_dir", tmp_path / "prior32", *TINY, "--resolution", "32", *TINY_ARCH,
                      "--max_train_steps", "1", "--validation_steps", "0", "--init_from", small,
                      "--g_warmup_steps", "3")
    assert summary["step"] == 1
    from gpen_hf.models import GPENDiscriminator, StyleGAN2Prior

    grown = StyleGAN2Prior.from_pretrained(tmp_path / "prior32", subfolder="generator")
    assert grown.config.resolution == 32
    # G's learning rate starts at 0 (--g_warmup_steps), D's does not: after one step G is still the small prior.
    before = StyleGAN2Prior.from_pretrained(small, subfolder="generator").state_dict()
    after = grown.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())
    d_before = GPENDiscriminator.from_pretrained(small, subfolder="discriminator").state_dict()
    d_after = GPENDiscriminator.from_pretrained(tmp_path / "prior32", subfolder="discriminator").state_dict()
    assert not torch.equal(d_after["final_linear.1.weight"], d_before["final_linear.1.weight"])
    proc = subprocess.run([sys.executable, str(ROOT / "training" / "pretrain_prior.py"), "--train_data_dir",
                           str(faces), "--output_dir", str(tmp_path / "bad"), *TINY, "--resolution", "32",
                           *TINY_ARCH[:2], "--style_dim", "16", *TINY_ARCH[4:], "--max_train_steps", "1",
                           "--init_from", str(small)], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          check=False)
    assert proc.returncode != 0 and "style_dim (32, asked for 16)" in proc.stderr


def test_gpu_chunks_pack_train_and_hand_back_weights(faces, tmp_path):
    """training/gpu/chunk.py at toy size on the CPU: pack → run (from the start weights, then from the work
    folder's checkpoint as on a warm machine) → unpack into a start folder."""
    chunk = [sys.executable, str(ROOT / "training" / "gpu" / "chunk.py")]
    prior = tmp_path / "prior"
    run_cli("pretrain_prior.py", "--train_data_dir", faces, "--output_dir", prior, *TINY, *TINY_ARCH,
            "--max_train_steps", "2", "--validation_steps", "0", "--checkpointing_steps", "2")
    pack, work, out = tmp_path / "pack", tmp_path / "work", tmp_path / "out"
    subprocess.run([*chunk, "pack", "--sources", str(faces), "--size", "24", "--start", str(prior / "checkpoint-2"),
                    "--out", str(pack)], check=True, cwd=ROOT, capture_output=True, timeout=300)
    packed = sorted(p.suffix for p in (pack / "data" / "0").iterdir())
    assert packed == [".jpg"] * 2 + [".webp"] * 4  # JPEGs that fit travel as they are, the rest lossless
    assert load_file(pack / "start" / "generator" / "diffusion_pytorch_model.safetensors")[
        "generator.input.input"].dtype == torch.bfloat16
    stage = [*TINY, *TINY_ARCH, "--train_data_dir", str(pack / "data" / "0"), "--validation_steps", "0",
             "--checkpointing_steps", "1"]
    for steps in ("1", "2"):
        proc = subprocess.run([*chunk, "run", "--stage", "pretrain_prior", "--seconds", "240", "--work", str(work),
                               "--pack", str(pack), "--out", str(out), "--", *stage, "--max_train_steps", steps],
                              cwd=ROOT, capture_output=True, text=True, timeout=400, check=False)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert ("--init_from" in proc.stdout) == (steps == "1")  # the second chunk resumes the checkpoint
        assert json.loads((out / "chunk.json").read_text())["checkpoint"] == f"checkpoint-{steps}"
    subprocess.run([*chunk, "unpack", str(out), str(tmp_path / "next")], check=True, cwd=ROOT, timeout=120,
                   capture_output=True)
    from gpen_hf.models import StyleGAN2Prior

    assert StyleGAN2Prior.from_pretrained(tmp_path / "next", subfolder="generator").dtype == torch.float32


def test_finetune_refuses_options_that_contradict_the_loaded_model(tmp_path) -> None:
    """--pretrained_model_name_or_path: architecture options and the resolution must be the model's; the error
    names the model folder, what it has and what was asked for."""
    import argparse

    from _models import TINY_GPEN

    from gpen_hf.models import GPENModel
    from gpen_hf.training.finetune import build_models
    from gpen_hf.training.setup import ARCHITECTURE_OPTIONS

    GPENModel(**TINY_GPEN).save_pretrained(tmp_path / "model")
    args = argparse.Namespace(pretrained_model_name_or_path=str(tmp_path / "model"), pretrained_prior=None,
                              resolution=TINY_GPEN["resolution"], **dict.fromkeys(ARCHITECTURE_OPTIONS))
    model, _ = build_models(args)  # options left unset: the model decides
    assert model.config.style_dim == TINY_GPEN["style_dim"]
    args.style_dim = 2 * TINY_GPEN["style_dim"]
    with pytest.raises(ValueError, match=r"model has \{'style_dim': 16\} and resolution 32; the options ask for "
                                         r"\{'style_dim': 32\}, 32"):
        build_models(args)
    args.style_dim, args.resolution = None, 64
    with pytest.raises(ValueError, match=r"has \{\} and resolution 32; the options ask for \{\}, 64"):
        build_models(args)
