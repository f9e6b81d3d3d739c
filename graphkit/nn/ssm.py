r"""A selective state-space layer (Mamba-like) in pure PyTorch, with a parallel (associative) scan.

The recurrence of the `"Mamba: Linear-Time Sequence Modeling with Selective State Spaces"
<https://arxiv.org/abs/2312.00752>`_ paper, per channel :math:`d` and state :math:`n`,

.. math::
    h_t = \exp(\Delta_t A)\, h_{t-1} + \Delta_t B_t\, u_t, \qquad y_t = C_t^{\top} h_t + D\, u_t,

is a first-order linear recurrence :math:`h_t = a_t h_{t-1} + b_t`. Pairs :math:`(a, b)` compose associatively,
:math:`(a_2, b_2) \circ (a_1, b_1) = (a_2 a_1,\; a_2 b_1 + b_2)`, so :func:`parallel_scan` computes every prefix
in :math:`\lceil \log_2 L \rceil` vectorised steps (Hillis-Steele): no loop over the :math:`L` steps, and every
factor is a product of :math:`a \in (0, 1]`, so nothing overflows (unlike the cumulative-sum-of-logs shortcut).
:func:`sequential_scan` is the step-by-step reference. On CUDA, when ``mamba_ssm`` is installed, the fused kernel
``mamba_ssm.ops.selective_scan_interface.selective_scan_fn`` computes the same numbers.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from graphkit.nn._checks import check_choice

__all__ = ['SelectiveSSM', 'parallel_scan', 'sequential_scan', 'selective_scan', 'mamba_kernel_available']

SCANS = ('parallel', 'sequential', 'auto')


def parallel_scan(a: Tensor, b: Tensor, dim: int = 1) -> Tensor:
    r"""All prefixes :math:`h_t = a_t h_{t-1} + b_t` (:math:`h_{-1} = 0`) along :obj:`dim`, by
    :math:`\lceil \log_2 L \rceil` Hillis-Steele doubling steps."""
    a, b = a.movedim(dim, 0), b.movedim(dim, 0)
    L, k = a.size(0), 1
    while k < L:
        b = torch.cat([b[:k], torch.addcmul(b[k:], a[k:], b[:-k])], dim=0)
        if 2 * k < L:  # the last step needs no new products of a
            a = torch.cat([a[:k], a[k:] * a[:-k]], dim=0)
        k *= 2
    return b.movedim(0, dim)


def sequential_scan(a: Tensor, b: Tensor, dim: int = 1) -> Tensor:
    r"""The same prefixes one step at a time (the reference of :func:`parallel_scan`)."""
    a, b = a.movedim(dim, 0), b.movedim(dim, 0)
    h = torch.zeros_like(b[0])
    out = []
    for t in range(a.size(0)):
        h = a[t] * h + b[t]
        out.append(h)
    return torch.stack(out, dim=0).movedim(0, dim)


def mamba_kernel_available() -> bool:
    """Whether ``mamba_ssm``'s fused selective scan can be imported (it needs CUDA)."""
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn  # noqa: F401
    except Exception:  # ImportError, or a broken CUDA extension
        return False
    return True


def selective_scan(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Optional[Tensor] = None,
    z: Optional[Tensor] = None,
    scan: str = 'parallel',
) -> Tensor:
    r"""The selective scan :math:`y = \mathrm{SSM}_{\Delta, A, B, C}(u) + D u`, gated by :math:`\mathrm{SiLU}(z)`.

    Args:
        u (Tensor): ``[batch, L, d]`` inputs.
        delta (Tensor): ``[batch, L, d]`` positive step sizes :math:`\Delta`.
        A (Tensor): ``[d, n]`` (negative) state matrix.
        B (Tensor): ``[batch, L, n]`` input projections.
        C (Tensor): ``[batch, L, n]`` output projections.
        D (Tensor, optional): ``[d]`` skip weights.
        z (Tensor, optional): ``[batch, L, d]`` gate.
        scan (str): ``'parallel'``, ``'sequential'`` (reference), or ``'auto'`` (the ``mamba_ssm`` kernel on CUDA
            when installed, else parallel).
    """
    if scan == 'auto' and u.is_cuda and mamba_kernel_available():
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn

        y = selective_scan_fn(
            u.transpose(1, 2).contiguous(),
            delta.transpose(1, 2).contiguous(),
            A.contiguous(),
            B.transpose(1, 2).contiguous(),
            C.transpose(1, 2).contiguous(),
            None if D is None else D.float(),
            None if z is None else z.transpose(1, 2).contiguous(),
            delta_softplus=False,
        )
        return y.transpose(1, 2)
    dA = torch.exp(delta.unsqueeze(-1) * A)  # [batch, L, d, n]
    dBu = (delta * u).unsqueeze(-1) * B.unsqueeze(2)
    h = sequential_scan(dA, dBu) if scan == 'sequential' else parallel_scan(dA, dBu)
    y = (h * C.unsqueeze(2)).sum(-1)
    if D is not None:
        y = y + u * D
    if z is not None:
        y = y * F.silu(z)
    return y


class SelectiveSSM(torch.nn.Module):
    r"""The selective state-space (Mamba) block from the `"Mamba: Linear-Time Sequence Modeling with Selective
    State Spaces" <https://arxiv.org/abs/2312.00752>`_ paper, in pure PyTorch (CPU and GPU).

    .. math::
        [\mathbf{u}; \mathbf{z}] = \mathbf{x} \mathbf{W}_{in}, \quad
        \mathbf{u} \leftarrow \mathrm{SiLU}(\mathrm{conv1d}_{causal}(\mathbf{u})), \quad
        \Delta = \mathrm{softplus}(\mathbf{u} \mathbf{W}_{\Delta} + \mathbf{b}_{\Delta}), \;
        \mathbf{B} = \mathbf{u} \mathbf{W}_B, \; \mathbf{C} = \mathbf{u} \mathbf{W}_C

    then :func:`selective_scan` with :math:`A = -\exp(A_{\log})` and the output projection. Causal: a token
    never sees later ones, so padding at the end of a sequence does not change the tokens before it.

    Args:
        channels (int): Model width :math:`d`.
        d_state (int): State size :math:`n` per channel. (default: :obj:`16`)
        d_conv (int): Width of the causal depthwise convolution. (default: :obj:`4`)
        expand (int): Inner width :math:`= \text{expand} \cdot d`. (default: :obj:`1`)
        scan (str): ``'parallel'``, ``'sequential'`` or ``'auto'`` (``mamba_ssm`` on CUDA when installed).
            (default: :obj:`'auto'`)

    Shapes:
        - **input:** :math:`(B, L, d)`
        - **output:** :math:`(B, L, d)`
    """

    def __init__(self, channels: int, d_state: int = 16, d_conv: int = 4, expand: int = 1, scan: str = 'auto') -> None:
        super().__init__()
        name = self.__class__.__name__
        check_choice(name, 'scan', scan, SCANS)
        for key, v in (('channels', channels), ('d_state', d_state), ('d_conv', d_conv), ('expand', expand)):
            if v < 1:
                raise ValueError(f"'{name}' expects '{key}' >= 1 (got {v})")
        self.channels, self.d_state, self.d_conv, self.expand, self.scan = channels, d_state, d_conv, expand, scan
        inner = expand * channels
        self.dt_rank = math.ceil(channels / 16)
        self.in_proj = torch.nn.Linear(channels, 2 * inner, bias=False)
        self.conv = torch.nn.Conv1d(inner, inner, d_conv, groups=inner, padding=d_conv - 1)
        self.x_proj = torch.nn.Linear(inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = torch.nn.Linear(self.dt_rank, inner)
        self.A_log = torch.nn.Parameter(torch.empty(inner, d_state))
        self.D = torch.nn.Parameter(torch.empty(inner))
        self.out_proj = torch.nn.Linear(inner, channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Mamba's initialisation: :math:`A_{\\log} = \\log(1..n)`, :math:`D = 1`, :math:`\\Delta` in [1e-3, 0.1]."""
        for lin in (self.in_proj, self.x_proj, self.out_proj):
            lin.reset_parameters()
        self.conv.reset_parameters()
        self.dt_proj.reset_parameters()
        with torch.no_grad():
            inner = self.expand * self.channels
            self.A_log.copy_(torch.log(torch.arange(1, self.d_state + 1, dtype=torch.float)).repeat(inner, 1))
            self.D.fill_(1.0)
            dt = torch.exp(torch.rand(inner) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3)).clamp(min=1e-4)
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus

    def forward(self, x: Tensor) -> Tensor:
        L = x.size(1)
        u, z = self.in_proj(x).chunk(2, dim=-1)
        u = F.silu(self.conv(u.transpose(1, 2))[..., :L].transpose(1, 2))
        dt, B, C = self.x_proj(u).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(dt))
        A = -torch.exp(self.A_log.float())
        y = selective_scan(u, delta, A, B, C, self.D, z, self.scan)
        return self.out_proj(y)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.channels}, d_state={self.d_state}, expand={self.expand})'
