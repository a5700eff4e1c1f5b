"""Benchmark the RollingQ fusion head against full attention fusion.

One training step (forward + backward of the fused cross-entropy, gradients
to the weights and to the encoder tokens) of three fusion layers of the same
size (the paper's: B=64, L = 1 + 513 + 589 tokens, C=768, one head, dropout
0.2 on attention and after W_O):

* ``head``: :class:`rollingq_mm.models.RollingQFusionHead` (only the fusion
  token's attention row; training mode, statistics on).
* ``mha``: ``torch.nn.MultiheadAttention`` over the whole sequence with the
  head's weights (``need_weights=False``, so torch's fused
  ``scaled_dot_product_attention``), output taken at the fusion token.
* ``explicit``: the same layer written out: softmax(QKᵀ/√d) materialised as
  (B, L, L), output taken at the fusion token.

Reported, all measured in the same run:

* time: the best of ``--repeats`` steps after ``--warmup`` (seconds);
* peak memory of one step: on CPU (torch has no allocator statistics there)
  the kernel's peak resident set size (``VmHWM``, reset to the current RSS
  through ``/proc/self/clear_refs`` just before the step) minus the RSS
  before the step, each variant in a fresh subprocess after its weights and
  inputs exist (Linux only). It counts every page the step touches,
  allocator slack included. On CUDA, ``torch.cuda.max_memory_allocated``
  minus the memory allocated before the step;
* the statistics overhead as a share of one head step: the time of
  :meth:`RollingQFusionHead.attention_statistics` (mean keys, cosines,
  shares, :class:`AIRStatistics` update) plus the extra time of the uniform
  row with which :meth:`RollingQFusionHead.attend` gets the token means.

Run ``python benchmarks/bench_fusion_head.py`` (defaults: the paper's size)
or ``--batch 8`` for a quick run.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from typing import Callable, Dict, List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from rollingq_mm.models import RollingQFusionHead

VARIANTS = ('head', 'mha', 'explicit')
CLASSES = 31
DROP = 0.2


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--audio-tokens', type=int, default=513)
    parser.add_argument('--visual-tokens', type=int, default=589)
    parser.add_argument('--channels', type=int, default=768)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--memory-of', choices=VARIANTS,
                        help='internal: measure one variant\'s peak memory '
                        'in this process and print it as JSON')
    return parser.parse_args()


def sync(device: torch.device) -> None:
    """Wait for queued kernels (CUDA) before reading a clock."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


class Setup:
    """Weights (shared by every variant) and inputs of one benchmark."""

    def __init__(self, args: argparse.Namespace) -> None:
        torch.manual_seed(0)
        self.device = torch.device(args.device)
        channels = args.channels
        self.head = RollingQFusionHead(
            num_classes=CLASSES, in_channels=channels, attn_drop=DROP,
            proj_drop=DROP).to(self.device).train()
        self.mha = nn.MultiheadAttention(
            channels, 1, dropout=DROP, batch_first=True).to(self.device)
        with torch.no_grad():
            self.mha.in_proj_weight.copy_(torch.cat([
                self.head.attn.q_proj.weight, self.head.attn.k_proj.weight,
                self.head.attn.v_proj.weight
            ]))
            self.mha.in_proj_bias.copy_(torch.cat([
                self.head.attn.q_proj.bias, self.head.attn.k_proj.bias,
                self.head.attn.v_proj.bias
            ]))
            self.mha.out_proj.load_state_dict(
                self.head.attn.out_proj.state_dict())
        self.feats = {
            'audio': torch.randn(args.batch, args.audio_tokens, channels,
                                 device=self.device, requires_grad=True),
            'visual': torch.randn(args.batch, args.visual_tokens, channels,
                                  device=self.device, requires_grad=True),
        }
        self.labels = torch.randint(CLASSES, (args.batch, ),
                                    device=self.device)

    def sequence(self) -> torch.Tensor:
        """[CLS; audio; visual], shape (B, L, C)."""
        cls = self.head.cls_token.expand(self.labels.shape[0], -1, -1)
        return torch.cat([cls, self.feats['audio'], self.feats['visual']], 1)

    def logits_head(self) -> torch.Tensor:
        return self.head.forward_fusion(self.feats)[0]

    def logits_mha(self) -> torch.Tensor:
        sequence = self.sequence()
        output = self.mha(sequence, sequence, sequence,
                          need_weights=False)[0][:, 0]
        return self.head.fc_cls(F.dropout(output, DROP, training=True))

    def logits_explicit(self) -> torch.Tensor:
        sequence = self.sequence()
        query, key, value = F.linear(sequence, self.mha.in_proj_weight,
                                     self.mha.in_proj_bias).chunk(3, dim=-1)
        scores = query @ key.transpose(1, 2) / query.shape[-1]**0.5
        attention = F.dropout(scores.softmax(dim=-1), DROP, training=True)
        output = self.mha.out_proj(attention @ value)[:, 0]
        return self.head.fc_cls(F.dropout(output, DROP, training=True))

    def step(self, variant: str) -> None:
        """One forward + backward of ``variant``; gradients are dropped."""
        logits = getattr(self, f'logits_{variant}')()
        F.cross_entropy(logits, self.labels).backward()
        for tensor in [*self.head.parameters(), *self.mha.parameters(),
                       *self.feats.values()]:
            tensor.grad = None


def best_seconds(function: Callable[[], None], device: torch.device,
                 warmup: int, repeats: int) -> float:
    """Shortest wall time of ``function`` over ``repeats`` calls (the least
    disturbed by other processes on a shared machine)."""
    for _ in range(warmup):
        function()
    times: List[float] = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        function()
        sync(device)
        times.append(time.perf_counter() - start)
    return min(times)


def peak_step_mib(setup: Setup, variant: str) -> float:
    """Peak memory of one step of ``variant`` above its set-up, in MiB."""
    if setup.device.type == 'cuda':
        torch.cuda.synchronize(setup.device)
        before = torch.cuda.memory_allocated(setup.device)
        torch.cuda.reset_peak_memory_stats(setup.device)
        setup.step(variant)
        torch.cuda.synchronize(setup.device)
        return (torch.cuda.max_memory_allocated(setup.device) - before) / 2**20
    with open('/proc/self/clear_refs', 'w') as clear_refs:
        clear_refs.write('5')
    before = process_status_kib('VmRSS')
    setup.step(variant)
    return (process_status_kib('VmHWM') - before) / 1024


def process_status_kib(field: str) -> int:
    """A memory field of /proc/self/status, in KiB."""
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'/proc/self/status has no {field} field.')


def memory_in_subprocess(args: argparse.Namespace, variant: str) -> float:
    """Run this script with ``--memory-of variant`` in a fresh process."""
    command = [sys.executable, __file__, '--memory-of', variant]
    for key in ('batch', 'audio_tokens', 'visual_tokens', 'channels',
                'device'):
        command += [f'--{key.replace("_", "-")}', str(getattr(args, key))]
    result = subprocess.run(command, capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])['peak_mib']


def statistics_seconds(setup: Setup, warmup: int,
                       repeats: int) -> Tuple[float, float]:
    """Cost of the head's statistics on one batch, in two parts.

    Returns:
        tuple: Best seconds of ``attention_statistics`` (mean keys,
        cosines, shares, AIRStatistics update), and the extra time of the
        uniform row that ``attend`` adds to its products with the tokens to
        get their means (same products timed with and without the row,
        alternately).
    """
    head = setup.head
    tokens = [setup.feats[name] for name in head.modalities]
    sequences = [head.cls_token.expand(tokens[0].shape[0], -1, -1)] + tokens
    lengths = [sequence.shape[1] for sequence in tokens]
    repeats = max(repeats, 20)
    with torch.no_grad():
        query = head.current_query()
        attention = head.attn.attention(query, sequences)
        means = head.attn.attend(attention, sequences)[1][:, 1:]
        update = best_seconds(
            lambda: head.attention_statistics(query, means, attention,
                                              lengths), setup.device, warmup,
            repeats)
        chunks = attention.split([1] + lengths, dim=-1)
        rows = [torch.cat([chunk, torch.full_like(chunk[:, :1], 1.0)], dim=1)
                for chunk in chunks]

        def products(weights: List[torch.Tensor]) -> None:
            for chunk, sequence in zip(weights, sequences):
                torch.einsum('bhl,blc->bhc', chunk, sequence)

        # Alternate the two so that a change of machine load hits both.
        with_row = without_row = float('inf')
        for _ in range(repeats):
            with_row = min(with_row, best_seconds(
                lambda: products(rows), setup.device, warmup, 1))
            without_row = min(without_row, best_seconds(
                lambda: products(chunks), setup.device, warmup, 1))
    return update, max(with_row - without_row, 0.0)


def main() -> None:
    args = parse_args()
    setup = Setup(args)
    if args.memory_of:
        print(json.dumps(dict(peak_mib=peak_step_mib(setup, args.memory_of))))
        return
    length = 1 + args.audio_tokens + args.visual_tokens
    threads = torch.get_num_threads()
    print(f'Fusion layer train step (forward + backward), B={args.batch}, '
          f'L={length} (1+{args.audio_tokens}+{args.visual_tokens}), '
          f'C={args.channels}, 1 head, device {args.device}'
          f'{f", {threads} threads" if setup.device.type == "cpu" else ""}'
          f', load average {os.getloadavg()[0]:.1f}')
    memory_method = ('peak RSS above the RSS before the step, fresh '
                     'process per variant'
                     if setup.device.type == 'cpu' else
                     'torch.cuda.max_memory_allocated growth')
    results: Dict[str, Dict[str, float]] = {}
    names = dict(head='RollingQFusionHead (CLS row)',
                 mha='nn.MultiheadAttention (full)',
                 explicit='explicit softmax(QK^T) (full)')
    print(f'{"variant":32s} {"s/step":>9s} {"peak MiB":>10s}   '
          f'(time: best of {args.repeats}; '
          f'memory: {memory_method})')
    for variant in VARIANTS:
        seconds = best_seconds(lambda: setup.step(variant), setup.device,
                               args.warmup, args.repeats)
        mib = memory_in_subprocess(args, variant)
        results[variant] = dict(seconds=seconds, mib=mib)
        print(f'{names[variant]:32s} {seconds:9.3f} {mib:10.1f}')
    head = results['head']
    for variant in ('mha', 'explicit'):
        other = results[variant]
        print(f'head vs {variant}: {other["seconds"] / head["seconds"]:.2f}x '
              f'faster (target >= 2x), '
              f'{other["mib"] / max(head["mib"], 1e-9):.2f}x less peak '
              'memory')
    update, mean_row = statistics_seconds(setup, args.warmup, args.repeats)
    share = 100 * (update + mean_row) / head['seconds']
    print(f'statistics: {update * 1e3:.3f} ms update + {mean_row * 1e3:.3f} '
          f'ms for the token means = {share:.3f}% of a head step '
          '(target <= 1%)')


if __name__ == '__main__':
    main()
