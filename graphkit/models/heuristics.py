r"""Neighbourhood-overlap link heuristics: common neighbours, Adamic-Adar and resource allocation."""

from __future__ import annotations

from typing import Any, Dict, Optional

import torch
from torch import Tensor

from graphkit.checks import check_index
from graphkit.configs.schema import Field
from graphkit.models.registry import MODELS
from graphkit.ops import cn_sum, degree


class LinkHeuristic(torch.nn.Module):
    r"""A parameter-free link score that sums a per-node weight over the common neighbours of a pair.

    .. math::
        s_{ij} = \sum_{u \in \mathcal{N}(i) \cap \mathcal{N}(j)} w_u, \qquad
        w_u = \begin{cases}
            1 & \text{common neighbours (CN)} \\
            1 / \log d_u & \text{Adamic-Adar (AA)} \\
            1 / d_u & \text{resource allocation (RA)}
        \end{cases}

    with :math:`d_u` the degree of :math:`u` in the message-passing graph. These are the deterministic
    baselines of the `"Link Prediction Based on Graph Neural Networks" <https://arxiv.org/abs/1802.09691>`_
    and OGB leaderboards.

    Args:
        kind (str): One of :obj:`'cn'`, :obj:`'aa'`, :obj:`'ra'`.
    """

    task = 'link'
    kinds = ('link',)
    trainable = False
    config_schema = {'kind': Field('str', choices=('cn', 'aa', 'ra'))}
    KINDS = ('cn', 'aa', 'ra')

    def __init__(self, kind: str = 'cn') -> None:
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"'{self.__class__.__name__}' expects 'kind' in {self.KINDS} (got '{kind}')")
        self.kind = kind

    @classmethod
    def from_config(cls, cfg: Dict[str, Any], data: Any) -> 'LinkHeuristic':
        return cls(**cfg)

    def reset_parameters(self) -> None:
        """Nothing to reset: the heuristics have no parameters."""

    def encode(self, x: Optional[Tensor], adj: Tensor) -> Tensor:
        """The per-node weight :math:`w_u` on the message-passing graph :obj:`adj`."""
        deg = degree(adj)
        if self.kind == 'cn':
            return torch.ones_like(deg)
        w = 1.0 / (deg.log() if self.kind == 'aa' else deg)
        return w.masked_fill(~torch.isfinite(w), 0.0)

    def predict(self, h: Tensor, adj: Tensor, pairs: Tensor) -> Tensor:
        """The score of each pair, a column of :obj:`pairs` (shape :obj:`[2, B]`)."""
        check_index(f'{type(self).__name__}.predict', 'pairs', pairs, adj.size(0), rows=2)
        return cn_sum(adj, pairs, h)

    def forward(self, x: Optional[Tensor], adj: Tensor, pairs: Tensor) -> Tensor:
        return self.predict(self.encode(x, adj), adj, pairs)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.kind})'


for _kind in LinkHeuristic.KINDS:
    MODELS.register(_kind, LinkHeuristic)
